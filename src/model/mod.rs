//! The CLIP-like model: configuration, weights, both towers, the tokenizer and the
//! decomposition, for CLIP (Hugging Face and open_clip layouts), SigLIP and timm's Eva trunks.
//!
//! In three wings: [`load`] (configs, checkpoint files, weights, tokenizers, the Hub),
//! [`towers`] (the reference forward passes and the decomposition, one module per block kind
//! and family) and [`kernels`] (the CPU fast paths: f32 and bf16 products and attention, which
//! the towers reach through `Dense` and the attention's one dispatch). This file holds [`Clip`],
//! the loaded model the rest of clipscope calls.

pub mod kernels;
pub mod load;
pub mod towers;

use candle_core::{DType, Device, Tensor};

pub use kernels::f32_ops::gemm_into;
pub use load::config::{Activation, ClipConfig, Format};
pub use load::files::ModelFiles;
pub use load::selection::LayerSelection;
use load::tokenizer::{ClipTokenizer, TextTokenizer};
use load::{hf_tokenizer, source, weights};
pub use towers::block::Capture;
pub use towers::decompose::{Decomposition, Wanted};
use towers::{decompose, eva, siglip, text, vision};

use crate::image::Preprocess;
use crate::{Error, Result};

/// A loaded CLIP checkpoint, ready to embed and decompose.
pub struct Clip {
    /// Where it came from (hub id, alias or directory).
    pub name: String,
    /// Architecture and preprocessing.
    pub config: ClipConfig,
    /// Identifies the weights (their paths, sizes and modification times) and the dtype, for
    /// caches of computed values.
    pub fingerprint: String,
    towers: Towers,
    device: Device,
}

/// The two towers and the tokenizer of one family.
enum Towers {
    Clip {
        vision: Box<ClipVision>,
        text: Box<text::TextTower>,
        tokenizer: Option<Box<TextTokenizer>>,
    },
    Siglip {
        vision: Box<siglip::SiglipVision>,
        text: Box<siglip::SiglipText>,
        tokenizer: Option<Box<load::siglip_tokenizer::SiglipTokenizer>>,
    },
}

/// A vision tower with a CLIP-layout text tower: open_clip's or transformers' ViT or a timm Eva
/// trunk, read at one row (with ln_post and the projection folded for the decomposition), or a
/// timm trunk pooled by an attention head (PE-Core).
enum ClipVision {
    Vit(vision::VisionTower, decompose::Folds),
    Eva(eva::EvaVision, decompose::Folds),
    Pooled(eva::PooledVision),
}

impl ClipVision {
    /// Loads the tower `config` names, giving `config` the sizes the weights have.
    fn load(w: &weights::Weights, config: &mut ClipConfig) -> Result<Self> {
        use decompose::Linearised;
        let e = config.embed_dim;
        let Some(arch) = config.vision.eva.clone() else {
            let v = vision::VisionTower::load(w, config.format, &config.vision, e)?;
            let folds = decompose::Folds::new(&v)?;
            return Ok(Self::Vit(v, folds));
        };
        Ok(match arch.pool {
            crate::model::load::config::eva::EvaPool::Token => {
                let v = eva::EvaVision::load(w, &config.vision, &arch, e)?;
                config.vision = v.cfg().clone();
                let folds = decompose::Folds::new(&v)?;
                Self::Eva(v, folds)
            }
            crate::model::load::config::eva::EvaPool::Map { .. } => {
                let v = eva::PooledVision::load(w, &config.vision, &arch, e)?;
                config.vision = v.cfg().clone();
                Self::Pooled(v)
            }
        })
    }

    /// The decomposition of `layers` (of `n`) for normalised pixels.
    fn decompose(&self, pixels: &Tensor, wanted: Wanted, n: usize) -> Result<Decomposition> {
        let capture = decompose::captures(wanted, n);
        match self {
            Self::Vit(v, folds) => {
                decompose::decompose(v, folds, &v.trace(pixels, &capture)?, wanted)
            }
            Self::Eva(v, folds) => {
                decompose::decompose(v, folds, &v.trace(pixels, &capture)?, wanted)
            }
            Self::Pooled(v) => v.decompose(pixels, wanted),
        }
    }

