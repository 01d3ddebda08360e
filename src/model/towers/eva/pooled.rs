//! PE-Core's vision tower: the timm trunk, `norm` on every token, then an attention-pooling head
//! (timm `AttentionPoolLatent`) and the `head` projection with its bias. Only the pool writes into
//! the embedding in the decomposed form, so it is decomposed as SigLIP's is: its heads are layer 0,
//! each split over the tokens it attends to ([`crate::model::towers::pooling`]).
//!
//! Ports timm 1.0 `Eva.forward_head` (`global_pool` map).

use candle_core::{DType, Tensor};

use super::trunk::{PREFIX, Trunk};
use crate::model::load::config::eva::{EvaArch, EvaPool};
use crate::model::load::config::{Activation, TowerConfig, VisionConfig};
use crate::model::load::weights::Weights;
use crate::model::towers::decompose::{Decomposition, Wanted};
use crate::model::towers::dense::Dense;
use crate::model::towers::pooling::{self, PoolingHead};
use crate::{Error, Result};

/// The trunk and its pooling head (with the projection).
pub struct PooledVision {
    trunk: Trunk,
    head: PoolingHead,
}

impl PooledVision {
    /// Loads the tower; `cfg` names the architecture and gets the sizes the weights have.
    pub fn load(w: &Weights, cfg: &VisionConfig, arch: &EvaArch, embed_dim: usize) -> Result<Self> {
        let EvaPool::Map { heads } = arch.pool else {
            return Err(Error::Model(format!(
                "timm {}: not an attention-pooling tower",
                arch.name
            )));
        };
        let trunk = Trunk::load(w, cfg, arch)?;
        let dm = trunk.cfg.tower.width;
        let pool = format!("{PREFIX}.attn_pool");
        let mlp = w
            .shape(&format!("{pool}.mlp.fc1.weight"))
            .and_then(|s| s.first().copied())
            .ok_or_else(|| {
                Error::Model(format!(
                    "timm {}: no tensor `{pool}.mlp.fc1.weight`",
                    arch.name
                ))
            })?;
        let pool_cfg = TowerConfig {
            width: dm,
            layers: 1,
            heads,
            mlp_dim: mlp,
            activation: Activation::Gelu,
            eps: arch.eps,
        };
        let proj = Dense::from_torch(
            &w.get_as(
                &format!("{PREFIX}.head.weight"),
                &[embed_dim, dm],
                DType::F32,
            )?,
            w.get_as(&format!("{PREFIX}.head.bias"), &[embed_dim], DType::F32)?,
        )?;
        Ok(Self {
            head: PoolingHead::load_timm(w, &pool, &pool_cfg, proj)?,
            trunk,
        })
    }

    /// Architecture with the weights' sizes (the trunk's; the decomposed layer is the pool).
    pub fn cfg(&self) -> &VisionConfig {
        &self.trunk.cfg
    }

    /// The normalised tokens the pool attends to (B, T, D), in f32.
    fn hidden(&self, pixels: &Tensor) -> Result<Tensor> {
        let x = self.trunk.forward(pixels)?;
        Ok(self.trunk.norm.forward(&x)?.to_dtype(DType::F32)?)
    }

    /// The unnormalised embedding p · P + b (B, E).
    pub fn embed(&self, pixels: &Tensor) -> Result<Tensor> {
        Ok(self.head.forward(&self.hidden(pixels)?)?.output)
    }

    /// The pool's decomposition (layer 0 its heads; mlps row 0 the projection's bias).
    pub fn decompose(&self, pixels: &Tensor, wanted: Wanted) -> Result<Decomposition> {
        let hidden = self.hidden(pixels)?;
        pooling::decompose(&self.head, &hidden, self.trunk.cfg.class_token, wanted)
    }
}
