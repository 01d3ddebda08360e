//! The CPU fast paths the towers run on: f32 products and the fused attention on the `gemm`
//! crate ([`f32_ops`], `f32_attention`), branch-free activations (`fastmath`), the bf16 kernels
//! (AMX tiles, AVX512-BF16: [`bf16`]) and their entry over candle tensors (`bf16_ops`), and the
//! per-operation benchmark ([`opbench`]). Each returns `None` where it does not apply (not f32
//! on the CPU, no bf16 kernel) and the caller takes candle's generic operations.

pub mod bf16;
pub(in crate::model) mod bf16_ops;
pub(in crate::model) mod f32_attention;
pub mod f32_ops;
pub(in crate::model) mod fastmath;
pub mod opbench;
