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

use super::arch::{EvaArch, QkvLayout};
use super::rope::{self, Rope};
use crate::Result;
use crate::model::block::{BlockOut, Capture};
use crate::model::config::Activation;
use crate::model::layers::{Dense, LayerNorm, mean_var, softmax};
use crate::model::weights::Weights;
use crate::model::{cpu_attention, cpu_tiles};

/// The MLP.
enum Mlp {
    /// fc2(LN(SiLU(fc1_g(x)) ⊙ fc1_x(x))) (EVA-02), fc1_g and fc1_x as one (D → 2M) product.
    SwiGlu {
        fc1: Dense,
        norm: LayerNorm,
        fc2: Dense,
    },
    /// fc2(GELU(fc1(x))) (PE-Core).
    Gelu { fc1: Dense, fc2: Dense },
}

/// One block's weights.
pub struct EvaBlock {
    norm1: LayerNorm,
    /// q, k, v as one (D → 3D) product: PE-Core's `attn.qkv`, or EVA-02's three projections
    /// stacked (k's bias zero, as it has none).
    qkv: Dense,
    sub_ln: Option<LayerNorm>,
    proj: Dense,
    /// The attention's output map as the decomposition reads it: merged heads (scaled by the
    /// sub-LN's 1/σ) → residual, `C · diag(γ) · W_P` and `β · W_P + b_P` (f32); `attn.proj`
    /// itself without a sub-LN.
    pub out: Dense,
    /// A post-norm's `γ ⊙ C b_P`: the part of the output's bias the readout row gets divided
    /// by its σ ([`BlockOut::bias_scale`]); `out`'s own bias is then β.
    pub scaled_bias: Option<Tensor>,
    /// x + norm1(attn(x)), x + norm2(mlp(x)) (EVA-02-E) rather than the pre-norm block.
    post_norm: bool,
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
        let qkv = match arch.qkv {
            QkvLayout::Separate => {
                let get = |n: &str, shape: &[usize]| w.get(&p(&format!("attn.{n}")), shape);
                let weight = Tensor::cat(
                    &[
                        get("q_proj.weight", &[dm, dm])?,
                        get("k_proj.weight", &[dm, dm])?,
                        get("v_proj.weight", &[dm, dm])?,
                    ],
                    0,
                )?;
                let q_bias = get("q_proj.bias", &[dm])?;
                let bias = Tensor::cat(
                    &[&q_bias, &q_bias.zeros_like()?, &get("v_proj.bias", &[dm])?],
                    0,
                )?;
                Dense::from_torch(&weight, bias)?.tiled_for(w)?
            }
            QkvLayout::FusedQvBias => {
                let get = |n: &str, shape: &[usize]| w.get(&p(&format!("attn.{n}")), shape);
                let q_bias = get("q_bias", &[dm])?;
                let bias =
                    Tensor::cat(&[&q_bias, &q_bias.zeros_like()?, &get("v_bias", &[dm])?], 0)?;
                Dense::from_torch(&get("qkv.weight", &[3 * dm, dm])?, bias)?.tiled_for(w)?
            }
            QkvLayout::Fused => Dense::load(w, &p("attn.qkv"), dm, 3 * dm)?,
        };
        if arch.post_norm && (arch.swiglu || arch.sub_ln) {
            return Err(crate::Error::Model(format!(
                "timm {}: post-norm blocks with SwiGLU or a sub-LN are not supported",
                arch.name
            )));
        }
        let sub_ln = arch
            .sub_ln
            .then(|| LayerNorm::load(w, &p("attn.norm"), dm, eps))
            .transpose()?;
        // On the bf16 kernel where the other products are, the class rows in f32 (forward): the
        // decomposition's head terms are exact parts of what the stream gets, as in block.rs.
        let proj = Dense::load(w, &p("attn.proj"), dm, dm)?;
        let norm1 = LayerNorm::load(w, &p("norm1"), dm, eps)?;
        let (out, scaled_bias) = match (&sub_ln, arch.post_norm) {
            (Some(ln), _) => (linearised_out(ln, &proj)?, None),
            (None, true) => {
                let (out, scaled) = post_norm_out(&norm1, &proj)?;
                (out, Some(scaled))
            }
            (None, false) => (
                Dense::from_torch(&proj.weight.t()?, proj.bias.clone())?,
                None,
            ),
        };
        let mlp = match arch.swiglu {
            true => {
                let get = |n: &str, shape: &[usize]| w.get(&p(&format!("mlp.{n}")), shape);
                let weight = Tensor::cat(
                    &[
                        get("fc1_g.weight", &[mlp, dm])?,
                        get("fc1_x.weight", &[mlp, dm])?,
                    ],
                    0,
                )?;
                let bias =
                    Tensor::cat(&[get("fc1_g.bias", &[mlp])?, get("fc1_x.bias", &[mlp])?], 0)?;
                Mlp::SwiGlu {
                    fc1: Dense::from_torch(&weight, bias)?.tiled_for(w)?,
                    norm: LayerNorm::load(w, &p("mlp.norm"), mlp, eps)?,
                    fc2: Dense::load(w, &p("mlp.fc2"), mlp, dm)?,
                }
            }
            false => Mlp::Gelu {
                fc1: Dense::load(w, &p("mlp.fc1"), dm, mlp)?,
                fc2: Dense::load(w, &p("mlp.fc2"), mlp, dm)?,
            },
        };
        Ok(Self {
            norm1,
            qkv,
            sub_ln,
            proj,
            out,
            scaled_bias,
            post_norm: arch.post_norm,
            norm2: LayerNorm::load(w, &p("norm2"), dm, eps)?,
            mlp,
            heads: arch.heads,
            prefix: usize::from(arch.class_token),
            eps,
        })
    }

    /// `LN(x) · W + b` for rows `x` (N, in), LayerNorm writing the packed rows the bf16 kernel
    /// reads where the layer is on it.
    fn normed(ln: &LayerNorm, dense: &Dense, x: &Tensor) -> Result<Tensor> {
        if dense.tiled()
            && let Some(packed) = ln.forward_packed(x)?
            && let Some(y) = dense.forward_packed(&packed, None, None)?
        {
            return Ok(y);
        }
        dense.forward(&ln.forward(x)?)
    }

    /// The MLP's output for rows `x` (N, D), LN2 first.
    fn mlp(&self, x: &Tensor) -> Result<Tensor> {
        match &self.mlp {
            Mlp::SwiGlu { fc1, norm, fc2 } => {
                let both = Self::normed(&self.norm2, fc1, x)?;
                let gated = match crate::model::cpu::swiglu(&both)? {
                    Some(g) => g,
                    None => {
                        let m = both.dim(1)? / 2;
                        (both.narrow(1, 0, m)?.silu()? * both.narrow(1, m, m)?)?
                    }
                };
                Self::normed(norm, fc2, &gated)
            }
            Mlp::Gelu { fc1, fc2 } => {
                // A post-norm block normalises the MLP's output instead (forward).
                let hidden = match self.post_norm {
                    true => x.clone(),
                    false => self.norm2.forward(x)?,
                };
                fc2.forward(&fc1.forward_with(&hidden, Some(Activation::Gelu), None)?)
            }
        }
    }

    /// `x` + the MLP's output and that output at rows 0, t, 2t, … (the class rows), on the bf16
    /// kernel: fc2's input rows packed once (SwiGLU's hidden LayerNorm, or fc1's GELU, writing
    /// them), its product fused with the residual, and the class rows' term computed from the
    /// same packed rows (the same products, bit for bit), as CLIP's block does. `None` off the
    /// tiles.
    fn mlp_tiled(&self, x: &Tensor, (b, t): (usize, usize)) -> Result<Option<(Tensor, Tensor)>> {
        if self.post_norm {
            return Ok(None);
        }
        let Some(hidden) = self.norm2.forward_packed(x)? else {
            return Ok(None);
        };
        let (act, fc2) = match &self.mlp {
            Mlp::SwiGlu { fc1, norm, fc2 } => {
                let Some(both) = fc1.forward_packed(&hidden, None, None)? else {
                    return Ok(None);
                };
                let Some(gated) = crate::model::cpu::swiglu(&both)? else {
                    return Ok(None);
                };
                (norm.forward_packed(&gated)?, fc2)
            }
            Mlp::Gelu { fc1, fc2 } => (fc1.forward_to_packed(&hidden, Some(Activation::Gelu)), fc2),
        };
        let Some(act) = act.filter(|_| fc2.tiled()) else {
            return Ok(None);
        };
        let Some(y) = fc2.forward_packed(&act, None, Some(x))? else {
            return Ok(None);
        };
        let cls: Vec<usize> = (0..b).map(|i| i * t).collect();
        let rows = match t {
            1 => act,
            _ => act.gather(&cls),
        };
        Ok(fc2.forward_packed(&rows, None, None)?.map(|z| (y, z)))
    }

    /// Runs the block on `x` (B, T, D), token 0 the class token and the readout row.
    pub fn forward(&self, x: &Tensor, rope: Option<&Rope>, capture: Capture) -> Result<BlockOut> {
        let (b, t, dm) = x.dims3()?;
        let d = dm / self.heads;
        let x = x.reshape((b * t, dm))?;
        let h = self.heads;
        let qkv = match self.post_norm {
            true => self.qkv.forward(&x)?,
            false => Self::normed(&self.norm1, &self.qkv, &x)?,
        }; // (B·T, 3D)
        let scale = (d as f64).powf(-0.5);
        let qkv = rope::rotate_rows(rope, &qkv, (b, t, h), self.prefix, scale)?;
        let keep = capture != Capture::None;
        let (merged, a0) = attention(&qkv, (b, t, h), keep, self.qkv.tiled())?;
        let input = match &self.sub_ln {
            Some(ln) => ln.forward(&merged)?,
            None => merged.clone(),
        };
        // x + proj(input), or x + norm1(proj(input)) post-norm: the class rows in f32, the rest
        // on the bf16 kernel where it runs.
        let (x, projected) = match self.post_norm {
            true => {
                let zeros = x.zeros_like()?;
                let y = match self.proj.forward_tiled_except(&input, &zeros, t)? {
                    Some(y) => y,
                    None => self.proj.forward_exact(&input, None)?,
                };
                ((&x + self.norm1.forward(&y)?)?, Some(y))
            }
            false => match self.proj.forward_tiled_except(&input, &x, t)? {
                Some(y) => (y, None),
                None => (self.proj.forward_exact(&input, Some(&x))?, None),
            },
        };
        let (x, mlp_cls) = match self.mlp_tiled(&x, (b, t))? {
            Some(both) => both,
            None => {
                let z = match self.post_norm {
                    true => self.norm2.forward(&self.mlp(&x)?)?,
                    false => self.mlp(&x)?,
                };
                let mlp_cls = z.reshape((b, t, dm))?.i((.., 0))?;
                ((x + z)?, mlp_cls)
            }
        };
        let x = x.reshape((b, t, dm))?;
        let (head_cls, tokens, cls_self, bias_scale) = match capture {
            Capture::None => (None, None, None, None),
            _ => {
                // The readout row's σ, per image, of what the linearised LayerNorm reads: the
                // merged heads (sub-LN) or the projection's output (post-norm); 1 without one.
                // Contiguous: candle sums a strided row in another order, and an image alone
                // must give the bits it gives in a batch.
                let normed = match (&self.sub_ln, &projected) {
                    (Some(_), _) => Some(&merged),
                    (None, Some(y)) => Some(y),
                    (None, None) => None,
                };
                let inv = match normed {
                    Some(n) => {
                        let row = n.reshape((b, t, dm))?.i((.., 0))?.to_dtype(DType::F32)?;
                        (mean_var(&row.contiguous()?)?.1 + self.eps)?
                            .sqrt()?
                            .recip()?
                    }
                    None => Tensor::ones((b, 1), DType::F32, x.device())?,
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
                let v = qkv
                    .narrow(1, 2 * dm, dm)?
                    .reshape((b, t, h, d))?
                    .transpose(1, 2)?;
                let v32 = v.to_dtype(DType::F32)?.broadcast_mul(&inv.unsqueeze(3)?)?;
                let v0 = v32.i((.., .., 0))?; // (B, H, d)
                let cls_self = v0.broadcast_mul(&a0.narrow(D::Minus1, 0, 1)?)?;
                let tokens = (capture == Capture::Tokens).then_some((a0, v32));
                let bias_scale = self.post_norm.then(|| inv.flatten_all()).transpose()?;
                (Some(z0), tokens, Some(cls_self), bias_scale)
            }
        };
        Ok(BlockOut {
            x,
            mlp_cls,
            head_cls,
            tokens,
            cls_self,
            bias_scale,
        })
    }
}

