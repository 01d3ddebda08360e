//! bf16 rounding and the tile layouts of the two operands.
//!
//! Both operands are cut into steps of 32 along K (zero-padded past K). A strip of 32 activation
//! rows is stored step after step, each step rows 0-15 then 16-31, a row 32 bf16 (64 bytes): one
//! A tile is then 1 KiB of consecutive bytes. The weights (K × N) are cut into pairs of 16-column
//! panels (N zero-padded to a multiple of 32), each stored step after step, each step the left
//! panel then the right, each panel 16 rows of the K-row pairs (2i, 2i+1) of its 16 columns,
//! side by side (`B[i][n][e] = W[2i + e][n]`, the order `TDPBF16PS` reads).

/// 64 bytes on a 64-byte boundary: the unit of the tile buffers. A tile row read from an
/// address that is not a multiple of 64 straddles two cache lines, and `TILELOADD` then runs
/// several times slower (measured 6x on a loads-only loop; 2.3x on the whole product), so every
/// buffer the tiles read or write is made of these.
#[derive(Clone, Copy, Default, bytemuck::Zeroable, bytemuck::Pod)]
#[repr(C, align(64))]
struct Line([u32; 16]);

/// A buffer on 64-byte boundaries, viewed as bf16 bits or f32. Dropped buffers of at least
/// [`KEEP_FROM`] bytes go to a small pool that [`Aligned::reused`] draws from, so that the
/// packed activations of one layer (megabytes, several per layer) are written over by the next
/// instead of being allocated and cleared again (the clearing measured 2% of a ViT-B/32 batch).
#[derive(Default)]
pub struct Aligned(Vec<Line>);

/// The smallest buffer kept for reuse.
const KEEP_FROM: usize = 256 << 10;
/// At most this many buffers are kept (the largest activations of a few layers in flight).
const KEEP: usize = 6;

/// Dropped buffers, for [`Aligned::reused`].
static POOL: std::sync::Mutex<Vec<Vec<Line>>> = std::sync::Mutex::new(Vec::new());

impl Aligned {
    /// At least `bytes` bytes, every byte zero.
    pub fn zeroed(bytes: usize) -> Self {
        Self(bytemuck::zeroed_vec(bytes.div_ceil(64)))
    }

    /// At least `bytes` bytes holding anything (a dropped buffer of that size when there is one,
    /// zeros otherwise), for a caller that writes every byte before reading it.
    pub fn reused(bytes: usize) -> Self {
        let lines = bytes.div_ceil(64);
        let mut pool = POOL
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match pool.iter().position(|v| v.len() == lines) {
            Some(i) => Self(pool.swap_remove(i)),
            None => {
                drop(pool);
                Self::zeroed(bytes)
            }
        }
    }

    /// Grows to at least `bytes` bytes, keeping (not zeroing) what is there: scratch space.
    pub fn at_least(&mut self, bytes: usize) {
        if self.0.len() * 64 < bytes {
            self.0.resize(bytes.div_ceil(64), Line::default());
        }
    }

    /// The contents as bf16 bits.
    pub fn bf16(&self) -> &[u16] {
        bytemuck::cast_slice(&self.0)
    }

    /// The contents as bf16 bits, writable.
    pub fn bf16_mut(&mut self) -> &mut [u16] {
        bytemuck::cast_slice_mut(&mut self.0)
    }

    /// The contents as f32, writable.
    pub fn f32_mut(&mut self) -> &mut [f32] {
        bytemuck::cast_slice_mut(&mut self.0)
    }
}

impl Drop for Aligned {
    fn drop(&mut self) {
        if self.0.len() * 64 < KEEP_FROM {
            return;
        }
        let mut pool = POOL
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if pool.len() == KEEP {
            pool.remove(0); // the oldest makes room
        }
        pool.push(std::mem::take(&mut self.0));
    }
}

/// Rounds f32 to bf16 bits, to nearest with ties to even (torch's `c10::BFloat16`
/// `round_to_nearest_even`); NaN stays NaN.
#[inline(always)]
pub fn to_bf16(v: f32) -> u16 {
    let b = v.to_bits();
    if v.is_nan() {
        ((b >> 16) | 0x40) as u16
    } else {
        (b.wrapping_add(0x7fff + ((b >> 16) & 1)) >> 16) as u16
    }
}

/// A dense layer's weight (K × N, row-major f32) rounded to bf16 in the tile layout, and its
/// bias in f32 (zero-padded like the columns, for the tiles to start from).
pub struct PackedWeight {
    /// Rows of the weight (the layer's input width).
    pub k: usize,
    /// Columns (the output width).
    pub n: usize,
    data: Aligned,
    bias: Vec<f32>,
}

