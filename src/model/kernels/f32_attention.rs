//! The fused f32 attention on the CPU: softmax(q kᵀ + mask) v per (image, head).
//!
//! candle runs a batched (B, H, T, d) matmul as B·H small GEMMs, each split over the threads, and
//! softmax on one thread; the fused attention instead hands whole (image, head) pairs to the
//! threads and reads q, k and v where the QKV projection wrote them (no permuted copies). It
//! returns `None` when its inputs are not contiguous f32 tensors on the CPU; the caller then
//! takes candle's operations (GPU, half precision).

use std::mem::MaybeUninit;

use candle_core::{Device, Tensor};
use gemm::Parallelism;
use rayon::prelude::*;

use super::f32_ops::{F32, product};
use super::fastmath::softmax_rows;
use crate::Result;

/// A raw pointer that threads writing disjoint parts of one buffer may share.
#[derive(Clone, Copy)]
struct Shared(*mut f32);
// SAFETY: every task writes only its own rows / columns of the buffer (see `attention`).
unsafe impl Send for Shared {}
// SAFETY: as above.
unsafe impl Sync for Shared {}

impl Shared {
    /// The pointer (a method, so that closures capture the whole `Shared`).
    fn at(self, offset: usize) -> *mut f32 {
        self.0.wrapping_add(offset)
    }
}

/// What the fused attention returns.
pub struct Attention {
    /// The heads' outputs side by side, (B·Tq, D), as `out_proj` takes them.
    pub merged: Tensor,
    /// The first query's attention row per head (B, H, T), when asked for.
    pub first_row: Option<Tensor>,
}

impl Attention {
    /// The outputs for `b` images of `tq` queries over `t` keys, `heads` heads, width `dm`:
    /// merged (B·Tq, D) and, with `keep_first_row`, the first rows (B, H, T), handed to `fill`
    /// uninitialised (no clearing pass) and then made tensors.
    ///
    /// # Safety
    /// `fill` writes every element of both buffers.
    pub(in crate::model) unsafe fn written(
        (b, tq, heads, t, dm): (usize, usize, usize, usize, usize),
        keep_first_row: bool,
        fill: impl FnOnce(&mut [MaybeUninit<f32>], Option<&mut [MaybeUninit<f32>]>),
    ) -> Result<Self> {
        let first_len = if keep_first_row { b * heads * t } else { 0 };
        let (mut merged, mut first) = (
            Vec::with_capacity(b * tq * dm),
            Vec::with_capacity(first_len),
        );
        fill(
            &mut merged.spare_capacity_mut()[..b * tq * dm],
            keep_first_row.then(|| &mut first.spare_capacity_mut()[..first_len]),
        );
        // SAFETY: the caller's contract: `fill` wrote every element.
        unsafe {
            merged.set_len(b * tq * dm);
            first.set_len(first_len);
        }
        Ok(Self {
            merged: Tensor::from_vec(merged, (b * tq, dm), &Device::Cpu)?,
            first_row: keep_first_row
                .then(|| Tensor::from_vec(first, (b, heads, t), &Device::Cpu))
                .transpose()?,
        })
    }
}

/// A fused attention's operands: `qkv`'s elements (B·T, 3D, D a multiple of `heads`), the
/// mask's (T, T) and D, when both are contiguous f32 CPU tensors of those shapes; `None`
/// otherwise (the caller then takes candle's operations).
pub(in crate::model) fn attention_operands<'a>(
    qkv: &'a Tensor,
    (b, t, heads): (usize, usize, usize),
    mask: Option<&'a Tensor>,
) -> Option<(F32<'a>, Option<F32<'a>>, usize)> {
    let (rows, w3) = qkv.dims2().ok()?;
    let dm = w3 / 3;
    if rows != b * t || w3 != 3 * dm || heads == 0 || dm % heads != 0 {
        return None;
    }
    let mask = match mask {
        Some(m) => Some(F32::of(m).filter(|m| m.range.len() == t * t)?),
        None => None,
    };
    Some((F32::of(qkv)?, mask, dm))
}

