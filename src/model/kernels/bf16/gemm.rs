//! The threaded product `act(x · W + b) (+ residual)` in bf16, blocked for the caches the
//! way GotoBLAS blocks an f32 GEMM (Goto & van de Geijn, "Anatomy of high-performance matrix
//! multiplication", 2008): the rows come packed to bf16 ([`PackedRows`]), and each task computes
//! a rectangle of the output, a group of column-panel pairs (about [`GROUP_BYTES`] of packed
//! weight, which stays in the core's L2) over a block of rows. The tasks go to the threads in
//! group order, so a thread keeps one group's weights in its L2 over all the row blocks: a
//! layer's weights (3.5 MiB for ViT-B's QKV) are read from L3 once per thread instead of once per
//! 64 rows, which measured 2x faster.
//!
//! Each 32 × 32 block of the output runs the whole of K in the kernel and is stored to a scratch
//! block, from which it lands (`land`): as f32 rows (the residual added and the activation
//! applied on the way) or, for a product that feeds another, as bf16 already in the tile layout
//! ([`linear_to_packed`]: activated and rounded where it lies, one step of the next product's
//! strip).

use std::cell::RefCell;

use rayon::prelude::*;

use super::land::{emit, land};
use super::pack::{Aligned, PackedRows, PackedWeight};
use crate::model::load::config::Activation;

/// Rows per task: strips of 32.
const ROWS: usize = 128;
/// Packed weight per task's column group: half a typical 2 MiB L2, leaving room for the rows.
const GROUP_BYTES: usize = 768 << 10;

/// `act(x · W + b)`, or `x · W + b + residual`, for `x` (rows × w.k, row-major), with x and W
/// rounded to bf16 and the products summed in f32 onto the bias; returns rows × w.n.
///
/// # Panics
/// When the slices are shorter than their shapes, or when the CPU lacks a bf16 kernel
/// ([`super::support`] must have returned `Ok`).
pub fn linear(
    x: &[f32],
    rows: usize,
    w: &PackedWeight,
    residual: Option<&[f32]>,
    act: Option<Activation>,
) -> Vec<f32> {
    assert!(x.len() >= rows * w.k, "bf16::linear: shapes");
    linear_packed(&PackedRows::pack(x, rows, w.k), w, residual, act)
}

/// [`linear`] on rows already packed.
///
/// # Panics
/// As [`linear`], and when `a` is not `w.k` wide.
pub fn linear_packed(
    a: &PackedRows,
    w: &PackedWeight,
    residual: Option<&[f32]>,
    act: Option<Activation>,
) -> Vec<f32> {
    let (rows, n) = (a.rows, w.n);
    assert_eq!(a.k, w.k, "bf16::linear: widths");
    assert!(
        residual.is_none_or(|r| r.len() >= rows * n),
        "bf16::linear: residual"
    );
    assert!(
        super::support().is_ok(),
        "bf16::linear without a bf16 kernel"
    );
    let mut out: Vec<f32> = Vec::with_capacity(rows * n);
    if rows == 0 || n == 0 {
        return out;
    }
    multiply(a, w, Sink::Rows(Out(out.as_mut_ptr()), residual, act));
    // SAFETY: the tasks' rectangles cover all rows · n elements, and `products` wrote each.
    unsafe { out.set_len(rows * n) };
    out
}

/// `act(a · W + b)` in bf16, packed for the next product (whose K is `w.n`): the hidden layer of
/// an MLP, never written out in f32.
///
/// # Panics
/// As [`linear_packed`].
pub fn linear_to_packed(a: &PackedRows, w: &PackedWeight, act: Option<Activation>) -> PackedRows {
    assert_eq!(a.k, w.k, "bf16::linear: widths");
    assert!(
        super::support().is_ok(),
        "bf16::linear without a bf16 kernel"
    );
    // Every step of every strip is emitted whole (`emit` writes the padding too).
    let mut out = PackedRows::to_overwrite(a.rows, w.n);
    if a.rows > 0 && w.n > 0 {
        multiply(a, w, Sink::Packed(Out16(out.bf16_mut().as_mut_ptr()), act));
    }
    out
}

