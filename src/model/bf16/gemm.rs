//! The threaded product `act(x · W + b) (+ residual)` on the tiles: rows in blocks of 64 spread
//! over candle's thread pool, each block packed to bf16 once. K is taken 256 at a time: one
//! 256-deep slice of a panel pair (16 KiB) then serves both strips of the block from L1, the
//! 32 × 32 f32 blocks accumulating in a scratch buffer across the slices (the layout that
//! measured 1.5x a whole-K loop on Sapphire Rapids' 48 KiB L1). The tiles start from the bias
//! (a stride-0 load) and the last slice stores each block straight into the output; the residual
//! and the activation are then one pass over the block's rows while they are in cache.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::pack::{PackedWeight, pack_rows};
use crate::model::config::Activation;
use crate::model::fastmath::{activate_in_place, dispatch};

/// Rows per task: strips of 32.
const ROWS: usize = 64;
/// Steps of 32 along K per slice.
const SLICE: usize = 8;

/// `act(x · W + b)`, or `x · W + b + residual`, for `x` (rows × w.k, row-major), with x and W
/// rounded to bf16 and the products summed in f32 onto the bias; returns rows × w.n.
///
/// # Panics
/// When the slices are shorter than their shapes, or when the CPU lacks AMX
/// ([`super::support`] must have returned `Ok`).
pub fn linear(
    x: &[f32],
    rows: usize,
    w: &PackedWeight,
    residual: Option<&[f32]>,
    act: Option<Activation>,
) -> Vec<f32> {
    let (k, n) = (w.k, w.n);
    assert!(x.len() >= rows * k, "bf16::linear: shapes");
    assert!(
        residual.is_none_or(|r| r.len() >= rows * n),
        "bf16::linear: residual"
    );
    assert!(super::support().is_ok(), "bf16::linear without AMX");
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
                let out = products(a, count, w, c, out);
                if let Some(r) = residual {
                    add(out, &r[r0 * n..(r0 + count) * n]);
                }
                if let Some(act) = act {
                    activate_in_place(out, act);
                }
            },
        );
    // SAFETY: the tasks' chunks cover all rows · n elements, and `products` wrote every one.
    unsafe { out.set_len(rows * n) };
    out
}

/// `out += r`.
fn add(out: &mut [f32], r: &[f32]) {
    #[inline(always)]
    fn run(out: &mut [f32], r: &[f32]) {
        out.iter_mut().zip(r).for_each(|(o, r)| *o += r);
    }
    dispatch!(run(out, r))
}

/// The products of one task into `out` (rows × n), which it returns initialised. A block whose
/// 32 × 32 lies inside `out` is stored there by the tiles; the others (the last strip's padding
/// rows, columns past n) go through `c` and are copied.
#[cfg(target_arch = "x86_64")]
fn products<'a>(
    a: &[u16],
    rows: usize,
    w: &PackedWeight,
    c: &mut Vec<f32>,
    out: &'a mut [MaybeUninit<f32>],
) -> &'a mut [f32] {
    use super::tiles::{Block32, block, configure};
    let (n, steps, pairs, strips) = (w.n, w.steps(), w.pairs(), rows.div_ceil(32));
    assert_eq!(out.len(), rows * n, "bf16 products: output");
    c.resize(strips * pairs * 1024, 0.0);
    let direct = |s: usize, p: usize| (s + 1) * 32 <= rows && (p + 1) * 32 <= n;
    let base = out.as_mut_ptr().cast::<f32>();
    // SAFETY: linear asserted AMX support; the configuration is loaded on this thread first.
    // Each call reads `len` steps (1024 bf16 each) of one strip of `a` and of one panel pair,
    // inside both (pack_rows and PackedWeight lay them out steps · 1024 long), starts from the
    // pair's 32-wide bias row (stride 0) or its scratch block in `c`, and stores to that block
    // or, on the last slice, to rows s·32.. and columns p·32.. of `out` when those 32 × 32 lie
    // inside it (`direct`).
    unsafe {
        configure();
        for k0 in (0..steps).step_by(SLICE) {
            let len = SLICE.min(steps - k0);
            for p in 0..pairs {
                let b = w.pair(p)[k0 * 1024..].as_ptr();
                for s in 0..strips {
                    let a = a[(s * steps + k0) * 1024..].as_ptr();
                    let scratch = Block32 {
                        ptr: c[(s * pairs + p) * 1024..].as_mut_ptr(),
                        stride: 32,
                    };
                    let init = match k0 {
                        0 => Block32 {
                            ptr: w.bias(p).as_ptr().cast_mut(),
                            stride: 0,
                        },
                        _ => scratch,
                    };
                    let store = match k0 + len == steps && direct(s, p) {
                        true => Block32 {
                            ptr: base.add(s * 32 * n + p * 32),
                            stride: n,
                        },
                        false => scratch,
                    };
                    block(a, b, len, init, store);
                }
            }
        }
    }
    for s in 0..strips {
        for p in (0..pairs).filter(|&p| !direct(s, p)) {
            let cols = 32.min(n - p * 32);
            for r in 0..32.min(rows - s * 32) {
                let src = &c[(s * pairs + p) * 1024 + r * 32..][..cols];
                let dst = &mut out[(s * 32 + r) * n + p * 32..][..cols];
                dst.iter_mut().zip(src).for_each(|(d, &v)| {
                    d.write(v);
                });
            }
        }
    }
    let len = out.len();
    // SAFETY: every block was stored, directly or through the copy just above, so all
    // rows · n elements are written; MaybeUninit<f32> has f32's layout.
    unsafe { std::slice::from_raw_parts_mut(base, len) }
}

#[cfg(not(target_arch = "x86_64"))]
fn products<'a>(
    _: &[u16],
    _: usize,
    _: &PackedWeight,
    _: &mut Vec<f32>,
    _: &'a mut [MaybeUninit<f32>],
) -> &'a mut [f32] {
    unreachable!("bf16::linear checks support(), which is Err off x86-64")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::bf16::to_bf16;

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
            let p = PackedWeight::new(&w, &bias, k, n);
            let want = reference(&x, &w, (rows, k, n));
            let plain = linear(&x, rows, &p, None, None);
            let with_res = linear(&x, rows, &p, Some(&res), None);
            let gelu = linear(&x, rows, &p, None, Some(Activation::QuickGelu));
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
