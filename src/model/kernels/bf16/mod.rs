//! bf16 matrix products on the CPU: the dense layers and the attention's products of
//! `--dtype bf16`, on Intel's AMX tiles (Sapphire Rapids and later) or, on a CPU with
//! AVX512-BF16 and no tiles (AMD Zen 4 and later), on `VDPBF16PS` ([`kernel`] picks).
//!
//! Inputs are rounded to bf16 (round to nearest even, as torch's `to(torch.bfloat16)`), products
//! are accumulated in f32, and everything around the products (bias, residual, activation,
//! LayerNorm, the attention's logits and softmax, and the decomposition's sums) stays in f32, as
//! under torch's CPU autocast. A CPU with neither gets [`support`]'s one-line reason and f32
//! instead (`--dtype bf16` then computes in f32 rather than in candle's generic bf16, which is
//! slower than f32 on a CPU).
//!
//! The tiles: `TDPBF16PS C, A, B` adds to the 16 × 16 f32 tile C the product of A (16 rows × 32
//! bf16) and B (16 rows of 16 bf16 pairs, "VNNI" order: the pair of K rows 2i, 2i+1 of one column
//! side by side). [`pack`] lays the weights and the activations out so that each tile is 1 KiB of
//! consecutive bytes on a 64-byte line (a tile load from an unaligned address measured 6x slower);
//! [`tiles`] runs a 32 × 32 block of output per call on four accumulator tiles ([`dot`] the same
//! block from the same bytes on 512-bit registers), and [`gemm`] blocks the product for the
//! caches (a column group of weights kept in each core's L2 over many row blocks). Inside a
//! block the activations go from one product to the next packed: LayerNorm writes the tile
//! strips, fc1 emits its activated output as fc2's strips ([`act`]: the activations with FMAs
//! and a Newton reciprocal), and fc2 adds the residual as it stores. [`attention`] runs
//! softmax(q kᵀ) v per image and head on the same kernel, its operands laid out by
//! `attention_operands`.
//!
//! Where the CPU has both, the tiles run: a `VDPBF16PS` kernel measured 0.6x the f32 GEMM on
//! Sapphire Rapids, whose `VDPBF16PS` has no more throughput than an f32 FMA; on Zen 4 it has
//! twice the f32 FMA's products per instruction at the same rate.

mod act;
mod attention;
mod attention_operands;
mod block32;
#[cfg(target_arch = "x86_64")]
mod dot;
mod gemm;
mod kernel;
mod land;
mod pack;
#[cfg(target_arch = "x86_64")]
mod tiles;

pub use attention::{Shape, attention};
pub use gemm::{linear, linear_packed, linear_to_packed};
pub use pack::{PackedRows, PackedWeight, pack_strip, to_bf16};

pub use kernel::Kernel;

/// The bf16 kernel this CPU runs, or why none (a few words). Checked once per process (the AMX
/// tile-data permission is asked for on the first call). `CLIPSCOPE_BF16_KERNEL=f32` turns the
/// kernels off (f32 instead); `=amx` or `=avx512bf16` picks one.
pub fn support() -> Result<Kernel, &'static str> {
    static SUPPORT: std::sync::OnceLock<Result<Kernel, &'static str>> = std::sync::OnceLock::new();
    *SUPPORT.get_or_init(kernel::detect)
}

/// The kernel, for code reached only after [`support`] returned `Ok` (its callers assert so).
fn kernel() -> Kernel {
    support().expect("the bf16 products run only where support() is Ok")
}

/// The kernel `--dtype bf16` runs on this CPU, for `doctor`, `bench` and the explorer.
pub fn kernel_name() -> String {
    match support() {
        Ok(k) => format!("bf16 on {}", k.name()),
        Err(why) => format!("f32 ({why})"),
    }
}

/// The dtype `--dtype requested` computes in on the CPU: bf16 only where a kernel runs it,
/// otherwise f32 and the one-line reason to print (candle's generic bf16 is slower than f32 on a
/// CPU, so it is never chosen). Other dtypes are returned as they are.
pub fn cpu_dtype(requested: candle_core::DType) -> (candle_core::DType, Option<String>) {
    match (requested, support()) {
        (candle_core::DType::BF16, Err(why)) => (
            candle_core::DType::F32,
            Some(format!("--dtype bf16: {why}; computing in f32")),
        ),
        (d, _) => (d, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn support_agrees_with_the_cpu_flags() {
        // Whichever way it goes, the answer matches what the CPU says of itself.
        let flags = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let has = |f: &str| flags.split_whitespace().any(|w| w == f);
        match support() {
            Ok(Kernel::Amx) => assert!(has("amx_bf16") && has("amx_tile")),
            Ok(Kernel::Avx512Bf16) => assert!(has("avx512_bf16")),
            Err(why) => {
                assert!(!why.is_empty());
                assert!(kernel_name().starts_with("f32 ("));
            }
        }
        assert_eq!(support(), support());
    }
}
