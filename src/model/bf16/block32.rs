//! The f32 side of a product's 32 × 32 block in memory, as both kernels read and write it.

/// A 32 × 32 f32 block in memory: element (r, c) at `ptr + r · stride + c` (f32 units). A
/// stride of 0 reads one 32-wide row for all 32 rows (a bias broadcast).
#[derive(Clone, Copy)]
pub struct Block32 {
    /// Element (0, 0).
    pub ptr: *mut f32,
    /// Elements from one row to the next.
    pub stride: usize,
}
