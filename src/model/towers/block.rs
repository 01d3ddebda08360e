//! One pre-LayerNorm residual block, shared by the vision and text towers, with hooks that
//! expose what the decomposition needs: the CLS row of every head's output, the CLS query's
//! attention row and the values.

use candle_core::{DType, IndexOp, Tensor};

pub use super::block_out::{BlockOut, Capture, Rows};
use super::dense::Dense;
use super::layers::{LayerNorm, softmax};
use crate::Result;
use crate::model::kernels::{bf16_ops, f32_attention};
use crate::model::load::config::{Format, TowerConfig};
use crate::model::load::weights::Weights;

/// A captured layer's (head readout rows, attention row and values, class token's own term), as
/// [`BlockOut`] holds them.
type Captured = (Option<Tensor>, Option<(Tensor, Tensor)>, Option<Tensor>);

/// The mean over rows 1.. of (B, T, …) in f32: the patches, class token excluded.
pub(in crate::model) fn patch_mean(x: &Tensor) -> Result<Tensor> {
    let t = x.dim(1)?;
    Ok(x.narrow(1, 1, t - 1)?.to_dtype(DType::F32)?.mean(1)?)
}

/// A residual block: x += MSA(LN1(x)); x += MLP(LN2(x)).
pub struct Block {
    ln1: LayerNorm,
    /// Fused Q, K, V projection (D → 3D), the Q part pre-scaled by d^-1/2.
    qkv: Dense,
    /// out_proj (D → D), stored (in, out): head h owns rows h·d..(h+1)·d.
    pub out: Dense,
    ln2: LayerNorm,
    fc1: Dense,
    fc2: Dense,
    heads: usize,
    activation: crate::model::load::config::Activation,
}

impl Block {
    /// Loads block `prefix` (e.g. `vision_model.encoder.layers.3` or
    /// `visual.transformer.resblocks.3`) of a checkpoint in `format`.
    pub fn load(w: &Weights, format: Format, prefix: &str, cfg: &TowerConfig) -> Result<Self> {
        let (dm, mlp) = (cfg.width, cfg.mlp_dim);
        let p = |s: &str| format!("{prefix}.{s}");
        // q, k, v stacked as rows (3D, D) like open_clip's in_proj_weight.
        let (in_w, in_b) = match format {
            Format::HuggingFace | Format::Siglip => {
                let get = |n: &str| -> Result<(Tensor, Tensor)> {
                    Ok((
                        w.get(&p(&format!("self_attn.{n}_proj.weight")), &[dm, dm])?,
                        w.get(&p(&format!("self_attn.{n}_proj.bias")), &[dm])?,
                    ))
                };
                let (qw, qb) = get("q")?;
                let (kw, kb) = get("k")?;
                let (vw, vb) = get("v")?;
                (
                    Tensor::cat(&[qw, kw, vw], 0)?,
                    Tensor::cat(&[qb, kb, vb], 0)?,
                )
            }
            Format::OpenClip => (
                w.get(&p("attn.in_proj_weight"), &[3 * dm, dm])?,
                w.get(&p("attn.in_proj_bias"), &[3 * dm])?,
            ),
        };
        // Fold the attention scale d^-1/2 into the Q rows (transformers scales q after the
        // projection, open_clip inside scaled_dot_product_attention: the same product).
        let scale = (cfg.head_dim() as f64).powf(-0.5);
        let qs = Tensor::cat(
            &[
                (in_w.narrow(0, 0, dm)? * scale)?,
                in_w.narrow(0, dm, 2 * dm)?,
            ],
            0,
        )?;
        let bs = Tensor::cat(
            &[
                (in_b.narrow(0, 0, dm)? * scale)?,
                in_b.narrow(0, dm, 2 * dm)?,
            ],
            0,
        )?;
        let qkv = Dense::from_torch(&qs, bs)?.bf16_where(w)?;
        let (ln1, ln2, out, fc1, fc2) = match format {
            Format::HuggingFace | Format::Siglip => (
                LayerNorm::load(w, &p("layer_norm1"), dm, cfg.eps)?,
                LayerNorm::load(w, &p("layer_norm2"), dm, cfg.eps)?,
                Dense::load(w, &p("self_attn.out_proj"), dm, dm)?,
                Dense::load(w, &p("mlp.fc1"), dm, mlp)?,
                Dense::load(w, &p("mlp.fc2"), mlp, dm)?,
            ),
            Format::OpenClip => (
                LayerNorm::load(w, &p("ln_1"), dm, cfg.eps)?,
                LayerNorm::load(w, &p("ln_2"), dm, cfg.eps)?,
                Dense::load(w, &p("attn.out_proj"), dm, dm)?,
                Dense::load(w, &p("mlp.c_fc"), dm, mlp)?,
                Dense::load(w, &p("mlp.c_proj"), mlp, dm)?,
            ),
        };
        Ok(Self {
            ln1,
            qkv,
            out,
            ln2,
            fc1,
            fc2,
            heads: cfg.heads,
            activation: cfg.activation,
        })
    }