impl PackedWeight {
    /// Packs `w` (k × n, row-major) and `bias` (n).
    ///
    /// # Panics
    /// When `w` is not k × n or `bias` not n long.
    pub fn new(w: &[f32], bias: &[f32], k: usize, n: usize) -> Self {
        assert!(w.len() == k * n && bias.len() == n, "PackedWeight: shape");
        let pairs = n.div_ceil(32);
        let data = Aligned::zeroed(k.div_ceil(32) * pairs * 2048);
        let mut p = Self {
            k,
            n,
            data,
            bias: bias.to_vec(),
        };
        p.bias.resize(pairs * 32, 0.0);
        for row in 0..k {
            for (col, &v) in w[row * n..(row + 1) * n].iter().enumerate() {
                let at = p.offset(row, col);
                p.data.bf16_mut()[at] = to_bf16(v);
            }
        }
        p
    }

    /// Where element (row, col) lives: pair, step, half, pair-row, column, e (see the module).
    fn offset(&self, row: usize, col: usize) -> usize {
        let (p, half, c) = (col / 32, col / 16 % 2, col % 16);
        let (step, r, e) = (row / 32, row % 32 / 2, row % 2);
        (p * self.steps() + step) * 1024 + half * 512 + r * 32 + c * 2 + e
    }

    /// The bias of pair `p`'s 32 columns (zeros past n).
    pub fn bias(&self, p: usize) -> &[f32] {
        &self.bias[p * 32..(p + 1) * 32]
    }

    /// Steps of 32 along K.
    pub fn steps(&self) -> usize {
        self.k.div_ceil(32)
    }

    /// Pairs of 16-column panels.
    pub fn pairs(&self) -> usize {
        self.n.div_ceil(32)
    }

    /// The packed panel pair `p`: `steps() · 1024` bf16.
    pub fn pair(&self, p: usize) -> &[u16] {
        let len = self.steps() * 1024;
        &self.data.bf16()[p * len..(p + 1) * len]
    }
}

/// Activations already in the tile layout: `rows` rows of width `k` as strips of 32 rows
/// (see the module), what a product on the tiles reads. A LayerNorm or a product can write them
/// directly for the next product, instead of f32 rows that product would pack again.
pub struct PackedRows {
    /// Rows (the strips hold `rows.div_ceil(32) · 32`, the rest zero).
    pub rows: usize,
    /// Width (the steps hold `k.div_ceil(32) · 32` columns, the rest zero).
    pub k: usize,
    data: Aligned,
}

impl PackedRows {
    /// `rows` × `k` of zeros.
    pub fn zeros(rows: usize, k: usize) -> Self {
        let data = Aligned::zeroed(Self::bytes(rows, k));
        Self { rows, k, data }
    }

    /// `rows` × `k` holding anything, for a caller that writes every strip whole (padding
    /// included, as [`pack_strip`] does).
    pub fn to_overwrite(rows: usize, k: usize) -> Self {
        let data = Aligned::reused(Self::bytes(rows, k));
        Self { rows, k, data }
    }

    /// The strips' size in bytes.
    fn bytes(rows: usize, k: usize) -> usize {
        rows.div_ceil(32) * k.div_ceil(32) * 2048
    }

    /// Packs `rows` rows of `x` (row-major, `k` wide), strips spread over the threads.
    pub fn pack(x: &[f32], rows: usize, k: usize) -> Self {
        use rayon::prelude::*;
        let mut p = Self::to_overwrite(rows, k);
        p.strips_mut().enumerate().for_each(|(s, strip)| {
            let count = 32.min(rows - s * 32);
            pack_strip(&x[s * 32 * k..], k, count, k, strip);
        });
        p
    }

    /// Steps of 32 along the width.
    pub fn steps(&self) -> usize {
        self.k.div_ceil(32)
    }

    /// The packed bf16: strip after strip, each `steps() · 1024` long.
    pub fn bf16(&self) -> &[u16] {
        self.data.bf16()
    }

    /// The packed bf16, writable.
    pub fn bf16_mut(&mut self) -> &mut [u16] {
        self.data.bf16_mut()
    }

    /// The strips, writable, for the threads.
    pub fn strips_mut(&mut self) -> rayon::slice::ChunksExactMut<'_, u16> {
        use rayon::prelude::*;
        let len = self.steps() * 1024;
        self.data.bf16_mut().par_chunks_exact_mut(len)
    }

    /// Rows `rows` (each `< self.rows`) of these, in that order, as rows 0.. of new strips.
    pub fn gather(&self, rows: &[usize]) -> Self {
        let mut g = Self::zeros(rows.len(), self.k);
        let len = self.steps() * 1024;
        let (from, to) = (self.data.bf16(), g.data.bf16_mut());
        for (i, &r) in rows.iter().enumerate() {
            for step in 0..self.steps() {
                // Row r of strip s is at r % 32 · 32 within each step (see the module).
                let src = (r / 32) * len + step * 1024 + (r % 32) * 32;
                let dst = (i / 32) * len + step * 1024 + (i % 32) * 32;
                to[dst..dst + 32].copy_from_slice(&from[src..src + 32]);
            }
        }
        g
    }
}

