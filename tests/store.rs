//! The store: equal to `decompose`, resumable after kill -9, shardable, checked, versioned.

mod common;
#[path = "store/formats.rs"]
mod formats;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use candle_core::IndexOp;
use clipscope::model::Wanted;
use clipscope::store::Store;
use common::*;

/// Writes `n` small PNG images of varied sizes under `dir` (in sub-folders), plus one file that
/// is not an image.
fn make_images(dir: &Path, n: usize) {
    for i in 0..n {
        let sub = dir.join(format!("set{}", i % 3));
        std::fs::create_dir_all(&sub).unwrap();
        let (w, h) = (24 + (i * 7) % 29, 20 + (i * 5) % 31);
        let img = image::RgbImage::from_fn(w as u32, h as u32, |x, y| {
            let v = (x as usize * 31 + y as usize * 17 + i * 13) as u8;
            image::Rgb([v, v.wrapping_mul(3), (i as u8).wrapping_mul(29) ^ (x as u8)])
        });
        img.save(sub.join(format!("img{i:04}.png"))).unwrap();
    }
    std::fs::write(dir.join("broken.jpg"), b"not a jpeg at all").unwrap();
}

fn index(cache: &Path, images: &Path, extra: &[&str]) -> Output {
    let model = fixture("tiny-clip-hf");
    bin()
        .args(["index", "--json", "--model"])
        .arg(&model)
        .arg("--images")
        .arg(images)
        .arg("--cache")
        .arg(cache)
        .args(extra)
        .output()
        .unwrap()
}

fn store_dir(out: &Output) -> PathBuf {
    PathBuf::from(json(out)["store"].as_str().unwrap())
}

/// Every file of a store by relative path, lock files left out.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if !e.file_name().to_string_lossy().starts_with("lock") {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

const TOKENS_ARGS: &[&str] = &[
    "--layers",
    "1..2",
    "--tokens-for",
    "4",
    "--chunk-images",
    "4",
    "--batch",
    "3",
];
const SMALL: &[&str] = &["--layers", "all", "--chunk-images", "8", "--batch", "3"];

#[test]
fn stored_vectors_equal_decompose() {
    let tmp = tempfile::tempdir().unwrap();
    let images = tmp.path().join("images");
    std::fs::create_dir_all(&images).unwrap();
    for e in std::fs::read_dir(fixture("tiny-clip-hf").join("images"))
        .unwrap()
        .flatten()
    {
        std::fs::copy(e.path(), images.join(e.file_name())).unwrap();
    }
    std::fs::write(
        images.join("aaa-truncated.png"),
        &std::fs::read(images.join("img00.png")).unwrap()[..60],
    )
    .unwrap();
    let out = index(&tmp.path().join("cache"), &images, TOKENS_ARGS);
    let s = json(&out);
    assert_eq!(
        (s["images"].as_u64(), s["failed"].as_u64()),
        (Some(10), Some(1))
    );
    let store = Store::open(&store_dir(&out)).unwrap();
    assert_eq!(store.layers(), [1, 2]);
    let bad = store.image(0).unwrap();
    assert_eq!(
        (bad.path.as_str(), bad.status.as_str(), store.valid()[0]),
        ("aaa-truncated.png", "failed", 0)
    );
    assert!(bad.error.unwrap().contains("aaa-truncated.png"));

    let clip = load_fixture("tiny-clip-hf");
    let emb = store.embeddings().unwrap();
    let tokens = store.tokens().unwrap().unwrap();
    let close = |a: f32, b: f32| (a - b).abs() <= a.abs() * 1e-3 + 1e-6;
    for i in 1..store.len() {
        let rec = store.image(i).unwrap();
        let img = clipscope::image::load_rgb(&images.join(&rec.path)).unwrap();
        assert_eq!((rec.width, rec.height), img.dimensions());
        let px = clip
            .pixels(&[clip.preprocess().apply(&img).unwrap()])
            .unwrap();
        let d = clip.decompose(&px, &[1, 2], i < 4).unwrap();
        for (li, l) in [1usize, 2].into_iter().enumerate() {
            for h in 0..4 {
                let want: Vec<f32> = d.heads.i((0, li, h)).unwrap().to_vec1().unwrap();
                let got = store.head(l, h).unwrap();
                let got = got.row(i).unwrap();
                assert!(
                    want.iter().zip(got).all(|(&w, g)| close(w, g.to_f32())),
                    "image {i} L{l}H{h}"
                );
            }
        }
        let want: Vec<f32> = d.embedding.i(0).unwrap().to_vec1().unwrap();
        assert!(
            want.iter()
                .zip(emb.row(i).unwrap())
                .all(|(&w, g)| close(w, g.to_f32()))
        );
        if i < 4 {
            let want: Vec<f32> = d.tokens.unwrap().flatten_all().unwrap().to_vec1().unwrap();
            assert!(
                want.iter()
                    .zip(tokens.row(i).unwrap())
                    .all(|(&w, g)| close(w, g.to_f32()))
            );
        }
    }
    // Same inputs: the store is found again, nothing recomputed.
    let again = json(&index(&tmp.path().join("cache"), &images, TOKENS_ARGS));
    assert_eq!(again["processed"], 0);
    // A changed image gives another store.
    std::fs::copy(images.join("img01.png"), images.join("img00.png")).unwrap();
    let changed = index(&tmp.path().join("cache"), &images, TOKENS_ARGS);
    assert_ne!(store_dir(&changed), store.dir());
}

