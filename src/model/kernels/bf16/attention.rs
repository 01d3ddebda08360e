//! The attention of `--dtype bf16` on the tiles: softmax(q kᵀ + mask) v per (image, head), both
//! products in bf16 with f32 sums, as torch's `scaled_dot_product_attention` runs under
//! `model.to(torch.bfloat16)` (the logits and the softmax here stay f32).
//!
//! Per task, q and the probabilities are packed as the A operand ([`pack_strip`]), kᵀ and v as the
//! B operand (`pack`'s panel layout: pairs of K rows side by side, so k is transposed in pairs of
//! bf16 and v interleaved row by row). The logits of a strip live in rows padded to whole tiles,
//! and the softmax runs over the padded row with the padding masked, so that its loops have no
//! scalar tail. The first query (the CLS token, all the decomposition reads of a layer's
//! attention) is computed again in f32 when asked for: its probabilities and output are then
//! those of the f32 attention on the same q, k and v, so the per-token split of a head's output
//! sums to the head's output.
//!
//! At ViT-B/16's 197 tokens the f32 attention took a quarter of a bf16 batch.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::attention_operands::{
    keys_transposed, probabilities_as_strips, rounded_rows, values_interleaved,
};
#[cfg(target_arch = "x86_64")]
use super::kernel::{Block32, Operands, block, configure};
use super::pack::{Aligned, pack_strip};
use crate::model::kernels::fastmath::softmax_rows;

/// The shape of one call: `b` images of `t` tokens, `heads` heads of width `d`.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Images.
    pub b: usize,
    /// Tokens per image.
    pub t: usize,
    /// Heads.
    pub heads: usize,
    /// Width of a head.
    pub d: usize,
}

/// Where the tasks write: `merged` (B·T, heads·d) and `first` (B, heads, T) or null.
#[derive(Clone, Copy)]
struct Out {
    merged: *mut f32,
    first: *mut f32,
}
// SAFETY: each task writes only its own (image, head) block of each buffer (see `attention`).
unsafe impl Send for Out {}
// SAFETY: as above.
unsafe impl Sync for Out {}

/// softmax(q kᵀ + mask) v for every image and head of `qkv` ((B·T) rows of q, k, v side by side,
/// each heads × d, the scale already in q), into `merged` ((B·T) × heads·d, the heads side by
/// side); `mask` (T × T) is added to the logits. With `first` ((B, heads, T)) the first query's
/// row is computed in f32 and its probabilities written there. Every element of `merged` and
/// `first` is written (they may start uninitialised).
///
/// # Panics
/// When the slices are not of those shapes, or when the CPU lacks a bf16 kernel
/// ([`super::support`] must have returned `Ok`).
pub fn attention(
    qkv: &[f32],
    s: Shape,
    mask: Option<&[f32]>,
    merged: &mut [MaybeUninit<f32>],
    first: Option<&mut [MaybeUninit<f32>]>,
) {
    let dm = s.heads * s.d;
    assert!(
        qkv.len() == s.b * s.t * 3 * dm
            && merged.len() == s.b * s.t * dm
            && mask.is_none_or(|m| m.len() == s.t * s.t)
            && first
                .as_ref()
                .is_none_or(|f| f.len() == s.b * s.heads * s.t),
        "bf16::attention: shapes"
    );
    assert!(
        super::support().is_ok(),
        "bf16::attention without a bf16 kernel"
    );
    let out = Out {
        merged: merged.as_mut_ptr().cast(),
        first: first.map_or(std::ptr::null_mut(), |f| f.as_mut_ptr().cast()),
    };
    (0..s.b * s.heads)
        .into_par_iter()
        .for_each_init(Scratch::default, |scratch, task| {
            // SAFETY: kernel support was asserted; `out` has room for every task's block, and
            // this task alone writes (image task / heads, head task % heads).
            unsafe { scratch.run(qkv, s, mask, task, out) }
        });
}

/// Calls `f` with the offset of every cache line (16 f32) of task `task`'s head columns in its
/// image's rows: rows `width` apart, the head's `d` columns at `hi·d` in each of `parts` blocks
/// of `heads·d` (the fused projection's q, k and v: 3; the merged output: 1).
#[cfg(target_arch = "x86_64")]
fn each_head_line(s: Shape, task: usize, (width, parts): (usize, usize), mut f: impl FnMut(usize)) {
    let (dm, bi, hi) = (s.heads * s.d, task / s.heads, task % s.heads);
    for j in 0..s.t {
        for part in 0..parts {
            let at = (bi * s.t + j) * width + part * dm + hi * s.d;
            (0..s.d).step_by(16).for_each(|c| f(at + c));
        }
    }
}

