//! Finding a checkpoint's files in a directory and telling its format.

use std::path::{Path, PathBuf};

use super::config::{ClipConfig, Format, parse_hf, parse_open_clip};
use crate::{Error, Result};

/// The files of one checkpoint on local disk.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    /// A name for messages and outputs (hub id, alias or directory).
    pub name: String,
    /// Weight layout.
    pub format: Format,
    /// `config.json` or `open_clip_config.json`.
    pub config: PathBuf,
    /// `preprocessor_config.json`, when present (Hugging Face format).
    pub preprocessor: Option<PathBuf>,
    /// The safetensors files (several for sharded checkpoints).
    pub weights: Vec<PathBuf>,
    /// `tokenizer.json`, when present.
    pub tokenizer: Option<PathBuf>,
    /// `spiece.model` (SigLIP's SentencePiece vocabulary), when present.
    pub spiece: Option<PathBuf>,
    /// `tokenizer_config.json`, when present.
    pub tokenizer_config: Option<PathBuf>,
}

/// File names of the Hugging Face format.
pub const HF_FILES: [&str; 2] = ["config.json", "model.safetensors"];
/// File names of the open_clip format.
pub const OPEN_CLIP_FILES: [&str; 2] = ["open_clip_config.json", "open_clip_model.safetensors"];
/// The Hugging Face format with PyTorch-pickled weights (read safely; safetensors preferred).
pub const HF_PICKLED: [&str; 2] = ["config.json", "pytorch_model.bin"];
/// The open_clip format with PyTorch-pickled weights.
pub const OPEN_CLIP_PICKLED: [&str; 2] = ["open_clip_config.json", "open_clip_pytorch_model.bin"];

impl ModelFiles {
    /// Finds a checkpoint in `dir`. When both formats are present the Hugging Face one is used;
    /// safetensors weights are preferred to a pickle (`pytorch_model.bin`,
    /// `open_clip_pytorch_model.bin`) of the same format.
    pub fn from_dir(dir: &Path, name: &str) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::Model(format!("{}: not a directory", dir.display())));
        }
        let opt = |n: &str| Some(dir.join(n)).filter(|p| p.is_file());
        let tokenizer = opt("tokenizer.json");
        let (spiece, tokenizer_config) = (opt("spiece.model"), opt("tokenizer_config.json"));
        let hf_shards = || sharded(dir, "model.safetensors.index.json");
        if let Some(config) = opt(HF_FILES[0]) {
            let weights = match opt(HF_FILES[1]) {
                Some(w) => Some(vec![w]),
                None => hf_shards()?.or_else(|| opt(HF_PICKLED[1]).map(|w| vec![w])),
            };
            if let Some(weights) = weights {
                let preprocessor = opt("preprocessor_config.json");
                return Ok(Self {
                    name: name.into(),
                    format: Format::HuggingFace,
                    config,
                    preprocessor,
                    weights,
                    tokenizer,
                    spiece,
                    tokenizer_config,
                });
            }
        }
        let open_clip_weights = opt(OPEN_CLIP_FILES[1]).or_else(|| opt(OPEN_CLIP_PICKLED[1]));
        if let (Some(config), Some(w)) = (opt(OPEN_CLIP_FILES[0]), open_clip_weights) {
            return Ok(Self {
                name: name.into(),
                format: Format::OpenClip,
                config,
                preprocessor: None,
                weights: vec![w],
                tokenizer,
                spiece,
                tokenizer_config,
            });
        }
        Err(Error::Model(format!(
            "{}: no CLIP checkpoint: expected config.json + model.safetensors (or pytorch_model.bin) or open_clip_config.json + open_clip_model.safetensors (or open_clip_pytorch_model.bin)",
            dir.display()
        )))
    }

    /// Parses the configuration.
    pub fn config(&self) -> Result<ClipConfig> {
        match self.format {
            Format::HuggingFace | Format::Siglip => {
                parse_hf(&self.config, self.preprocessor.as_deref())
            }
            Format::OpenClip => parse_open_clip(&self.config),
        }
    }
}

/// The shard files listed by a `*.safetensors.index.json`, if the index exists.
fn sharded(dir: &Path, index: &str) -> Result<Option<Vec<PathBuf>>> {
    let path = dir.join(index);
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::config(&path, format!("invalid JSON: {e}")))?;
    let map = json
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or_else(|| Error::config(&path, "missing required key `weight_map`"))?;
    let mut files: Vec<PathBuf> = map
        .values()
        .filter_map(|v| v.as_str())
        .map(|f| dir.join(f))
        .collect();
    files.sort();
    files.dedup();
    Ok(Some(files))
}
