//! A dense layer, `act(x · W + b) + residual`, with one way in ([`Dense::forward`]) that takes
//! the fastest path the tensors allow, and its bf16 products ([`Dense::bf16`]) for the blocks
//! that keep rows packed from one product to the next.

use candle_core::{DType, IndexOp, Tensor};

use std::sync::Arc;

use super::layers::activate;
use crate::Result;
use crate::model::kernels::bf16::{PackedRows, PackedWeight};
use crate::model::load::config::Activation;
use crate::model::load::weights::Weights;

/// A dense layer stored as `x · W + b` with W laid out (in, out) for a copy-free matmul.
#[derive(Clone)]
pub struct Dense {
    /// (in, out).
    pub weight: Tensor,
    /// (out).
    pub bias: Tensor,
    /// W rounded to bf16 and packed for the bf16 kernel, when the products run there.
    packed: Option<Arc<PackedWeight>>,
}

impl Dense {
    /// From a PyTorch `Linear` weight laid out (out, in) and its bias.
    pub fn from_torch(weight: &Tensor, bias: Tensor) -> Result<Self> {
        Ok(Self {
            weight: weight.t()?.contiguous()?,
            bias,
            packed: None,
        })
    }

    /// The same layer with its products on the bf16 kernel when `w` asks for it
    /// ([`Weights::bf16_products`]) and the CPU has one.
    pub fn bf16_where(mut self, w: &Weights) -> Result<Self> {
        if w.bf16_products() && crate::model::kernels::bf16::support().is_ok() {
            let (k, n) = self.weight.dims2()?;
            let flat = self.weight.flatten_all()?.to_vec1::<f32>()?;
            let bias = self.bias.to_dtype(DType::F32)?.to_vec1::<f32>()?;
            self.packed = Some(Arc::new(PackedWeight::new(&flat, &bias, k, n)));
        }
        Ok(self)
    }

    /// Loads `{prefix}.weight` (out, in) and `{prefix}.bias` (out).
    pub fn load(w: &Weights, prefix: &str, input: usize, output: usize) -> Result<Self> {
        let weight = w.get(&format!("{prefix}.weight"), &[output, input])?;
        Self::from_torch(&weight, w.get(&format!("{prefix}.bias"), &[output])?)?.bf16_where(w)
    }

    /// The layer's products on the bf16 kernel; `None` where they run in the model's dtype.
    pub fn bf16(&self) -> Option<Bf16Dense<'_>> {
        let packed = self.packed.as_deref()?;
        Some(Bf16Dense {
            dense: self,
            packed,
        })
    }

    /// `act(x · W + b) + residual` for `x` (N, in) and `residual` (N, out): on the bf16 kernel
    /// where the layer's products run there, else fused in f32 on the CPU, else candle's
    /// operations (GPU, half precision).
    pub fn forward(
        &self,
        x: &Tensor,
        act: Option<Activation>,
        residual: Option<&Tensor>,
    ) -> Result<Tensor> {
        if let Some(packed) = &self.packed
            && let Some(y) = crate::model::kernels::bf16_ops::linear(x, packed, act, residual)?
        {
            return Ok(y);
        }
        self.forward_f32(x, act, residual)
    }

    /// [`Dense::forward`] off the bf16 kernel.
    fn forward_f32(
        &self,
        x: &Tensor,
        act: Option<Activation>,
        residual: Option<&Tensor>,
    ) -> Result<Tensor> {
        if x.dim(0)? == 1 {
            // One row as two, for the reason `matmul` gives.
            let twice = |t: &Tensor| Tensor::cat(&[t, t], 0);
            let r = residual.map(twice).transpose()?;
            let y = self.forward_f32(&twice(x)?, act, r.as_ref())?;
            return Ok(y.narrow(0, 0, 1)?);
        }
        if let Some(y) =
            crate::model::kernels::f32_ops::linear(x, &self.weight, &self.bias, act, residual)?
        {
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

/// A dense layer whose products run on the bf16 kernel ([`Dense::bf16`]): the products of rows
/// already packed, and the f32 rows the decomposition reads.
#[derive(Clone, Copy)]
pub struct Bf16Dense<'a> {
    dense: &'a Dense,
    packed: &'a PackedWeight,
}

impl Bf16Dense<'_> {
    /// `act(a · W + b)` or `a · W + b + residual` for rows already packed; `None` when the
    /// shapes do not fit.
    pub fn packed(
        self,
        a: &PackedRows,
        act: Option<Activation>,
        residual: Option<&Tensor>,
    ) -> Result<Option<Tensor>> {
        crate::model::kernels::bf16_ops::linear_packed(a, self.packed, act, residual)
    }

    /// `act(a · W + b)` packed for the next product; `None` when `a` is not as wide as the
    /// layer's input.
    pub fn to_packed(self, a: &PackedRows, act: Option<Activation>) -> Option<PackedRows> {
        (self.packed.k == a.k)
            .then(|| crate::model::kernels::bf16::linear_to_packed(a, self.packed, act))
    }

    /// `x · W + b + residual` (N, out) on the bf16 kernel except rows 0, `every`, 2·`every`, …,
    /// which are computed in f32 as [`Bf16Dense::exact`] does (N a multiple of `every`). `None`
    /// when the tensors are not f32 on the CPU.
    pub fn except_every(
        self,
        x: &Tensor,
        residual: &Tensor,
        every: usize,
    ) -> Result<Option<Tensor>> {
        let (n, _) = x.dims2()?;
        if every == 0 || n % every != 0 {
            return Ok(None);
        }
        let firsts = |t: &Tensor| -> Result<Tensor> {
            let (_, m) = t.dims2()?;
            Ok(t.reshape((n / every, every, m))?.i((.., 0))?.contiguous()?)
        };
        let exact = self.exact(&firsts(x)?, Some(&firsts(residual)?))?;
        crate::model::kernels::bf16_ops::linear_except(x, self.packed, residual, every, &exact)
    }

    /// `x · W + b + residual` in f32, the layer's products off the bf16 kernel.
    pub fn exact(self, x: &Tensor, residual: Option<&Tensor>) -> Result<Tensor> {
        self.dense.forward_f32(x, None, residual)
    }
}
