//! EVA-02's vision tower: the timm trunk read at the class token, `norm` there and the `head`
//! projection with its bias (open_clip's `timm_proj` null: the trunk's own classifier resized to
//! the embedding), decomposed over every layer as CLIP's is.
//!
//! Ports timm 1.0 `Eva.forward_head` (`global_pool` token).

use candle_core::{DType, IndexOp, Tensor};

use super::trunk::{PREFIX, Trunk};
use crate::Result;
use crate::model::load::config::VisionConfig;
use crate::model::load::config::eva::EvaArch;
use crate::model::load::weights::Weights;
use crate::model::towers::block::Capture;
use crate::model::towers::decompose::Linearised;
use crate::model::towers::dense::Dense;
use crate::model::towers::layers::{LayerNorm, matmul};
use crate::model::towers::vision::{Kept, Trace};

/// The trunk and its projection.
pub struct EvaVision {
    trunk: Trunk,
    /// `head` as x · P (D, E) in f32, and its bias.
    proj: Tensor,
    proj_bias: Tensor,
}

impl EvaVision {
    /// Loads the tower; `cfg` names the architecture and gets the sizes the weights have.
    pub fn load(w: &Weights, cfg: &VisionConfig, arch: &EvaArch, embed_dim: usize) -> Result<Self> {
        let trunk = Trunk::load(w, cfg, arch)?;
        let dm = trunk.cfg.tower.width;
        let proj = w
            .get_as(
                &format!("{PREFIX}.head.weight"),
                &[embed_dim, dm],
                DType::F32,
            )?
            .t()?
            .contiguous()?;
        Ok(Self {
            proj_bias: w.get_as(&format!("{PREFIX}.head.bias"), &[embed_dim], DType::F32)?,
            trunk,
            proj,
        })
    }

    /// Runs the tower on normalised pixels (B, 3, S, S), capturing the layers marked in
    /// `capture` (one entry per layer).
    pub fn trace(&self, pixels: &Tensor, capture: &[Capture]) -> Result<Trace> {
        let class_row = |x: &Tensor| -> Result<Tensor> {
            Ok(x.i((.., 0))?.to_dtype(DType::F32)?.contiguous()?)
        };
        let mut x = self.trunk.embeddings(pixels)?;
        let pre = class_row(&x)?;
        let mut kept = Kept::default();
        for l in 0..self.trunk.cfg.tower.layers {
            let cap = capture.get(l).copied().unwrap_or(Capture::None);
            x = kept.keep(self.trunk.layer(l, &x, cap)?)?;
        }
        Ok(kept.trace(pre, class_row(&x)?))
    }
}

impl Linearised for EvaVision {
    fn cfg(&self) -> &VisionConfig {
        &self.trunk.cfg
    }
    fn out(&self, l: usize) -> &Dense {
        &self.trunk.block(l).out
    }
    fn ln_post(&self) -> &LayerNorm {
        &self.trunk.norm
    }
    fn proj(&self) -> (&Tensor, Option<&Tensor>) {
        (&self.proj, Some(&self.proj_bias))
    }
    fn embed(&self, residual: &Tensor) -> Result<Tensor> {
        Ok(matmul(&self.trunk.norm.forward(residual)?, &self.proj)?
            .broadcast_add(&self.proj_bias)?)
    }
    fn scaled_bias(&self, l: usize) -> Option<&Tensor> {
        self.trunk.block(l).scaled_bias.as_ref()
    }
}
