//! The threaded product `act(x · W + b) (+ residual)` on the tiles, blocked for the caches the
//! way GotoBLAS blocks an f32 GEMM (Goto & van de Geijn, "Anatomy of high-performance matrix
//! multiplication", 2008): all rows are packed to bf16 once, then each task computes a rectangle
//! of the output, a group of column-panel pairs (about [`GROUP_BYTES`] of packed weight, which
//! stays in the core's L2) over a block of rows. The tasks go to the threads in group order, so a
//! thread keeps one group's weights in its L2 over all the row blocks: a layer's weights (3.5 MiB
//! for ViT-B's QKV) are read from L3 once per thread instead of once per 64 rows, which measured
//! 2x faster. Each 32 × 32 output block stays in the tiles over the whole K, starting from the bias
//! (a stride-0 load) and stored once; the residual and the activation are then one pass over the
//! task's rectangle while it is in cache.

use rayon::prelude::*;

use std::cell::RefCell;

use super::pack::{Aligned, PackedWeight, pack_strip};
use crate::model::config::Activation;
use crate::model::fastmath::{activate_in_place, dispatch};

/// Rows per task: strips of 32.
const ROWS: usize = 128;
/// Steps of 32 along K per slice.
const SLICE: usize = 8;
/// Packed weight per task's column group: half a typical 2 MiB L2, leaving room for the rows.
const GROUP_BYTES: usize = 768 << 10;

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
    PACKED.with_borrow_mut(|a| {
        pack(x, rows, k, a);
        multiply(a.bf16(), rows, w, residual, act, Out(out.as_mut_ptr()));
    });
    // SAFETY: the tasks' rectangles cover all rows · n elements, and `products` wrote each.
    unsafe { out.set_len(rows * n) };
    out
}

thread_local! {
    /// The packed rows, kept for the next product on the calling thread (no allocation, no
    /// zeroing: `pack_strip` writes every element).
    static PACKED: RefCell<Aligned> = RefCell::default();
}

/// Packs all rows of `x` into `a`, strips spread over the threads.
fn pack(x: &[f32], rows: usize, k: usize, a: &mut Aligned) {
    let len = k.div_ceil(32) * 1024;
    let strips = rows.div_ceil(32);
    a.at_least(strips * len * 2);
    a.bf16_mut()[..strips * len]
        .par_chunks_mut(len)
        .enumerate()
        .for_each(|(s, strip)| {
            let count = 32.min(rows - s * 32);
            pack_strip(&x[s * 32 * k..], k, count, k, strip);
        });
}

/// The tasks of [`linear`] on the packed rows `a`, into `dst` (rows × w.n, uninitialised).
fn multiply(
    a: &[u16],
    rows: usize,
    w: &PackedWeight,
    residual: Option<&[f32]>,
    act: Option<Activation>,
    dst: Out,
) {
    let (steps, n) = (w.steps(), w.n);
    let group = (GROUP_BYTES / (steps * 2048)).clamp(1, w.pairs());
    let (groups, blocks) = (w.pairs().div_ceil(group), rows.div_ceil(ROWS));
    (0..groups * blocks).into_par_iter().for_each(|task| {
        let (g, b) = (task / blocks, task % blocks);
        let pairs = g * group..((g + 1) * group).min(w.pairs());
        let rows = b * ROWS..((b + 1) * ROWS).min(rows);
        let cols = pairs.start * 32..(pairs.end * 32).min(n);
        // SAFETY: tasks cover disjoint rectangles (row block b, column group g) of the
        // rows × n output, which `out` has the capacity for.
        unsafe { products(a, rows.clone(), pairs, w, dst) };
        for r in rows {
            // SAFETY: as above; `products` wrote this task's rectangle, row r of which this is.
            let row = unsafe { dst.row(r * n + cols.start, cols.len()) };
            if let Some(res) = residual {
                add(row, &res[r * n + cols.start..r * n + cols.end]);
            }
            if let Some(act) = act {
                activate_in_place(row, act);
            }
        }
    });
}

/// The output buffer, shared by tasks that write disjoint rectangles of it.
#[derive(Clone, Copy)]
struct Out(*mut f32);
// SAFETY: tasks write disjoint parts of the buffer (see `linear`).
unsafe impl Send for Out {}
// SAFETY: as above.
unsafe impl Sync for Out {}