/// softmax(q kᵀ) v for `qkv` rows (B·T, 3D, the queries already rotated and scaled): the heads'
/// outputs merged (B·T, D) and, with `keep_first_row`, the first query's attention row (B, H, T).
/// On the bf16 kernel where the block's products are (`tiled`), else the fused f32 kernel CLIP's
/// blocks use ([`cpu_attention`]); candle's operations off the CPU.
fn attention(
    qkv: &Tensor,
    (b, t, h): (usize, usize, usize),
    keep_first_row: bool,
    tiled: bool,
) -> Result<(Tensor, Option<Tensor>)> {
    let fused = match tiled {
        true => cpu_tiles::attention(qkv, (b, t, h), None, keep_first_row)?,
        false => None,
    };
    let fused = match fused {
        Some(att) => Some(att),
        None => cpu_attention::attention(qkv, (b, t, h), None, false, keep_first_row)?,
    };
    if let Some(att) = fused {
        return Ok((att.merged, att.first_row));
    }
    let dm = qkv.dim(1)? / 3;
    let all = qkv
        .reshape((b, t, 3, h, dm / h))?
        .permute((2, 0, 3, 1, 4))?
        .contiguous()?;
    let (q, k, v) = (all.get(0)?, all.get(1)?, all.get(2)?);
    let a = softmax(&q.matmul(&k.t()?.contiguous()?)?)?; // (B, H, T, T)
    let merged = a.matmul(&v)?.transpose(1, 2)?.reshape((b * t, dm))?;
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

/// The post-norm's `W_P · C · diag(γ)` (D, D), stored (in, out), with bias β, and `γ ⊙ C b_P`:
/// norm1 linearised at the readout row with that row's σ, as ln_post is. For the projected
/// y = Σ_h z_h·W_P^h plus b_P, norm1(y) = Σ_h (z_h/σ)·W_P^h·C·diag(γ) + (γ ⊙ C b_P)/σ + β: the
/// heads' terms and a bias part that the row's 1/σ scales.
fn post_norm_out(ln: &LayerNorm, proj: &Dense) -> Result<(Dense, Tensor)> {
    let wp = proj.weight.to_dtype(DType::F32)?; // (in, out)
    // Centre each row's outputs, then scale them by γ.
    let centred = wp.broadcast_sub(&wp.mean_keepdim(1)?)?;
    let weight = centred.broadcast_mul(&ln.weight.unsqueeze(0)?)?;
    let b = proj.bias.to_dtype(DType::F32)?;
    let scaled = (b.broadcast_sub(&b.mean_keepdim(0)?)? * &ln.weight)?;
    let out = Dense::from_torch(&weight.t()?.contiguous()?, ln.bias.clone())?;
    Ok((out, scaled))
}
