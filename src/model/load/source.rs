//! Resolving `--model`: a local directory, a short alias of the paper's models, or a Hugging Face
//! Hub id with an optional `@revision`, fetched into the standard Hugging Face cache.

use std::path::{Path, PathBuf};

use super::files::ModelFiles;
pub use super::hfcache::{cached_snapshots, hf_cache_dir, hub_offline};
use crate::image::{OPENAI_MEAN, OPENAI_STD, Resample, ResizeMode};
use crate::{Error, Result};

/// A checkpoint with a short name: the six studied by Madasu et al. (CLIP-InterpreT), and the
/// SigLIP family's.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Alias {
    /// Short name, e.g. `vit-b-32/openai`.
    pub alias: &'static str,
    /// Hugging Face Hub repository.
    pub repo: &'static str,
    /// What it is.
    pub description: &'static str,
    /// Preprocessing that overrides the repository's files (open_clip's `pretrained.py`).
    #[serde(skip)]
    pub pretrained: Option<Pretrained>,
}

/// The preprocessing open_clip's `pretrained.py` gives a checkpoint, which wins over what its
/// repository's files say.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pretrained {
    /// Per-channel mean.
    pub mean: [f32; 3],
    /// Per-channel std.
    pub std: [f32; 3],
    /// Resampling filter (`interpolation`).
    pub resample: Resample,
    /// `resize_mode`.
    pub mode: ResizeMode,
    /// `quick_gelu` where `pretrained.py` sets it for the checkpoint (its repository's config
    /// may not say so).
    pub quick_gelu: bool,
}

/// Inception's mean = std = 0.5, bicubic, shortest side.
const INCEPTION: Pretrained = Pretrained {
    mean: [0.5; 3],
    std: [0.5; 3],
    resample: Resample::Bicubic,
    mode: ResizeMode::Shortest,
    quick_gelu: false,
};

/// OpenAI's mean and std, bicubic, shortest side: open_clip's defaults.
const OPENAI: Pretrained = Pretrained {
    mean: OPENAI_MEAN,
    std: OPENAI_STD,
    ..INCEPTION
};

/// PE-Core's: mean = std = 0.5, bilinear, both sides resized (`squash`).
const PE: Pretrained = Pretrained {
    resample: Resample::Bilinear,
    mode: ResizeMode::Squash,
    ..INCEPTION
};

/// CLIPA's: ImageNet's mean and std, bilinear, both sides resized (`squash`).
const CLIPA: Pretrained = Pretrained {
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
    ..PE
};