impl Out {
    /// `len` elements from `at`.
    ///
    /// # Safety
    /// Inside the buffer, initialised, and touched by no other task meanwhile.
    unsafe fn row<'a>(self, at: usize, len: usize) -> &'a mut [f32] {
        // SAFETY: the caller's contract.
        unsafe { std::slice::from_raw_parts_mut(self.0.add(at), len) }
    }
}

/// `out += r`.
fn add(out: &mut [f32], r: &[f32]) {
    #[inline(always)]
    fn run(out: &mut [f32], r: &[f32]) {
        out.iter_mut().zip(r).for_each(|(o, r)| *o += r);
    }
    dispatch!(run(out, r))
}

/// The products of `rows` (a block of whole strips of `a`, the packed rows) and panel `pairs` of
/// `w` into the rows × n output `dst`, strip by strip; along K a slice of [`SLICE`] steps at a
/// time, the strip's slice (16 KiB) serving all the group's pairs from L1 while their slices come
/// from L2. A 32 × 32 block starts from the pair's bias on the first slice and from where the
/// previous slice stored it on the others: the output itself when the block lies inside it, a
/// scratch block otherwise (the last strip's padding rows, columns past n), copied at the end.
///
/// # Safety
/// `dst` has room for `rows.end · w.n` elements, rows `rows` × columns of `pairs` of which no
/// other thread touches meanwhile; `rows.start` is a multiple of 32 and `a` holds every strip
/// `rows` touches; `super::support()` returned `Ok`.
#[cfg(target_arch = "x86_64")]
unsafe fn products(
    a: &[u16],
    rows: std::ops::Range<usize>,
    pairs: std::ops::Range<usize>,
    w: &PackedWeight,
    dst: Out,
) {
    use super::tiles::{Block32, block, configure};
    let (n, steps) = (w.n, w.steps());
    SCRATCH.with_borrow_mut(|edge| {
        edge.at_least(pairs.len() * 4096);
        let scratch = edge.f32_mut().as_mut_ptr();
        // SAFETY: AMX support is the caller's contract; the configuration is loaded on this
        // thread first. Each call reads `len` steps (1024 bf16 each) of one strip of `a` and of
        // one panel pair from step k0, inside both (pack_strip and PackedWeight lay them out
        // steps · 1024 long), starts from the pair's 32-wide bias row (stride 0) or the block
        // the previous slice stored, and stores to `dst` (rows s·32.. and columns p·32.., inside
        // the caller's rectangle) or to the pair's scratch block (`pairs.len()` of 1024 f32).
        unsafe {
            configure();
            for s in (rows.start / 32)..rows.end.div_ceil(32) {
                let live = 32.min(rows.end - s * 32);
                let strip = a[s * steps * 1024..].as_ptr();
                let at = |p: usize| match live == 32 && p * 32 + 32 <= n {
                    true => Block32 {
                        ptr: dst.0.add(s * 32 * n + p * 32),
                        stride: n,
                    },
                    false => Block32 {
                        ptr: scratch.add((p - pairs.start) * 1024),
                        stride: 32,
                    },
                };
                for k0 in (0..steps).step_by(SLICE) {
                    let len = SLICE.min(steps - k0);
                    for p in pairs.clone() {
                        let init = match k0 {
                            0 => Block32 {
                                ptr: w.bias(p).as_ptr().cast_mut(),
                                stride: 0,
                            },
                            _ => at(p),
                        };
                        let b = w.pair(p)[k0 * 1024..].as_ptr();
                        block(strip.add(k0 * 1024), b, len, init, at(p));
                    }
                }
                for p in pairs.clone() {
                    let (block, cols) = (at(p), 32.min(n - p * 32));
                    if block.stride == 32 {
                        for r in 0..live {
                            let from = std::slice::from_raw_parts(block.ptr.add(r * 32), cols);
                            dst.row((s * 32 + r) * n + p * 32, cols)
                                .copy_from_slice(from);
                        }
                    }
                }
            }
        }
    });
}

thread_local! {
    /// Each task's scratch blocks, kept for the thread's next task.
    static SCRATCH: RefCell<Aligned> = RefCell::default();
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn products(
    _: &[u16],
    _: std::ops::Range<usize>,
    _: std::ops::Range<usize>,
    _: &PackedWeight,
    _: Out,
) {
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
        // The last two: K in several slices, and N in several column groups.
        for (rows, k, n) in [
            (1, 1, 1),
            (37, 24, 40),
            (160, 97, 33),
            (300, 64, 96),
            (70, 600, 90),
            (40, 3072, 229),
        ] {
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