    /// Runs the block on `x` (B, T, D), computing the query rows `rows` asks for.
    ///
    /// `mask` is added to the attention logits (the text tower's causal mask).
    pub fn forward(
        &self,
        x: &Tensor,
        mask: Option<&Tensor>,
        capture: Capture,
        rows: Rows,
    ) -> Result<BlockOut> {
        let (b, t, dm) = x.dims3()?;
        let cls_only = rows == Rows::ClassOnly;
        let mean = rows == Rows::PatchMean;
        let tq = if cls_only { 1 } else { t };
        // The kernels keep the first query's row; the patches' mean row is computed apart.
        let keep_first_row = capture != Capture::None && !mean;
        let (qkv, merged, first_row) = self.attend(
            &x.reshape((b * t, dm))?,
            (b, t),
            mask,
            cls_only,
            keep_first_row,
        )?;
        let (head_cls, tokens, cls_self) = match (capture, mean) {
            (Capture::None, _) => (None, None, None),
            (_, false) => self.captures(&qkv, &merged, first_row, (b, t, tq), capture, mean)?,
            (_, true) => {
                let row = Some(self.mean_row(&qkv, (b, t), mask)?);
                self.captures(&qkv, &merged, row, (b, t, tq), capture, mean)?
            }
        };
        let x = if cls_only {
            x.i((.., 0..1))?.contiguous()?
        } else {
            x.clone()
        };
        let x = x.reshape((b * tq, dm))?;
        let after_attn = self.out_proj(&merged, &x, tq, mean)?;
        let (y, mlp_cls) = self.mlp(&after_attn, (b, t, tq), mean)?;
        Ok(BlockOut {
            x: y.reshape((b, tq, dm))?,
            mlp_cls,
            head_cls,
            tokens,
            cls_self,
            bias_scale: None,
        })
    }

    /// LN1, the QKV product and the attention of rows `x2` (B·T, D): the QKV rows, the merged
    /// heads' output (of the class query alone with `cls_only`) and, with `keep_first_row`, the
    /// first query's attention row.
    fn attend(
        &self,
        x2: &Tensor,
        (b, t): (usize, usize),
        mask: Option<&Tensor>,
        cls_only: bool,
        keep_first_row: bool,
    ) -> Result<(Tensor, Tensor, Option<Tensor>)> {
        let h = self.heads;
        let qkv = match self.qkv_bf16(x2)? {
            Some(qkv) => qkv,
            None => self.qkv.forward(&self.ln1.forward(x2)?, None, None)?, // (B·T, 3D)
        };
        // On the bf16 kernel with the rest of the bf16 block; the CLS query alone stays in f32.
        let on_bf16 = match self.qkv.bf16().is_some() && !cls_only {
            true => bf16_ops::attention(&qkv, (b, t, h), mask, keep_first_row)?,
            false => None,
        };
        let fused = match on_bf16 {
            Some(a) => Some(a),
            None => f32_attention::attention(&qkv, (b, t, h), mask, cls_only, keep_first_row)?,
        };
        let (merged, first_row) = match fused {
            Some(a) => (a.merged, a.first_row),
            None => self.attention(&qkv, (b, t), mask, cls_only)?,
        };
        Ok((qkv, merged, first_row))
    }

