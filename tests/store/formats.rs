//! Stores of earlier format versions: v1 still opens, v2 has labels and ablation rows, other
//! versions are refused.

use super::*;

/// The kept store of format `version` (tests/fixtures/stores/v<version>): verified, opened, of
/// that version.
fn kept(version: u32) -> (PathBuf, Store) {
    let dir = fixture(&format!("stores/v{version}"));
    assert!(clipscope::store::verify::verify(&dir).is_empty());
    let store = Store::open(&dir).unwrap();
    assert_eq!(store.manifest.format_version, version);
    (dir, store)
}

#[test]
fn format_v1_store_still_opens_and_other_versions_are_refused() {
    let (v1, store) = kept(1);
    let clip = load_fixture("tiny-clip-hf");
    let images = fixture("tiny-clip-hf").join("images");
    for i in 0..store.len() {
        let rec = store.image(i).unwrap();
        let img = clipscope::image::load_rgb(&images.join(&rec.path)).unwrap();
        let px = clip
            .pixels(&[clip.preprocess().apply(&img).unwrap()])
            .unwrap();
        let d = clip.decompose(&px, store.layers(), false).unwrap();
        let last = store.layers().len() - 1;
        let want: Vec<f32> = d.heads.i((0, last, 3)).unwrap().to_vec1().unwrap();
        let block = store.head(*store.layers().last().unwrap(), 3).unwrap();
        let got = block.row(i).unwrap();
        assert!(
            want.iter()
                .zip(got)
                .all(|(&w, g)| (w - g.to_f32()).abs() <= w.abs() * 1e-3 + 1e-6)
        );
    }

    let tmp = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(&v1).unwrap().flatten() {
        if e.path().is_file() {
            std::fs::copy(e.path(), tmp.path().join(e.file_name())).unwrap();
        }
    }
    let m = std::fs::read_to_string(tmp.path().join("manifest.json")).unwrap();
    std::fs::write(
        tmp.path().join("manifest.json"),
        m.replace("\"format_version\": 1", "\"format_version\": 99"),
    )
    .unwrap();
    let e = Store::open(tmp.path()).err().unwrap().to_string();
    assert!(
        e.contains("format version 99") && e.contains("reads versions 1 to 2"),
        "{e}"
    );
}

/// A format-2 store (kept in tests/fixtures/stores/v2): labels from a CSV with groups, and the
/// ablation rows, whose layer totals and MLP terms add up to the embedding and equal a fresh
/// decomposition.
#[test]
fn format_v2_store_has_labels_and_ablation_rows() {
    let (_, store) = kept(2);
    let labels = store.labels().unwrap().unwrap();
    assert_eq!(labels.class_names, ["cat", "dog"]);
    assert_eq!(labels.group_names, ["indoor", "outdoor"]);
    let want = [
        ("img00.png", Some(0), Some(0)),
        ("big00.png", Some(1), Some(1)),
        ("img05.png", None, None),
    ];
    for (name, class, group) in want {
        let i = store.find_image(name).unwrap();
        assert_eq!(labels.classes[i], class, "{name}");
        assert_eq!(labels.groups.as_ref().unwrap()[i], group, "{name}");
        assert_eq!(store.image(i).unwrap().class, class);
    }
    let clip = load_fixture("tiny-clip-hf");
    let depth = clip.config.vision.tower.layers;
    let e = store.manifest.dim;
    let abl = store.ablation().unwrap().unwrap();
    let emb = store.embeddings().unwrap();
    let images = fixture("tiny-clip-hf").join("images");
    for i in 0..store.len() {
        let row: Vec<f32> = abl.row(i).unwrap().iter().map(|v| v.to_f32()).collect();
        assert_eq!(row.len(), (3 * depth + 1) * e);
        // Σ attention totals + pre + Σ MLPs = the unit embedding (f16 rounding of 2L+1 terms).
        for k in 0..e {
            let attn: f32 = (0..depth).map(|l| row[l * e + k]).sum();
            let mlps: f32 = (0..=depth).map(|m| row[(2 * depth + m) * e + k]).sum();
            let got = emb.row(i).unwrap()[k].to_f32();
            assert!((attn + mlps - got).abs() < 5e-3, "image {i} dim {k}");
        }
        let img = clipscope::image::load_rgb(&images.join(store.image(i).unwrap().path)).unwrap();
        let px = clip
            .pixels(&[clip.preprocess().apply(&img).unwrap()])
            .unwrap();
        let d = clip
            .decompose_with(
                &px,
                Wanted {
                    layers: store.layers(),
                    tokens: false,
                    ablation: true,
                },
            )
            .unwrap();
        let fresh = candle_core::Tensor::cat(&[d.attn.unwrap(), d.cls.unwrap(), d.mlps], 1)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        for (a, b) in fresh.iter().zip(&row) {
            assert!(
                (a - b).abs() <= a.abs() * 1e-3 + 1e-6,
                "image {i}: {a} vs {b}"
            );
        }
    }
}
