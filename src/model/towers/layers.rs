//! The building blocks shared by the towers: LayerNorm, activations, softmax, products.

use candle_core::{D, DType, Tensor};

use crate::Result;
use crate::model::kernels::bf16::PackedRows;
use crate::model::load::config::Activation;
use crate::model::load::weights::Weights;

/// LayerNorm over the last dimension, accumulated in f32 whatever the model's dtype.
#[derive(Clone)]
pub struct LayerNorm {
    /// γ in f32.
    pub weight: Tensor,
    /// β in f32.
    pub bias: Tensor,
    /// γ and β in the compute dtype, for GPU kernels that accumulate in f32 internally.
    native: Option<(Tensor, Tensor)>,
    eps: f64,
}

impl LayerNorm {
    /// Loads `{prefix}.weight` and `{prefix}.bias` of width `dim`.
    pub fn load(w: &Weights, prefix: &str, dim: usize, eps: f64) -> Result<Self> {
        let weight = w.get_as(&format!("{prefix}.weight"), &[dim], DType::F32)?;
        let bias = w.get_as(&format!("{prefix}.bias"), &[dim], DType::F32)?;
        let dtype = w.dtype();
        let native = (!weight.device().is_cpu() && dtype != DType::F32)
            .then(|| -> Result<_> { Ok((weight.to_dtype(dtype)?, bias.to_dtype(dtype)?)) })
            .transpose()?;
        Ok(Self {
            weight,
            bias,
            native,
            eps,
        })
    }

    /// Normalises the rows of `x` (N, width) into bf16 packed for a product on the bf16 kernel;
    /// `None` when `x` is not an f32 CPU tensor.
    pub fn forward_packed(&self, x: &Tensor) -> Result<Option<PackedRows>> {
        crate::model::kernels::bf16_ops::layer_norm_packed(x, &self.weight, &self.bias, self.eps)
    }

    /// Normalises `x` (any shape, last dim = width), returning x's dtype.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let dtype = x.dtype();
        if let Some((w, b)) = &self.native
            && w.dtype() == dtype
        {
            // candle's GPU kernel accumulates mean and variance in f32 (reduce.cu `layernorm`).
            return Ok(candle_nn::ops::layer_norm(
                &x.contiguous()?,
                w,
                b,
                self.eps as f32,
            )?);
        }
        if let Some(y) =
            crate::model::kernels::f32_ops::layer_norm(x, &self.weight, &self.bias, self.eps)?
        {
            return Ok(y);
        }
        let x32 = x.to_dtype(DType::F32)?;
        let y = candle_nn::ops::layer_norm(&x32, &self.weight, &self.bias, self.eps as f32)?;
        Ok(y.to_dtype(dtype)?)
    }
}

/// `a · b` over the last two dimensions, a single-row `a` computed as two equal rows.
///
/// The `gemm` crate sums a one-row product (a matrix–vector product) in another order than a
/// matrix product, so an image's numbers would otherwise depend on whether it came alone or in a
/// batch, and an index resumed on a one-image batch would not be byte-identical to one run.
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let rows = a.rank().saturating_sub(2);
    if a.rank() < 2 || a.dim(rows)? != 1 {
        return Ok(a.matmul(b)?);
    }
    Ok(Tensor::cat(&[a, a], rows)?.matmul(b)?.narrow(rows, 0, 1)?)
}

/// Applies an activation function.
pub fn activate(act: Activation, x: &Tensor) -> Result<Tensor> {
    Ok(match act {
        Activation::QuickGelu => (x * candle_nn::ops::sigmoid(&(x * 1.702)?)?)?,
        Activation::Gelu => x.gelu_erf()?,
        Activation::GeluTanh => x.gelu()?,
        Activation::Silu => x.silu()?,
    })
}

/// Softmax over the last dimension in f32, returned in x's dtype.
pub fn softmax(x: &Tensor) -> Result<Tensor> {
    let dtype = x.dtype();
    if !x.device().is_cpu() && matches!(dtype, DType::BF16 | DType::F16) {
        // candle's GPU kernels accumulate half-precision softmax in f32 (reduce.cu `softmax`).
        return Ok(candle_nn::ops::softmax_last_dim(x)?);
    }
    let y = candle_nn::ops::softmax_last_dim(&x.to_dtype(DType::F32)?)?;
    Ok(y.to_dtype(dtype)?)
}

/// Mean and biased variance over the last dimension, as LayerNorm computes them.
pub fn mean_var(x: &Tensor) -> Result<(Tensor, Tensor)> {
    let mean = x.mean_keepdim(D::Minus1)?;
    let var = x.broadcast_sub(&mean)?.sqr()?.mean_keepdim(D::Minus1)?;
    Ok((mean, var))
}