    /// The unnormalised image embeddings (B, E).
    fn embed(&self, pixels: &Tensor) -> Result<Tensor> {
        use decompose::Linearised;
        match self {
            Self::Vit(v, _) => v.embed(&v.trace(pixels, &[])?.residual),
            Self::Eva(v, _) => v.embed(&v.trace(pixels, &[])?.residual),
            Self::Pooled(v) => v.embed(pixels),
        }
    }
}

impl Clip {
    /// Loads a checkpoint's files onto `device`, computing in `dtype`.
    pub fn load(files: &ModelFiles, device: &Device, dtype: DType) -> Result<Self> {
        let mut config = files.config()?;
        if let Some(p) = source::find_alias(&files.name).and_then(|a| a.pretrained) {
            let pre = &mut config.preprocess;
            if (pre.mean, pre.std, pre.resample, pre.mode) != (p.mean, p.std, p.resample, p.mode) {
                eprintln!(
                    "clipscope: {}: using mean {:?} / std {:?}, {} resampling, {} resize \
                     (open_clip's values for this checkpoint) instead of the repository's",
                    crate::untrusted::field(&files.name),
                    p.mean,
                    p.std,
                    format!("{:?}", p.resample).to_lowercase(),
                    format!("{:?}", p.mode).to_lowercase(),
                );
            }
            (pre.mean, pre.std, pre.resample, pre.mode) = (p.mean, p.std, p.resample, p.mode);
            // open_clip's `pretrained.py` turns QuickGELU on for the checkpoint (the model config
            // of the same name does not say so).
            if p.quick_gelu && config.format == Format::OpenClip {
                config.vision.tower.activation = Activation::QuickGelu;
                config.text.tower.activation = Activation::QuickGelu;
            }
        }
        Self::from_config(files, config, device, dtype)
    }

    /// Loads weights for an already parsed configuration.
    pub fn from_config(
        files: &ModelFiles,
        mut config: ClipConfig,
        device: &Device,
        dtype: DType,
    ) -> Result<Self> {
        let w = weights::Weights::open(&files.weights, dtype, device)?;
        let towers = if config.format == Format::Siglip {
            let tokenizer = (files.spiece.is_some() || files.tokenizer.is_some())
                .then(|| {
                    load::siglip_tokenizer::SiglipTokenizer::load(
                        files.spiece.as_deref(),
                        files.tokenizer.as_deref(),
                        files.tokenizer_config.as_deref(),
                        config.text.context_length,
                    )
                    .map(Box::new)
                })
                .transpose()?;
            Towers::Siglip {
                vision: Box::new(siglip::SiglipVision::load(&w, &config.vision)?),
                text: Box::new(siglip::SiglipText::load(
                    &w,
                    &config.text,
                    config.embed_dim,
                )?),
                tokenizer,
            }
        } else {
            let vision = ClipVision::load(&w, &mut config)?;
            let text = text::TextTower::load(&w, config.format, &config.text, config.embed_dim)?;
            let context = config.text.context_length;
            let tokenizer = match (&config.text.hf_tokenizer, files.tokenizer.as_deref()) {
                (_, None) => None,
                (None, Some(p)) => Some(TextTokenizer::Bpe(ClipTokenizer::load(p, context)?)),
                (Some(spec), Some(p)) => Some(TextTokenizer::Hf(hf_tokenizer::HfTokenizer::load(
                    p,
                    files.tokenizer_config.as_deref(),
                    spec,
                    context,
                )?)),
            };
            let tokenizer = tokenizer.map(Box::new);
            Towers::Clip {
                vision: Box::new(vision),
                text: Box::new(text),
                tokenizer,
            }
        };
        Ok(Self {
            name: files.name.clone(),
            fingerprint: fingerprint(&files.weights, dtype),
            config,
            towers,
            device: device.clone(),
        })
    }

    /// The device the model runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The image preprocessing of this checkpoint.
    pub fn preprocess(&self) -> &Preprocess {
        &self.config.preprocess
    }

    /// Stacks preprocessed images (each 3·S·S values) into a (B, 3, S, S) tensor.
    pub fn pixels(&self, images: &[Vec<f32>]) -> Result<Tensor> {
        let s = self.config.vision.image_size;
        let (b, n) = (images.len(), 3 * s * s);
        if let Some(bad) = images.iter().find(|i| i.len() != n) {
            return Err(Error::Invalid(format!(
                "pixel buffer of {} values, expected 3x{s}x{s}",
                bad.len()
            )));
        }
        let flat: Vec<f32> = images.iter().flatten().copied().collect();
        Ok(Tensor::from_vec(flat, (b, 3, s, s), &self.device)?)
    }

