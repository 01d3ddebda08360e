//! The nearest-neighbour analyses against brute force over the stored effects.

use super::*;

/// Brute-force f64 top-k over the mean of `heads` of `store`, skipping `exclude` and failed images.
fn brute(
    store: &Store,
    heads: &[(usize, usize)],
    query: &[f64],
    k: usize,
    exclude: Option<usize>,
) -> Vec<usize> {
    let blocks: Vec<_> = heads
        .iter()
        .map(|&(l, h)| store.head(l, h).unwrap())
        .collect();
    let mut s: Vec<(f64, usize)> = (0..store.len())
        .filter(|&i| Some(i) != exclude && store.valid()[i] == 1)
        .map(|i| {
            let mut score = 0.0;
            for b in &blocks {
                let row = b.row(i).unwrap();
                score += row
                    .iter()
                    .zip(query)
                    .map(|(a, q)| a.to_f64() * q)
                    .sum::<f64>()
                    / blocks.len() as f64;
            }
            (score, i)
        })
        .collect();
    s.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    s.into_iter().take(k).map(|x| x.1).collect()
}

fn indices(v: &serde_json::Value) -> Vec<usize> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["index"].as_u64().unwrap() as usize)
        .collect()
}

/// A store of 40 generated images (and a broken one) indexed with the tiny CLIP at every layer,
/// and the model, for the neighbour commands to be checked against.
struct World {
    tmp: tempfile::TempDir,
    model: std::path::PathBuf,
    images: std::path::PathBuf,
    cache: std::path::PathBuf,
    store: Store,
    clip: clipscope::model::Clip,
}

impl World {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let model = fixture("tiny-clip-hf");
        let images = tmp.path().join("images");
        std::fs::create_dir_all(&images).unwrap();
        for i in 0..40u32 {
            let img = image::RgbImage::from_fn(40 + i, 36, |x, y| {
                image::Rgb([
                    (x * 7 + i * 11) as u8,
                    (y * 5 + i * 3) as u8,
                    (i * 37) as u8,
                ])
            });
            img.save(images.join(format!("g{i:02}.png"))).unwrap();
        }
        std::fs::write(images.join("broken.png"), b"no").unwrap();
        let cache = tmp.path().join("cache");
        let out = index_command(&model, &images, &cache, &["--layers", "all"])
            .output()
            .unwrap();
        let store = Store::open(Path::new(json(&out)["store"].as_str().unwrap())).unwrap();
        let files = clipscope::model::ModelFiles::from_dir(&model, "tiny").unwrap();
        let clip = clipscope::model::Clip::load(
            &files,
            &candle_core::Device::Cpu,
            candle_core::DType::F32,
        )
        .unwrap();
        Self {
            tmp,
            model,
            images,
            cache,
            store,
            clip,
        }
    }

    /// A neighbour command's JSON on this world's store.
    fn nn(&self, args: &[&str]) -> serde_json::Value {
        json(
            &bin()
                .args(args)
                .arg("--cache")
                .arg(&self.cache)
                .arg("--model")
                .arg(&self.model)
                .arg("--json")
                .output()
                .unwrap(),
        )
    }

    /// `interpret --json` of the store, 5 texts a head.
    fn interpret(&self) -> serde_json::Value {
        json(
            &bin()
                .args(["interpret", "--json", "-q", "--texts-per-head", "5"])
                .arg("--cache")
                .arg(&self.cache)
                .arg("--model")
                .arg(&self.model)
                .output()
                .unwrap(),
        )
    }
}

#[test]
fn nearest_neighbours_equal_brute_force() {
    let w = World::new();
    head_nn(&w);
    text_nn(&w);
    let interp = w.interpret();
    property_nn(&w, &interp);
    top_images(&w, &interp);
}

/// head-nn of a store image, and of an outside file (the model's head effect is the query).
fn head_nn(w: &World) {
    let q: Vec<f64> = w
        .store
        .head(1, 2)
        .unwrap()
        .row(7)
        .unwrap()
        .iter()
        .map(|v| v.to_f64())
        .collect();
    let v = w.nn(&["head-nn", "--head", "L1H2", "-k", "6", "#7"]);
    assert_eq!(indices(&v), brute(&w.store, &[(1, 2)], &q, 6, Some(7)));
    // ... and of an outside file: the model's head effect is the query.
    let outside = w.images.join("g03.png");
    let v = w.nn(&[
        "head-nn",
        "--head",
        "L2H0",
        "-k",
        "5",
        outside.to_str().unwrap(),
    ]);
    let q: Vec<f64> = w
        .store
        .head(2, 0)
        .unwrap()
        .row(w.store.find_image("g03.png").unwrap())
        .unwrap()
        .iter()
        .map(|v| v.to_f64())
        .collect();
    let got = indices(&v);
    assert_eq!(
        got[0],
        w.store.find_image("g03.png").unwrap(),
        "an image is its own nearest neighbour"
    );
    assert_eq!(got, brute(&w.store, &[(2, 0)], &q, 5, None));
}

