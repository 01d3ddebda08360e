//! The CLIP vision tower (ViT with a CLS token, ln_pre, ln_post and a bias-free projection),
//! recording what the per-head decomposition needs on the way.
//!
//! Ports transformers' `CLIPVisionTransformer` / open_clip's `VisionTransformer.forward`; the
//! tensor names mirror the checkpoint (REFERENCE.md §3). CLIPA's variant (open_clip
//! `no_ln_pre`, `pool_type` `avg`, `final_ln_after_pool`) has no ln_pre and reads the mean of the
//! patch rows (`VisionTransformer._global_pool`: `x[:, 1:].mean(dim=1)`) instead of the class
//! token's, ln_post after the mean.

use candle_core::{DType, IndexOp, Tensor};

use super::block::{Block, BlockOut, Capture, Rows};
use super::layers::{LayerNorm, matmul};
use super::patch_embed::PatchEmbed;
use crate::Result;
use crate::model::load::config::{Format, Readout, VisionConfig};
use crate::model::load::weights::Weights;

/// The vision tower's weights.
pub struct VisionTower {
    /// Architecture.
    pub cfg: VisionConfig,
    /// The patch embedding (`conv1`, bias-free).
    patch: PatchEmbed,
    /// CLS embedding (1, 1, D).
    class: Tensor,
    /// Positions (1, T, D).
    pos: Tensor,
    ln_pre: Option<LayerNorm>,
    /// Residual blocks.
    pub blocks: Vec<Block>,
    /// ln_post (γ, β in f32).
    pub ln_post: LayerNorm,
    /// Projection P (D, E) in f32, used as x · P.
    pub proj: Tensor,
}

/// What one forward pass leaves for the decomposition (all f32 except the captures).
pub struct Trace {
    /// The readout row after ln_pre (B, D): the class token's, or the patches' mean.
    pub pre: Tensor,
    /// MLP output at CLS per layer (B, D).
    pub mlp_cls: Vec<Tensor>,
    /// Per-layer per-head CLS outputs (B, H, d), for the captured layers.
    pub head_cls: Vec<Option<Tensor>>,
    /// Per-layer CLS attention row and values, for the captured layers.
    pub tokens: Vec<Option<(Tensor, Tensor)>>,
    /// Per-layer per-head CLS self-attention term (B, H, d), for the captured layers.
    pub cls_self: Vec<Option<Tensor>>,
    /// Per-layer factor (B) of a bias part the readout row gets scaled (a post-norm's 1/σ), for
    /// the captured layers that have one.
    pub bias_scale: Vec<Option<Tensor>>,
    /// Final readout residual r before ln_post (B, D).
    pub residual: Tensor,
}

/// A trace's per-layer parts, kept block by block (in f32).
#[derive(Default)]
pub struct Kept {
    mlp_cls: Vec<Tensor>,
    head_cls: Vec<Option<Tensor>>,
    tokens: Vec<Option<(Tensor, Tensor)>>,
    cls_self: Vec<Option<Tensor>>,
    bias_scale: Vec<Option<Tensor>>,
}

impl Kept {
    /// Keeps what a block's output leaves for the decomposition; the residual stream after it.
    pub fn keep(&mut self, out: BlockOut) -> Result<Tensor> {
        let f32 = |t: Option<Tensor>| t.map(|t| t.to_dtype(DType::F32)).transpose();
        self.mlp_cls.push(out.mlp_cls.to_dtype(DType::F32)?);
        self.head_cls.push(f32(out.head_cls)?);
        self.cls_self.push(f32(out.cls_self)?);
        self.bias_scale.push(f32(out.bias_scale)?);
        let tokens = out
            .tokens
            .map(|(a, v)| -> Result<_> { Ok((a.to_dtype(DType::F32)?, v.to_dtype(DType::F32)?)) });
        self.tokens.push(tokens.transpose()?);
        Ok(out.x)
    }

    /// The trace from the embeddings' readout row `pre` to the last one, `residual`.
    pub fn trace(self, pre: Tensor, residual: Tensor) -> Trace {
        Trace {
            pre,
            mlp_cls: self.mlp_cls,
            head_cls: self.head_cls,
            tokens: self.tokens,
            cls_self: self.cls_self,
            bias_scale: self.bias_scale,
            residual,
        }
    }
}

