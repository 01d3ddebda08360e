//! Where clipscope keeps what it makes: stores, models it writes, the search index.

use std::path::PathBuf;

/// The default cache: `$CLIPSCOPE_CACHE`, else `$XDG_CACHE_HOME/clipscope`, else
/// `~/.cache/clipscope`.
pub fn default_cache() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("CLIPSCOPE_CACHE")
        .or_else(|| env("XDG_CACHE_HOME").map(|p| p.join("clipscope")))
        .or_else(|| env("HOME").map(|p| p.join(".cache/clipscope")))
        .unwrap_or_else(|| PathBuf::from("cache"))
}
