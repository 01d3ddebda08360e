//! The building blocks shared by both towers: LayerNorm, dense layers and activations.

use candle_core::{D, DType, IndexOp, Tensor};

use std::sync::Arc;

use super::bf16::{PackedRows, PackedWeight};
use super::config::Activation;
use super::weights::Weights;
use crate::Result;

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
        super::cpu_tiles::layer_norm_packed(x, &self.weight, &self.bias, self.eps)
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
        if let Some(y) = super::cpu::layer_norm(x, &self.weight, &self.bias, self.eps)? {
            return Ok(y);
        }
        let x32 = x.to_dtype(DType::F32)?;
        let y = candle_nn::ops::layer_norm(&x32, &self.weight, &self.bias, self.eps as f32)?;
        Ok(y.to_dtype(dtype)?)
    }
}

/// A dense layer stored as `x · W + b` with W laid out (in, out) for a copy-free matmul.
#[derive(Clone)]
pub struct Dense {
    /// (in, out).
    pub weight: Tensor,
    /// (out).
    pub bias: Tensor,
    /// W in bf16 in the AMX tile layout, when the products run there.
    tiles: Option<Arc<PackedWeight>>,
}

impl Dense {
    /// From a PyTorch `Linear` weight laid out (out, in) and its bias.
    pub fn from_torch(weight: &Tensor, bias: Tensor) -> Result<Self> {
        Ok(Self {
            weight: weight.t()?.contiguous()?,
            bias,
            tiles: None,
        })
    }

    /// The same layer with its products on the bf16 kernel when `w` asks for it
    /// ([`Weights::bf16_products`]).
    pub fn tiled_for(mut self, w: &Weights) -> Result<Self> {
        if w.bf16_products() {
            let (k, n) = self.weight.dims2()?;
            let flat = self.weight.flatten_all()?.to_vec1::<f32>()?;
            let bias = self.bias.to_dtype(DType::F32)?.to_vec1::<f32>()?;
            self.tiles = Some(Arc::new(PackedWeight::new(&flat, &bias, k, n)));
        }
        Ok(self)
    }

    /// Loads `{prefix}.weight` (out, in) and `{prefix}.bias` (out).
    pub fn load(w: &Weights, prefix: &str, input: usize, output: usize) -> Result<Self> {
        let weight = w.get(&format!("{prefix}.weight"), &[output, input])?;
        Self::from_torch(&weight, w.get(&format!("{prefix}.bias"), &[output])?)?.tiled_for(w)
    }

    /// Whether the products run on the bf16 kernel.
    pub fn tiled(&self) -> bool {
        self.tiles.is_some()
    }

    /// `act(a · W + b)` or `a · W + b + residual` on the tiles, for rows already packed; `None`
    /// when the layer is not tiled or the shapes do not fit.
    pub fn forward_packed(
        &self,
        a: &PackedRows,
        act: Option<Activation>,
        residual: Option<&Tensor>,
    ) -> Result<Option<Tensor>> {
        match &self.tiles {
            Some(w) => super::cpu_tiles::linear_packed(a, w, act, residual),
            None => Ok(None),
        }
    }

    /// `act(a · W + b)` on the tiles, packed for the next product; `None` when the layer is
    /// not tiled or `a` is not as wide as its input.
    pub fn forward_to_packed(&self, a: &PackedRows, act: Option<Activation>) -> Option<PackedRows> {
        let w = self.tiles.as_ref().filter(|w| w.k == a.k)?;
        Some(super::bf16::linear_to_packed(a, w, act))
    }

    /// `x · W + b + residual` (N, out) on the tiles except rows 0, `every`, 2·`every`, …, which
    /// are computed in f32 as [`Dense::forward_exact`] does (N a multiple of `every`). `None`
    /// when the layer is not tiled or the tensors are not f32 on the CPU.
    pub fn forward_tiled_except(
        &self,
        x: &Tensor,
        residual: &Tensor,
        every: usize,
    ) -> Result<Option<Tensor>> {
        let Some(w) = &self.tiles else {
            return Ok(None);
        };
        let (n, _) = x.dims2()?;
        if every == 0 || n % every != 0 {
            return Ok(None);
        }
        let firsts = |t: &Tensor| -> Result<Tensor> {
            let (_, m) = t.dims2()?;
            Ok(t.reshape((n / every, every, m))?.i((.., 0))?.contiguous()?)
        };
        let exact = self.forward_exact(&firsts(x)?, Some(&firsts(residual)?))?;
        super::cpu_tiles::linear_tiles_except(x, w, residual, every, &exact)
    }