/// The paper's six models, the larger layouts of the same family that came after (ViT-L/14 at
/// 336 px, LAION's ViT-H and ViT-bigG, Apple's DFN-5B ViT-H), CLIPA, MetaCLIP 2, EVA-02 CLIP,
/// Perception Encoder, MobileCLIP 2's ViT, then two SigLIP and two SigLIP 2 models.
pub const ALIASES: &[Alias] = &[
    Alias {
        alias: "vit-b-32/openai",
        repo: "openai/clip-vit-base-patch32",
        description: "ViT-B/32, OpenAI WIT-400M, QuickGELU",
        pretrained: None,
    },
    Alias {
        alias: "vit-b-16/openai",
        repo: "openai/clip-vit-base-patch16",
        description: "ViT-B/16, OpenAI WIT-400M, QuickGELU",
        pretrained: None,
    },
    Alias {
        alias: "vit-l-14/openai",
        repo: "openai/clip-vit-large-patch14",
        description: "ViT-L/14, OpenAI WIT-400M, QuickGELU",
        pretrained: None,
    },
    Alias {
        alias: "vit-b-16/laion2b",
        repo: "laion/CLIP-ViT-B-16-laion2B-s34B-b88K",
        description: "ViT-B/16, LAION-2B, GELU",
        pretrained: None,
    },
    Alias {
        alias: "vit-l-14/laion2b",
        repo: "laion/CLIP-ViT-L-14-laion2B-s32B-b82K",
        description: "ViT-L/14, LAION-2B, GELU, mean = std = 0.5",
        pretrained: Some(INCEPTION),
    },
    Alias {
        alias: "vit-b-32/datacomp",
        repo: "laion/CLIP-ViT-B-32-DataComp.M-s128M-b4K",
        description: "ViT-B/32, DataComp-M, GELU",
        pretrained: None,
    },
    Alias {
        alias: "vit-l-14-336/openai",
        repo: "openai/clip-vit-large-patch14-336",
        description: "ViT-L/14 at 336 px (24x24 patches), OpenAI WIT-400M, QuickGELU",
        pretrained: None,
    },
    Alias {
        alias: "vit-h-14/laion2b",
        repo: "laion/CLIP-ViT-H-14-laion2B-s32B-b79K",
        description: "ViT-H/14, 32 layers, LAION-2B, GELU",
        pretrained: None,
    },
    Alias {
        alias: "vit-bigg-14/laion2b",
        repo: "laion/CLIP-ViT-bigG-14-laion2B-39B-b160k",
        description: "ViT-bigG/14, 48 layers, MLP ratio 4.9231, LAION-2B",
        pretrained: None,
    },
    Alias {
        alias: "vit-h-14/dfn5b",
        repo: "apple/DFN5B-CLIP-ViT-H-14",
        description: "ViT-H/14, DFN-5B (Apple), QuickGELU, open_clip files",
        pretrained: None,
    },
    Alias {
        alias: "vit-h-14-378/dfn5b",
        repo: "apple/DFN5B-CLIP-ViT-H-14-378",
        description: "ViT-H/14 at 378 px (27x27 patches), DFN-5B, QuickGELU",
        pretrained: None,
    },
    Alias {
        alias: "vit-h-14-clipa/datacomp1b",
        repo: "UCSC-VLAA/ViT-H-14-CLIPA-datacomp1B",
        description: "CLIPA ViT-H/14: no ln_pre, mean of the patches, BERT tokenizer",
        pretrained: Some(CLIPA),
    },
    Alias {
        alias: "vit-h-14-clipa-336/datacomp1b",
        repo: "UCSC-VLAA/ViT-H-14-CLIPA-336-datacomp1B",
        description: "CLIPA ViT-H/14 at 336 px (24x24 patches), DataComp-1B",
        pretrained: Some(CLIPA),
    },
    Alias {
        alias: "vit-bigg-14-clipa/datacomp1b",
        repo: "UCSC-VLAA/ViT-bigG-14-CLIPA-datacomp1B",
        description: "CLIPA ViT-bigG/14, 48 layers, DataComp-1B",
        pretrained: Some(CLIPA),
    },
    Alias {
        alias: "vit-h-14-worldwide/metaclip2",
        repo: "timm/vit_huge_patch14_clip_224.metaclip2_worldwide",
        description: "MetaCLIP 2 ViT-H/14, worldwide data, XLM-V tokenizer, QuickGELU",
        pretrained: Some(Pretrained {
            quick_gelu: true,
            ..OPENAI
        }),
    },
    Alias {
        alias: "vit-h-14-worldwide-378/metaclip2",
        repo: "timm/vit_huge_patch14_clip_378.metaclip2_worldwide",
        description: "MetaCLIP 2 ViT-H/14 at 378 px (27x27 patches), XLM-V tokenizer",
        pretrained: Some(Pretrained {
            mode: ResizeMode::Squash,
            ..OPENAI
        }),
    },
    Alias {
        alias: "vit-bigg-14-worldwide/metaclip2",
        repo: "timm/vit_gigantic_patch14_clip_224.metaclip2_worldwide",
        description: "MetaCLIP 2 ViT-bigG/14, worldwide data, XLM-V tokenizer",
        pretrained: Some(OPENAI),
    },
    Alias {
        alias: "eva02-b-16/merged2b",
        repo: "timm/eva02_base_patch16_clip_224.merged2b_s8b_b131k",
        description: "EVA-02 CLIP B/16: timm trunk, rotary attention, sub-LN, SwiGLU",
        pretrained: Some(OPENAI),
    },
    Alias {
        alias: "eva02-l-14/merged2b",
        repo: "timm/eva02_large_patch14_clip_224.merged2b_s4b_b131k",
        description: "EVA-02 CLIP L/14, 24 layers",
        pretrained: Some(OPENAI),
    },
    Alias {
        alias: "eva02-l-14-336/merged2b",
        repo: "timm/eva02_large_patch14_clip_336.merged2b_s6b_b61k",
        description: "EVA-02 CLIP L/14 at 336 px (24x24 patches)",
        pretrained: Some(OPENAI),
    },
    Alias {
        alias: "eva02-e-14/laion2b",
        repo: "timm/eva02_enormous_patch14_clip_224.laion2b_s4b_b115k",
        description: "EVA-02 CLIP E/14: 64 post-norm blocks, norm1 linearised per image",
        pretrained: Some(OPENAI),
    },
    Alias {
        alias: "eva02-e-14-plus/laion2b",
        repo: "timm/eva02_enormous_patch14_plus_clip_224.laion2b_s9b_b144k",
        description: "EVA-02 CLIP E/14 with the larger text tower",
        pretrained: Some(OPENAI),
    },
    Alias {
        alias: "pe-core-b-16",
        repo: "timm/PE-Core-B-16",
        description: "Perception Encoder B/16: timm trunk, 2-D rotary attention, attention pool of 8 heads",
        pretrained: Some(PE),
    },
    Alias {
        alias: "pe-core-l-14-336",
        repo: "timm/PE-Core-L-14-336",
        description: "Perception Encoder L/14 at 336 px (24x24 patches)",
        pretrained: Some(PE),
    },
    Alias {
        alias: "pe-core-bigg-14-448",
        repo: "timm/PE-Core-bigG-14-448",
        description: "Perception Encoder bigG/14 at 448 px, 50 layers, no class token",
        pretrained: Some(PE),
    },
    Alias {
        alias: "mobileclip2-l-14",
        repo: "timm/MobileCLIP2-L-14-OpenCLIP",
        description: "MobileCLIP 2 L/14: timm ViT, bidirectional text tower",
        pretrained: Some(OPENAI),
    },
    Alias {
        alias: "siglip-b-16",
        repo: "google/siglip-base-patch16-224",
        description: "SigLIP B/16, 224 px, WebLI, attention-pooling head",
        pretrained: None,
    },
    Alias {
        alias: "siglip-so400m-14",
        repo: "google/siglip-so400m-patch14-384",
        description: "SigLIP So400m/14, 384 px (27x27 patches), WebLI",
        pretrained: None,
    },
    Alias {
        alias: "siglip2-b-16",
        repo: "google/siglip2-base-patch16-224",
        description: "SigLIP 2 B/16, 224 px, Gemma tokenizer",
        pretrained: None,
    },
    Alias {
        alias: "siglip2-so400m-14",
        repo: "google/siglip2-so400m-patch14-384",
        description: "SigLIP 2 So400m/14, 384 px, Gemma tokenizer",
        pretrained: None,
    },
];