/// Where the products go.
#[derive(Clone, Copy)]
enum Sink<'a> {
    /// f32 rows × n, each block with the residual's same elements added (rows × n) and then
    /// the activation applied as it lands.
    Rows(Out, Option<&'a [f32]>, Option<Activation>),
    /// bf16 strips, each `w.pairs()` steps, after the activation.
    Packed(Out16, Option<Activation>),
}

/// The f32 output, shared by tasks that write disjoint rectangles of it.
#[derive(Clone, Copy)]
struct Out(*mut f32);
/// The packed output, shared by tasks that write disjoint steps of its strips.
#[derive(Clone, Copy)]
struct Out16(*mut u16);
// SAFETY: tasks write disjoint parts of the buffers (see `multiply`).
unsafe impl Send for Out {}
// SAFETY: as above.
unsafe impl Sync for Out {}
// SAFETY: as above.
unsafe impl Send for Out16 {}
// SAFETY: as above.
unsafe impl Sync for Out16 {}

/// The tasks: (column group, row block) rectangles in group order, each computed by `products`
/// into `sink`.
fn multiply(a: &PackedRows, w: &PackedWeight, sink: Sink) {
    let (steps, rows) = (w.steps(), a.rows);
    let group = (GROUP_BYTES / (steps * 2048)).clamp(1, w.pairs());
    let (groups, blocks) = (w.pairs().div_ceil(group), rows.div_ceil(ROWS));
    (0..groups * blocks).into_par_iter().for_each(|task| {
        let (g, b) = (task / blocks, task % blocks);
        let pairs = g * group..((g + 1) * group).min(w.pairs());
        let rows = b * ROWS..((b + 1) * ROWS).min(rows);
        // SAFETY: tasks cover disjoint rectangles (row block b, column group g) of the output,
        // which the sink has room for; kernel support was asserted by the callers.
        unsafe { products(a.bf16(), rows, pairs, w, sink) };
    });
}