    /// `x · W + b + residual` in f32 even when the layer is tiled.
    pub fn forward_exact(&self, x: &Tensor, residual: Option<&Tensor>) -> Result<Tensor> {
        let f32_only = Self {
            weight: self.weight.clone(),
            bias: self.bias.clone(),
            tiles: None,
        };
        f32_only.forward_with(x, None, residual)
    }

    /// Applies the layer to `x` of shape (N, in).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_with(x, None, None)
    }

    /// `act(x · W + b) + residual` for `x` (N, in) and `residual` (N, out), fused on the CPU.
    pub fn forward_with(
        &self,
        x: &Tensor,
        act: Option<Activation>,
        residual: Option<&Tensor>,
    ) -> Result<Tensor> {
        if let Some(tiles) = &self.tiles
            && let Some(y) = super::cpu_tiles::linear_tiles(x, tiles, act, residual)?
        {
            return Ok(y);
        }
        if x.dim(0)? == 1 {
            // One row as two, for the reason `matmul` gives.
            let twice = |t: &Tensor| Tensor::cat(&[t, t], 0);
            let r = residual.map(twice).transpose()?;
            let y = self.forward_with(&twice(x)?, act, r.as_ref())?;
            return Ok(y.narrow(0, 0, 1)?);
        }
        if let Some(y) = super::cpu::linear(x, &self.weight, &self.bias, act, residual)? {
            return Ok(y);
        }
        let mut y = x.matmul(&self.weight)?.broadcast_add(&self.bias)?;
        if let Some(a) = act {
            y = activate(a, &y)?;
        }
        match residual {
            Some(r) => Ok((y + r)?),
            None => Ok(y),
        }
    }
}

/// A Conv2d with kernel = stride = p (CLIP's and SigLIP's patch embedding) as one dense layer
/// over unfolded patches: pixels (B, 3, S, S) give (B, G², D) with G = ⌊S/p⌋; pixels past the
/// last whole patch are not read, as by the conv.
#[derive(Clone)]
pub struct PatchEmbed {
    /// The conv kernel as (3·p·p, D), rows ordered (channel, y, x), and its bias (zeros for
    /// CLIP's bias-free conv).
    dense: Dense,
    /// Whether the conv has a bias (SigLIP) that f32 adds after the product.
    biased: bool,
    p: usize,
}

impl PatchEmbed {
    /// Loads the conv `weight` (D, 3, p, p) and, where the checkpoint has one, its `bias`.
    pub fn load(
        w: &Weights,
        weight: &str,
        bias: Option<&str>,
        dm: usize,
        p: usize,
    ) -> Result<Self> {
        let conv = w.get(weight, &[dm, 3, p, p])?.reshape((dm, 3 * p * p))?;
        let (bias, biased) = match bias {
            Some(name) => (w.get(name, &[dm])?, true),
            None => (Tensor::zeros(dm, conv.dtype(), conv.device())?, false),
        };
        let dense = Dense::from_torch(&conv, bias)?.tiled_for(w)?;
        Ok(Self { dense, biased, p })
    }

    /// The patch embeddings (B, G², D) of pixels (B, 3, S, S); on the bf16 kernel where the
    /// model's dense layers are, otherwise one f32 matmul plus the bias, as the conv sums.
    pub fn forward(&self, pixels: &Tensor) -> Result<Tensor> {
        let (b, _, s, _) = pixels.dims4()?;
        let p = self.p;
        let (g, dm) = (s / p, self.dense.weight.dim(1)?);
        let unfolded = pixels
            .narrow(2, 0, g * p)?
            .narrow(3, 0, g * p)?
            .to_dtype(self.dense.weight.dtype())?
            .reshape((b, 3, g, p, g, p))?
            .permute((0, 2, 4, 1, 3, 5))?
            .contiguous()?
            .reshape((b * g * g, 3 * p * p))?;
        let y = match self.dense.tiled() {
            true => self.dense.forward(&unfolded)?,
            false => {
                let y = unfolded.matmul(&self.dense.weight)?;
                match self.biased {
                    true => y.broadcast_add(&self.dense.bias)?,
                    false => y,
                }
            }
        };
        Ok(y.reshape((b, g * g, dm))?)
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
