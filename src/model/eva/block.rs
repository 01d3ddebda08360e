//! One timm `EvaBlock`: x += proj(subLN(MSA(LN1(x)))) with rotary queries and keys, and
//! x += MLP(LN2(x)), recording what the decomposition needs. EVA-02: q, k, v projections (k
//! without a bias), the sub-LN, SwiGLU with a LayerNorm on its hidden layer; PE-Core: one qkv
//! projection, no sub-LN, a GELU MLP.
//!
//! Ports timm 1.0 `models/eva.py` `EvaBlock.forward`, `EvaAttention.forward` / `AttentionRope`
//! (rope on the patch rows; softmax(q kᵀ·d^-1/2) v; `attn.norm` on the merged heads;
//! `attn.proj`) and `layers/mlp.py` `SwiGLU.forward` / `Mlp.forward`.
//!
//! The sub-LN couples the heads: it is linearised at the readout row with that row's own
//! statistics, as ln_post is (docs/METRICS.md). For that row LN(o) equals
//! Σ_h γ ⊙ (pad_h(z_h) − mean(pad_h(z_h)))/σ plus β, so each head's term is z_h/σ times the d × D
//! rows of `C · diag(γ) · W_P` (C the centring matrix), the constant β·W_P + b_P split as a bias
//! would be. [`EvaBlock::out`] is that linear map; the captures are divided by the row's σ.

use candle_core::{D, DType, IndexOp, Tensor};

use super::arch::EvaArch;
use super::rope::Rope;
use crate::Result;
use crate::model::block::{BlockOut, Capture};
use crate::model::config::Activation;
use crate::model::cpu_attention;
use crate::model::layers::{Dense, LayerNorm, mean_var, softmax};
use crate::model::weights::Weights;

/// The query, key and value projections.
enum Qkv {
    /// q, k, v apart, k without a bias (EVA-02).
    Separate { q: Dense, k: Dense, v: Dense },
    /// One (D → 3D) projection (PE-Core).
    Fused(Dense),
}

/// The MLP.
enum Mlp {
    /// fc2(LN(SiLU(fc1_g(x)) ⊙ fc1_x(x))) (EVA-02).
    SwiGlu {
        fc1_g: Dense,
        fc1_x: Dense,
        norm: LayerNorm,
        fc2: Dense,
    },
    /// fc2(GELU(fc1(x))) (PE-Core).
    Gelu { fc1: Dense, fc2: Dense },
}

/// One block's weights.
pub struct EvaBlock {
    norm1: LayerNorm,
    qkv: Qkv,
    sub_ln: Option<LayerNorm>,
    proj: Dense,
    /// The attention's output map as the decomposition reads it: merged heads (scaled by the
    /// sub-LN's 1/σ) → residual, `C · diag(γ) · W_P` and `β · W_P + b_P` (f32); `attn.proj`
    /// itself without a sub-LN.
    pub out: Dense,
    norm2: LayerNorm,
    mlp: Mlp,
    heads: usize,
    /// Rows before the patches (the class token), which the rotary embedding leaves alone.
    prefix: usize,
    eps: f64,
}

