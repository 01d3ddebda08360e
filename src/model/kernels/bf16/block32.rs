//! A product's 32 × 32 block as both kernels take it: the packed bf16 operands, and the f32
//! block in memory they start from and store to.

/// A 32 × 32 f32 block in memory: element (r, c) at `ptr + r · stride + c` (f32 units). A
/// stride of 0 reads one 32-wide row for all 32 rows (a bias broadcast).
#[derive(Clone, Copy)]
pub struct Block32 {
    /// Element (0, 0).
    pub ptr: *mut f32,
    /// Elements from one row to the next.
    pub stride: usize,
}

/// One block's packed operands (see `pack`): A, one strip (per step of 32 along K, rows 0-15
/// then 16-31, each 16 × 32 bf16), and B, one pair of column panels (per step, columns 0-15 then
/// 16-31, each 16 pair-rows × 32 bf16), `k32` steps each (`k32 · 1024` bf16).
#[derive(Clone, Copy)]
pub struct Operands {
    /// The A strip.
    pub a: *const u16,
    /// The B panel pair.
    pub b: *const u16,
    /// Steps of 32 along K.
    pub k32: usize,
}
