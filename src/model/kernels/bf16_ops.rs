//! The dense layers of `--dtype bf16` on the bf16 kernel, over candle tensors: products whose
//! input is f32 rows or rows already packed ([`PackedRows`]), and a LayerNorm that writes packed
//! rows, so that inside a block only the attention's input and output are f32 (what the
//! decomposition reads) and the LayerNorm outputs and the MLP's hidden layer go from one
//! product to the next in bf16, never written out in f32.

use std::mem::MaybeUninit;

use candle_core::{Device, Tensor};
use rayon::prelude::*;

use super::bf16::{self, PackedRows, PackedWeight};
use super::f32_attention::{Attention, attention_operands};
use super::f32_ops::{F32, with_norm_operands};
use super::fastmath::layer_norm_rows;
use crate::Result;
use crate::model::load::config::Activation;

/// The residual's elements when it is an f32 CPU tensor of n × m; `Err(())` otherwise.
fn residual_of(residual: Option<&Tensor>, len: usize) -> std::result::Result<Option<F32<'_>>, ()> {
    match residual.map(F32::of) {
        None => Ok(None),
        Some(Some(r)) if r.slice().len() == len => Ok(Some(r)),
        Some(_) => Err(()),
    }
}

/// [`super::f32_ops::linear`] with the product on the bf16 kernel (`x` and W rounded to bf16, sums in
/// f32, W and the bias packed in `w`). `None` where that would say `None`.
pub fn linear(
    x: &Tensor,
    w: &PackedWeight,
    act: Option<Activation>,
    residual: Option<&Tensor>,
) -> Result<Option<Tensor>> {
    let Ok((n, k)) = x.dims2() else {
        return Ok(None);
    };
    let Some(xs) = F32::of(x).filter(|_| k == w.k) else {
        return Ok(None);
    };
    linear_packed(&PackedRows::pack(xs.slice(), n, k), w, act, residual)
}

/// [`linear`] on rows already packed: `act(a · W + b)` or `a · W + b + residual`
/// (N, out). `None` when the residual is not an f32 CPU tensor of that shape, or both an
/// activation and a residual are asked for.
pub fn linear_packed(
    a: &PackedRows,
    w: &PackedWeight,
    act: Option<Activation>,
    residual: Option<&Tensor>,
) -> Result<Option<Tensor>> {
    match products(a, w, act, residual) {
        Some(y) => Ok(Some(Tensor::from_vec(y, (a.rows, w.n), &Device::Cpu)?)),
        None => Ok(None),
    }
}

/// [`linear_packed`]'s elements, row-major, before they become a tensor.
fn products(
    a: &PackedRows,
    w: &PackedWeight,
    act: Option<Activation>,
    residual: Option<&Tensor>,
) -> Option<Vec<f32>> {
    let r = residual_of(residual, a.rows * w.n).ok()?;
    if a.k != w.k || (act.is_some() && r.is_some()) {
        return None;
    }
    Some(bf16::linear_packed(a, w, r.as_ref().map(F32::slice), act))
}

/// `x · W + b + residual` on the bf16 kernel, except rows 0, `every`, 2·`every`, … which are `exact`'s
/// rows in turn (the same layer in f32, for the rows the decomposition reads): written over the
/// kernel's output instead of concatenated, which copied the whole output. `None` where
/// [`linear`] would say `None` or `exact` is not an f32 CPU tensor of those rows.
pub fn linear_except(
    x: &Tensor,
    w: &PackedWeight,
    residual: &Tensor,
    every: usize,
    exact: &Tensor,
) -> Result<Option<Tensor>> {
    let (Ok((n, k)), Some(xs), Some(fixed)) = (x.dims2(), F32::of(x), F32::of(exact)) else {
        return Ok(None);
    };
    let fixed = fixed.slice();
    if k != w.k || every == 0 || fixed.len() != n.div_ceil(every) * w.n {
        return Ok(None);
    }
    let a = PackedRows::pack(xs.slice(), n, k);
    let Some(mut y) = products(&a, w, None, Some(residual)) else {
        return Ok(None);
    };
    for (row, f) in y.chunks_exact_mut(every * w.n).zip(fixed.chunks_exact(w.n)) {
        row[..w.n].copy_from_slice(f);
    }
    Ok(Some(Tensor::from_vec(y, (n, w.n), &Device::Cpu)?))
}

/// LayerNorm of `x`'s rows (N, width) with γ, β, written packed for a product on the bf16 kernel:
/// each strip of 32 rows normalised into a scratch block in cache and packed from there. `None`
/// when `x` is not a contiguous f32 CPU tensor of that width.
pub fn layer_norm_packed(
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    eps: f64,
) -> Result<Option<PackedRows>> {
    with_norm_operands(x, gamma, beta, |xs, g, b| {
        let k = g.len();
        let rows = xs.len() / k;
        let mut out = PackedRows::to_overwrite(rows, k);
        out.strips_mut()
            .enumerate()
            .for_each_init(Vec::new, |normed, (s, strip)| {
                let live = 32.min(rows - s * 32);
                normed.resize(live * k, 0.0);
                layer_norm_rows(
                    &xs[s * 32 * k..(s * 32 + live) * k],
                    normed,
                    g,
                    b,
                    eps as f32,
                );
                bf16::pack_strip(normed, k, live, k, strip);
            });
        Ok(out)
    })
}

/// The attention of a block on the bf16 kernel ([`bf16::attention`]) for `qkv` (B·T, 3D) as the fused
/// projection writes it, with the first query's row in f32 when `keep_first_row`. `None` when
/// `qkv` or the mask (T, T) is not a contiguous f32 CPU tensor of its shape.
pub fn attention(
    qkv: &Tensor,
    (b, t, heads): (usize, usize, usize),
    mask: Option<&Tensor>,
    keep_first_row: bool,
) -> Result<Option<Attention>> {
    let Some((src, mask, dm)) = attention_operands(qkv, (b, t, heads), mask) else {
        return Ok(None);
    };
    if t == 0 {
        return Ok(None);
    }
    let shape = bf16::Shape {
        b,
        t,
        heads,
        d: dm / heads,
    };
    let fill = |merged: &mut [MaybeUninit<f32>], first: Option<&mut [MaybeUninit<f32>]>| {
        bf16::attention(
            src.slice(),
            shape,
            mask.as_ref().map(F32::slice),
            merged,
            first,
        )
    };
    // SAFETY: bf16::attention writes every element of both.
    unsafe { Attention::written((b, t, heads, t, dm), keep_first_row, fill) }.map(Some)
}
