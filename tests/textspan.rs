//! TEXTSPAN against clip_text_span's `replace_with_iterative_removal` (the fixtures' oracles).

mod common;

use clipscope::interpret::{Gram, textspan};
use common::*;

fn f64s(t: &candle_core::Tensor) -> Vec<f64> {
    t.to_dtype(candle_core::DType::F64)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap()
}

#[test]
fn picks_stds_and_reconstruction_equal_the_oracles() {
    for model in ["tiny-clip-hf", "tiny-openclip"] {
        let path = fixture(model).join("textspan.safetensors");
        let o = candle_core::safetensors::load(&path, &candle_core::Device::Cpu).unwrap();
        let x = f64s(&o["head_outputs"]);
        let texts = f64s(&o["texts"]);
        let g = Gram::from_rows(&x, 32);
        for rank in [8, 80] {
            let want: Vec<i64> = o[&format!("chosen_rank{rank}")].to_vec1().unwrap();
            let want_std = f64s(&o[&format!("std_rank{rank}")]);
            let ts = textspan(&g, &texts, rank, 10).unwrap();
            // The reference keeps picking among rounding noise (std ~1e-17) once the rank-8
            // subspace is exhausted; clipscope stops there.
            let real = want_std
                .iter()
                .take_while(|&&s| s > 1e-9 * want_std[0])
                .count();
            assert_eq!(ts.chosen.len(), real, "{model} rank {rank}");
            let got: Vec<i64> = ts.chosen.iter().map(|&c| c as i64).collect();
            assert_eq!(got, want[..real], "{model} rank {rank}");
            for (a, b) in ts.std.iter().zip(&want_std) {
                assert!(
                    (a - b).abs() <= 1e-9 * b.abs().max(1.0),
                    "{model} rank {rank}: std {a} vs {b}"
                );
            }
            let rec = ts.reconstruct(&x);
            let err = |want: &[f64]| {
                rec.iter()
                    .zip(want)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max)
            };
            if real == want.len() {
                let e = err(&f64s(&o[&format!("reconstruction_rank{rank}")]));
                assert!(e < 1e-6, "{model} rank {rank}: reconstruction off by {e}");
            } else {
                // The oracle's reconstruction also carries its noise picks; ours must be
                // μ + the projection of the centred data onto the exhausted subspace.
                let (_, v) = clipscope::interpret::symmetric_eigen(&g.xtx, 32);
                let mu = g.mean();
                let mut want = vec![];
                for row in x.chunks(32) {
                    let c: Vec<f64> = row.iter().zip(&mu).map(|(a, m)| a - m).collect();
                    let coef: Vec<f64> = (0..rank)
                        .map(|j| (0..32).map(|k| c[k] * v[k * 32 + j]).sum())
                        .collect();
                    want.extend(
                        (0..32).map(|k| {
                            mu[k] + (0..rank).map(|j| coef[j] * v[k * 32 + j]).sum::<f64>()
                        }),
                    );
                }
                let e = err(&want);
                assert!(e < 1e-6, "{model} rank {rank}: reconstruction off by {e}");
            }
            assert!(
                ts.variance_explained
                    .windows(2)
                    .all(|w| w[0] <= w[1] + 1e-12)
            );
            assert!(
                ts.variance_explained
                    .iter()
                    .all(|v| (0.0..=1.0 + 1e-12).contains(v))
            );
        }
    }
}

/// Writes a little-endian f8 .npy file.
fn write_npy(path: &std::path::Path, rows: usize, cols: usize, data: &[f64]) {
    let mut header =
        format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut f = b"\x93NUMPY\x01\x00".to_vec();
    f.extend((header.len() as u16).to_le_bytes());
    f.extend(header.as_bytes());
    data.iter().for_each(|v| f.extend(v.to_le_bytes()));
    std::fs::write(path, f).unwrap();
}

#[test]
fn the_cli_reads_npy_files_as_clip_text_span_writes_them() {
    let path = fixture("tiny-openclip").join("textspan.safetensors");
    let o = candle_core::safetensors::load(&path, &candle_core::Device::Cpu).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (x, t) = (dir.path().join("heads.npy"), dir.path().join("texts.npy"));
    write_npy(&x, 240, 32, &f64s(&o["head_outputs"]));
    write_npy(&t, 300, 32, &f64s(&o["texts"]));
    let lines: String = (0..300)
        .map(|i| format!("text number {i}\tproperty\n"))
        .collect();
    std::fs::write(dir.path().join("pool.txt"), lines).unwrap();
    let out = bin()
        .args(["textspan", "--json", "--iters", "6", "--head-outputs"])
        .arg(&x)
        .arg("--text-embeddings")
        .arg(&t)
        .arg("--texts")
        .arg(dir.path().join("pool.txt"))
        .output()
        .unwrap();
    succeeded(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let want: Vec<i64> = o["chosen_rank80"].to_vec1().unwrap();
    let got = ints(&v["chosen"]);
    assert_eq!(got, want[..6]);
    assert_eq!(v["texts"][0], format!("text number {}", want[0]));
    assert_eq!(v["variance_explained"].as_array().unwrap().len(), 6);
}
