//! One timm `EvaBlock`: x += proj(subLN(MSA(LN1(x)))) with rotary queries and keys, and
//! x += MLP(LN2(x)), recording what the decomposition needs. EVA-02: q, k, v projections (k
//! without a bias), the sub-LN, SwiGLU with a LayerNorm on its hidden layer; PE-Core: one qkv
//! projection, no sub-LN, a GELU MLP. EVA-02-E's `EvaBlockPostNorm`: x += norm1(proj(MSA(x))),
//! x += norm2(MLP(x)), one bias-free qkv with q and v biases.
//!
//! Ports timm 1.0 `models/eva.py` `EvaBlock.forward`, `EvaBlockPostNorm.forward`,
//! `EvaAttention.forward` / `AttentionRope` (rope on the patch rows; softmax(q kᵀ·d^-1/2) v;
//! `attn.norm` on the merged heads; `attn.proj`); the MLP is [`super::mlp`].
//!
//! The sub-LN couples the heads: it is linearised at the readout row with that row's own
//! statistics, as ln_post is (docs/METRICS.md). For that row LN(o) equals
//! Σ_h γ ⊙ (pad_h(z_h) − mean(pad_h(z_h)))/σ plus β, so each head's term is z_h/σ times the d × D
//! rows of `C · diag(γ) · W_P` (C the centring matrix), the constant β·W_P + b_P split as a bias
//! would be. [`EvaBlock::out`] is that linear map; the captures are divided by the row's σ. The
//! post-norm's norm1 is linearised the same way after the projection (`post_norm_out`).

use candle_core::{D, DType, IndexOp, Tensor};

use super::mlp::{Mlp, normed};
use super::rope::{self, Rope};
use crate::Result;
use crate::model::kernels::{bf16_ops, f32_attention};
use crate::model::load::config::eva::{EvaArch, QkvLayout};
use crate::model::load::weights::Weights;
use crate::model::towers::block::{BlockOut, Capture};
use crate::model::towers::dense::Dense;
use crate::model::towers::layers::{LayerNorm, mean_var, softmax};

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
        let qkv = load_qkv(w, prefix, arch.qkv, dm)?;
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
        let mlp = Mlp::load(w, prefix, arch.swiglu, (dm, mlp), eps)?;
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

    /// Runs the block on `x` (B, T, D), token 0 the class token and the readout row.
    pub fn forward(&self, x: &Tensor, rope: Option<&Rope>, capture: Capture) -> Result<BlockOut> {
        let (b, t, dm) = x.dims3()?;
        let h = self.heads;
        let x = x.reshape((b * t, dm))?;
        let qkv = match self.post_norm {
            true => self.qkv.forward(&x, None, None)?,
            false => normed(&self.norm1, &self.qkv, &x)?,
        }; // (B·T, 3D)
        let scale = ((dm / h) as f64).powf(-0.5);
        let qkv = rope::rotate_rows(rope, &qkv, (b, t, h), self.prefix, scale)?;
        let keep = capture != Capture::None;
        let (merged, a0) = attention(&qkv, (b, t, h), keep, self.qkv.bf16().is_some())?;
        let (x, projected) = self.attention_out(&x, &merged, t)?;
        let (x, mlp_cls) = self.mlp_out(&x, (b, t))?;
        let mut out = BlockOut {
            x: x.reshape((b, t, dm))?,
            mlp_cls,
            head_cls: None,
            tokens: None,
            cls_self: None,
            bias_scale: None,
        };
        if keep {
            let a0 = a0.ok_or_else(|| crate::Error::Invalid("no attention row kept".into()))?;
            // What the linearised LayerNorm reads: the merged heads (sub-LN), the projection's
            // output (post-norm), or nothing.
            let ln_input = match (&self.sub_ln, &projected) {
                (Some(_), _) => Some(&merged),
                (None, y) => y.as_ref(),
            };
            self.capture(&mut out, (&qkv, &merged, ln_input, &a0), capture)?;
        }
        Ok(out)
    }

    /// x + proj(sub-LN(merged)), or x + norm1(proj(merged)) post-norm, and then the projection's
    /// output: the class rows (every `t`-th) in f32, the rest on the bf16 kernel where it runs.
    fn attention_out(
        &self,
        x: &Tensor,
        merged: &Tensor,
        t: usize,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let input = match &self.sub_ln {
            Some(ln) => ln.forward(merged)?,
            None => merged.clone(),
        };
        // The class rows in f32, the rest on the bf16 kernel; every row in f32 off it.
        let project = |residual: &Tensor| -> Result<Tensor> {
            let on_bf16 = match self.proj.bf16() {
                Some(proj) => proj.except_every(&input, residual, t)?,
                None => None,
            };
            match on_bf16 {
                Some(y) => Ok(y),
                None => self.proj.forward(&input, None, Some(residual)),
            }
        };
        if !self.post_norm {
            return Ok((project(x)?, None));
        }
        let y = project(&x.zeros_like()?)?;
        Ok(((x + self.norm1.forward(&y)?)?, Some(y)))
    }

    /// x + MLP(LN2(x)), or x + norm2(MLP(x)) post-norm, and the MLP's term at the class rows.
    fn mlp_out(&self, x: &Tensor, (b, t): (usize, usize)) -> Result<(Tensor, Tensor)> {
        if !self.post_norm
            && let Some(both) = self.mlp.forward_bf16(&self.norm2, x, (b, t))?
        {
            return Ok(both);
        }
        let z = match self.post_norm {
            true => self.norm2.forward(&self.mlp.forward(None, x)?)?,
            false => self.mlp.forward(Some(&self.norm2), x)?,
        };
        let mlp_cls = z.reshape((b, t, ()))?.i((.., 0))?;
        Ok(((x + z)?, mlp_cls))
    }

    /// Fills `out`'s captures from the block's (qkv rows, merged heads, the rows its linearised
    /// LayerNorm reads where it has one, the class row's attention (B, H, T)): each divided by
    /// that LayerNorm's σ at the class row (1 without one).
    fn capture(
        &self,
        out: &mut BlockOut,
        (qkv, merged, ln_input, a0): (&Tensor, &Tensor, Option<&Tensor>, &Tensor),
        capture: Capture,
    ) -> Result<()> {
        let (b, t, dm) = out.x.dims3()?;
        let (h, d) = (self.heads, dm / self.heads);
        // Contiguous: candle sums a strided row in another order, and an image alone must give
        // the bits it gives in a batch.
        let inv = match ln_input {
            Some(n) => {
                let row = n.reshape((b, t, dm))?.i((.., 0))?.to_dtype(DType::F32)?;
                (mean_var(&row.contiguous()?)?.1 + self.eps)?
                    .sqrt()?
                    .recip()?
            }
            None => Tensor::ones((b, 1), DType::F32, out.x.device())?,
        }
        .reshape((b, 1, 1))?; // (B, 1, 1)
        let z0 = merged
            .reshape((b, t, h, d))?
            .i((.., 0))?
            .to_dtype(DType::F32)?
            .broadcast_mul(&inv)?; // (B, H, d)
        let a0 = a0.to_dtype(DType::F32)?; // (B, H, T)
        let v = qkv
            .narrow(1, 2 * dm, dm)?
            .reshape((b, t, h, d))?
            .transpose(1, 2)?;
        let v32 = v.to_dtype(DType::F32)?.broadcast_mul(&inv.unsqueeze(3)?)?;
        let v0 = v32.i((.., .., 0))?; // (B, H, d)
        out.cls_self = Some(v0.broadcast_mul(&a0.narrow(D::Minus1, 0, 1)?)?);
        out.head_cls = Some(z0);
        out.tokens = (capture == Capture::Tokens).then_some((a0, v32));
        out.bias_scale = self.post_norm.then(|| inv.flatten_all()).transpose()?;
        Ok(())
    }
}

