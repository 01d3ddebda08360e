//! Model configuration: parsing Hugging Face `config.json`, open_clip `open_clip_config.json`
//! and SigLIP's `config.json` into one architecture description.

pub mod eva;
mod hf;
pub(in crate::model) mod json;
mod open_clip;
pub mod siglip;
mod timm;

pub(in crate::model) use hf::{hf_tower, parse_hf_preprocessor_onto};
pub use hf::{parse_hf, parse_hf_preprocessor};
pub use open_clip::parse_open_clip;

use crate::image::Preprocess;

/// The on-disk layout of a checkpoint: which weight names and conventions it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// transformers `CLIPModel` (`config.json`, `model.safetensors`), and `MetaClip2Model`
    /// (`model_type` `metaclip_2`: the same names, its own tokenizer, read at its end id).
    HuggingFace,
    /// open_clip (`open_clip_config.json`, `open_clip_model.safetensors`).
    OpenClip,
    /// transformers `SiglipModel` (`config.json` with `model_type` `siglip`): no class token, an
    /// attention-pooling head instead of ln_post and a projection, a bidirectional text tower.
    Siglip,
}

/// The MLP nonlinearity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// x·sigmoid(1.702x), OpenAI's checkpoints.
    QuickGelu,
    /// Exact erf GELU (`nn.GELU()`, HF `gelu`), LAION and DataComp checkpoints.
    Gelu,
    /// The tanh approximation (HF `gelu_new`, `gelu_pytorch_tanh`).
    GeluTanh,
    /// x·sigmoid(x) (`nn.SiLU`), the gate of EVA-02's SwiGLU MLP.
    Silu,
}

impl Activation {
    fn from_hf(name: &str) -> Option<Self> {
        match name {
            "quick_gelu" => Some(Self::QuickGelu),
            "gelu" => Some(Self::Gelu),
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Some(Self::GeluTanh),
            _ => None,
        }
    }
}

/// One transformer tower (vision or text).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TowerConfig {
    /// Residual width D.
    pub width: usize,
    /// Number of residual blocks L.
    pub layers: usize,
    /// Attention heads H per block.
    pub heads: usize,
    /// MLP hidden size.
    pub mlp_dim: usize,
    /// MLP activation.
    pub activation: Activation,
    /// LayerNorm epsilon.
    pub eps: f64,
}

impl TowerConfig {
    /// Per-head width d = D / H.
    pub fn head_dim(&self) -> usize {
        self.width / self.heads
    }
}

/// The vision tower: a tower plus its patch geometry.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VisionConfig {
    /// The transformer.
    pub tower: TowerConfig,
    /// Input side S (square).
    pub image_size: usize,
    /// Patch side p; the grid is S/p × S/p.
    pub patch_size: usize,
    /// Whether token 0 is a class token (CLIP) or the tokens are the patches alone (SigLIP).
    pub class_token: bool,
    /// Whether a LayerNorm (`ln_pre`) follows the embeddings; CLIPA has none.
    pub ln_pre: bool,
    /// Which rows of the final residual stream the image embedding reads.
    pub readout: Readout,
    /// A timm Eva trunk (open_clip `timm_model_name`) instead of open_clip's own ViT.
    pub eva: Option<crate::model::load::config::eva::EvaArch>,
}

/// The rows of the final residual stream that ln_post and the projection read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Readout {
    /// The class token's row (open_clip `pool_type` `tok`, every OpenAI-layout CLIP).
    Class,
    /// The mean of the patch rows, class token excluded, with ln_post after the mean (open_clip
    /// `pool_type` `avg` with `final_ln_after_pool`, CLIPA): every patch row is a readout row,
    /// so each component's term is its mean over the patch queries.
    PatchMean,
}

impl VisionConfig {
    /// A ViT with ln_pre, read at the class token when it has one.
    pub fn vit(
        tower: TowerConfig,
        image_size: usize,
        patch_size: usize,
        class_token: bool,
    ) -> Self {
        Self {
            tower,
            image_size,
            patch_size,
            class_token,
            ln_pre: true,
            readout: Readout::Class,
            eva: None,
        }
    }

    /// Patches per side G.
    pub fn grid(&self) -> usize {
        self.image_size / self.patch_size
    }

    /// Tokens T: 1 + G² with a class token, G² without.
    pub fn tokens(&self) -> usize {
        usize::from(self.class_token) + self.grid() * self.grid()
    }
}