/// The products of `rows` (a block of whole strips of `a`, the packed rows) and panel `pairs` of
/// `w` into `sink`, strip by strip: each 32 × 32 block starts from its pair's bias and runs the
/// whole of K in the tiles into the pair's scratch block (in L1 or L2), and once the strip's
/// blocks are done they land (the residual and activation applied there, or emitted packed).
/// This measured faster than stopping every few steps of K to store and reload the tiles,
/// than storing the tiles straight into the output (rows a page apart at ViT widths: the
/// out_proj a seventh slower), and than landing each block while the next one's products run
/// (the activation's vector work slowed the tiles' by a tenth).
///
/// # Safety
/// The sink has room for `rows.end` rows (of `w.n` f32, or of `w.pairs()` packed steps), rows
/// `rows` × the columns of `pairs` of which no other thread touches meanwhile; `rows.start` is a
/// multiple of 32 and `a` holds every strip `rows` touches; `super::support()` returned `Ok`.
#[cfg(target_arch = "x86_64")]
unsafe fn products(
    a: &[u16],
    rows: std::ops::Range<usize>,
    pairs: std::ops::Range<usize>,
    w: &PackedWeight,
    sink: Sink,
) {
    use super::kernel::{Block32, Operands, block, configure};
    let kernel = super::kernel();
    let (n, steps) = (w.n, w.steps());
    SCRATCH.with_borrow_mut(|scratch| {
        scratch.at_least(pairs.len() * 4096);
        let scratch = &mut scratch.f32_mut()[..pairs.len() * 1024];
        // SAFETY: kernel support is the caller's contract; it is configured on this
        // thread first. Each call reads `steps` steps (1024 bf16 each) of one strip of `a` and
        // of one panel pair, inside both (PackedRows and PackedWeight lay them out steps · 1024
        // long), starts from the pair's 32-wide bias row (stride 0) and stores to the pair's
        // block of `scratch`. The sink's rows s·32.. and columns p·32.. (or its packed step
        // (s, p)) lie inside the caller's rectangle.
        unsafe {
            configure(kernel);
            for s in (rows.start / 32)..rows.end.div_ceil(32) {
                let strip = a[s * steps * 1024..].as_ptr();
                for (p, to) in pairs.clone().zip(scratch.chunks_exact_mut(1024)) {
                    let bias = Block32 {
                        ptr: w.bias(p).as_ptr().cast_mut(),
                        stride: 0,
                    };
                    let to = Block32 {
                        ptr: to.as_mut_ptr(),
                        stride: 32,
                    };
                    let ops = Operands {
                        a: strip,
                        b: w.pair(p).as_ptr(),
                        k32: steps,
                    };
                    block(kernel, ops, Some(bias), to);
                }
                let live = 32.min(rows.end - s * 32);
                for (p, from) in pairs.clone().zip(scratch.chunks_exact_mut(1024)) {
                    let cols = 32.min(n - p * 32);
                    match sink {
                        Sink::Rows(Out(dst), residual, act) => {
                            let at = s * 32 * n + p * 32;
                            let res = residual.map(|r| &r[at..]);
                            land(from, (live, cols, n), res, act, dst.add(at));
                        }
                        Sink::Packed(Out16(dst), act) => {
                            let to = dst.add((s * w.pairs() + p) * 1024);
                            let to = std::slice::from_raw_parts_mut(to, 1024);
                            emit(from, act, (live, cols), to);
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
    _: Sink,
) {
    unreachable!("bf16::linear checks support(), which is Err off x86-64")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::kernels::bf16::act::activate_in_place;
    use crate::model::kernels::bf16::{PackedRows, to_bf16};
    use crate::model::kernels::f32_ops::tests::ramp;

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
    fn a_product_packed_for_the_next_equals_rounding_its_f32_rows() {
        if super::super::support().is_err() {
            return;
        }
        for (rows, k, n, m) in [(37, 40, 50, 7), (130, 300, 96, 33)] {
            let x = ramp(rows * k, 7919, 201, 50.0, 2.0);
            let w = ramp(k * n, 31, 97, 90.0, 0.5);
            let bias: Vec<f32> = (0..n).map(|j| j as f32 * 0.01 - 0.2).collect();
            let w2 = ramp(n * m, 17, 89, 80.0, 0.5);
            let (p, p2) = (
                PackedWeight::new(&w, &bias, k, n),
                PackedWeight::new(&w2, &vec![0.25; m], n, m),
            );
            let a = PackedRows::pack(&x, rows, k);
            let act = Some(Activation::QuickGelu);
            let hidden = linear_to_packed(&a, &p, act);
            let f32_rows = linear(&x, rows, &p, None, act);
            assert_eq!(hidden.bf16(), PackedRows::pack(&f32_rows, rows, n).bf16());
            // The next product reads it as it would read the f32 rows.
            let y = linear_packed(&hidden, &p2, None, None);
            assert_eq!(y, linear(&f32_rows, rows, &p2, None, None));
            // Rows gathered from the packed form are those rows' products, bit for bit.
            let picked = [0, rows - 1, 5, 32];
            let g = linear_packed(&hidden.gather(&picked), &p2, None, None);
            for (i, &r) in picked.iter().enumerate() {
                assert_eq!(g[i * m..(i + 1) * m], y[r * m..(r + 1) * m]);
            }
        }
    }

    #[test]
    fn products_equal_f64_on_the_rounded_operands_at_awkward_shapes() {
        if super::super::support().is_err() {
            // Without a kernel, the model never calls this (see tests/bf16.rs for the fallback).
            assert!(
                !std::fs::read_to_string("/proc/cpuinfo")
                    .unwrap_or_default()
                    .split_whitespace()
                    .any(|f| f == "amx_bf16" || f == "avx512_bf16")
            );
            return;
        }
        // The last two: long K, and N in several column groups.
        for (rows, k, n) in [
            (1, 1, 1),
            (37, 24, 40),
            (160, 97, 33),
            (300, 64, 96),
            (70, 600, 90),
            (40, 3072, 229),
        ] {
            let x = ramp(rows * k, 7919, 201, 50.0, 2.0);
            let w = ramp(k * n, 104_729, 97, 40.0, 1.2);
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
                let mut g = [plain[i]];
                activate_in_place(&mut g, Activation::QuickGelu);
                assert_eq!(gelu[i], g[0]);
            }
        }
    }
}