impl EvaBlock {
    /// Loads `{prefix}` (e.g. `visual.trunk.blocks.3`) of width `dm` and MLP width `mlp`.
    pub fn load(w: &Weights, prefix: &str, arch: &EvaArch, dm: usize, mlp: usize) -> Result<Self> {
        let p = |s: &str| format!("{prefix}.{s}");
        let eps = arch.eps;
        let qkv = match arch.separate_qkv {
            true => {
                let k_weight = w.get(&p("attn.k_proj.weight"), &[dm, dm])?;
                let no_bias = Tensor::zeros(dm, k_weight.dtype(), k_weight.device())?;
                Qkv::Separate {
                    q: Dense::load(w, &p("attn.q_proj"), dm, dm)?,
                    k: Dense::from_torch(&k_weight, no_bias)?.tiled_for(w)?,
                    v: Dense::load(w, &p("attn.v_proj"), dm, dm)?,
                }
            }
            false => Qkv::Fused(Dense::load(w, &p("attn.qkv"), dm, 3 * dm)?),
        };
        let sub_ln = arch
            .sub_ln
            .then(|| LayerNorm::load(w, &p("attn.norm"), dm, eps))
            .transpose()?;
        // In f32 even where the other products run in bf16: the decomposition's head terms are
        // exact parts of what the stream gets (as CLIP's out_proj rows are, block.rs).
        let proj = Dense::from_torch(
            &w.get(&p("attn.proj.weight"), &[dm, dm])?,
            w.get(&p("attn.proj.bias"), &[dm])?,
        )?;
        let out = match &sub_ln {
            Some(ln) => linearised_out(ln, &proj)?,
            None => proj.clone(),
        };
        let mlp = match arch.swiglu {
            true => Mlp::SwiGlu {
                fc1_g: Dense::load(w, &p("mlp.fc1_g"), dm, mlp)?,
                fc1_x: Dense::load(w, &p("mlp.fc1_x"), dm, mlp)?,
                norm: LayerNorm::load(w, &p("mlp.norm"), mlp, eps)?,
                fc2: Dense::load(w, &p("mlp.fc2"), mlp, dm)?,
            },
            false => Mlp::Gelu {
                fc1: Dense::load(w, &p("mlp.fc1"), dm, mlp)?,
                fc2: Dense::load(w, &p("mlp.fc2"), mlp, dm)?,
            },
        };
        Ok(Self {
            norm1: LayerNorm::load(w, &p("norm1"), dm, eps)?,
            qkv,
            sub_ln,
            proj,
            out,
            norm2: LayerNorm::load(w, &p("norm2"), dm, eps)?,
            mlp,
            heads: arch.heads,
            prefix: usize::from(arch.class_token),
            eps,
        })
    }

    /// q, k and v of LN1(x) (B·T, D) as (B, H, T, d) each.
    fn qkv(&self, y: &Tensor, (b, t): (usize, usize)) -> Result<(Tensor, Tensor, Tensor)> {
        let dm = y.dim(1)?;
        let (h, d) = (self.heads, dm / self.heads);
        let split = |x: Tensor| -> Result<Tensor> {
            Ok(x.reshape((b, t, h, d))?.transpose(1, 2)?.contiguous()?)
        };
        match &self.qkv {
            Qkv::Separate { q, k, v } => Ok((
                split(q.forward(y)?)?,
                split(k.forward(y)?)?,
                split(v.forward(y)?)?,
            )),
            Qkv::Fused(qkv) => {
                let all = qkv
                    .forward(y)?
                    .reshape((b, t, 3, h, d))?
                    .permute((2, 0, 3, 1, 4))?
                    .contiguous()?;
                Ok((all.get(0)?, all.get(1)?, all.get(2)?))
            }
        }
    }

    /// The MLP's output for LN2(x) (N, D).
    fn mlp(&self, hidden: &Tensor) -> Result<Tensor> {
        match &self.mlp {
            Mlp::SwiGlu {
                fc1_g,
                fc1_x,
                norm,
                fc2,
            } => {
                let gate = fc1_g.forward_with(hidden, Some(Activation::Silu), None)?;
                fc2.forward(&norm.forward(&(gate * fc1_x.forward(hidden)?)?)?)
            }
            Mlp::Gelu { fc1, fc2 } => {
                fc2.forward(&fc1.forward_with(hidden, Some(Activation::Gelu), None)?)
            }
        }
    }