#[test]
fn kill_nine_at_random_moments_then_resume_equals_one_run() {
    let tmp = tempfile::tempdir().unwrap();
    let images = tmp.path().join("images");
    make_images(&images, 400);
    let reference = store_dir(&index(&tmp.path().join("a"), &images, SMALL));
    let cache = tmp.path().join("b");
    let model = fixture("tiny-clip-hf");
    let (mut kills, mut finished) = (0, false);
    for round in 0..60u64 {
        let mut child = bin()
            .args(["index", "--quiet", "--model"])
            .arg(&model)
            .arg("--images")
            .arg(&images)
            .arg("--cache")
            .arg(&cache)
            .args(SMALL)
            .spawn()
            .unwrap();
        // Pseudo-random delays of 40..360 ms.
        std::thread::sleep(Duration::from_millis(40 + (round * 7919 + 13) % 320));
        if child.try_wait().unwrap().is_some_and(|s| s.success()) {
            finished = true;
            break;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
    }
    let out = index(&cache, &images, SMALL);
    let s = json(&out);
    assert!(kills >= 2, "the build was never interrupted");
    assert!(finished || s["finished"] == true);
    assert_eq!(s["failed_total"], 1);
    let dir = store_dir(&out);
    assert!(clipscope::store::verify::verify(&dir).is_empty());
    assert!(
        files(&reference) == files(&dir),
        "the resumed store differs from an uninterrupted run"
    );
    assert_eq!(Store::open(&dir).unwrap().len(), 401);
}

#[test]
fn shards_merged_equal_one_run_and_concurrent_builds_agree() {
    let tmp = tempfile::tempdir().unwrap();
    let images = tmp.path().join("images");
    make_images(&images, 60);
    let reference = files(&store_dir(&index(&tmp.path().join("one"), &images, SMALL)));

    // Three machines, three caches, merged.
    let parts: Vec<PathBuf> = (0..3)
        .map(|i| {
            let out = index(
                &tmp.path().join(format!("m{i}")),
                &images,
                &[SMALL, &["--shard", &format!("{i}/3")]].concat(),
            );
            assert_eq!(json(&out)["finished"], false);
            store_dir(&out)
        })
        .collect();
    let into = tmp.path().join("merged/tiny-clip-hf/x");
    let out = bin()
        .arg("merge")
        .args(&parts[..2])
        .arg("--into")
        .arg(&into)
        .output()
        .unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("missing"));
    let out = bin()
        .arg("merge")
        .args(&parts)
        .arg("--into")
        .arg(&into)
        .output()
        .unwrap();
    succeeded(&out);
    assert!(files(&into) == reference);

    // A part of another image list is refused.
    let other = tmp.path().join("other");
    make_images(&other, 5);
    let foreign = store_dir(&index(
        &tmp.path().join("m0"),
        &other,
        &[SMALL, &["--shard", "1/2"]].concat(),
    ));
    let out = bin()
        .arg("merge")
        .arg(&parts[0])
        .arg(&foreign)
        .output()
        .unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("different"));

    // Two shards into one shared cache: the last one to finish completes the store.
    let shared = tmp.path().join("shared");
    index(&shared, &images, &[SMALL, &["--shard", "1/2"]].concat());
    let dir = store_dir(&index(
        &shared,
        &images,
        &[SMALL, &["--shard", "0/2"]].concat(),
    ));
    assert!(files(&dir) == reference);

    two_processes_build_one_store(&tmp.path().join("race"), &images, &reference);
}

/// Two processes building one store at once in `cache` agree, on `reference`'s files.
fn two_processes_build_one_store(
    cache: &Path,
    images: &Path,
    reference: &BTreeMap<String, Vec<u8>>,
) {
    let spawn = || {
        bin()
            .args(["index", "--json", "--model"])
            .arg(fixture("tiny-clip-hf"))
            .arg("--images")
            .arg(images)
            .arg("--cache")
            .arg(cache)
            .args(SMALL)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert_eq!(store_dir(&a), store_dir(&b));
    assert!(files(&store_dir(&a)) == *reference);
}

#[test]
fn damage_is_caught_by_verify_and_on_read() {
    let tmp = tempfile::tempdir().unwrap();
    let images = tmp.path().join("images");
    make_images(&images, 20);
    let cache = tmp.path().join("cache");
    let dir = store_dir(&index(&cache, &images, SMALL));
    let ok = bin()
        .args(["store", "verify", "--cache"])
        .arg(&cache)
        .output()
        .unwrap();
    assert!(ok.status.success());

    let victim = dir.join("heads/L01H02.f16");
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[301] ^= 0x10;
    std::fs::write(&victim, &bytes).unwrap();
    let out = bin()
        .args(["store", "verify"])
        .arg(&dir)
        .arg("--cache")
        .arg(&cache)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("L01H02.f16") && err.contains("checksum mismatch"),
        "{err}"
    );
    let store = Store::open(&dir).unwrap();
    let e = store
        .head(1, 2)
        .unwrap()
        .as_slice()
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("checksum mismatch"), "{e}");
    assert!(store.head(1, 1).unwrap().as_slice().is_ok());

    // A truncated file is refused when the store is opened.
    std::fs::write(dir.join("valid.u8"), [1u8; 3]).unwrap();
    assert!(
        Store::open(&dir)
            .err()
            .unwrap()
            .to_string()
            .contains("valid.u8")
    );
}