    /// What a captured layer keeps: the heads' readout-row outputs (the class row's, or the
    /// patches' mean with `mean`), the readout row's attention `row` and the values
    /// (`Capture::Tokens`), and the class token's own term.
    fn captures(
        &self,
        qkv: &Tensor,
        merged: &Tensor,
        row: Option<Tensor>,
        (b, t, tq): (usize, usize, usize),
        capture: Capture,
        mean: bool,
    ) -> Result<Captured> {
        let h = self.heads;
        let d = qkv.dim(1)? / (3 * h);
        let head_cls = match mean {
            false => merged.reshape((b, tq, h, d))?.i((.., 0))?,
            true => patch_mean(&merged.reshape((b, t, h, d))?)?,
        };
        let Some(a0) = row else {
            return Ok((Some(head_cls), None, None));
        };
        let v0 = qkv.reshape((b, t, 3, h, d))?.i((.., 0, 2))?; // (B, H, d)
        let a00 = a0.i((.., .., 0..1))?.to_dtype(v0.dtype())?; // (B, H, 1)
        let cls_self = v0.broadcast_mul(&a00)?;
        let tokens = match capture {
            Capture::Tokens => {
                let v = qkv.reshape((b, t, 3, h, d))?.i((.., .., 2))?;
                Some((a0, v.transpose(1, 2)?.contiguous()?))
            }
            _ => None,
        };
        Ok((Some(head_cls), tokens, Some(cls_self)))
    }

    /// LN2 and the MLP on the rows `after_attn` (B·Tq, D): the residual after the block and the
    /// MLP's term at the readout row (the class row's, or the patches' mean with `mean`).
    fn mlp(
        &self,
        after_attn: &Tensor,
        (b, t, tq): (usize, usize, usize),
        mean: bool,
    ) -> Result<(Tensor, Tensor)> {
        let dm = after_attn.dim(1)?;
        let (y, mlp_cls) = match self.mlp_bf16(after_attn, (b, tq), !mean)? {
            Some(done) => done,
            None => {
                let hidden = self.ln2.forward(after_attn)?;
                let act = self.fc1.forward(&hidden, Some(self.activation), None)?;
                let z = self.fc2.forward(&act, None, None)?;
                let z = z.reshape((b, tq, dm))?;
                let mlp_cls = match mean {
                    true => patch_mean(&z)?,
                    false => z.i((.., 0))?,
                };
                ((after_attn + z.reshape((b * tq, dm))?)?, Some(mlp_cls))
            }
        };
        let mlp_cls = match mlp_cls {
            Some(m) => m,
            // The bf16 MLP adds the residual as it goes: its patch mean is what the block added.
            None => patch_mean(&(&y - after_attn)?.reshape((b, t, dm))?)?,
        };
        Ok((y, mlp_cls))
    }

    /// The mean over the patch queries (rows 1..) of the attention rows, (B, H, T), in f32: the
    /// attention a [`Rows::PatchMean`] readout reads (computed apart from the kernels, which
    /// keep the first row alone; the captured layers only).
    fn mean_row(
        &self,
        qkv: &Tensor,
        (b, t): (usize, usize),
        mask: Option<&Tensor>,
    ) -> Result<Tensor> {
        let dm = qkv.dim(1)? / 3;
        let (h, d) = (self.heads, dm / self.heads);
        let qkv = qkv
            .to_dtype(DType::F32)?
            .reshape((b, t, 3, h, d))?
            .permute((2, 0, 3, 1, 4))?
            .contiguous()?;
        let (q, k) = (qkv.i((0, .., .., 1..))?.contiguous()?, qkv.i(1)?);
        let mut logits = q.matmul(&k.t()?)?; // (B, H, T − 1, T)
        if let Some(m) = mask {
            logits = logits.broadcast_add(&m.i(1..)?.to_dtype(DType::F32)?)?;
        }
        Ok(softmax(&logits)?.mean(2)?)
    }

