//! The CLIP text tower: token and position embeddings, a causal transformer, the final
//! LayerNorm at the end-of-text token and the text projection.
//!
//! Ports transformers' `CLIPTextTransformer` / open_clip's `TextTransformer.forward`; both pool at
//! the first end-of-text token (the arg-max id in CLIP's vocabulary). open_clip's variants read
//! elsewhere (`text_global_pool`: the first `eos_id`, or the context's last position) and may
//! drop the causal mask (`no_causal_mask`, CLIPA); without it the padding is seen, so the tower
//! runs on the whole context as open_clip does.

use candle_core::{DType, Device, IndexOp, Tensor};

use super::block::{Block, Capture, Rows};
use super::layers::{LayerNorm, matmul};
use crate::model::load::config::{Format, TextConfig, TextPool};
use crate::model::load::weights::Weights;
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
        // open_clip's CustomTextCLIP (timm vision towers) keeps the text tower under `text.`.
        let custom = format == Format::OpenClip && w.shape("text.token_embedding.weight").is_some();
        let owned = |n: &str| {
            if custom {
                format!("text.{n}")
            } else {
                n.to_string()
            }
        };
        let (tok, pos, ln, prefix) = (owned(tok), owned(pos), owned(ln), owned(prefix));
        let proj = match format {
            Format::HuggingFace | Format::Siglip => w
                .get_as("text_projection.weight", &[embed_dim, dm], DType::F32)?
                .t()?
                .contiguous()?,
            Format::OpenClip => {
                w.get_as(&owned("text_projection"), &[dm, embed_dim], DType::F32)?
            }
        };
        let blocks = (0..cfg.tower.layers)
            .map(|i| Block::load(w, format, &format!("{prefix}.{i}"), &cfg.tower))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            cfg: cfg.clone(),
            token: w.get(&tok, &[cfg.vocab_size, dm])?,
            pos: w.get(&pos, &[cfg.context_length, dm])?,
            blocks,
            ln_final: LayerNorm::load(w, &ln, dm, cfg.tower.eps)?,
            proj,
        })
    }

    /// Unnormalised text embeddings (N, E) for token id sequences from the tokenizer (special
    /// tokens included; CLIP's unpadded, a Hugging Face tokenizer's padded to the context).
    pub fn forward(&self, ids: &[Vec<u32>]) -> Result<Tensor> {
        let device = self.token.device();
        let longest = ids.iter().map(Vec::len).max().unwrap_or(0);
        // Causal and read at a token: what follows it never reaches it, so shorter is the same.
        let len = match self.cfg.causal && self.cfg.pool != TextPool::Last {
            true => longest,
            false => self.cfg.context_length,
        };
        if longest == 0 || longest > self.cfg.context_length {
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
        // Right-pad with 0 (open_clip's pad id; under the causal mask it never reaches the pool).
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
        let mask = match self.cfg.causal {
            true => Some(causal_mask(len, x.dtype(), device)?),
            false => None,
        };
        for block in &self.blocks {
            x = block
                .forward(&x, mask.as_ref(), Capture::None, Rows::All)?
                .x;
        }
        let pool = |s: &Vec<u32>| match self.cfg.pool {
            TextPool::Argmax => {
                let max = s.iter().copied().max().unwrap_or(0);
                s.iter().position(|&id| id == max).unwrap_or(0)
            }
            TextPool::Eos(eos) => s.iter().position(|&id| id == eos).unwrap_or(0),
            TextPool::Last => len - 1,
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
