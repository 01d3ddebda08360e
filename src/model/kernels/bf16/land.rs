//! Where a finished 32 × 32 block of a product goes (see `gemm`): f32 rows of the output, the
//! residual added and the activation applied on the way, or one step of the next product's
//! packed strip, activated and rounded to bf16 where it lies.

use super::act::activate_in_place;
use super::pack::to_bf16;
use crate::model::kernels::fastmath::dispatch;
use crate::model::load::config::Activation;

/// A finished 32 × 32 block (stride 32) landed as f32 rows: its first `live` rows' first `cols`
/// columns, plus the residual's same elements (`residual` from the block's first element, rows
/// `n` apart), then activated, written to `to` (rows `n` apart).
///
/// # Safety
/// `to` is writable for `live` rows of `cols` f32, `n` apart, which nothing else touches.
pub(super) unsafe fn land(
    block: &mut [f32],
    (live, cols, n): (usize, usize, usize),
    residual: Option<&[f32]>,
    act: Option<Activation>,
    to: *mut f32,
) {
    let residual = match act {
        Some(act) => {
            if let Some(res) = residual {
                add_rows(block, (live, cols, n), res);
            }
            activate_in_place(&mut block[..live * 32], act);
            None
        }
        None => residual,
    };
    // SAFETY: the caller's contract.
    unsafe { store_rows(block, (live, cols, n), residual, to) }
}

/// Adds the residual's rows (`n` apart) to a block's first `live` rows' first `cols` columns.
fn add_rows(block: &mut [f32], (live, cols, n): (usize, usize, usize), res: &[f32]) {
    #[inline(always)]
    fn run(block: &mut [f32], (live, cols, n): (usize, usize, usize), res: &[f32]) {
        for (r, row) in block.chunks_exact_mut(32).take(live).enumerate() {
            let res = &res[r * n..r * n + cols];
            row[..cols].iter_mut().zip(res).for_each(|(o, r)| *o += r);
        }
    }
    dispatch!(run(block, (live, cols, n), res))
}

/// A block's first `live` rows' first `cols` columns, plus the residual's (rows `n` apart) when
/// there is one, stored to `to` (rows `n` apart) in one pass: a whole row is two vector moves
/// (a `memcpy` call per row and a separate pass for the residual took a tenth of a product).
///
/// # Safety
/// As [`land`].
unsafe fn store_rows(
    block: &[f32],
    (live, cols, n): (usize, usize, usize),
    res: Option<&[f32]>,
    to: *mut f32,
) {
    #[inline(always)]
    fn run(
        block: &[f32],
        (live, cols, n): (usize, usize, usize),
        res: Option<&[f32]>,
        to: *mut f32,
    ) {
        for (r, row) in block.as_chunks::<32>().0.iter().take(live).enumerate() {
            let at = to.wrapping_add(r * n);
            match res.map(|res| &res[r * n..r * n + cols]) {
                Some(res) => {
                    // SAFETY: `land`'s contract.
                    let dst = unsafe { std::slice::from_raw_parts_mut(at, cols) };
                    dst.iter_mut()
                        .zip(row.iter().zip(res))
                        .for_each(|(d, (a, b))| *d = a + b);
                }
                // SAFETY: as above, a whole row of 32.
                None if cols == 32 => unsafe { *at.cast::<[f32; 32]>() = *row },
                // SAFETY: as above.
                None => unsafe { std::slice::from_raw_parts_mut(at, cols) }
                    .copy_from_slice(&row[..cols]),
            }
        }
    }
    dispatch!(run(block, (live, cols, n), res, to))
}

/// A 32 × 32 f32 block (stride 32) activated, rounded and written as one packed step (its rows
/// 0-31 one after the other, which is the strip layout); rows from `live` on and columns from
/// `cols` on are zero (the padding of the next product's rows and K).
pub(super) fn emit(
    block: &mut [f32],
    act: Option<Activation>,
    (live, cols): (usize, usize),
    to: &mut [u16],
) {
    #[inline(always)]
    fn run(block: &mut [f32], act: Option<Activation>, live: usize, cols: usize, to: &mut [u16]) {
        if let Some(act) = act {
            activate_in_place(&mut block[..live * 32], act);
        }
        for (src, dst) in block
            .chunks_exact(32)
            .zip(to.chunks_exact_mut(32))
            .take(live)
        {
            dst.iter_mut().zip(src).for_each(|(d, &v)| *d = to_bf16(v));
            dst[cols..].fill(0);
        }
        to[live * 32..].fill(0);
    }
    dispatch!(run(block, act, live, cols, to))
}
