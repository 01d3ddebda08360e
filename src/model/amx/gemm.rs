//! The threaded product `act(x · W + b) (+ residual)` on the tiles: rows in blocks of 64 spread
//! over candle's thread pool, each block packed to bf16 once. K is taken 256 at a time: one
//! 256-deep slice of a panel pair (16 KiB) then serves both strips of the block from L1, the
//! 32 × 32 f32 blocks of the output accumulating in a scratch buffer across the slices (the
//! layout that measured 1.5x a whole-K loop on Sapphire Rapids' 48 KiB L1). Each block is then
//! finished in f32: bias, residual, and the activation over the block's rows while they are in
//! cache.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::pack::{PackedWeight, pack_rows};
use crate::model::config::Activation;
use crate::model::fastmath::{activate_in_place, dispatch};

/// Rows per task: strips of 32.
const ROWS: usize = 64;
/// Steps of 32 along K per slice.
const SLICE: usize = 8;

/// `act(x · W + bias)`, or `x · W + bias + residual`, for `x` (rows × w.k, row-major), with
/// x and W rounded to bf16 and the products summed in f32; returns rows × w.n.
///
/// # Panics
/// When the slices are shorter than their shapes, or when the CPU lacks AMX
/// ([`super::support`] must have returned `Ok`).
pub fn linear(
    x: &[f32],
    rows: usize,
    w: &PackedWeight,
    bias: &[f32],
    residual: Option<&[f32]>,
    act: Option<Activation>,
) -> Vec<f32> {
    let (k, n) = (w.k, w.n);
    assert!(
        x.len() >= rows * k && bias.len() == n,
        "amx::linear: shapes"
    );
    assert!(
        residual.is_none_or(|r| r.len() >= rows * n),
        "amx::linear: residual"
    );
    assert!(super::support().is_ok(), "amx::linear without AMX");
    let mut out: Vec<f32> = Vec::with_capacity(rows * n);
    if rows == 0 || n == 0 {
        return out;
    }
    out.spare_capacity_mut()[..rows * n]
        .par_chunks_mut(ROWS * n)
        .enumerate()
        .for_each_init(
            || (Vec::new(), Vec::new()),
            |(a, c), (task, out)| {
                let r0 = task * ROWS;
                let count = out.len() / n;
                pack_rows(&x[r0 * k..(r0 + count) * k], k, count, k, a);
                products(a, count, w, c);
                let res = residual.map(|r| &r[r0 * n..(r0 + count) * n]);
                let out = finish(out, c, count, n, bias, res);
                if let Some(act) = act {
                    activate_in_place(out, act);
                }
            },
        );
    // SAFETY: the tasks' chunks cover all rows · n elements, and `finish` wrote every one.
    unsafe { out.set_len(rows * n) };
    out
}

/// Writes `out` (rows × n) from the task's blocks `c` (see [`products`]) plus the bias and the
/// residual, and returns it initialised.
fn finish<'a>(
    out: &'a mut [MaybeUninit<f32>],
    c: &[f32],
    rows: usize,
    n: usize,
    bias: &[f32],
    res: Option<&[f32]>,
) -> &'a mut [f32] {
    #[inline(always)]
    fn run(
        out: &mut [MaybeUninit<f32>],
        c: &[f32],
        rows: usize,
        n: usize,
        bias: &[f32],
        res: Option<&[f32]>,
    ) {
        let pairs = n.div_ceil(32);
        for r in 0..rows {
            let (s, rr) = (r / 32, r % 32);
            let dst = &mut out[r * n..(r + 1) * n];
            for p in 0..pairs {
                let cols = 32.min(n - p * 32);
                let acc = &c[(s * pairs + p) * 1024 + rr * 32..][..cols];
                let range = p * 32..p * 32 + cols;
                let (d, b) = (&mut dst[range.clone()], &bias[range.clone()]);
                match res {
                    Some(res) => {
                        let res = &res[r * n..][range];
                        for (((d, &v), &b), &q) in d.iter_mut().zip(acc).zip(b).zip(res) {
                            d.write(v + b + q);
                        }
                    }
                    None => {
                        for ((d, &v), &b) in d.iter_mut().zip(acc).zip(b) {
                            d.write(v + b);
                        }
                    }
                }
            }
        }
    }
    fn fill(
        out: &mut [MaybeUninit<f32>],
        c: &[f32],
        rows: usize,
        n: usize,
        bias: &[f32],
        res: Option<&[f32]>,
    ) {
        dispatch!(run(out, c, rows, n, bias, res))
    }
    let len = out.len();
    fill(out, c, rows, n, bias, res);
    // SAFETY: `run` wrote every element of out (rows · n = out.len(), each row's pairs covering
    // its n columns); MaybeUninit<f32> has f32's layout.
    unsafe { std::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<f32>(), len) }
}