/// Asks for task `task`'s q, k and v in the L2 cache, for the thread that runs it next: a head's
/// columns of a token's row are a few lines, a row's length apart, each on its own page, so a
/// task that waits for them one by one is bound by memory latency (it measured 1.2x slower per
/// task than with this prefetch while the previous task computes).
#[cfg(target_arch = "x86_64")]
fn prefetch_head(qkv: &[f32], s: Shape, task: usize) {
    use std::arch::x86_64::{_MM_HINT_T1, _mm_prefetch};
    each_head_line(s, task, (3 * s.heads * s.d, 3), |at| {
        // SAFETY: a prefetch of an address inside `qkv`; it reads nothing.
        unsafe { _mm_prefetch::<_MM_HINT_T1>(std::ptr::from_ref(&qkv[at]).cast()) };
    });
}

/// Asks for task `task`'s block of `merged` in this core's cache, for writing, before the task
/// computes it: its rows are a row's length apart and rarely cached, and the tiles' stores into
/// them otherwise wait on each line in turn (the task measured 1.3x faster at 50 tokens).
#[cfg(target_arch = "x86_64")]
fn prefetch_output(out: Out, s: Shape, task: usize) {
    each_head_line(s, task, (s.heads * s.d, 1), |at| {
        // SAFETY: PREFETCHW of an address inside `merged` (every CPU with a bf16 kernel has it);
        // it reads and writes nothing.
        unsafe {
            std::arch::asm!(
                "prefetchw [{}]",
                in(reg) out.merged.wrapping_add(at),
                options(nostack, readonly, preserves_flags)
            )
        };
    });
}

/// One thread's buffers, reused from task to task.
#[derive(Default)]
struct Scratch {
    /// q as A strips, then the probabilities as A strips.
    a: Aligned,
    /// kᵀ as B panels, then v as B panels.
    b: Aligned,
    /// The logits and probabilities, rows padded to whole tiles.
    logits: Aligned,
    /// An output block at the edges.
    edge: Aligned,
    /// k, then v, rounded to bf16, rows padded to whole steps.
    rounded: Aligned,
    /// The first query's f32 logits.
    row: Vec<f32>,
}

#[cfg(not(target_arch = "x86_64"))]
impl Scratch {
    unsafe fn run(&mut self, _: &[f32], _: Shape, _: Option<&[f32]>, _: usize, _: Out) {
        unreachable!("bf16::attention checks support(), which is Err off x86-64")
    }
}

#[cfg(target_arch = "x86_64")]
impl Scratch {
    /// Task `task`: image `task / heads`, head `task % heads`.
    ///
    /// # Safety
    /// A bf16 kernel is supported; `out` as [`attention`] describes, no other thread writing
    /// this task's block of it.
    unsafe fn run(&mut self, qkv: &[f32], s: Shape, mask: Option<&[f32]>, task: usize, out: Out) {
        let (t, d, dm) = (s.t, s.d, s.heads * s.d);
        let kernel = super::kernel();
        let (w3, strips, steps) = (3 * dm, t.div_ceil(32), d.div_ceil(32));
        let (pitch, pitch_d) = (strips * 32, steps * 32);
        let (bi, hi) = (task / s.heads, task % s.heads);
        let rows = &qkv[bi * t * w3..(bi + 1) * t * w3];
        let (q, k, v) = (hi * d, dm + hi * d, 2 * dm + hi * d);
        if task + 1 < s.b * s.heads {
            prefetch_head(qkv, s, task + 1);
        }
        prefetch_output(out, s, task);
        self.a.at_least(strips * strips.max(steps) * 2048);
        self.b.at_least(strips * steps * 2048);
        self.rounded.at_least(strips * steps * 2048);
        self.logits.at_least(pitch * pitch * 4);
        self.edge.at_least(4096);
        let (a, b) = (self.a.bf16_mut(), self.b.bf16_mut());
        let a_len = steps * 1024;
        for (st, strip) in a[..strips * a_len].chunks_exact_mut(a_len).enumerate() {
            let live = 32.min(t - st * 32);
            pack_strip(&rows[st * 32 * w3 + q..], w3, live, d, strip);
        }
        let (panels, rounded) = (strips * steps * 1024, self.rounded.bf16_mut());
        rounded_rows(rows, (w3, k), (t, d), pitch_d, &mut rounded[..panels]);
        keys_transposed(&rounded[..panels], pitch_d, &mut b[..panels]);
        let logits = &mut self.logits.f32_mut()[..pitch * pitch];
        // SAFETY: after configure on this thread; each call reads `steps` steps of one A strip
        // and one B pair inside `a` and `b` (sized above) and stores one 32 × 32 block inside
        // `logits` (pitch × pitch).
        unsafe {
            configure(kernel);
            for st in 0..strips {
                for p in 0..strips {
                    let at = Block32 {
                        ptr: logits.as_mut_ptr().add(st * 32 * pitch + p * 32),
                        stride: pitch,
                    };
                    let ops = Operands {
                        a: a[st * a_len..].as_ptr(),
                        b: b[p * a_len..].as_ptr(),
                        k32: steps,
                    };
                    block(kernel, ops, None, at);
                }
            }
        }
        let p_len = strips * 1024;
        probabilities_as_strips(logits, (t, pitch), mask, &mut a[..strips * p_len]);
        rounded_rows(rows, (w3, v), (t, d), pitch_d, &mut rounded[..panels]);
        values_interleaved(&rounded[..panels], (pitch, pitch_d), &mut b[..panels]);
        let edge = self.edge.f32_mut().as_mut_ptr();
        // SAFETY: as above, A strips of `strips` steps and B pairs of `strips` steps inside `a`
        // and `b`; the caller's contract for `out`.
        unsafe { merged_blocks(kernel, (&a[..], &b[..]), (s, task), edge, out) };
        if !out.first.is_null() {
            let row0 = self.first_query(rows, (w3, q, k, v), (t, d), mask);
            // SAFETY: this task's row of `first` and of `merged` (the caller's contract).
            unsafe { first_row(row0, rows, (s, task), v, out) };
        }
    }

