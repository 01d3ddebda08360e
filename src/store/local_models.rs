//! Where the local models of a cache's stores were last seen: `<cache>/local-models.json`, a
//! hint outside every store's key (a store stays content-addressed and immutable) so that
//! `explore`, `interpret` and the analyses find a store's local model without `--model`.
//!
//! The file maps a model's weight digests to the canonical directory that held them. A hint is
//! only a candidate: the caller loads it and checks the weights against the store's key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::format::{ModelKey, write_atomic};
use crate::Result;

/// The hint file of `cache`.
const FILE: &str = "local-models.json";

fn entry(key: &ModelKey) -> String {
    key.weights.join(",")
}

fn read(cache: &Path) -> BTreeMap<String, PathBuf> {
    std::fs::read(cache.join(FILE))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Records that the weights of `key` are in `dir` (a hint; a failed write loses nothing but the
/// hint).
pub fn remember(cache: &Path, key: &ModelKey, dir: &Path) -> Result<()> {
    let mut map = read(cache);
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    if map.get(&entry(key)) == Some(&dir) {
        return Ok(());
    }
    map.insert(entry(key), dir);
    let json = serde_json::to_vec_pretty(&map).unwrap_or_default();
    std::fs::create_dir_all(cache).map_err(|e| crate::Error::write(cache, e))?;
    write_atomic(&cache.join(FILE), &json)
}

/// The directory last recorded for the weights of `key`, if it still exists.
pub fn recall(cache: &Path, key: &ModelKey) -> Option<PathBuf> {
    read(cache).remove(&entry(key)).filter(|d| d.is_dir())
}
