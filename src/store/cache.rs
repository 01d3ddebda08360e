//! The cache directory of stores: where it is, what it holds, which store an argument names,
//! and garbage collection.

use std::path::{Path, PathBuf};

use super::format::{KEY, Key, MANIFEST, Manifest, read_versioned};
use crate::{Error, Result};

pub use crate::cachedir::default_cache;

/// The state of one store directory.
pub enum State {
    /// Finished and readable.
    Finished(Box<Manifest>),
    /// A build in progress or interrupted: its key and the complete chunks.
    Building(Box<Key>, usize),
    /// Unreadable, with the reason.
    Broken(String),
}

/// A store directory found in the cache.
pub struct Entry {
    /// The directory `<cache>/<slug>/<hash16>`.
    pub dir: PathBuf,
    /// `<slug>/<hash16>`.
    pub name: String,
    /// What it holds.
    pub state: State,
}

/// The state of the store in `dir`.
pub fn state(dir: &Path) -> State {
    if dir.join(MANIFEST).exists() {
        match super::consistency::read_manifest(dir) {
            Ok(m) => State::Finished(Box::new(m)),
            Err(e) => State::Broken(e.to_string()),
        }
    } else if dir.join(KEY).exists() {
        match read_versioned::<Key>(&dir.join(KEY)) {
            Ok(k) => {
                let n = k.images.count.div_ceil(k.chunk_images.max(1));
                let done = (0..n)
                    .filter(|&c| super::chunk::complete(dir, c).is_some())
                    .count();
                State::Building(Box::new(k), done)
            }
            Err(e) => State::Broken(e.to_string()),
        }
    } else {
        State::Broken("neither manifest.json nor key.json".into())
    }
}

/// The cache's own folders beside the stores: `texts/` (text embeddings by model fingerprint),
/// `search/` (the index across stores), `models/` (the built-in models), `probe/` (the probe
/// images).
const NOT_STORES: [&str; 4] = ["texts", "search", "models", "probe"];

/// Whether `dir` is a store's directory: it holds a manifest or a key, or is named as a store is
/// (the first 16 hex digits of its hash) and so is one whose writer died before its key. The
/// cache's other folders ([`NOT_STORES`]) are not.
fn is_store_dir(dir: &Path) -> bool {
    let own = dir
        .parent()
        .and_then(Path::file_name)
        .and_then(|n| n.to_str())
        .is_some_and(|n| NOT_STORES.contains(&n));
    let hashed = !own
        && dir
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.len() == 16 && n.bytes().all(|b| b.is_ascii_hexdigit()));
    hashed || dir.join(MANIFEST).exists() || dir.join(KEY).exists()
}

/// Every store directory under `cache`, sorted by name.
pub fn list(cache: &Path) -> Vec<Entry> {
    let mut out = vec![];
    let dirs = |p: &Path| -> Vec<PathBuf> {
        let mut v: Vec<_> = std::fs::read_dir(p)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        v.sort();
        v
    };
    for slug in dirs(cache) {
        for dir in dirs(&slug).into_iter().filter(|d| is_store_dir(d)) {
            let name = dir
                .strip_prefix(cache)
                .unwrap_or(&dir)
                .to_string_lossy()
                .into_owned();
            out.push(Entry {
                state: state(&dir),
                dir,
                name,
            });
        }
    }
    out
}

/// Finds the store that `arg` names: a store directory, or `slug`, `hash-prefix` or
/// `slug/hash-prefix` among the finished stores of `cache`. Without `arg`, the only store.
pub fn resolve(arg: Option<&str>, cache: &Path) -> Result<PathBuf> {
    if let Some(a) = arg {
        let p = Path::new(a);
        if p.join(MANIFEST).exists() || p.join(KEY).exists() {
            return Ok(p.to_path_buf());
        }
    }
    let finished: Vec<Entry> = list(cache)
        .into_iter()
        .filter(|e| matches!(e.state, State::Finished(_)))
        .collect();
    let hits: Vec<&Entry> = finished
        .iter()
        .filter(|e| match arg {
            None => true,
            Some(a) => {
                let (slug, hash) = e.name.split_once('/').unwrap_or((&e.name, ""));
                e.name.starts_with(a) || slug == a || (a.len() >= 4 && hash.starts_with(a))
            }
        })
        .collect();
    match (hits.as_slice(), arg) {
        ([one], _) => Ok(one.dir.clone()),
        ([], Some(a)) => Err(Error::store(
            cache,
            format!("no store named {a:?} (see `clipscope store ls`)"),
        )),
        ([], None) => Err(Error::store(
            cache,
            "no finished store here: build one with `clipscope index`",
        )),
        (many, _) => Err(Error::store(
            cache,
            format!(
                "{} stores match; name one with --store: {}",
                many.len(),
                many.iter()
                    .map(|e| e.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// What `demo` leaves beside its stores (the built-in model, the probe images), the text
    /// embeddings cached by model fingerprint, and one store whose writer died before its key.
    pub(crate) fn lay_out_cache(root: &std::path::Path) {
        let mk = |p: &str| std::fs::create_dir_all(root.join(p)).unwrap();
        mk("models/probe-clip");
        std::fs::write(root.join("models/probe-clip/config.json"), "{}").unwrap();
        mk("probe/v1-1200");
        mk("texts/0123456789abcdef");
        mk("probe-clip/0123456789abcdef");
    }

    #[test]
    fn the_cache_s_other_folders_are_not_stores() {
        let t = tempfile::tempdir().unwrap();
        lay_out_cache(t.path());
        let names: Vec<String> = list(t.path()).into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["probe-clip/0123456789abcdef"]);
    }
}
