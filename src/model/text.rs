//! The CLIP text tower: token and position embeddings, a causal transformer, the final
//! LayerNorm at the end-of-text token and the text projection.
//!
//! Ports transformers' `CLIPTextTransformer` / open_clip's `encode_text`; both pool at the first
//! end-of-text token (the arg-max id in CLIP's vocabulary).

use candle_core::{DType, Device, IndexOp, Tensor};

use super::block::{Block, Capture};
use super::config::{Format, TextConfig};
use super::layers::{LayerNorm, matmul};
use super::weights::Weights;
use crate::{Error, Result};

/// The text tower's weights.
pub struct TextTower {
    cfg: TextConfig,
    token: Tensor,
    pos: Tensor,
    blocks: Vec<Block>,
    ln_final: LayerNorm,
    /// Projection (Dt, E), used as x · P.
    proj: Tensor,
}

impl TextTower {
    /// Loads the text tower of a checkpoint in `format`.
    pub fn load(w: &Weights, format: Format, cfg: &TextConfig, embed_dim: usize) -> Result<Self> {
        let dm = cfg.tower.width;
        let (tok, pos, ln, prefix) = match format {
            Format::HuggingFace | Format::Siglip => (
                "text_model.embeddings.token_embedding.weight",
                "text_model.embeddings.position_embedding.weight",
                "text_model.final_layer_norm",
                "text_model.encoder.layers",
            ),
            Format::OpenClip => (
                "token_embedding.weight",
                "positional_embedding",
                "ln_final",
                "transformer.resblocks",
            ),
        };
        let proj = match format {
            Format::HuggingFace | Format::Siglip => w
                .get_as("text_projection.weight", &[embed_dim, dm], DType::F32)?
                .t()?
                .contiguous()?,
            Format::OpenClip => w.get_as("text_projection", &[dm, embed_dim], DType::F32)?,
        };
        let blocks = (0..cfg.tower.layers)
            .map(|i| Block::load(w, format, &format!("{prefix}.{i}"), &cfg.tower))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            cfg: cfg.clone(),
            token: w.get(tok, &[cfg.vocab_size, dm])?,
            pos: w.get(pos, &[cfg.context_length, dm])?,
            blocks,
            ln_final: LayerNorm::load(w, ln, dm, cfg.tower.eps)?,
            proj,
        })
    }

    /// Unnormalised text embeddings (N, E) for token id sequences that each end with the
    /// end-of-text token (start and end tokens included, no padding).
    pub fn forward(&self, ids: &[Vec<u32>]) -> Result<Tensor> {
        let device = self.token.device();
        let len = ids.iter().map(Vec::len).max().unwrap_or(0);
        if len == 0 || len > self.cfg.context_length {
            return Err(Error::Invalid(format!(
                "token sequences must hold 1..={} ids",
                self.cfg.context_length
            )));
        }
        if let Some(bad) = ids
            .iter()
            .flatten()
            .find(|&&id| id as usize >= self.cfg.vocab_size)
        {
            return Err(Error::Invalid(format!(
                "token id {bad} is outside the vocabulary of {}",
                self.cfg.vocab_size
            )));
        }
        // Right-pad with 0: under the causal mask padding never reaches the pooled position.
        let flat: Vec<u32> = ids
            .iter()
            .flat_map(|s| {
                s.iter()
                    .copied()
                    .chain(std::iter::repeat_n(0, len - s.len()))
            })
            .collect();
        let n = ids.len();
        let idx = Tensor::from_vec(flat, n * len, device)?;
        let x = self.token.index_select(&idx, 0)?.reshape((n, len, ()))?;
        let mut x = x.broadcast_add(&self.pos.i(0..len)?.unsqueeze(0)?)?;
        let mask = causal_mask(len, x.dtype(), device)?;
        for block in &self.blocks {
            x = block.forward(&x, Some(&mask), Capture::None, false)?.x;
        }
        // Pool where transformers and open_clip do: the first arg-max id (the end-of-text token).
        let pool = |s: &Vec<u32>| {
            let max = s.iter().copied().max().unwrap_or(0);
            s.iter().position(|&id| id == max).unwrap_or(0)
        };
        let rows = ids
            .iter()
            .enumerate()
            .map(|(i, s)| x.i((i, pool(s))))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let pooled = Tensor::stack(&rows, 0)?;
        matmul(
            &self.ln_final.forward(&pooled)?.to_dtype(DType::F32)?,
            &self.proj,
        )
    }
}

fn causal_mask(len: usize, dtype: DType, device: &Device) -> Result<Tensor> {
    let mask = causal_mask_values(len);
    Ok(Tensor::from_vec(mask, (len, len), device)?.to_dtype(dtype)?)
}

/// The causal mask's elements (len × len, row-major): query i sees keys j ≤ i (0), not the
/// later ones (−∞).
pub(crate) fn causal_mask_values(len: usize) -> Vec<f32> {
    (0..len)
        .flat_map(|i| (0..len).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 }))
        .collect()
}