/// Packs `rows` (at most 32) rows of `x` (`k` wide, row i starting at `i · stride`) into
/// `strip`, one strip of `k.div_ceil(32) · 1024` bf16, rounding to bf16. Every element is
/// written, the padding (rows past `rows`, columns past `k`) with zeros, so `strip` may hold
/// anything before.
///
/// # Panics
/// When `rows` > 32, `x` is too short or `strip` is not one strip long.
pub fn pack_strip(x: &[f32], stride: usize, rows: usize, k: usize, strip: &mut [u16]) {
    assert!(
        rows <= 32 && strip.len() == k.div_ceil(32) * 1024,
        "pack_strip: shape"
    );
    crate::model::kernels::fastmath::dispatch!(pack(x, stride, rows, k, strip))
}

#[inline(always)]
fn pack(x: &[f32], stride: usize, rows: usize, k: usize, strip: &mut [u16]) {
    for r in 0..32 {
        let src: &[f32] = if r < rows { &x[r * stride..][..k] } else { &[] };
        // Row r of the strip lives in half r / 16, row r % 16 of each step.
        let at = (r / 16) * 512 + (r % 16) * 32;
        for (step, dst) in strip.chunks_exact_mut(1024).enumerate() {
            let dst = &mut dst[at..at + 32];
            let chunk = src.get(step * 32..).unwrap_or(&[]);
            let chunk = &chunk[..chunk.len().min(32)];
            dst.iter_mut()
                .zip(chunk)
                .for_each(|(d, &v)| *d = to_bf16(v));
            dst[chunk.len()..].fill(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_to_nearest_even_like_the_half_crate() {
        for v in [
            0.0f32,
            -0.0,
            1.0,
            f32::from_bits(0x3f80_8000), // a tie: rounds down to the even 1.0
            f32::from_bits(0x3f81_8000), // a tie: rounds up to the even neighbour
            std::f32::consts::PI,
            -std::f32::consts::E,
            1e-40,
            65504.0,
            f32::MAX,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ] {
            assert_eq!(to_bf16(v), half::bf16::from_f32(v).to_bits(), "{v}");
        }
        for i in 0..100_000u32 {
            let v = f32::from_bits(i.wrapping_mul(2_654_435_761));
            if !v.is_nan() {
                assert_eq!(to_bf16(v), half::bf16::from_f32(v).to_bits(), "{v}");
            }
        }
        assert!(half::bf16::from_bits(to_bf16(f32::NAN)).is_nan());
    }

    #[test]
    fn every_weight_lands_once_where_the_tile_order_says() {
        let (k, n) = (45, 37);
        let w: Vec<f32> = (0..k * n).map(|i| i as f32 + 1.0).collect();
        let p = PackedWeight::new(&w, &vec![0.5; n], k, n);
        assert_eq!((p.steps(), p.pairs()), (2, 2));
        let mut seen = 0;
        for pair in 0..p.pairs() {
            for (i, &v) in p.pair(pair).iter().enumerate() {
                let (step, i) = (i / 1024, i % 1024);
                let (half, r, col, e) = (i / 512, i / 32 % 16, i / 2 % 16, i % 2);
                let (row, col) = (step * 32 + 2 * r + e, pair * 32 + half * 16 + col);
                if row < k && col < n {
                    assert_eq!(v, to_bf16(w[row * n + col]));
                    seen += 1;
                } else {
                    assert_eq!(v, 0, "padding at ({row}, {col})");
                }
            }
        }
        assert_eq!(seen, k * n);
    }

    #[test]
    fn rows_pack_into_strips_with_zero_padding() {
        let (rows, k) = (35, 40);
        let x: Vec<f32> = (0..rows * k).map(|i| i as f32).collect();
        // Whatever the buffer held before (the tiles reuse it), padding comes out zero.
        let mut out = vec![7u16; 2 * 2 * 1024];
        for (s, strip) in out.chunks_exact_mut(2048).enumerate() {
            let count = 32.min(rows - s * 32);
            pack_strip(&x[s * 32 * k..], k, count, k, strip);
        }
        let at = |s: usize, r: usize, c: usize| {
            s * 2048 + (c / 32) * 1024 + (r / 16) * 512 + (r % 16) * 32 + c % 32
        };
        assert_eq!(out[at(0, 17, 33)], to_bf16(x[17 * k + 33]));
        assert_eq!(out[at(1, 2, 39)], to_bf16(x[34 * k + 39]));
        assert_eq!(out[at(1, 3, 0)], 0, "row 35 is padding");
        assert_eq!(out[at(0, 0, 40)], 0, "column 40 is padding");
        let nonzero = out.iter().filter(|&&v| v != 0).count();
        assert_eq!(nonzero, rows * k - 1, "x[0] = 0 is the one zero");
    }
}
