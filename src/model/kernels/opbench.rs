//! The operations of one vision block timed one by one on the paths the model takes (`clipscope
//! bench --ops`), each beside its bound on this machine: the measured GEMM peak for products,
//! the measured memory copy rate for elementwise passes.

use std::time::Instant;

use candle_core::{Device, Tensor};

use super::bf16::{self, PackedRows, PackedWeight};
use super::{f32_attention, f32_ops, fastmath};
use crate::model::load::config::Activation;
use crate::{Error, Result};

/// What an operation is bounded by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Bound {
    /// Arithmetic: f32 GEMM peak.
    F32Flops,
    /// Arithmetic: the bf16 kernel's peak.
    Bf16Flops,
    /// Memory traffic.
    Bytes,
}

/// One operation's median time and rate.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OpTiming {
    /// The operation and its shape.
    pub name: String,
    /// Median milliseconds.
    pub ms: f64,
    /// GFLOP/s for products, GB/s for elementwise passes.
    pub rate: f64,
    /// What bounds it.
    pub bound: Bound,
}

/// The machine's measured bounds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Peaks {
    /// GFLOP/s of the f32 GEMM on a large product, all threads.
    pub f32_gflops: f64,
    /// GFLOP/s of the bf16 GEMM on a large product, all threads (None without a bf16 kernel).
    pub bf16_gflops: Option<f64>,
    /// GB/s (read + write) of a large copy, all threads.
    pub copy_gbs: f64,
}

/// Timed repetitions per operation (after one warm-up): a shared machine needs more than 5.
const REPS: usize = 9;

fn median(reps: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    f()?;
    let mut v = (0..reps.max(1))
        .map(|_| {
            let t = Instant::now();
            f().map(|()| t.elapsed().as_secs_f64() * 1e3)
        })
        .collect::<Result<Vec<_>>>()?;
    v.sort_by(f64::total_cmp);
    Ok(v[v.len() / 2])
}

fn values(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i.wrapping_mul(2_654_435_761).wrapping_add(seed)) % 2001) as f32 / 1000.0 - 1.0)
        .collect()
}

fn tensor(n: usize, shape: (usize, usize), seed: usize) -> Result<Tensor> {
    Ok(Tensor::from_vec(values(n, seed), shape, &Device::Cpu)?)
}

fn some<T>(v: Option<T>) -> Result<T> {
    v.ok_or_else(|| Error::Invalid("bench --ops: the fast CPU path declined its inputs".into()))
}

/// The bounds: a (2048 × 768) · (768 × 3072) product in f32 and on the bf16 kernel, and a 256 MiB copy.
pub fn peaks() -> Result<Peaks> {
    let (n, k, m) = (2048, 768, 3072);
    let flop = 2.0 * (n * k * m) as f64;
    let (x, w) = (values(n * k, 1), values(k * m, 2));
    let mut dst = vec![0f32; n * m];
    let f32_ms = median(3, || {
        f32_ops::gemm_into(&mut dst, &x, &w, (n, k, m), false);
        Ok(())
    })?;
    let bf16_gflops = match bf16::support() {
        Ok(_) => {
            let p = PackedWeight::new(&w, &vec![0f32; m], k, m);
            let ms = median(3, || {
                std::hint::black_box(bf16::linear(&x, n, &p, None, None));
                Ok(())
            })?;
            Some(flop / ms / 1e6)
        }
        Err(_) => None,
    };
    let len = 64 << 20; // f32s: 256 MiB
    let src = vec![1f32; len];
    let mut out = vec![0f32; len];
    let copy_ms = median(3, || {
        use rayon::prelude::*;
        out.par_chunks_mut(1 << 20)
            .zip(src.par_chunks(1 << 20))
            .for_each(|(o, s)| o.copy_from_slice(s));
        Ok(())
    })?;
    Ok(Peaks {
        f32_gflops: flop / f32_ms / 1e6,
        bf16_gflops,
        copy_gbs: 2.0 * 4.0 * len as f64 / copy_ms / 1e6,
    })
}

