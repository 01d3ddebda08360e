//! timm's `Eva` vision trunk as open_clip wraps it (`visual.trunk.*`): patch embedding with a
//! bias, class token, absolute positions, rotary blocks, `norm` at the class token, and the
//! `head` projection with its bias (open_clip's `timm_proj` null: the trunk's own classifier
//! resized to the embedding).
//!
//! Ports timm 1.0 `Eva.forward_features` / `forward_head` (`global_pool` `token`).

use candle_core::{DType, IndexOp, Tensor};

use super::arch::EvaArch;
use super::block::EvaBlock;
use super::rope::Rope;
use crate::model::block::Capture;
use crate::model::config::VisionConfig;
use crate::model::decompose::Linearised;
use crate::model::layers::{Dense, LayerNorm, PatchEmbed, matmul};
use crate::model::vision::Trace;
use crate::model::weights::Weights;
use crate::{Error, Result};

const PREFIX: &str = "visual.trunk";

/// The trunk's weights.
pub struct EvaVision {
    /// Architecture, sizes as the weights give them.
    pub cfg: VisionConfig,
    patch: PatchEmbed,
    /// Class token plus positions, (1, T, D): the class row already holds its position.
    class: Tensor,
    pos: Tensor,
    rope: Rope,
    blocks: Vec<EvaBlock>,
    norm: LayerNorm,
    /// `head` as x · P (D, E) in f32, and its bias.
    proj: Tensor,
    proj_bias: Tensor,
}

impl EvaVision {
    /// Loads the trunk; `cfg` names the architecture and gets the sizes the weights have.
    pub fn load(w: &Weights, cfg: &VisionConfig, arch: &EvaArch, embed_dim: usize) -> Result<Self> {
        let shape = |name: &str| {
            w.shape(&format!("{PREFIX}.{name}")).ok_or_else(|| {
                Error::Model(format!(
                    "not a timm {} tower: no tensor `{PREFIX}.{name}`",
                    arch.name
                ))
            })
        };
        let dm = shape("cls_token")?.last().copied().unwrap_or(0);
        let mlp = shape("blocks.0.mlp.fc1_g.weight")?[0];
        let depth = (0..)
            .take_while(|i| {
                w.shape(&format!("{PREFIX}.blocks.{i}.norm1.weight"))
                    .is_some()
            })
            .count();
        let t = shape("pos_embed")?.get(1).copied().unwrap_or(0);
        let mut cfg = cfg.clone();
        cfg.tower.width = dm;
        cfg.tower.layers = depth;
        cfg.tower.mlp_dim = mlp;
        if dm % arch.heads != 0 || t != cfg.tokens() {
            return Err(Error::Model(format!(
                "timm {}: width {dm} for {} heads and {t} positions for {} tokens ({} px, patch {}) do not fit",
                arch.name,
                arch.heads,
                cfg.tokens(),
                cfg.image_size,
                cfg.patch_size
            )));
        }
        let p = |s: &str| format!("{PREFIX}.{s}");
        let patch = PatchEmbed::load(
            w,
            &p("patch_embed.proj.weight"),
            Some(&p("patch_embed.proj.bias")),
            dm,
            cfg.patch_size,
        )?;
        let pos = w.get(&p("pos_embed"), &[1, t, dm])?;
        let class = (w.get(&p("cls_token"), &[1, 1, dm])? + pos.narrow(1, 0, 1)?)?;
        let grid = cfg.grid();
        let rope = Rope::new(&arch.rope, dm / arch.heads, (grid, grid), pos.device())?;
        let blocks = (0..depth)
            .map(|i| EvaBlock::load(w, &p(&format!("blocks.{i}")), arch, dm, mlp))
            .collect::<Result<Vec<_>>>()?;
        let proj = w
            .get_as(&p("head.weight"), &[embed_dim, dm], DType::F32)?
            .t()?
            .contiguous()?;
        Ok(Self {
            norm: LayerNorm::load(w, &p("norm"), dm, arch.eps)?,
            proj_bias: w.get_as(&p("head.bias"), &[embed_dim], DType::F32)?,
            pos: pos.narrow(1, 1, t - 1)?,
            cfg,
            patch,
            class,
            rope,
            blocks,
            proj,
        })
    }

    /// Runs the trunk on normalised pixels (B, 3, S, S), capturing the layers marked in
    /// `capture` (one entry per layer).
    pub fn trace(&self, pixels: &Tensor, capture: &[Capture]) -> Result<Trace> {
        let (b, dm) = (pixels.dim(0)?, self.cfg.tower.width);
        let patches = self.patch.forward(pixels)?.broadcast_add(&self.pos)?;
        let class = self.class.broadcast_as((b, 1, dm))?;
        let mut x = Tensor::cat(&[&class, &patches], 1)?;
        let pre = x.i((.., 0))?.to_dtype(DType::F32)?.contiguous()?;
        let f32 = |t: Option<Tensor>| t.map(|t| t.to_dtype(DType::F32)).transpose();
        let (mut mlp_cls, mut head_cls, mut tokens, mut cls_self) =
            (vec![], vec![], vec![], vec![]);
        for (l, block) in self.blocks.iter().enumerate() {
            let out = block.forward(
                &x,
                &self.rope,
                capture.get(l).copied().unwrap_or(Capture::None),
            )?;
            mlp_cls.push(out.mlp_cls.to_dtype(DType::F32)?);
            head_cls.push(f32(out.head_cls)?);
            cls_self.push(f32(out.cls_self)?);
            tokens.push(out.tokens);
            x = out.x;
        }
        Ok(Trace {
            pre,
            mlp_cls,
            head_cls,
            tokens,
            cls_self,
            residual: x.i((.., 0))?.to_dtype(DType::F32)?.contiguous()?,
        })
    }
}

impl Linearised for EvaVision {
    fn cfg(&self) -> &VisionConfig {
        &self.cfg
    }
    fn out(&self, l: usize) -> &Dense {
        &self.blocks[l].out
    }
    fn ln_post(&self) -> &LayerNorm {
        &self.norm
    }
    fn proj(&self) -> (&Tensor, Option<&Tensor>) {
        (&self.proj, Some(&self.proj_bias))
    }
    fn embed(&self, residual: &Tensor) -> Result<Tensor> {
        Ok(matmul(&self.norm.forward(residual)?, &self.proj)?.broadcast_add(&self.proj_bias)?)
    }
}
