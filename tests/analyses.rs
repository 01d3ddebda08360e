//! The five analyses from the command line: maps equal the reference decomposition, nearest
//! neighbours equal a brute-force f64 search, figures are written.

mod common;
#[path = "analyses/neighbours.rs"]
mod neighbours;

use std::path::Path;

use candle_core::IndexOp;
use clipscope::store::Store;
use common::*;

/// The reference's segmentation map of image `i` for text `j`: each patch token's direct
/// effects (all heads, or `head` alone) on the unit text embedding, from the reference tokens.
fn reference_map(
    r: &std::collections::HashMap<String, candle_core::Tensor>,
    (i, j): (usize, usize),
    head: Option<(usize, usize)>,
) -> Vec<f32> {
    let tokens = &r["tokens"]; // (N, L, T, H, E)
    let text_embeds = &r["text_embeds"];
    let tj: Vec<f32> = text_embeds.i(j).unwrap().to_vec1().unwrap();
    let norm: f32 = tj.iter().map(|v| v * v).sum::<f32>().sqrt();
    let tok: Vec<f32> = tokens
        .i(i)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let (l, t, h, e) = (3, 17, 4, 32);
    (1..t)
        .map(|m| {
            let mut s = 0f32;
            for ll in 0..l {
                for hh in 0..h {
                    if head.is_some_and(|x| x != (ll, hh)) {
                        continue;
                    }
                    let at = ((ll * t + m) * h + hh) * e;
                    s += tok[at..at + e]
                        .iter()
                        .zip(&tj)
                        .map(|(a, b)| a * b / norm)
                        .sum::<f32>();
                }
            }
            s
        })
        .collect()
}

/// Equal lengths and every value within 1e-4.
fn close(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-4)
}

/// Bad input to segment and contrast: one clear line, non-zero exit.
#[test]
fn segment_and_contrast_refuse_bad_input() {
    let model = fixture("tiny-clip-hf");
    let meta = reference_json("tiny-clip-hf");
    let image = |i: usize| {
        model
            .join("images")
            .join(meta["images"][i].as_str().unwrap())
    };
    let out = bin()
        .args(["segment", "--model"])
        .arg(&model)
        .args(["--text", "x", "--head", "L7H0"])
        .arg(image(0))
        .output()
        .unwrap();
    let err = clear_error(&out, "L7H0 does not exist");
    assert_eq!(err.lines().count(), 1, "{err}");
    let out = bin()
        .args(["contrast", "--model"])
        .arg(&model)
        .args(["-t", "x"])
        .arg(image(0))
        .output()
        .unwrap();
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("exactly two texts")
    );
}

#[test]
fn segment_and_contrast_maps_equal_the_reference_tokens() {
    let model = fixture("tiny-clip-hf");
    let r = reference("tiny-clip-hf");
    let meta = reference_json("tiny-clip-hf");
    let texts: Vec<&str> = meta["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    let expected = |i, j, head| reference_map(&r, (i, j), head);
    let image = |i: usize| {
        model
            .join("images")
            .join(meta["images"][i].as_str().unwrap())
    };
    for (i, j) in [(0, 0), (2, 1), (5, 2)] {
        let out = bin()
            .args(["segment", "--json", "--model"])
            .arg(&model)
            .args(["--text", texts[j]])
            .arg(image(i))
            .output()
            .unwrap();
        let v = json(&out);
        assert_eq!(v["grid"], 4);
        assert!(
            close(&floats(&v["map"]), &expected(i, j, None)),
            "image {i} text {j}"
        );
        let out = bin()
            .args(["segment", "--json", "--head", "L1H2", "--model"])
            .arg(&model)
            .args(["--text", texts[j]])
            .arg(image(i))
            .output()
            .unwrap();
        assert!(close(
            &floats(&json(&out)["map"]),
            &expected(i, j, Some((1, 2)))
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("contrast.png");
    let out = bin()
        .args(["contrast", "--json", "--model"])
        .arg(&model)
        .args(["-t", texts[0], "-t", texts[1], "--out"])
        .arg(&png)
        .arg(image(3))
        .output()
        .unwrap();
    let v = json(&out);
    assert!(close(&floats(&v["map_a"]), &expected(3, 0, None)));
    assert!(close(&floats(&v["map_b"]), &expected(3, 1, None)));
    let fig = image::open(&png).unwrap();
    assert!(fig.width() >= 400 && fig.height() > fig.width());

    // Texts are embedded once: the second run reads them from the cache.
    let cache = dir.path().join("cache");
    for _ in 0..2 {
        let out = bin()
            .args(["segment", "--json", "--cache"])
            .arg(&cache)
            .arg("--model")
            .arg(&model)
            .args(["--text", texts[1]])
            .arg(image(1))
            .output()
            .unwrap();
        assert!(close(&floats(&json(&out)["map"]), &expected(1, 1, None)));
    }
    let cached: Vec<_> = std::fs::read_dir(cache.join("texts"))
        .unwrap()
        .flatten()
        .flat_map(|d| std::fs::read_dir(d.path()).unwrap().flatten())
        .collect();
    assert_eq!(cached.len(), 1);
}