    /// Decomposes a batch of normalised pixels (B, 3, S, S).
    pub fn decompose(
        &self,
        pixels: &Tensor,
        layers: &[usize],
        tokens: bool,
    ) -> Result<Decomposition> {
        self.decompose_with(
            pixels,
            Wanted {
                layers,
                tokens,
                ablation: false,
            },
        )
    }

    /// The decomposition `wanted` asks for (with an ablation also every layer's attention total
    /// and class-token self term) of normalised pixels (B, 3, S, S).
    pub fn decompose_with(&self, pixels: &Tensor, wanted: Wanted) -> Result<Decomposition> {
        let layers = wanted.layers;
        let n = self.config.depth();
        if let Some(&bad) = layers.iter().find(|&&l| l >= n) {
            return Err(Error::Invalid(format!(
                "layer {bad} does not exist: the model has layers 0..{}",
                n - 1
            )));
        }
        if layers.is_empty() {
            return Err(Error::Invalid("the layer selection is empty".into()));
        }
        match &self.towers {
            Towers::Clip { vision, .. } => vision.decompose(pixels, wanted, n),
            Towers::Siglip { vision, .. } => siglip::decompose(vision, pixels, wanted),
        }
    }

    /// Unnormalised image embeddings (B, E): CLIP's projected class token, SigLIP's pooler
    /// output.
    pub fn image_features(&self, pixels: &Tensor) -> Result<Tensor> {
        match &self.towers {
            Towers::Clip { vision, .. } => vision.embed(pixels),
            Towers::Siglip { vision, .. } => siglip::embed(vision, pixels),
        }
    }

    /// Token ids of `text` (special tokens included, no padding).
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>> {
        let none = || {
            let want = match (self.config.format, &self.config.text.hf_tokenizer) {
                (Format::Siglip, _) => "spiece.model or tokenizer.json".to_string(),
                (_, None) => "tokenizer.json".to_string(),
                (_, Some(spec)) => format!(
                    "tokenizer.json of the Hugging Face tokenizer {:?} that its text tower reads \
                     (put its tokenizer.json and tokenizer_config.json there)",
                    spec.name
                ),
            };
            Error::Model(format!("{}: no {want} beside the weights", self.name))
        };
        match &self.towers {
            Towers::Clip { tokenizer, .. } => tokenizer.as_ref().ok_or_else(none)?.encode(text),
            Towers::Siglip { tokenizer, .. } => tokenizer.as_ref().ok_or_else(none)?.encode(text),
        }
    }

    /// Unnormalised text embeddings (N, E) of token id sequences from [`Clip::tokenize`].
    pub fn text_features(&self, ids: &[Vec<u32>]) -> Result<Tensor> {
        match &self.towers {
            Towers::Clip { text, .. } => text.forward(ids),
            Towers::Siglip {
                text, tokenizer, ..
            } => {
                // Without a tokenizer, ids come from elsewhere: pad with 0, unmasked.
                let (pad, mask) = tokenizer.as_ref().map_or((0, false), |t| (t.pad, t.mask));
                text.forward(ids, pad, mask)
            }
        }
    }
}

fn fingerprint(weights: &[std::path::PathBuf], dtype: DType) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for w in weights {
        let p = w.canonicalize().unwrap_or_else(|_| w.clone());
        let m = std::fs::metadata(&p).ok();
        let t = m
            .as_ref()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
        h.update(format!("{}\t{:?}\t{:?}\n", p.display(), m.map(|m| m.len()), t).as_bytes());
    }
    h.update(format!("{dtype:?}").as_bytes());
    crate::digest::hex(&h.finalize())[..16].to_string()
}

/// Rows scaled to unit L2 norm.
pub fn l2_normalize(x: &Tensor) -> Result<Tensor> {
    let norm = x.sqr()?.sum_keepdim(candle_core::D::Minus1)?.sqrt()?;
    Ok(x.broadcast_div(&norm)?)
}