    /// `LN1(x) · W_QKV + b_QKV` on the bf16 kernel, LayerNorm writing the packed rows the product
    /// reads; `None` off the bf16 kernel.
    fn qkv_bf16(&self, x: &Tensor) -> Result<Option<Tensor>> {
        let Some(qkv) = self.qkv.bf16() else {
            return Ok(None);
        };
        match self.ln1.forward_packed(x)? {
            Some(y) => qkv.packed(&y, None, None),
            None => Ok(None),
        }
    }

    /// The MLP on the bf16 kernel with its hidden layer kept packed in bf16: `x + MLP(LN2(x))`
    /// and, with `first`, the MLP's output at each image's first row, (B, D). fc2 adds the
    /// residual as it goes, and the first rows of its output are computed again from the same
    /// packed rows (the same products, bit for bit), so that the decomposition's MLP term is the
    /// one the stream got. `None` off the bf16 kernel.
    #[allow(clippy::type_complexity)]
    fn mlp_bf16(
        &self,
        x: &Tensor,
        (b, tq): (usize, usize),
        first: bool,
    ) -> Result<Option<(Tensor, Option<Tensor>)>> {
        let (Some(fc1), Some(fc2)) = (self.fc1.bf16(), self.fc2.bf16()) else {
            return Ok(None);
        };
        let Some(hidden) = self.ln2.forward_packed(x)? else {
            return Ok(None);
        };
        let Some(act) = fc1.to_packed(&hidden, Some(self.activation)) else {
            return Ok(None);
        };
        let Some(y) = fc2.packed(&act, None, Some(x))? else {
            return Ok(None);
        };
        if !first {
            return Ok(Some((y, None)));
        }
        let cls: Vec<usize> = (0..b).map(|i| i * tq).collect();
        let cls = match tq {
            1 => act,
            _ => act.gather(&cls),
        };
        Ok(fc2.packed(&cls, None, None)?.map(|z| (y, Some(z))))
    }

    /// `merged · W_O + b_O + x`. With the product on the bf16 kernel, the CLS rows are computed
    /// again in f32: the decomposition's head terms are those rows' exact parts (W_O applied in
    /// f32), so Σ heads + MLPs stays the embedding to f32 rounding. With `every_row` (a patch
    /// mean is read) every row is computed in f32.
    fn out_proj(&self, merged: &Tensor, x: &Tensor, tq: usize, every_row: bool) -> Result<Tensor> {
        let Some(out) = self.out.bf16() else {
            return self.out.forward(merged, None, Some(x));
        };
        if tq == 1 || every_row {
            return out.exact(merged, Some(x));
        }
        match out.except_every(merged, x, tq)? {
            Some(y) => Ok(y),
            // Not f32 CPU tensors, which the bf16 kernel never sees: every row in f32.
            None => out.exact(merged, Some(x)),
        }
    }

    /// The attention on candle's generic operations (GPU, half precision): the heads' outputs
    /// merged (B·Tq, D) and, with `cls_only` false or true alike, the first query's row (B, H, T).
    fn attention(
        &self,
        qkv: &Tensor,
        (b, t): (usize, usize),
        mask: Option<&Tensor>,
        cls_only: bool,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let dm = qkv.dim(1)? / 3;
        let (h, d) = (self.heads, dm / self.heads);
        // One copy to (3, B, H, T, d); q, k and v are then contiguous slices of it.
        let qkv = qkv
            .reshape((b, t, 3, h, d))?
            .permute((2, 0, 3, 1, 4))?
            .contiguous()?;
        let (k, v) = (qkv.i(1)?, qkv.i(2)?); // (B, H, T, d)
        let q = if cls_only {
            qkv.i((0, .., .., 0..1))?.contiguous()?
        } else {
            qkv.i(0)?
        };
        let mut logits = q.matmul(&k.t()?)?; // (B, H, Tq, T)
        if let Some(m) = mask {
            logits = logits.broadcast_add(m)?;
        }
        let att = softmax(&logits)?;
        let o = att.matmul(&v)?; // (B, H, Tq, d)
        let tq = if cls_only { 1 } else { t };
        let merged = o.transpose(1, 2)?.reshape((b * tq, dm))?;
        Ok((merged, Some(att.i((.., .., 0))?)))
    }
}
