//! The SigLIP family (SigLIP, SigLIP 2 at fixed resolution): its vision tower with the
//! attention-pooling head, its text tower, its tokenizers and the pooling head's decomposition.
//!
//! Only the pooling head writes into the embedding in the decomposed form: its H heads are
//! reported as one layer (layer 0 of the decomposition, the grid's one row), each head's effect
//! split over the T patch tokens (no class token), and the head's MLP as the one MLP term.

pub mod config;
mod pooling;
pub mod spiece;
mod text;
mod tokenizer;
mod vision;

use candle_core::Tensor;

pub use text::SiglipText;
pub use tokenizer::SiglipTokenizer;
pub use vision::SiglipVision;

use super::Decomposition;
use crate::{Error, Result};

/// The pooler output p (B, E), unnormalised, for normalised pixels (B, 3, S, S).
pub fn embed(vision: &SiglipVision, pixels: &Tensor) -> Result<Tensor> {
    Ok(vision.head.forward(&vision.hidden(pixels)?)?.output)
}

/// The pooling head's decomposition in the layout of a CLIP decomposition with one layer:
/// `heads` (B, 1, H, E), `tokens` (B, 1, T, H, E) over the patches, `mlps` (B, 2, E) with row 0
/// empty (SigLIP has no embedding term after a pre-LayerNorm) and row 1 the pooling MLP; with
/// `ablation`, `attn` (B, 1, E) the heads' sum and `cls` (B, 1, E) empty (no class token).
pub fn decompose(
    vision: &SiglipVision,
    pixels: &Tensor,
    layers: &[usize],
    tokens: bool,
    ablation: bool,
) -> Result<Decomposition> {
    if layers != [0] {
        return Err(Error::Invalid(
            "a SigLIP decomposes one layer, its attention-pooling head: select layer 0".into(),
        ));
    }
    let head = &vision.head;
    let pooled = head.forward(&vision.hidden(pixels)?)?;
    let embedding = pooled.output.broadcast_div(&pooled.norm)?;
    let heads = head.heads(&pooled)?;
    let mlp = pooled.mlp.broadcast_div(&pooled.norm)?;
    let mlps = Tensor::stack(&[&mlp.zeros_like()?, &mlp], 1)?;
    let tokens = tokens
        .then(|| -> Result<Tensor> { Ok(head.tokens(&pooled)?.unsqueeze(1)?) })
        .transpose()?;
    let (attn, cls) = if ablation {
        let total = heads.sum(1)?.unsqueeze(1)?;
        (Some(total.clone()), Some(total.zeros_like()?))
    } else {
        (None, None)
    };
    Ok(Decomposition {
        layers: vec![0],
        embedding,
        heads: heads.unsqueeze(1)?.contiguous()?,
        mlps,
        tokens,
        attn,
        cls,
    })
}
