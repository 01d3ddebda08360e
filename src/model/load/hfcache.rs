//! The local Hugging Face cache: where it is, whether the Hub may be reached, what it holds.
//! (Shared by `source`, which resolves `--model`, and `hub`, which fetches into the cache.)

use std::path::PathBuf;

use crate::cachedir::env_path;

/// The Hugging Face cache directory: `HF_HUB_CACHE`, `HUGGINGFACE_HUB_CACHE`, `$HF_HOME/hub`,
/// `$XDG_CACHE_HOME/huggingface/hub`, `~/.cache/huggingface/hub` (huggingface_hub's order).
pub fn hf_cache_dir() -> PathBuf {
    if let Some(p) = env_path("HF_HUB_CACHE").or_else(|| env_path("HUGGINGFACE_HUB_CACHE")) {
        return p;
    }
    let home = env_path("HF_HOME").unwrap_or_else(|| {
        env_path("XDG_CACHE_HOME")
            .unwrap_or_else(|| {
                env_path("HOME")
                    .unwrap_or_else(|| PathBuf::from("."))
                    .join(".cache")
            })
            .join("huggingface")
    });
    home.join("hub")
}

/// Whether `HF_HUB_OFFLINE` asks for no network access.
pub fn hub_offline() -> bool {
    std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )
    })
}

/// The snapshot directories of `repo` already in the local Hugging Face cache.
pub fn cached_snapshots(repo: &str) -> Vec<PathBuf> {
    let dir = hf_cache_dir()
        .join(format!("models--{}", repo.replace('/', "--")))
        .join("snapshots");
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}
