//! The SigLIP text tower: token and position embeddings, a bidirectional transformer, the final
//! LayerNorm at the last position and a linear head with a bias.
//!
//! Ports transformers' `SiglipTextTransformer.forward` (modeling_siglip.py): sequences are padded
//! to the full context (the model was trained on `padding="max_length"`), the padding is masked
//! out of the keys when the tokenizer returns an attention mask, and the pooled state is the last
//! position's, padding or not.

use std::collections::BTreeMap;

use candle_core::{DType, Device, IndexOp, Tensor};

use crate::model::load::config::{Format, TextConfig};
use crate::model::load::weights::Weights;
use crate::model::towers::block::{Block, Capture, Rows};
use crate::model::towers::dense::Dense;
use crate::model::towers::layers::{LayerNorm, matmul};
use crate::{Error, Result};

/// The SigLIP text tower's weights.
pub struct SiglipText {
    cfg: TextConfig,
    token: Tensor,
    pos: Tensor,
    blocks: Vec<Block>,
    final_layer_norm: LayerNorm,
    /// `text_model.head` (Dt → E) in f32.
    head: Dense,
}

impl SiglipText {
    /// Loads `text_model.*`.
    pub fn load(w: &Weights, cfg: &TextConfig, embed_dim: usize) -> Result<Self> {
        let dm = cfg.tower.width;
        let blocks = (0..cfg.tower.layers)
            .map(|i| {
                Block::load(
                    w,
                    Format::Siglip,
                    &format!("text_model.encoder.layers.{i}"),
                    &cfg.tower,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let f32 = DType::F32;
        Ok(Self {
            cfg: cfg.clone(),
            token: w.get(
                "text_model.embeddings.token_embedding.weight",
                &[cfg.vocab_size, dm],
            )?,
            pos: w.get(
                "text_model.embeddings.position_embedding.weight",
                &[cfg.context_length, dm],
            )?,
            blocks,
            final_layer_norm: LayerNorm::load(w, "text_model.final_layer_norm", dm, cfg.tower.eps)?,
            head: Dense::from_torch(
                &w.get_as("text_model.head.weight", &[embed_dim, dm], f32)?,
                w.get_as("text_model.head.bias", &[embed_dim], f32)?,
            )?,
        })
    }

    /// Unnormalised text embeddings (N, E) of unpadded id sequences: each is padded with `pad`
    /// to the context, the padding masked when `mask` is set.
    pub fn forward(&self, ids: &[Vec<u32>], pad: u32, mask: bool) -> Result<Tensor> {
        let ctx = self.cfg.context_length;
        if let Some(bad) = ids.iter().find(|s| s.is_empty() || s.len() > ctx) {
            return Err(Error::Invalid(format!(
                "token sequences must hold 1..={ctx} ids, got {}",
                bad.len()
            )));
        }
        if let Some(bad) = ids
            .iter()
            .flatten()
            .chain([&pad])
            .find(|&&id| id as usize >= self.cfg.vocab_size)
        {
            return Err(Error::Invalid(format!(
                "token id {bad} is outside the vocabulary of {}",
                self.cfg.vocab_size
            )));
        }
        // Sequences of one length share a mask: one batch per length.
        let mut by_len: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (i, s) in ids.iter().enumerate() {
            by_len
                .entry(if mask { s.len() } else { ctx })
                .or_default()
                .push(i);
        }
        let mut rows: Vec<Option<Tensor>> = vec![None; ids.len()];
        for (len, members) in by_len {
            let batch: Vec<&Vec<u32>> = members.iter().map(|&i| &ids[i]).collect();
            let out = self.run(&batch, pad, (len < ctx).then_some(len))?;
            for (k, &i) in members.iter().enumerate() {
                rows[i] = Some(out.i(k)?);
            }
        }
        let rows: Vec<Tensor> = rows.into_iter().flatten().collect();
        Ok(Tensor::stack(&rows, 0)?)
    }

    /// One batch of sequences padded to the context; `valid` keys only when masked.
    fn run(&self, ids: &[&Vec<u32>], pad: u32, valid: Option<usize>) -> Result<Tensor> {
        let (n, ctx) = (ids.len(), self.cfg.context_length);
        let device = self.token.device();
        let flat: Vec<u32> = ids
            .iter()
            .flat_map(|s| {
                s.iter()
                    .copied()
                    .chain(std::iter::repeat_n(pad, ctx - s.len()))
            })
            .collect();
        let idx = Tensor::from_vec(flat, n * ctx, device)?;
        let x = self.token.index_select(&idx, 0)?.reshape((n, ctx, ()))?;
        let mut x = x.broadcast_add(&self.pos.unsqueeze(0)?)?;
        let mask = valid
            .map(|v| key_mask(v, ctx, x.dtype(), device))
            .transpose()?;
        for block in &self.blocks {
            x = block
                .forward(&x, mask.as_ref(), Capture::None, Rows::All)?
                .x;
        }
        let last = x.i((.., ctx - 1))?.contiguous()?;
        let pooled = self
            .final_layer_norm
            .forward(&last)?
            .to_dtype(DType::F32)?
            .contiguous()?;
        matmul(&pooled, &self.head.weight)?
            .broadcast_add(&self.head.bias)
            .map_err(Into::into)
    }
}

/// transformers' bidirectional padding mask: every query sees the first `valid` keys only.
fn key_mask(valid: usize, len: usize, dtype: DType, device: &Device) -> Result<Tensor> {
    let row = (0..len).map(|j| if j < valid { 0.0 } else { f32::NEG_INFINITY });
    let mask: Vec<f32> = (0..len).flat_map(|_| row.clone()).collect();
    Ok(Tensor::from_vec(mask, (len, len), device)?.to_dtype(dtype)?)
}
