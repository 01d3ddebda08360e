//! The operands of the attention's two products on the tiles, in `pack`'s layouts: k and v of a
//! head rounded to bf16 row by row (vectorised), then laid out as B panels, kᵀ by a transpose of
//! bf16 pairs and v by interleaving rows; and the softmax's rows written as A strips.
//!
//! The B panel layout (see `pack`): pair p of 32 columns, step of 32 K rows, half of 16 columns,
//! then 16 pair-rows of 16 columns × 2 bf16, element (K row i, column j) at pair-row i % 32 / 2,
//! slot i % 2. As u32 (a bf16 pair), each half-step is a 16 × 16 block.

use super::pack::to_bf16;
use crate::model::fastmath::dispatch;

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

/// Row `r` (0-31) of an A strip (`row.len() / 32` steps) written from `row` (f32, a multiple of
/// 32 long) times `scale`, rounded to bf16, or zeros when `row` is `None` (a padding row).
pub fn strip_row(row: Option<(&[f32], f32)>, r: usize, strip: &mut [u16]) {
    #[inline(always)]
    fn run(row: Option<(&[f32], f32)>, r: usize, strip: &mut [u16]) {
        let at = (r / 16) * 512 + (r % 16) * 32;
        for (j, step) in strip.chunks_exact_mut(1024).enumerate() {
            let dst = &mut step[at..at + 32];
            match row {
                Some((row, scale)) => dst
                    .iter_mut()
                    .zip(&row[j * 32..j * 32 + 32])
                    .for_each(|(o, &x)| *o = to_bf16(x * scale)),
                None => dst.fill(0),
            }
        }
    }
    dispatch!(run(row, r, strip))
}