    /// Runs the block on `x` (B, T, D), token 0 the class token and the readout row.
    pub fn forward(&self, x: &Tensor, rope: Option<&Rope>, capture: Capture) -> Result<BlockOut> {
        let (b, t, dm) = x.dims3()?;
        let d = dm / self.heads;
        let y = self.norm1.forward(&x.reshape((b * t, dm))?)?;
        let (q, k, v) = self.qkv(&y, (b, t))?;
        let (q, k) = match rope {
            Some(r) => (r.apply(&q, self.prefix)?, r.apply(&k, self.prefix)?),
            None => (q, k),
        };
        let q = (q * (d as f64).powf(-0.5))?;
        let (merged, a0) = attention(&q, &k, &v, capture != Capture::None)?;
        let attn = match &self.sub_ln {
            Some(ln) => self.proj.forward(&ln.forward(&merged)?)?,
            None => self.proj.forward(&merged)?,
        };
        let x = (x.reshape((b * t, dm))? + attn)?;
        let z = self.mlp(&self.norm2.forward(&x)?)?;
        let mlp_cls = z.reshape((b, t, dm))?.i((.., 0))?;
        let x = (x + z)?.reshape((b, t, dm))?;
        let (head_cls, tokens, cls_self) = match capture {
            Capture::None => (None, None, None),
            _ => {
                // The sub-LN's σ at the readout row, per image (1 without a sub-LN).
                // Contiguous: candle sums a strided row in another order, and an image alone
                // must give the bits it gives in a batch.
                let row = merged
                    .reshape((b, t, dm))?
                    .i((.., 0))?
                    .to_dtype(DType::F32)?
                    .contiguous()?;
                let inv = match self.sub_ln {
                    Some(_) => (mean_var(&row)?.1 + self.eps)?.sqrt()?.recip()?,
                    None => row.ones_like()?.narrow(1, 0, 1)?,
                }
                .reshape((b, 1, 1))?; // (B, 1, 1)
                let z0 = merged
                    .reshape((b, t, self.heads, d))?
                    .i((.., 0))?
                    .to_dtype(DType::F32)?
                    .broadcast_mul(&inv)?; // (B, H, d)
                let a0 = a0
                    .ok_or_else(|| crate::Error::Invalid("no attention row kept".into()))?
                    .to_dtype(DType::F32)?; // (B, H, T)
                let v32 = v.to_dtype(DType::F32)?.broadcast_mul(&inv.unsqueeze(3)?)?;
                let v0 = v32.i((.., .., 0))?; // (B, H, d)
                let cls_self = v0.broadcast_mul(&a0.narrow(D::Minus1, 0, 1)?)?;
                let tokens = (capture == Capture::Tokens).then_some((a0, v32));
                (Some(z0), tokens, Some(cls_self))
            }
        };
        Ok(BlockOut {
            x,
            mlp_cls,
            head_cls,
            tokens,
            cls_self,
        })
    }
}

/// softmax(q kᵀ) v for q (scaled), k, v (B, H, T, d): the heads' outputs merged (B·T, D) and,
/// with `keep_first_row`, the first query's attention row (B, H, T). f32 CPU tensors go through
/// the fused kernel CLIP's blocks use ([`cpu_attention`]), laid out as its QKV product's output;
/// the rest through candle's operations.
fn attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    keep_first_row: bool,
) -> Result<(Tensor, Option<Tensor>)> {
    let (b, h, t, d) = q.dims4()?;
    let rows = |x: &Tensor| -> Result<Tensor> { Ok(x.transpose(1, 2)?.reshape((b * t, h * d))?) };
    let qkv = Tensor::cat(&[rows(q)?, rows(k)?, rows(v)?], 1)?;
    if let Some(att) = cpu_attention::attention(&qkv, (b, t, h), None, false, keep_first_row)? {
        return Ok((att.merged, att.first_row));
    }
    let a = softmax(&q.matmul(&k.t()?.contiguous()?)?)?; // (B, H, T, T)
    let merged = a.matmul(v)?.transpose(1, 2)?.reshape((b * t, h * d))?;
    Ok((
        merged,
        keep_first_row.then(|| a.i((.., .., 0))).transpose()?,
    ))
}

/// `C · diag(γ) · W_P` (D, D), stored (in, out), and `β · W_P + b_P`: the sub-LN and the
/// projection as one linear map of the merged heads already divided by the row's σ.
fn linearised_out(ln: &LayerNorm, proj: &Dense) -> Result<Dense> {
    let wp = proj.weight.to_dtype(DType::F32)?; // (in, out)
    // diag(γ) · W_P, then centre its rows' inputs: C · M = M − 1·(mean of M's rows).
    let gw = wp.broadcast_mul(&ln.weight.unsqueeze(1)?)?;
    let centred = gw.broadcast_sub(&gw.mean_keepdim(0)?)?;
    let bias =
        (ln.bias.unsqueeze(0)?.matmul(&wp)?.squeeze(0)? + proj.bias.to_dtype(DType::F32)?)?;
    Dense::from_torch(&centred.t()?.contiguous()?, bias)
}
