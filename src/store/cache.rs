//! The cache directory of stores: where it is, what it holds, which store an argument names,
//! and garbage collection.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::format::{CHUNKS, KEY, Key, MANIFEST, Manifest, read_versioned};
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
        match read_versioned::<Manifest>(&dir.join(MANIFEST)) {
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

/// Whether `dir` is a store's directory: it holds a manifest or a key, or is named as a store is
/// (the first 16 hex digits of its hash) and so is one whose writer died before its key. The
/// cache's other folders (`models/`, the built-in models; `probe/`, the probe images) are not.
fn is_store_dir(dir: &Path) -> bool {
    let hashed = dir
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
                "{} stores match; name one of: {}",
                many.len(),
                many.iter()
                    .map(|e| e.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// What `gc` removed or would remove.
pub struct Removal {
    /// The path.
    pub path: PathBuf,
    /// Why.
    pub reason: String,
}

/// Garbage: temporary files of crashed writers, chunks left in finished stores, finished stores
/// superseded by a newer store of the same model, images and settings (or whose image folder is
/// gone), and builds untouched for longer than `stale`. Removes them unless `dry_run`.
pub fn gc(cache: &Path, stale: Duration, dry_run: bool) -> Result<Vec<Removal>> {
    let mut out = vec![];
    let entries = list(cache);
    let now = SystemTime::now();
    let age = |p: &Path| {
        std::fs::metadata(p)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .unwrap_or_default()
    };
    for e in &entries {
        for sub in [e.dir.clone(), e.dir.join(CHUNKS), e.dir.join("heads")] {
            for f in std::fs::read_dir(&sub).into_iter().flatten().flatten() {
                let name = f.file_name().to_string_lossy().into_owned();
                if name.ends_with(".tmp") && age(&f.path()) > Duration::from_secs(60) {
                    out.push(Removal {
                        path: f.path(),
                        reason: "temporary file of an interrupted write".into(),
                    });
                }
            }
        }
        match &e.state {
            State::Finished(m) => {
                if e.dir.join(CHUNKS).exists() {
                    out.push(Removal {
                        path: e.dir.join(CHUNKS),
                        reason: "chunks of a finished store".into(),
                    });
                }
                let root = m.key.images.root_path();
                let newer = entries.iter().any(|o| match &o.state {
                    State::Finished(n) => {
                        o.dir != e.dir
                            && same_target(&n.key, &m.key)
                            && age(&o.dir.join(MANIFEST)) < age(&e.dir.join(MANIFEST))
                    }
                    _ => false,
                });
                if newer {
                    out.push(Removal {
                        path: e.dir.clone(),
                        reason: "superseded by a newer store of the same model and images".into(),
                    });
                } else if !root.exists() {
                    out.push(Removal {
                        path: e.dir.clone(),
                        reason: format!("its image folder {} is gone", root.display()),
                    });
                }
            }
            State::Building(..) | State::Broken(_) => {
                if age(&e.dir) > stale && newest_in(&e.dir).is_none_or(|t| t > stale) {
                    out.push(Removal {
                        path: e.dir.clone(),
                        reason: "unfinished build left untouched".into(),
                    });
                }
            }
        }
    }
    if !dry_run {
        for r in &out {
            let res = if r.path.is_dir() {
                std::fs::remove_dir_all(&r.path)
            } else {
                std::fs::remove_file(&r.path)
            };
            res.map_err(|e| Error::write(&r.path, e))?;
        }
    }
    Ok(out)
}

fn same_target(a: &Key, b: &Key) -> bool {
    a.model.id == b.model.id
        && a.images.root == b.images.root
        && a.layers == b.layers
        && a.dtype == b.dtype
}

/// Age of the most recently modified chunk of a build.
fn newest_in(dir: &Path) -> Option<Duration> {
    let now = SystemTime::now();
    std::fs::read_dir(dir.join(CHUNKS))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|f| f.metadata().ok()?.modified().ok())
        .filter_map(|t| now.duration_since(t).ok())
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_s_other_folders_are_not_stores() {
        let t = tempfile::tempdir().unwrap();
        let mk = |p: &str| std::fs::create_dir_all(t.path().join(p)).unwrap();
        // What `demo` leaves beside its stores: the built-in model and the probe images.
        mk("models/probe-clip");
        std::fs::write(t.path().join("models/probe-clip/config.json"), "{}").unwrap();
        mk("probe/v1-1200");
        // A store whose writer died before writing its key.
        mk("probe-clip/0123456789abcdef");
        let names: Vec<String> = list(t.path()).into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["probe-clip/0123456789abcdef"]);
        // So gc never takes the built-in model for an abandoned build.
        let gone = gc(t.path(), Duration::ZERO, true).unwrap();
        assert!(
            gone.iter()
                .all(|r| r.path.starts_with(t.path().join("probe-clip")))
        );
    }
}