/// Looks up an alias (case-insensitive), or a hub repository that has one.
pub fn find_alias(name: &str) -> Option<&'static Alias> {
    let name = name.trim().to_ascii_lowercase();
    ALIASES
        .iter()
        .find(|a| a.alias == name || a.repo.to_ascii_lowercase() == name)
}

/// A parsed `--model` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSpec {
    /// A local directory.
    Dir(PathBuf),
    /// A model built into clipscope (`probe-clip`, `tiny-random-clip`).
    Builtin(&'static str),
    /// A hub repository `org/name` at a revision (default `main`).
    Hub {
        /// `org/name`.
        repo: String,
        /// Branch, tag or commit.
        revision: Option<String>,
    },
}

impl ModelSpec {
    /// Parses `--model`: an existing directory wins, then built-in models, then aliases, then
    /// `org/name[@rev]`.
    pub fn parse(spec: &str) -> Result<Self> {
        let path = Path::new(spec);
        if path.is_dir() {
            return Ok(Self::Dir(path.to_path_buf()));
        }
        if let Some(b) = super::builtin::find(spec) {
            return Ok(Self::Builtin(b.name));
        }
        let (name, revision) = match spec.split_once('@') {
            Some((n, r)) if !r.is_empty() => (n, Some(r.to_string())),
            Some(_) => {
                return Err(Error::Model(format!(
                    "unknown model {spec:?}: empty revision after '@'"
                )));
            }
            None => (spec, None),
        };
        if let Some(alias) = find_alias(name) {
            return Ok(Self::Hub {
                repo: alias.repo.to_string(),
                revision,
            });
        }
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        match name.split_once('/') {
            Some((org, repo)) if valid(org) && valid(repo) && !name.starts_with('.') => {
                Ok(Self::Hub {
                    repo: name.to_string(),
                    revision,
                })
            }
            _ => Err(Error::Model(format!(
                "unknown model {spec:?}: not a directory, not an alias (see `clipscope models`), not a hub id org/name"
            ))),
        }
    }
}

/// Resolves `--model` to local files, downloading from the hub when needed and allowed.
pub fn resolve(spec: &str) -> Result<ModelFiles> {
    match ModelSpec::parse(spec)? {
        ModelSpec::Dir(dir) => ModelFiles::from_dir(&dir, spec),
        ModelSpec::Builtin(name) => {
            let dir = super::builtin::materialize(name, &crate::cachedir::default_cache())?;
            ModelFiles::from_dir(&dir, name)
        }
        ModelSpec::Hub { repo, revision } => super::hub::fetch(&repo, revision.as_deref()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_aliases_hub_ids_and_revisions() {
        assert_eq!(
            ModelSpec::parse("vit-b-32/openai").unwrap(),
            ModelSpec::Hub {
                repo: "openai/clip-vit-base-patch32".into(),
                revision: None
            }
        );
        assert_eq!(
            ModelSpec::parse("laion/CLIP-ViT-B-32-DataComp.M-s128M-b4K@abc123").unwrap(),
            ModelSpec::Hub {
                repo: "laion/CLIP-ViT-B-32-DataComp.M-s128M-b4K".into(),
                revision: Some("abc123".into())
            }
        );
        assert!(
            ModelSpec::parse("not a model")
                .unwrap_err()
                .to_string()
                .contains("clipscope models")
        );
        assert!(ModelSpec::parse("org/name@").is_err());
        assert_eq!(
            find_alias("VIT-L-14/LAION2B").unwrap().pretrained,
            Some(INCEPTION)
        );
        let clipa = find_alias("ucsc-vlaa/vit-h-14-clipa-datacomp1b").unwrap();
        assert_eq!(clipa.pretrained, Some(CLIPA));
    }
}
