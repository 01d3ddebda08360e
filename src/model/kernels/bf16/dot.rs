//! The AVX512-BF16 kernel: one 32 × 32 output block on `VDPBF16PS` (Intel® 64 and IA-32
//! Architectures Software Developer's Manual, vol. 2, `VDPBF16PS`), for CPUs with the instruction
//! and no AMX tiles (AMD Zen 4 and later, Intel Cooper Lake).
//!
//! It reads the tiles' packed operands as they lie: a B tile's pair-row i (16 columns × the bf16
//! pair of K rows 2i, 2i + 1) is one 512-bit register, and an A tile's row r holds row r's 16
//! pairs of the same K rows, one 32-bit broadcast each. `VDPBF16PS acc, a, b` adds to each of
//! the 16 f32 lanes of `acc` the sum of the two products of the lane's pairs, so row r × pair-row
//! i is one instruction per 16 columns, accumulated in f32 as the tiles do (the sum of a pair is
//! rounded once more than the tiles' exact-then-round: within the products' stated bounds).
//!
//! A register block is 8 rows × 32 columns (16 accumulators, two B registers, the broadcast A
//! pair): per pair-row, two 64-byte loads and eight 4-byte broadcasts feed sixteen products.

use super::block32::{Block32, Operands};
use std::arch::x86_64::{
    __m512bh, __m512i, _mm512_dpbf16_ps, _mm512_loadu_ps, _mm512_loadu_si512, _mm512_set1_epi32,
    _mm512_setzero_ps, _mm512_storeu_ps,
};

/// Rows per register block.
const ROWS: usize = 8;

/// `store = init + A · B`, as `kernel::block` describes.
///
/// # Safety
/// The CPU has AVX512F and AVX512-BF16; otherwise `kernel::block`'s contract.
#[target_feature(enable = "avx512f,avx512bf16")]
pub unsafe fn block(ops: Operands, init: Option<Block32>, store: Block32) {
    let Operands { a, b, k32 } = ops;
    for g in 0..32 / ROWS {
        let first = g * ROWS;
        let mut acc = [_mm512_setzero_ps(); 2 * ROWS];
        // SAFETY: rows first.. of the caller's 32 × 32 blocks, and for each step of K, rows
        // first.. of the step's A tile (16 rows of 32 bf16, the second tile 512 bf16 on) and the
        // step's two B tiles (16 pair-rows of 32 bf16 each, 512 apart): inside `a` and `b`.
        unsafe {
            if let Some(init) = init {
                for (r, pair) in acc.chunks_exact_mut(2).enumerate() {
                    let row = init.ptr.add((first + r) * init.stride);
                    pair[0] = _mm512_loadu_ps(row);
                    pair[1] = _mm512_loadu_ps(row.add(16));
                }
            }
            let a = a.add((first / 16) * 512 + (first % 16) * 32);
            for kk in 0..k32 {
                let (ak, bk) = (a.add(kk * 1024), b.add(kk * 1024));
                for i in 0..16 {
                    let b0: __m512bh = bh(_mm512_loadu_si512(bk.add(i * 32).cast()));
                    let b1: __m512bh = bh(_mm512_loadu_si512(bk.add(512 + i * 32).cast()));
                    for (r, pair) in acc.chunks_exact_mut(2).enumerate() {
                        let x = ak.add(r * 32 + 2 * i).cast::<i32>().read_unaligned();
                        let x = bh(_mm512_set1_epi32(x));
                        pair[0] = _mm512_dpbf16_ps(pair[0], x, b0);
                        pair[1] = _mm512_dpbf16_ps(pair[1], x, b1);
                    }
                }
            }
            for (r, pair) in acc.chunks_exact(2).enumerate() {
                let row = store.ptr.add((first + r) * store.stride);
                _mm512_storeu_ps(row, pair[0]);
                _mm512_storeu_ps(row.add(16), pair[1]);
            }
        }
    }
}

/// 32 bf16 as the instruction's operand type.
#[inline(always)]
fn bh(v: __m512i) -> __m512bh {
    // SAFETY: both are 64 bytes of plain data.
    unsafe { std::mem::transmute::<__m512i, __m512bh>(v) }
}
