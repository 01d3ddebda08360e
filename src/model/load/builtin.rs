//! The models clipscope carries inside its binary, so that it works with no network: the probe
//! CLIP (a small CLIP trained on the probe images, tools/train_probe_clip.py) and the tiny
//! random-weight CLIP (the fastest tests). Each is written once under `<cache>/models/<name>/`
//! and named by `--model <name>`; a store built with one finds it again by that name.

use std::path::{Path, PathBuf};

use super::random::{Arch, write_checkpoint};
use crate::{Error, Result};

/// CLIP's BPE tokenizer (OpenAI's vocabulary and merges), shared by the built-in models.
const CLIP_TOKENIZER: &[u8] = include_bytes!("../../../tests/fixtures/tiny-clip-hf/tokenizer.json");

/// The probe CLIP's files (models/probe-clip, made by tools/train_probe_clip.py).
const PROBE_FILES: [(&str, &[u8]); 3] = [
    (
        "config.json",
        include_bytes!("../../../models/probe-clip/config.json"),
    ),
    (
        "model.safetensors",
        include_bytes!("../../../models/probe-clip/model.safetensors"),
    ),
    (
        "preprocessor_config.json",
        include_bytes!("../../../models/probe-clip/preprocessor_config.json"),
    ),
];

/// The built-in tiny random-weight model's name (its model id in stores).
pub const TINY: &str = "tiny-random-clip";
/// The built-in probe CLIP's name (its model id in stores).
pub const PROBE: &str = "probe-clip";

/// A built-in model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Builtin {
    /// Its name, as `--model` takes it.
    pub name: &'static str,
    /// What it is, in a few words (the explorer's status bar shows it).
    pub note: &'static str,
    /// Whether its weights are random (the status bar warns).
    pub random_weights: bool,
    /// What it is for.
    pub about: &'static str,
}

/// Every built-in model.
pub const BUILTINS: [Builtin; 2] = [
    Builtin {
        name: PROBE,
        note: "probe CLIP: trained on the probe images, not a real CLIP",
        random_weights: false,
        about: "ViT 64 px, patch 8, 4 × 4 heads, width 128, E = 64; trained on probe images \
                (tools/train_probe_clip.py); its heads carry colour, shape, count, …",
    },
    Builtin {
        name: TINY,
        note: "RANDOM WEIGHTS",
        random_weights: true,
        about: "ViT 224 px, patch 32, 4 × 4 heads, width 128, E = 64; random weights \
                (labels mean nothing; the fastest tests)",
    },
];

/// The built-in model called `name`, when there is one.
pub fn find(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

/// Writes built-in model `name` under `<cache>/models/<name>/` unless it is there already;
/// returns its directory.
pub fn materialize(name: &str, cache: &Path) -> Result<PathBuf> {
    let b = find(name).ok_or_else(|| Error::Model(format!("no built-in model {name:?}")))?;
    let dir = cache.join("models").join(b.name);
    let mut files: Vec<&str> = vec!["config.json", "model.safetensors", "tokenizer.json"];
    if b.name == PROBE {
        files.push("preprocessor_config.json");
    }
    if files.iter().all(|f| dir.join(f).is_file()) {
        return Ok(dir);
    }
    let parent = cache.join("models");
    std::fs::create_dir_all(&parent).map_err(|e| Error::write(&parent, e))?;
    // Removed unless published: a full disk leaves no half-written model behind.
    let tmp = crate::scratch::Scratch::new(parent.join(format!(
        ".{}.{}.tmp",
        b.name,
        std::process::id()
    )));
    let _ = std::fs::remove_dir_all(tmp.path());
    std::fs::create_dir_all(tmp.path()).map_err(|e| Error::write(tmp.path(), e))?;
    let put = |file: &str, bytes: &[u8]| -> Result<()> {
        let p = tmp.path().join(file);
        std::fs::write(&p, bytes).map_err(|e| Error::write(&p, e))
    };
    if b.name == PROBE {
        for (file, bytes) in PROBE_FILES {
            put(file, bytes)?;
        }
    } else {
        write_checkpoint(tmp.path(), Arch::Tiny, 7)?;
    }
    put("tokenizer.json", CLIP_TOKENIZER)?;
    let _ = std::fs::remove_dir_all(&dir);
    tmp.publish(&dir).map_err(|e| Error::write(&dir, e))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_are_written_once_and_load() {
        let tmp = tempfile::tempdir().unwrap();
        for b in BUILTINS {
            let dir = materialize(b.name, tmp.path()).unwrap();
            assert_eq!(dir, tmp.path().join("models").join(b.name));
            let files = crate::model::ModelFiles::from_dir(&dir, b.name).unwrap();
            let config = files.config().unwrap();
            assert_eq!(config.vision.tower.heads, 4);
            let t = std::fs::metadata(dir.join("model.safetensors"))
                .unwrap()
                .modified()
                .unwrap();
            materialize(b.name, tmp.path()).unwrap();
            let again = std::fs::metadata(dir.join("model.safetensors"))
                .unwrap()
                .modified()
                .unwrap();
            assert_eq!(t, again, "{}: written once", b.name);
        }
        assert!(materialize("nope", tmp.path()).is_err());
    }
}
