//! The operands of the attention's two products on the tiles, in `pack`'s layouts: k and v of a
//! head rounded to bf16 row by row (vectorised), then laid out as B panels, kᵀ by a transpose of
//! bf16 pairs and v by interleaving rows; and the softmax's rows written as A strips.
//!
//! The B panel layout (see `pack`): pair p of 32 columns, step of 32 K rows, half of 16 columns,
//! then 16 pair-rows of 16 columns × 2 bf16, element (K row i, column j) at pair-row i % 32 / 2,
//! slot i % 2. As u32 (a bf16 pair), each half-step is a 16 × 16 block.

use super::act::softmax_numerators;
use super::pack::to_bf16;
use crate::model::kernels::fastmath::dispatch;

/// Rows `0..t` of a head's `d` columns (from column `col` of `rows`, rows `stride` apart) rounded
/// to bf16 into `to`, `d_pad` per row and `to.len() / d_pad` rows, zero past `d` and past `t`.
pub fn rounded_rows(
    rows: &[f32],
    (stride, col): (usize, usize),
    (t, d): (usize, usize),
    d_pad: usize,
    to: &mut [u16],
) {
    #[inline(always)]
    fn run(
        rows: &[f32],
        (stride, col): (usize, usize),
        (t, d): (usize, usize),
        d_pad: usize,
        to: &mut [u16],
    ) {
        for (j, dst) in to.chunks_exact_mut(d_pad).enumerate() {
            if j < t {
                let src = &rows[j * stride + col..j * stride + col + d];
                dst.iter_mut().zip(src).for_each(|(o, &x)| *o = to_bf16(x));
                dst[d..].fill(0);
            } else {
                dst.fill(0);
            }
        }
    }
    dispatch!(run(rows, (stride, col), (t, d), d_pad, to))
}

/// kᵀ as B panels (K along the head's width: `d_pad / 32` steps; the tokens as columns:
/// `t_pad / 32` pairs) from the rounded rows of k (`t_pad` × `d_pad`, [`rounded_rows`]): each
/// 16 × 16 block of bf16 pairs transposed.
pub fn keys_transposed(k: &[u16], d_pad: usize, to: &mut [u16]) {
    #[inline(always)]
    fn run(k: &[u16], d_pad: usize, to: &mut [u16]) {
        let (k, to): (&[u32], &mut [u32]) = (bytemuck::cast_slice(k), bytemuck::cast_slice_mut(to));
        let (width, steps) = (d_pad / 2, d_pad / 32);
        for (n, block) in to.chunks_exact_mut(256).enumerate() {
            // Block n: pair p (tokens p·32..), step (pairs of k's columns step·16..), half.
            let (p, step, half) = (n / (2 * steps), n / 2 % steps, n % 2);
            let first = (p * 32 + half * 16) * width + step * 16;
            for (r, row) in block.chunks_exact_mut(16).enumerate() {
                row.iter_mut()
                    .enumerate()
                    .for_each(|(c, o)| *o = k[first + c * width + r]);
            }
        }
    }
    dispatch!(run(k, d_pad, to))
}

/// v as B panels (K along the tokens: `t_pad / 32` steps; the head's width as columns:
/// `d_pad / 32` pairs) from its rounded rows (`t_pad` × `d_pad`, [`rounded_rows`]): tokens 2r
/// and 2r + 1 of each step side by side, column by column.
pub fn values_interleaved(v: &[u16], (t_pad, d_pad): (usize, usize), to: &mut [u16]) {
    #[inline(always)]
    fn run(v: &[u16], (t_pad, d_pad): (usize, usize), to: &mut [u16]) {
        let to: &mut [u32] = bytemuck::cast_slice_mut(to);
        let steps = t_pad / 32;
        for (n, block) in to.chunks_exact_mut(256).enumerate() {
            let (p, step, half) = (n / (2 * steps), n / 2 % steps, n % 2);
            let col = p * 32 + half * 16;
            for (r, row) in block.chunks_exact_mut(16).enumerate() {
                let tok = step * 32 + 2 * r;
                let (a, b) = (
                    &v[tok * d_pad + col..][..16],
                    &v[(tok + 1) * d_pad + col..][..16],
                );
                row.iter_mut()
                    .zip(a.iter().zip(b))
                    .for_each(|(o, (&a, &b))| *o = u32::from(a) | u32::from(b) << 16);
            }
        }
    }
    dispatch!(run(v, (t_pad, d_pad), to))
}

/// The attention's probabilities as A strips (`pitch / 32` steps each) from its logits (rows
/// `pitch` long, `t` live columns; the mask (t × t) added first when there is one): row r is
/// written, rounded to bf16, as row r % 32 of strip r / 32, and rows from `t` on are zeros. The
/// logits are left as the softmax's numerators.
///
/// # Panics
/// When `logits` is not whole rows of a `pitch` that is a multiple of 32 and at least `t`, or
/// `strips` is not as many strips as `logits` has rows.
pub fn probabilities_as_strips(
    logits: &mut [f32],
    (t, pitch): (usize, usize),
    mask: Option<&[f32]>,
    strips: &mut [u16],
) {
    let rows = logits.len() / pitch.max(1);
    assert!(
        t > 0
            && pitch >= t
            && pitch.is_multiple_of(32)
            && logits.len() == rows * pitch
            && rows.is_multiple_of(32)
            && strips.len() == rows / 32 * pitch * 32
            && mask.is_none_or(|m| m.len() == t * t),
        "probabilities_as_strips: shapes"
    );
    #[inline(always)]
    fn run(logits: &mut [f32], (t, pitch): (usize, usize), m: Option<&[f32]>, strips: &mut [u16]) {
        let p_len = pitch * 32;
        for (r, row) in logits.chunks_exact_mut(pitch).enumerate() {
            let strip = &mut strips[r / 32 * p_len..][..p_len];
            let at = (r % 32 / 16) * 512 + (r % 16) * 32;
            if r >= t {
                strip
                    .chunks_exact_mut(1024)
                    .for_each(|s| s[at..at + 32].fill(0));
                continue;
            }
            if let Some(m) = m {
                row.iter_mut()
                    .zip(&m[r * t..(r + 1) * t])
                    .for_each(|(l, m)| *l += m);
            }
            let scale = softmax_numerators(row, t);
            for (step, x) in strip.chunks_exact_mut(1024).zip(row.chunks_exact(32)) {
                step[at..at + 32]
                    .iter_mut()
                    .zip(x)
                    .for_each(|(o, &x)| *o = to_bf16(x * scale));
            }
        }
    }
    dispatch!(run(logits, (t, pitch), mask, strips))
}