/// Times each operation of one ViT-B/16 block (T = 197, D = 768, 12 heads, MLP 3072) at batch
/// `b` on the CPU, the dense layers in f32 and, with a bf16 kernel (AMX or AVX512-BF16), in bf16.
// Over 80 lines: one timed operation after another in the block's order, a listing kept in one
// piece so that it reads as the block does.
pub fn vit_b16_block(b: usize) -> Result<Vec<OpTiming>> {
    let (t, dm, h, mlp) = (197usize, 768usize, 12usize, 3072usize);
    let rows = b * t;
    let x = tensor(rows * dm, (rows, dm), 3)?;
    let hid = tensor(rows * mlp, (rows, mlp), 4)?;
    let qkv = (tensor(rows * 3 * dm, (rows, 3 * dm), 5)? * 0.3)?;
    let g = Tensor::ones(dm, candle_core::DType::F32, &Device::Cpu)?;
    let beta = Tensor::zeros(dm, candle_core::DType::F32, &Device::Cpu)?;
    let mut out = vec![];
    let dense = [
        ("qkv", dm, 3 * dm, None, false),
        ("out_proj + residual", dm, dm, None, true),
        (
            "fc1 + quick_gelu",
            dm,
            mlp,
            Some(Activation::QuickGelu),
            false,
        ),
        ("fc2 + residual", mlp, dm, None, true),
    ];
    for (name, k, n, act, res) in dense {
        let input = if k == dm { &x } else { &hid };
        let w = tensor(k * n, (k, n), 6)?;
        let bias = tensor(n, (1, n), 7)?.flatten_all()?;
        let r = res.then(|| tensor(rows * n, (rows, n), 8)).transpose()?;
        let flop = 2.0 * (rows * k * n) as f64;
        let ms = median(REPS, || {
            some(f32_ops::linear(input, &w, &bias, act, r.as_ref())?).map(drop)
        })?;
        out.push(timing(
            format!("{name} f32 ({rows},{k})x({k},{n})"),
            ms,
            flop,
            Bound::F32Flops,
        ));
        if bf16::support().is_ok() {
            let p = PackedWeight::new(&w.flatten_all()?.to_vec1()?, &bias.to_vec1()?, k, n);
            // The rows come packed, as in a block: LayerNorm and fc1 write them so.
            let a = PackedRows::pack(&input.flatten_all()?.to_vec1()?, rows, k);
            let ms = median(REPS, || match act {
                Some(_) => {
                    drop(bf16::linear_to_packed(&a, &p, act));
                    Ok(())
                }
                None => some(super::bf16_ops::linear_packed(&a, &p, None, r.as_ref())?).map(drop),
            })?;
            out.push(timing(
                match act {
                    Some(_) => format!("{name} bf16, packed in and out"),
                    None => format!("{name} bf16, rows packed"),
                },
                ms,
                flop,
                Bound::Bf16Flops,
            ));
        }
    }
    let flop = 4.0 * (b * h * t * t * (dm / h)) as f64;
    let ms = median(REPS, || {
        some(f32_attention::attention(
            &qkv,
            (b, t, h),
            None,
            false,
            false,
        )?)
        .map(drop)
    })?;
    out.push(timing(
        format!("attention f32 (B={b},H={h},T={t},d=64), softmax included"),
        ms,
        flop,
        Bound::F32Flops,
    ));
    if bf16::support().is_ok() {
        let ms = median(REPS, || {
            some(super::bf16_ops::attention(&qkv, (b, t, h), None, false)?).map(drop)
        })?;
        out.push(timing(
            "attention bf16, operands packed, softmax included".into(),
            ms,
            flop,
            Bound::Bf16Flops,
        ));
    }
    let ms = median(REPS, || {
        some(f32_ops::layer_norm(&x, &g, &beta, 1e-5)?).map(drop)
    })?;
    out.push(timing(
        format!("layer_norm ({rows},{dm})"),
        ms,
        8.0 * (rows * dm) as f64,
        Bound::Bytes,
    ));
    let mut v = hid.flatten_all()?.to_vec1::<f32>()?;
    let ms = median(REPS, || {
        use rayon::prelude::*;
        v.par_chunks_mut(1 << 14)
            .for_each(|c| fastmath::activate_in_place(c, Activation::QuickGelu));
        Ok(())
    })?;
    out.push(timing(
        format!("quick_gelu in place ({rows},{mlp})"),
        ms,
        8.0 * (rows * mlp) as f64,
        Bound::Bytes,
    ));
    let mut logits = values(b * h * t * t, 9);
    let ms = median(REPS, || {
        use rayon::prelude::*;
        logits
            .par_chunks_mut(t * t)
            .for_each(|c| fastmath::softmax_rows(c, t));
        Ok(())
    })?;
    out.push(timing(
        format!("softmax rows (B·H·T,{t})"),
        ms,
        8.0 * (b * h * t * t) as f64,
        Bound::Bytes,
    ));
    Ok(out)
}

fn timing(name: String, ms: f64, work: f64, bound: Bound) -> OpTiming {
    let rate = work / ms / 1e6;
    OpTiming {
        name,
        ms,
        rate,
        bound,
    }
}