/// softmax(q kᵀ) v for `qkv` rows (B·T, 3D, the queries already rotated and scaled): the heads'
/// outputs merged (B·T, D) and, with `keep_first_row`, the first query's attention row (B, H, T).
/// On the bf16 kernel where the block's products are (`on_bf16`), else the fused f32 kernel CLIP's
/// blocks use ([`f32_attention`]); candle's operations off the CPU.
fn attention(
    qkv: &Tensor,
    (b, t, h): (usize, usize, usize),
    keep_first_row: bool,
    on_bf16: bool,
) -> Result<(Tensor, Option<Tensor>)> {
    let fused = match on_bf16 {
        true => bf16_ops::attention(qkv, (b, t, h), None, keep_first_row)?,
        false => None,
    };
    let fused = match fused {
        Some(att) => Some(att),
        None => f32_attention::attention(qkv, (b, t, h), None, false, keep_first_row)?,
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

/// q, k and v of block `prefix` as one (D → 3D) product, k's bias zero where it has none.
fn load_qkv(w: &Weights, prefix: &str, layout: QkvLayout, dm: usize) -> Result<Dense> {
    let get = |n: &str, shape: &[usize]| w.get(&format!("{prefix}.attn.{n}"), shape);
    let (weight, q_bias, v_bias) = match layout {
        QkvLayout::Fused => return Dense::load(w, &format!("{prefix}.attn.qkv"), dm, 3 * dm),
        QkvLayout::Separate => {
            let (q, k, v) = (
                get("q_proj.weight", &[dm, dm])?,
                get("k_proj.weight", &[dm, dm])?,
                get("v_proj.weight", &[dm, dm])?,
            );
            let weight = Tensor::cat(&[q, k, v], 0)?;
            (
                weight,
                get("q_proj.bias", &[dm])?,
                get("v_proj.bias", &[dm])?,
            )
        }
        QkvLayout::FusedQvBias => (
            get("qkv.weight", &[3 * dm, dm])?,
            get("q_bias", &[dm])?,
            get("v_bias", &[dm])?,
        ),
    };
    let bias = Tensor::cat(&[&q_bias, &q_bias.zeros_like()?, &v_bias], 0)?;
    Dense::from_torch(&weight, bias)?.bf16_where(w)
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