/// softmax(q kᵀ + mask) v per image and head, for `qkv` (B·T, 3D) laid out like the fused QKV
/// projection's output (q, k, v, each heads × d) with the scale already in q; `mask` (T, T) is
/// added to the logits. With `cls_only` only the first query of each image is computed.
///
/// Ports the attention of transformers' `CLIPAttention.forward` / torch's
/// `scaled_dot_product_attention` (math backend).
pub fn attention(
    qkv: &Tensor,
    (b, t, heads): (usize, usize, usize),
    mask: Option<&Tensor>,
    cls_only: bool,
    keep_first_row: bool,
) -> Result<Option<Attention>> {
    let Some((src, mask, dm)) = attention_operands(qkv, (b, t, heads), mask) else {
        return Ok(None);
    };
    let mask = mask.as_ref().map(F32::slice);
    let (w3, d) = (3 * dm, dm / heads);
    let tq = if cls_only { 1 } else { t };
    let shape = (b, tq, heads, t, dm);
    // The tasks write every (image, head) block of `merged` (the second product does not read
    // its destination) and, when kept, every task's row of `first`.
    let written = |merged: &mut [MaybeUninit<f32>], first: Option<&mut [MaybeUninit<f32>]>| {
        let out = Shared(merged.as_mut_ptr().cast());
        let first_ptr = Shared(first.map_or(std::ptr::null_mut(), |f| f.as_mut_ptr().cast()));
        let src = Shared(src.slice().as_ptr().cast_mut());
        (0..b * heads).into_par_iter().for_each_init(
            || vec![0f32; tq * t],
            |logits, task| {
                let (bi, hi) = (task / heads, task % heads);
                let base = bi * t * w3 + hi * d;
                // SAFETY: q, k and v of image `bi`, head `hi` are the column blocks
                // [hi·d, (hi+1)·d) of the q, k and v thirds of rows bi·T..(bi+1)·T of `src`;
                // `logits` is (tq, t). Only reads of `src` happen through `src`.
                unsafe {
                    let q = src.at(base).cast_const();
                    let k = src.at(base + dm).cast_const();
                    let v = src.at(base + 2 * dm).cast_const();
                    product(
                        (tq, t, d),
                        (logits.as_mut_ptr(), 1, t),
                        (q, 1, w3),
                        (k, w3, 1),
                        false,
                        Parallelism::None,
                    );
                    if let Some(m) = mask {
                        for (row, mrow) in logits.chunks_exact_mut(t).zip(m.chunks_exact(t)) {
                            row.iter_mut().zip(mrow).for_each(|(l, m)| *l += m);
                        }
                    }
                    softmax_rows(logits, t);
                    if keep_first_row {
                        // This task's own row of `first`.
                        std::ptr::copy_nonoverlapping(logits.as_ptr(), first_ptr.at(task * t), t);
                    }
                    // Writes rows bi·tq..(bi+1)·tq, columns hi·d..(hi+1)·d of `merged`: this
                    // task's block alone.
                    product(
                        (tq, d, t),
                        (out.at(bi * tq * dm + hi * d), 1, dm),
                        (logits.as_ptr(), 1, t),
                        (v, 1, w3),
                        false,
                        Parallelism::None,
                    );
                }
            },
        );
    };
    // SAFETY: `written` writes every element of both (see above).
    unsafe { Attention::written(shape, keep_first_row, written) }.map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::kernels::f32_ops::tests::max_diff;
    use candle_core::{D, IndexOp};

    #[test]
    fn attention_matches_the_unfused_operations() -> Result<()> {
        let dev = Device::Cpu;
        let (b, t, h, d) = (3, 11, 4, 8);
        let dm = h * d;
        let qkv = Tensor::randn(0f32, 1.0, (b * t, 3 * dm), &dev)?;
        let causal = crate::model::towers::text::causal_mask_values(t);
        let causal = Tensor::from_vec(causal, (t, t), &dev)?;
        let split = qkv.reshape((b, t, 3, h, d))?.permute((2, 0, 3, 1, 4))?;
        let (q, k, v) = (split.i(0)?, split.i(1)?, split.i(2)?);
        for mask in [None, Some(&causal)] {
            let mut logits = q.contiguous()?.matmul(&k.t()?.contiguous()?)?;
            if let Some(m) = mask {
                logits = logits.broadcast_add(m)?;
            }
            let att = candle_nn::ops::softmax(&logits, D::Minus1)?;
            let o = att.matmul(&v.contiguous()?)?; // (B, H, T, d)
            let want = o.transpose(1, 2)?.contiguous()?.reshape((b * t, dm))?;
            let got = attention(&qkv, (b, t, h), mask, false, true)?.expect("f32 on the CPU");
            assert!(max_diff(&got.merged, &want) < 1e-5);
            let row = got.first_row.expect("asked for");
            assert!(max_diff(&row, &att.i((.., .., 0))?.contiguous()?) < 1e-6);
            // The CLS query alone gives the first row of each image.
            let cls = attention(&qkv, (b, t, h), mask, true, false)?.expect("f32 on the CPU");
            assert!(cls.first_row.is_none());
            let first = want.reshape((b, t, dm))?.i((.., 0))?;
            assert!(max_diff(&cls.merged, &first) < 1e-5);
        }
        assert!(attention(&qkv, (b, t + 1, h), None, false, false)?.is_none());
        Ok(())
    }
}
