//! The SigLIP vision tower: patch embedding (with a bias), learned positions, no class token,
//! pre-LayerNorm blocks, `post_layernorm`, then the attention-pooling head ([`PoolingHead`]).
//!
//! Ports transformers' `SiglipVisionEmbeddings.forward` and `SiglipVisionTransformer.forward`
//! (modeling_siglip.py); tensor names mirror the checkpoint.

use candle_core::{DType, Tensor};

use crate::Result;
use crate::model::load::config::{Format, VisionConfig};
use crate::model::load::weights::Weights;
use crate::model::towers::block::{Block, Capture, Rows};
use crate::model::towers::layers::LayerNorm;
use crate::model::towers::patch_embed::PatchEmbed;
use crate::model::towers::pooling::PoolingHead;

/// The SigLIP vision tower's weights.
pub struct SiglipVision {
    /// Architecture.
    pub cfg: VisionConfig,
    /// The patch embedding (the conv with its bias).
    patch: PatchEmbed,
    /// Positions (1, T, D).
    pos: Tensor,
    blocks: Vec<Block>,
    post_layernorm: LayerNorm,
    /// `vision_model.head`.
    pub head: PoolingHead,
}

impl SiglipVision {
    /// Loads `vision_model.*`.
    pub fn load(w: &Weights, cfg: &VisionConfig) -> Result<Self> {
        let (dm, p, t) = (cfg.tower.width, cfg.patch_size, cfg.tokens());
        let blocks = (0..cfg.tower.layers)
            .map(|i| {
                Block::load(
                    w,
                    Format::Siglip,
                    &format!("vision_model.encoder.layers.{i}"),
                    &cfg.tower,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            cfg: cfg.clone(),
            patch: PatchEmbed::load(
                w,
                "vision_model.embeddings.patch_embedding.weight",
                Some("vision_model.embeddings.patch_embedding.bias"),
                dm,
                p,
            )?,
            pos: w
                .get(
                    "vision_model.embeddings.position_embedding.weight",
                    &[t, dm],
                )?
                .reshape((1, t, dm))?,
            blocks,
            post_layernorm: LayerNorm::load(w, "vision_model.post_layernorm", dm, cfg.tower.eps)?,
            head: PoolingHead::load(w, "vision_model.head", &cfg.tower)?,
        })
    }

    /// The last hidden state after `post_layernorm` (B, T, D) in f32, for normalised pixels
    /// (B, 3, S, S): what the pooling head reads.
    pub fn hidden(&self, pixels: &Tensor) -> Result<Tensor> {
        // SiglipVisionEmbeddings: the conv (with its bias), then the positions.
        let patches = self.patch.forward(pixels)?;
        let mut x = patches.broadcast_add(&self.pos)?;
        for block in &self.blocks {
            x = block.forward(&x, None, Capture::None, Rows::All)?.x;
        }
        Ok(self.post_layernorm.forward(&x)?.to_dtype(DType::F32)?)
    }
}