/// The products of one task: `c` receives the 32 × 32 f32 block of (strip s, panel pair p) at
/// (s · pairs + p) · 1024, rows of 32.
#[cfg(target_arch = "x86_64")]
fn products(a: &[u16], rows: usize, w: &PackedWeight, c: &mut Vec<f32>) {
    let (steps, pairs, strips) = (w.steps(), w.pairs(), rows.div_ceil(32));
    c.resize(strips * pairs * 1024, 0.0);
    // SAFETY: linear asserted AMX support; the configuration is loaded on this thread before
    // the tile calls and released after. Each call reads `len` steps (1024 bf16 each) of one
    // strip of `a` and of one panel pair, inside both (pack_rows and PackedWeight lay them out
    // steps · 1024 long), and reads and writes one 1024-f32 block of `c`.
    unsafe {
        super::tiles::configure();
        for k0 in (0..steps).step_by(SLICE) {
            let len = SLICE.min(steps - k0);
            for p in 0..pairs {
                let b = w.pair(p)[k0 * 1024..].as_ptr();
                for s in 0..strips {
                    let a = a[(s * steps + k0) * 1024..].as_ptr();
                    let c = c[(s * pairs + p) * 1024..].as_mut_ptr();
                    super::tiles::block(a, b, len, c, k0 > 0);
                }
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn products(_: &[u16], _: usize, _: &PackedWeight, _: &mut Vec<f32>) {
    unreachable!("amx::linear checks support(), which is Err off x86-64")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::amx::to_bf16;

    fn bf(v: f32) -> f64 {
        half::bf16::from_bits(to_bf16(v)).to_f64()
    }

    /// The same product in f64 on the bf16-rounded operands.
    fn reference(x: &[f32], w: &[f32], (rows, k, n): (usize, usize, usize)) -> Vec<f64> {
        let mut y = vec![0f64; rows * n];
        for r in 0..rows {
            for j in 0..n {
                y[r * n + j] = (0..k).map(|i| bf(x[r * k + i]) * bf(w[i * n + j])).sum();
            }
        }
        y
    }

    #[test]
    fn products_equal_f64_on_the_rounded_operands_at_awkward_shapes() {
        if super::super::support().is_err() {
            // Off AMX, the model never calls this (see tests/bf16.rs for the fallback).
            assert!(
                !std::fs::read_to_string("/proc/cpuinfo")
                    .unwrap_or_default()
                    .contains(" amx_bf16")
            );
            return;
        }
        for (rows, k, n) in [(1, 1, 1), (37, 24, 40), (160, 97, 33), (300, 64, 96)] {
            let x: Vec<f32> = (0..rows * k)
                .map(|i| ((i * 7919) % 201) as f32 / 50.0 - 2.0)
                .collect();
            let w: Vec<f32> = (0..k * n)
                .map(|i| ((i * 104_729) % 97) as f32 / 40.0 - 1.2)
                .collect();
            let bias: Vec<f32> = (0..n).map(|j| j as f32 * 0.25 - 3.0).collect();
            let res: Vec<f32> = (0..rows * n).map(|i| (i % 13) as f32 - 6.0).collect();
            let p = PackedWeight::new(&w, k, n);
            let want = reference(&x, &w, (rows, k, n));
            let plain = linear(&x, rows, &p, &bias, None, None);
            let with_res = linear(&x, rows, &p, &bias, Some(&res), None);
            let gelu = linear(&x, rows, &p, &bias, None, Some(Activation::QuickGelu));
            for i in 0..rows * n {
                let y = want[i] + bias[i % n] as f64;
                let tol = 1e-5 * (1.0 + y.abs()) * (k as f64).sqrt();
                assert!(
                    (plain[i] as f64 - y).abs() < tol,
                    "({rows},{k},{n})[{i}]: {} vs {y}",
                    plain[i]
                );
                let yr = y + res[i] as f64;
                assert!((with_res[i] as f64 - yr).abs() < tol + 1e-5 * yr.abs());
                let g = crate::model::fastmath::activation(Activation::QuickGelu, plain[i]);
                assert_eq!(gelu[i], g);
            }
        }
    }
}