    /// The first query's probabilities over the `t` keys in f32 (its logits q₀ · kⱼ summed in
    /// order, as the f32 attention's product does).
    fn first_query(
        &mut self,
        rows: &[f32],
        (w3, q, k, _): (usize, usize, usize, usize),
        (t, d): (usize, usize),
        mask: Option<&[f32]>,
    ) -> &[f32] {
        let q0 = &rows[q..q + d];
        self.row.clear();
        self.row.extend((0..t).map(|j| {
            let kj = &rows[j * w3 + k..j * w3 + k + d];
            q0.iter().zip(kj).map(|(a, b)| a * b).sum::<f32>() + mask.map_or(0.0, |m| m[j])
        }));
        softmax_rows(&mut self.row, t);
        &self.row
    }
}

/// Task `task`'s output, softmax(q kᵀ) v, block by block from the probabilities' A strips in `a`
/// and v's B pairs in `b`: a block goes straight to `merged` when it lies inside this task's
/// rows and columns, to the `edge` block otherwise, whose live part is then copied there.
///
/// # Safety
/// After `configure` on this thread; `a` and `b` hold `t.div_ceil(32)` strips and panel pairs
/// of as many steps; `edge` is 32 × 32 f32; `out` as [`attention`] describes.
#[cfg(target_arch = "x86_64")]
unsafe fn merged_blocks(
    kernel: super::Kernel,
    (a, b): (&[u16], &[u16]),
    (s, task): (Shape, usize),
    edge: *mut f32,
    out: Out,
) {
    let (t, d, dm) = (s.t, s.d, s.heads * s.d);
    let (strips, steps) = (t.div_ceil(32), d.div_ceil(32));
    let (bi, hi) = (task / s.heads, task % s.heads);
    let p_len = strips * 1024;
    // SAFETY: the caller's contract.
    unsafe {
        for st in 0..strips {
            let live = 32.min(t - st * 32);
            for p in 0..steps {
                let cols = 32.min(d - p * 32);
                let at = out.merged.add((bi * t + st * 32) * dm + hi * d + p * 32);
                let direct = live == 32 && cols == 32;
                let store = match direct {
                    true => Block32 {
                        ptr: at,
                        stride: dm,
                    },
                    false => Block32 {
                        ptr: edge,
                        stride: 32,
                    },
                };
                let ops = Operands {
                    a: a[st * p_len..].as_ptr(),
                    b: b[p * p_len..].as_ptr(),
                    k32: strips,
                };
                block(kernel, ops, None, store);
                if !direct {
                    for r in 0..live {
                        std::ptr::copy_nonoverlapping(edge.add(r * 32), at.add(r * dm), cols);
                    }
                }
            }
        }
    }
}

/// The first query's row in f32: its probabilities `row0` into `first`, and Σⱼ pⱼ vⱼ (`v` the
/// values' column in `rows`) over the kernel's row of `merged`.
///
/// # Safety
/// `out` as [`attention`] describes, no other thread writing this task's rows.
#[cfg(target_arch = "x86_64")]
unsafe fn first_row(row0: &[f32], rows: &[f32], (s, task): (Shape, usize), v: usize, out: Out) {
    let (t, d, dm) = (s.t, s.d, s.heads * s.d);
    let (bi, hi, w3) = (task / s.heads, task % s.heads, 3 * dm);
    // SAFETY: this task's row of `first` and row bi·t, columns hi·d.. of `merged`.
    unsafe {
        std::ptr::copy_nonoverlapping(row0.as_ptr(), out.first.add(task * t), t);
        let o = std::slice::from_raw_parts_mut(out.merged.add(bi * t * dm + hi * d), d);
        o.fill(0.0);
        for (j, &p) in row0.iter().enumerate() {
            let vj = &rows[j * w3 + v..j * w3 + v + d];
            o.iter_mut().zip(vj).for_each(|(o, &x)| *o += p * x);
        }
    }
}

#[cfg(test)]
#[path = "attention_tests.rs"]
mod tests;
