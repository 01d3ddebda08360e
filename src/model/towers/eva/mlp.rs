//! The Eva block's MLP: EVA-02's SwiGLU with a LayerNorm on its hidden layer, or a GELU MLP
//! (PE-Core, EVA-02-E, timm's ViT), on the f32 path or the bf16 kernel.
//!
//! Ports timm 1.0 `layers/mlp.py` `SwiGLU.forward` (fc1_g and fc1_x stacked as one product here)
//! and `Mlp.forward`.

use candle_core::Tensor;

use crate::Result;
use crate::model::kernels::f32_ops::swiglu;
use crate::model::load::config::Activation;
use crate::model::load::weights::Weights;
use crate::model::towers::dense::Dense;
use crate::model::towers::layers::LayerNorm;

/// The MLP.
pub(super) enum Mlp {
    /// fc2(LN(SiLU(fc1_g(x)) ⊙ fc1_x(x))) (EVA-02), fc1_g and fc1_x as one (D → 2M) product.
    SwiGlu {
        fc1: Dense,
        norm: LayerNorm,
        fc2: Dense,
    },
    /// fc2(GELU(fc1(x))).
    Gelu { fc1: Dense, fc2: Dense },
}

/// `LN(x) · W + b` for rows `x` (N, in), LayerNorm writing the packed rows the bf16 kernel reads
/// where the layer is on it.
pub(super) fn normed(ln: &LayerNorm, dense: &Dense, x: &Tensor) -> Result<Tensor> {
    if let Some(on_bf16) = dense.bf16()
        && let Some(packed) = ln.forward_packed(x)?
        && let Some(y) = on_bf16.packed(&packed, None, None)?
    {
        return Ok(y);
    }
    dense.forward(&ln.forward(x)?, None, None)
}

impl Mlp {
    /// Loads block `prefix`'s MLP, (model width, hidden width) `dims`.
    pub(super) fn load(
        w: &Weights,
        prefix: &str,
        swiglu: bool,
        (dm, mlp): (usize, usize),
        eps: f64,
    ) -> Result<Self> {
        let p = |s: &str| format!("{prefix}.mlp.{s}");
        if !swiglu {
            return Ok(Self::Gelu {
                fc1: Dense::load(w, &p("fc1"), dm, mlp)?,
                fc2: Dense::load(w, &p("fc2"), mlp, dm)?,
            });
        }
        let get = |n: &str, shape: &[usize]| w.get(&p(n), shape);
        let weight = Tensor::cat(
            &[
                get("fc1_g.weight", &[mlp, dm])?,
                get("fc1_x.weight", &[mlp, dm])?,
            ],
            0,
        )?;
        let bias = Tensor::cat(&[get("fc1_g.bias", &[mlp])?, get("fc1_x.bias", &[mlp])?], 0)?;
        Ok(Self::SwiGlu {
            fc1: Dense::from_torch(&weight, bias)?.bf16_where(w)?,
            norm: LayerNorm::load(w, &p("norm"), mlp, eps)?,
            fc2: Dense::load(w, &p("fc2"), mlp, dm)?,
        })
    }

    /// The output for rows `x` (N, D), after the block's LayerNorm `pre` where it has one.
    pub(super) fn forward(&self, pre: Option<&LayerNorm>, x: &Tensor) -> Result<Tensor> {
        match self {
            Self::SwiGlu { fc1, norm, fc2 } => {
                let both = match pre {
                    Some(ln) => normed(ln, fc1, x)?,
                    None => fc1.forward(x, None, None)?,
                };
                let gated = match swiglu(&both)? {
                    Some(g) => g,
                    None => {
                        let m = both.dim(1)? / 2;
                        (both.narrow(1, 0, m)?.silu()? * both.narrow(1, m, m)?)?
                    }
                };
                normed(norm, fc2, &gated)
            }
            Self::Gelu { fc1, fc2 } => {
                let hidden = match pre {
                    Some(ln) => ln.forward(x)?,
                    None => x.clone(),
                };
                let y = fc1.forward(&hidden, Some(Activation::Gelu), None)?;
                fc2.forward(&y, None, None)
            }
        }
    }

    /// `x` + the output for LN `pre`'s rows of `x`, and that output at rows 0, t, 2t, … (the
    /// class rows), on the bf16 kernel: fc2's input rows packed once (SwiGLU's hidden LayerNorm,
    /// or fc1's GELU, writing them), its product fused with the residual, and the class rows' term
    /// computed from the same packed rows (the same products, bit for bit), as CLIP's block does.
    /// `None` off the bf16 kernel.
    pub(super) fn forward_bf16(
        &self,
        pre: &LayerNorm,
        x: &Tensor,
        (b, t): (usize, usize),
    ) -> Result<Option<(Tensor, Tensor)>> {
        let Some(hidden) = pre.forward_packed(x)? else {
            return Ok(None);
        };
        let (act, fc2) = match self {
            Self::SwiGlu { fc1, norm, fc2 } => {
                let Some(both) = fc1
                    .bf16()
                    .map(|f| f.packed(&hidden, None, None))
                    .transpose()?
                    .flatten()
                else {
                    return Ok(None);
                };
                let Some(gated) = swiglu(&both)? else {
                    return Ok(None);
                };
                (norm.forward_packed(&gated)?, fc2)
            }
            Self::Gelu { fc1, fc2 } => {
                let act = fc1
                    .bf16()
                    .and_then(|f| f.to_packed(&hidden, Some(Activation::Gelu)));
                (act, fc2)
            }
        };
        let (Some(act), Some(fc2)) = (act, fc2.bf16()) else {
            return Ok(None);
        };
        let Some(y) = fc2.packed(&act, None, Some(x))? else {
            return Ok(None);
        };
        let cls: Vec<usize> = (0..b).map(|i| i * t).collect();
        let rows = match t {
            1 => act,
            _ => act.gather(&cls),
        };
        Ok(fc2.packed(&rows, None, None)?.map(|z| (y, z)))
    }
}
