//! `--dtype bf16` on the CPU: the dense layers on the AMX tiles or AVX512-BF16 where the CPU has them, within
//! stated bounds of f32 on the reference fixtures; f32, bit for bit, where it has not.
//!
//! The bounds asserted: the unit image embedding's cosine to f32 ≥ 0.999 (measured ≥ 0.99996 on
//! the four fixtures); an image's head effects, all heads together, within 2% of f32's in
//! relative L2 norm (measured ≤ 1.3%, the attention's products on the tiles included); the
//! decomposition's identity (heads + MLPs = embedding) still to 1e-5, its sums being f32.

mod common;

use candle_core::{DType, Tensor};
use clipscope::model::kernels::bf16;
use common::*;

fn rows(t: &Tensor) -> Vec<Vec<f32>> {
    let n = t.dim(0).unwrap();
    t.reshape((n, ())).unwrap().to_vec2().unwrap()
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
}

#[test]
fn bf16_stays_within_its_bounds_of_f32_or_falls_back_to_it() {
    for name in FIXTURES.iter().chain(&SIGLIP_FIXTURES) {
        let r = reference(name);
        let (f32m, bf16m) = (
            load_fixture_as(name, DType::F32),
            load_fixture_as(name, DType::BF16),
        );
        let layers: Vec<usize> = (0..f32m.config.depth()).collect();
        let px = &r["pixel_values"];
        let a = f32m.decompose(px, &layers, false).unwrap();
        let b = bf16m.decompose(px, &layers, false).unwrap();
        if bf16::support().is_err() {
            // The fallback: f32 itself, not candle's slower generic bf16.
            assert_eq!(max_abs_diff(&a.heads, &b.heads), 0.0, "{name}");
            assert_eq!(max_abs_diff(&a.embedding, &b.embedding), 0.0, "{name}");
            assert_eq!(bf16::cpu_dtype(DType::BF16).0, DType::F32);
            continue;
        }
        assert!(
            max_abs_diff(&a.heads, &b.heads) > 0.0,
            "{name}: bf16 computed nothing new"
        );
        for (x, y) in rows(&a.embedding).iter().zip(rows(&b.embedding)) {
            let cos = dot(x, &y) / (dot(x, x) * dot(&y, &y)).sqrt();
            assert!(cos >= 0.999, "{name}: embedding cosine {cos}");
        }
        for (x, y) in rows(&a.heads).iter().zip(rows(&b.heads)) {
            let diff: Vec<f32> = x.iter().zip(&y).map(|(p, q)| p - q).collect();
            let rel = (dot(&diff, &diff) / dot(x, x)).sqrt();
            assert!(rel < 0.02, "{name}: heads' relative error {rel}");
        }
        let sum = (b.heads.sum((1, 2)).unwrap() + b.mlps.sum(1).unwrap()).unwrap();
        assert!(max_abs_diff(&sum, &b.embedding) < 1e-5, "{name}: identity");
        assert_eq!(bf16::cpu_dtype(DType::BF16).0, DType::BF16);
    }
}

#[test]
fn without_a_kernel_bf16_says_why_and_computes_f32() {
    let run = |dtype: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_clipscope"))
            .args([
                "decompose",
                "--json",
                "--layers",
                "last:1",
                "--dtype",
                dtype,
                "--model",
            ])
            .arg(fixture("tiny-clip-hf"))
            .arg(fixture("tiny-clip-hf").join("images").join("img00.png"))
            .env("CLIPSCOPE_BF16_KERNEL", "f32")
            .env("HF_HUB_OFFLINE", "1")
            .output()
            .unwrap()
    };
    let (f32o, bf16o) = (run("f32"), run("bf16"));
    assert!(f32o.status.success() && bf16o.status.success());
    let err = String::from_utf8_lossy(&bf16o.stderr);
    assert_eq!(
        err.trim(),
        "clipscope: --dtype bf16: CLIPSCOPE_BF16_KERNEL=f32; computing in f32",
        "one line saying why"
    );
    assert!(!f32o.stdout.is_empty());
    assert_eq!(f32o.stdout, bf16o.stdout, "the same f32 numbers");
}
