//! The SigLIP family (SigLIP, SigLIP 2 at fixed resolution): its vision tower with the
//! attention-pooling head, its text tower, its tokenizers and the pooling head's decomposition.
//!
//! Only the pooling head writes into the embedding in the decomposed form: its H heads are
//! reported as one layer (layer 0 of the decomposition, the grid's one row), each head's effect
//! split over the T patch tokens (no class token), and the head's MLP as the one MLP term.

mod text;
mod vision;

use candle_core::Tensor;

pub use text::SiglipText;
pub use vision::SiglipVision;

use crate::Result;
use crate::model::towers::decompose::{Decomposition, Wanted};

/// The pooler output p (B, E), unnormalised, for normalised pixels (B, 3, S, S).
pub fn embed(vision: &SiglipVision, pixels: &Tensor) -> Result<Tensor> {
    Ok(vision.head.forward(&vision.hidden(pixels)?)?.output)
}

/// The pooling head's decomposition (`towers::pooling::decompose`).
pub fn decompose(vision: &SiglipVision, pixels: &Tensor, wanted: Wanted) -> Result<Decomposition> {
    let hidden = vision.hidden(pixels)?;
    crate::model::towers::pooling::decompose(&vision.head, &hidden, false, wanted)
}