/// The patch grid side G and the first patch token of T tokens: (√T, 0) when T is a square (no
/// class token), (√(T − 1), 1) when T − 1 is (a class token first). For T ≥ 2 at most one holds.
pub fn patch_grid(t: usize) -> Option<(usize, usize)> {
    let side = |n: usize| {
        let g = (n as f64).sqrt().round() as usize;
        (g > 0 && g * g == n).then_some(g)
    };
    side(t)
        .map(|g| (g, 0))
        .or_else(|| side(t.checked_sub(1)?).map(|g| (g, 1)))
}

/// The text tower: a tower plus its vocabulary and context.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TextConfig {
    /// The transformer.
    pub tower: TowerConfig,
    /// Maximum tokens per text (77 for CLIP).
    pub context_length: usize,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Whether each token sees only the ones before it (CLIP) or all of them (CLIPA).
    pub causal: bool,
    /// Where the embedding is read.
    pub pool: TextPool,
    /// A Hugging Face tokenizer named by the checkpoint instead of CLIP's BPE.
    pub hf_tokenizer: Option<HfTokenizerSpec>,
}

/// The text position the embedding is read at (open_clip's `text_global_pool`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TextPool {
    /// The first arg-max id: CLIP's end-of-text token is its vocabulary's last.
    Argmax,
    /// The first occurrence of this end-of-sequence id, position 0 without one (MetaCLIP 2).
    Eos(u32),
    /// The last position of the context, padding included (CLIPA).
    Last,
}

/// open_clip's `hf_tokenizer_name` and the settings it passes to `HFTokenizer`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HfTokenizerSpec {
    /// The tokenizer's hub repository, e.g. `bert-base-uncased`.
    pub name: String,
    /// `tokenizer_kwargs.strip_sep_token`: the separator id becomes 0 (CLIPA).
    pub strip_sep: bool,
    /// `tokenizer_kwargs.clean`: how the text is cleaned first.
    pub clean: TextClean,
}

/// open_clip's `clean` of a text before `HFTokenizer` tokenizes it (`get_clean_fn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TextClean {
    /// Whitespace runs as one space (the default).
    Whitespace,
    /// That, lower-cased.
    Lower,
    /// `canonicalize_text`: `_` as a space, ASCII punctuation removed, lower-cased, whitespace
    /// runs as one space (MetaCLIP 2 L/14).
    Canonicalize,
    /// As given: transformers' tokenizer call, which cleans nothing (a transformers-format
    /// MetaCLIP 2, whose `tokenizer.json` normalises by itself).
    Verbatim,
}

impl TextConfig {
    /// CLIP's text tower: causal, pooled at the arg-max id, CLIP's BPE.
    pub fn clip(tower: TowerConfig, context_length: usize, vocab_size: usize) -> Self {
        Self {
            tower,
            context_length,
            vocab_size,
            causal: true,
            pool: TextPool::Argmax,
            hf_tokenizer: None,
        }
    }
}

/// A whole CLIP checkpoint's architecture and preprocessing.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClipConfig {
    /// Weight layout.
    pub format: Format,
    /// Joint embedding size E.
    pub embed_dim: usize,
    /// Vision tower.
    pub vision: VisionConfig,
    /// Text tower.
    pub text: TextConfig,
    /// Image preprocessing.
    pub preprocess: Preprocess,
}

impl ClipConfig {
    /// The layers whose heads have a direct effect of the decomposed form: every vision layer
    /// of a CLIP, the one attention-pooling layer of a SigLIP.
    pub fn depth(&self) -> usize {
        match (self.format, self.pool_heads()) {
            (Format::Siglip, _) | (_, Some(_)) => 1,
            (Format::HuggingFace | Format::OpenClip, None) => self.vision.tower.layers,
        }
    }

    /// The heads of each decomposed layer: the tower's, or a PE-Core pool's own.
    pub fn heads(&self) -> usize {
        self.pool_heads().unwrap_or(self.vision.tower.heads)
    }

    /// The heads of a timm tower's attention pool (PE-Core), when it has one.
    fn pool_heads(&self) -> Option<usize> {
        match self.vision.eva.as_ref()?.pool {
            crate::model::load::config::eva::EvaPool::Map { heads } => Some(heads),
            crate::model::load::config::eva::EvaPool::Token => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_is_told_apart_with_and_without_a_class_token() {
        assert_eq!(patch_grid(50), Some((7, 1))); // ViT-B/32: CLS + 7×7
        assert_eq!(patch_grid(197), Some((14, 1))); // ViT-B/16
        assert_eq!(patch_grid(196), Some((14, 0))); // SigLIP-B/16
        assert_eq!(patch_grid(729), Some((27, 0))); // SigLIP so400m/14 at 384
        assert_eq!(patch_grid(2), Some((1, 1)));
        assert_eq!(patch_grid(3), None);
        assert_eq!(patch_grid(0), None);
    }
}
