//! timm's `Eva` trunk as open_clip wraps it (`visual.trunk.*`): patch embedding, class token,
//! absolute positions, `norm_pre`, the rotary blocks and the final `norm`, with the sizes read from
//! the weights (the timm model name gives the rest, [`super::arch`]).
//!
//! Ports timm 1.0 `Eva.forward_features` (`_pos_embed`: positions on the class token too, the
//! rotary table of the patch grid).

use candle_core::Tensor;

use super::block::EvaBlock;
use super::rope::Rope;
use crate::model::load::config::VisionConfig;
use crate::model::load::config::eva::EvaArch;
use crate::model::load::weights::Weights;
use crate::model::towers::block::{BlockOut, Capture};
use crate::model::towers::layers::LayerNorm;
use crate::model::towers::patch_embed::PatchEmbed;
use crate::{Error, Result};

/// Where open_clip keeps the trunk.
pub const PREFIX: &str = "visual.trunk";

/// The trunk's weights.
pub struct Trunk {
    /// Architecture, sizes as the weights give them.
    pub cfg: VisionConfig,
    patch: PatchEmbed,
    /// Class token plus its position, (1, 1, D).
    class: Option<Tensor>,
    /// The patches' positions, (1, N, D).
    pos: Tensor,
    norm_pre: Option<LayerNorm>,
    rope: Option<Rope>,
    blocks: Vec<EvaBlock>,
    /// The final `norm` (applied by the caller: at the class row, or on every token).
    pub norm: LayerNorm,
}

impl Trunk {
    /// Loads the trunk; `cfg` names the architecture and gets the sizes the weights have.
    pub fn load(w: &Weights, cfg: &VisionConfig, arch: &EvaArch) -> Result<Self> {
        let p = |s: &str| format!("{PREFIX}.{s}");
        let cfg = sized(w, cfg, arch)?;
        let (t, dm, depth, mlp) = (
            cfg.tokens(),
            cfg.tower.width,
            cfg.tower.layers,
            cfg.tower.mlp_dim,
        );
        let bias = arch.patch_bias.then(|| p("patch_embed.proj.bias"));
        let patch = PatchEmbed::load(
            w,
            &p("patch_embed.proj.weight"),
            bias.as_deref(),
            dm,
            cfg.patch_size,
        )?;
        let pos = w.get(&p("pos_embed"), &[1, t, dm])?;
        let prefix = usize::from(arch.class_token);
        let class = arch
            .class_token
            .then(|| -> Result<Tensor> {
                Ok((w.get(&p("cls_token"), &[1, 1, dm])? + pos.narrow(1, 0, 1)?)?)
            })
            .transpose()?;
        let grid = cfg.grid();
        let rope = arch
            .rope
            .as_ref()
            .map(|spec| Rope::new(spec, dm / arch.heads, (grid, grid), pos.device()))
            .transpose()?;
        let norm_pre = arch
            .norm_pre
            .then(|| LayerNorm::load(w, &p("norm_pre"), dm, arch.eps))
            .transpose()?;
        let blocks = (0..depth)
            .map(|i| EvaBlock::load(w, &p(&format!("blocks.{i}")), arch, dm, mlp))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            norm: LayerNorm::load(w, &p("norm"), dm, arch.eps)?,
            pos: pos.narrow(1, prefix, t - prefix)?,
            cfg,
            patch,
            class,
            norm_pre,
            rope,
            blocks,
        })
    }

    /// The blocks' maps from merged heads to the residual, for the decomposition.
    pub fn block(&self, l: usize) -> &EvaBlock {
        &self.blocks[l]
    }

    /// The embeddings of normalised pixels (B, 3, S, S): class token and patches with their
    /// positions, after `norm_pre` (B, T, D).
    pub fn embeddings(&self, pixels: &Tensor) -> Result<Tensor> {
        let patches = self.patch.forward(pixels)?.broadcast_add(&self.pos)?;
        let x = match &self.class {
            Some(class) => {
                let (b, _, dm) = patches.dims3()?;
                Tensor::cat(&[&class.broadcast_as((b, 1, dm))?, &patches], 1)?
            }
            None => patches,
        };
        match &self.norm_pre {
            Some(ln) => ln.forward(&x),
            None => Ok(x),
        }
    }

    /// Block `l` on the residual stream `x` (B, T, D), keeping what `capture` asks for.
    pub fn layer(&self, l: usize, x: &Tensor, capture: Capture) -> Result<BlockOut> {
        self.blocks[l].forward(x, self.rope.as_ref(), capture)
    }

    /// The last residual stream (before `norm`) of normalised pixels, nothing kept.
    pub fn forward(&self, pixels: &Tensor) -> Result<Tensor> {
        let mut x = self.embeddings(pixels)?;
        for l in 0..self.blocks.len() {
            x = self.layer(l, &x, Capture::None)?.x;
        }
        Ok(x)
    }
}

/// `cfg` with the width, depth and MLP width `w` has (the timm name fixes only the rest), checked
/// against the name's heads and the image's tokens.
fn sized(w: &Weights, cfg: &VisionConfig, arch: &EvaArch) -> Result<VisionConfig> {
    let p = |s: &str| format!("{PREFIX}.{s}");
    let shape = |name: &str| {
        w.shape(&p(name)).ok_or_else(|| {
            Error::Model(format!(
                "not a timm {} tower: no tensor `{}`",
                arch.name,
                p(name)
            ))
        })
    };
    let pos_shape = shape("pos_embed")?;
    let [1, t, dm] = pos_shape[..] else {
        return Err(Error::Model(format!(
            "`{}` has shape {pos_shape:?}",
            p("pos_embed")
        )));
    };
    let fc1 = if arch.swiglu { "fc1_g" } else { "fc1" };
    let mut cfg = cfg.clone();
    cfg.tower.width = dm;
    cfg.tower.layers = (0..)
        .take_while(|i| w.shape(&p(&format!("blocks.{i}.norm1.weight"))).is_some())
        .count();
    cfg.tower.mlp_dim = shape(&format!("blocks.0.mlp.{fc1}.weight"))?[0];
    cfg.class_token = arch.class_token;
    if !dm.is_multiple_of(arch.heads) || t != cfg.tokens() {
        return Err(Error::Model(format!(
            "timm {}: width {dm} for {} heads and {t} positions for {} tokens ({} px, patch {}) do not fit",
            arch.name,
            arch.heads,
            cfg.tokens(),
            cfg.image_size,
            cfg.patch_size
        )));
    }
    Ok(cfg)
}