impl VisionTower {
    /// Loads the vision tower of a checkpoint in `format`.
    pub fn load(w: &Weights, format: Format, cfg: &VisionConfig, embed_dim: usize) -> Result<Self> {
        let (dm, p, t) = (cfg.tower.width, cfg.patch_size, cfg.tokens());
        let names = match format {
            Format::HuggingFace | Format::Siglip => [
                "vision_model.embeddings.patch_embedding.weight",
                "vision_model.embeddings.class_embedding",
                "vision_model.embeddings.position_embedding.weight",
                "vision_model.pre_layrnorm",
                "vision_model.post_layernorm",
            ],
            Format::OpenClip => [
                "visual.conv1.weight",
                "visual.class_embedding",
                "visual.positional_embedding",
                "visual.ln_pre",
                "visual.ln_post",
            ],
        };
        let patch = PatchEmbed::load(w, names[0], None, dm, p)?;
        let class = w.get(names[1], &[dm])?.reshape((1, 1, dm))?;
        let pos = w.get(names[2], &[t, dm])?.reshape((1, t, dm))?;
        let eps = cfg.tower.eps;
        let ln_pre = cfg
            .ln_pre
            .then(|| LayerNorm::load(w, names[3], dm, eps))
            .transpose()?;
        let ln_post = LayerNorm::load(w, names[4], dm, eps)?;
        let proj = match format {
            Format::HuggingFace | Format::Siglip => w
                .get_as("visual_projection.weight", &[embed_dim, dm], DType::F32)?
                .t()?
                .contiguous()?,
            Format::OpenClip => w.get_as("visual.proj", &[dm, embed_dim], DType::F32)?,
        };
        let blocks = (0..cfg.tower.layers)
            .map(|i| {
                let prefix = match format {
                    Format::HuggingFace | Format::Siglip => {
                        format!("vision_model.encoder.layers.{i}")
                    }
                    Format::OpenClip => format!("visual.transformer.resblocks.{i}"),
                };
                Block::load(w, format, &prefix, &cfg.tower)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            cfg: cfg.clone(),
            patch,
            class,
            pos,
            ln_pre,
            blocks,
            ln_post,
            proj,
        })
    }

    /// Runs the tower on normalised pixels (B, 3, S, S), capturing the layers marked in
    /// `capture` (one entry per layer).
    pub fn trace(&self, pixels: &Tensor, capture: &[Capture]) -> Result<Trace> {
        let (b, dm) = (pixels.dim(0)?, self.cfg.tower.width);
        let patches = self.patch.forward(pixels)?;
        let class = self.class.broadcast_as((b, 1, dm))?;
        let x = Tensor::cat(&[&class, &patches], 1)?.broadcast_add(&self.pos)?;
        let mut x = match &self.ln_pre {
            Some(ln) => ln.forward(&x)?,
            None => x,
        };
        let pre = self.read(&x)?;
        let n = self.blocks.len();
        let mut kept = Kept::default();
        for (l, block) in self.blocks.iter().enumerate() {
            let cap = capture.get(l).copied().unwrap_or(Capture::None);
            let rows = match self.cfg.readout {
                Readout::PatchMean => Rows::PatchMean,
                Readout::Class if l + 1 == n => Rows::ClassOnly,
                Readout::Class => Rows::All,
            };
            x = kept.keep(block.forward(&x, None, cap, rows)?)?;
        }
        Ok(kept.trace(pre, self.read(&x)?))
    }

    /// The readout row of a residual stream (B, T, D) in f32: the class token's row, or the
    /// mean of the patch rows.
    fn read(&self, x: &Tensor) -> Result<Tensor> {
        Ok(match self.cfg.readout {
            Readout::Class => x.i((.., 0))?.to_dtype(DType::F32)?,
            Readout::PatchMean => super::block::patch_mean(x)?,
        })
    }

    /// The unnormalised image embedding e = ln_post(r) · P (B, E) from the final CLS residual.
    pub fn embed(&self, residual: &Tensor) -> Result<Tensor> {
        matmul(&self.ln_post.forward(residual)?, &self.proj)
    }
}