/// text-nn: the query is the unit text embedding.
fn text_nn(w: &World) {
    let t = clipscope::interpret::texts::embed_texts(
        &w.clip,
        &["a striped pattern".to_string()],
        &|_| {},
    )
    .unwrap();
    let q: Vec<f64> = t.iter().map(|&v| v as f64).collect();
    let v = w.nn(&["text-nn", "--head", "L2H3", "-k", "4", "a striped pattern"]);
    assert_eq!(indices(&v), brute(&w.store, &[(2, 3)], &q, 4, None));
    assert_eq!(v["metric"], "dot");
}

/// property-nn through the heads labelled with the property most heads share.
fn property_nn(w: &World, interp: &serde_json::Value) {
    let labels: Vec<String> = interp["heads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["label"]["property"].as_str().unwrap().to_string())
        .collect();
    let count = |l: &String| labels.iter().filter(|x| *x == l).count();
    let label = labels
        .iter()
        .fold(
            &labels[0],
            |best, l| if count(l) > count(best) { l } else { best },
        )
        .clone();
    let heads: Vec<(usize, usize)> = interp["heads"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["label"]["property"] == label.as_str())
        .map(|h| {
            (
                h["layer"].as_u64().unwrap() as usize,
                h["head"].as_u64().unwrap() as usize,
            )
        })
        .collect();
    let mean: Vec<f64> = (0..32)
        .map(|d| {
            heads
                .iter()
                .map(|&(l, h)| w.store.head(l, h).unwrap().row(11).unwrap()[d].to_f64())
                .sum::<f64>()
                / heads.len() as f64
        })
        .collect();
    let png = w.tmp.path().join("grid.png");
    let v = w.nn(&[
        "property-nn",
        "--property",
        &label,
        "-k",
        "4",
        "--out",
        png.to_str().unwrap(),
        "#11",
    ]);
    assert_eq!(indices(&v), brute(&w.store, &heads, &mean, 4, Some(11)));
    // The property's mean block is computed once and kept beside the w.store.
    assert!(heads.len() >= 2, "{labels:?}");
    let derived = std::fs::read_dir(w.store.dir().join("derived"))
        .unwrap()
        .count();
    let again = w.nn(&["property-nn", "--property", &label, "-k", "4", "#11"]);
    assert_eq!(indices(&again), indices(&v));
    assert_eq!(
        std::fs::read_dir(w.store.dir().join("derived"))
            .unwrap()
            .count(),
        derived
    );
    assert!(image::open(&png).unwrap().width() > 500);
}

/// top-images: the images furthest along the head's first TEXTSPAN text, and against it.
fn top_images(w: &World, interp: &serde_json::Value) {
    // top-images: the images furthest along the head's first TEXTSPAN text, and against it.
    let first = &interp["heads"][5];
    let (l, h) = (
        first["layer"].as_u64().unwrap() as usize,
        first["head"].as_u64().unwrap() as usize,
    );
    let text = first["texts"][0]["text"].as_str().unwrap().to_string();
    let t = clipscope::interpret::texts::embed_texts(&w.clip, std::slice::from_ref(&text), &|_| {})
        .unwrap();
    let along: Vec<f64> = t.iter().map(|&v| v as f64).collect();
    let against: Vec<f64> = along.iter().map(|v| -v).collect();
    let gallery_png = w.tmp.path().join("gallery.png");
    let v = w.nn(&[
        "top-images",
        "--head",
        &format!("L{l}H{h}"),
        "-k",
        "3",
        "--out",
        gallery_png.to_str().unwrap(),
    ]);
    let side = |key: &str| -> Vec<usize> {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["index"].as_u64().unwrap() as usize)
            .collect()
    };
    assert_eq!(v["along"], text.as_str());
    assert_eq!(side("top"), brute(&w.store, &[(l, h)], &along, 3, None));
    assert_eq!(
        side("bottom"),
        brute(&w.store, &[(l, h)], &against, 3, None)
    );
    let (top0, bottom0) = (
        v["top"][0]["score"].as_f64().unwrap(),
        v["bottom"][0]["score"].as_f64().unwrap(),
    );
    assert!(
        top0 > bottom0,
        "scores are the dot with the text: {top0} > {bottom0}"
    );
    assert!(image::open(&gallery_png).unwrap().width() >= 1200);
}
