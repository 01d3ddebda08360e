//! `store gc`: what in the cache can go. Temporary files of crashed writers, chunks left in
//! finished stores, finished stores that a newer store holds entirely (an exact superset: the
//! same model, weights, precision, preprocessing, images and labels, at least its layers and
//! token effects) or whose image folder is gone, and builds untouched for longer than `stale`.
//!
//! Never without being named: a store that holds the user's own work (label overrides,
//! bookmarks, notes: `format::USER_FILES`) is kept and said to be kept, unless the caller
//! names it in `named`.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::cache::{Entry, State, list};
use super::format::{CHUNKS, Key, MANIFEST, USER_FILES};
use crate::{Error, Result};

/// One thing `gc` removed or would remove, or kept though it would have removed it.
pub struct Removal {
    /// The path.
    pub path: PathBuf,
    /// Why it can go.
    pub reason: String,
    /// Why it stays after all (the user's files it holds), when it does.
    pub kept: Option<String>,
}

/// How a `gc` run goes.
pub struct Options<'a> {
    /// Unfinished builds untouched this long are abandoned.
    pub stale: Duration,
    /// Only say what would be removed.
    pub dry_run: bool,
    /// Store directories to remove even when they hold the user's work.
    pub named: &'a [PathBuf],
}

/// Finds the garbage in `cache` and removes it unless `opts.dry_run`; returns every finding,
/// those kept included.
pub fn gc(cache: &Path, opts: &Options) -> Result<Vec<Removal>> {
    let entries = list(cache);
    let mut out = vec![];
    for e in &entries {
        out.extend(temporary_files(&e.dir));
        if let Some(reason) = why_removable(e, &entries, opts.stale) {
            let kept = user_work(&e.dir)
                .filter(|_| !opts.named.iter().any(|n| same_dir(n, &e.dir)))
                .map(|files| format!("it holds your {files}: name it with --include to remove it"));
            out.push(Removal {
                path: e.dir.clone(),
                reason,
                kept,
            });
        }
        if matches!(e.state, State::Finished(_)) && e.dir.join(CHUNKS).exists() {
            out.push(removal(e.dir.join(CHUNKS), "chunks of a finished store"));
        }
    }
    if !opts.dry_run {
        for r in out.iter().filter(|r| r.kept.is_none()) {
            let res = match r.path.is_dir() {
                true => std::fs::remove_dir_all(&r.path),
                false => std::fs::remove_file(&r.path),
            };
            res.map_err(|e| Error::write(&r.path, e))?;
        }
    }
    Ok(out)
}

fn removal(path: PathBuf, reason: &str) -> Removal {
    Removal {
        path,
        reason: reason.into(),
        kept: None,
    }
}

fn age(p: &Path) -> Duration {
    std::fs::metadata(p)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .unwrap_or_default()
}

/// Temporary files in a store left by writes that ended more than a minute ago.
fn temporary_files(dir: &Path) -> Vec<Removal> {
    let mut out = vec![];
    for sub in [dir.to_path_buf(), dir.join(CHUNKS), dir.join("heads")] {
        for f in std::fs::read_dir(&sub).into_iter().flatten().flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if name.ends_with(".tmp") && age(&f.path()) > Duration::from_secs(60) {
                out.push(removal(f.path(), "temporary file of an interrupted write"));
            }
        }
    }
    out
}

/// Why the store `e` can go as a whole, if it can.
fn why_removable(e: &Entry, all: &[Entry], stale: Duration) -> Option<String> {
    match &e.state {
        State::Finished(m) => {
            let superset = all.iter().find(|o| match &o.state {
                State::Finished(n) => {
                    o.dir != e.dir
                        && holds_all_of(&n.key, &m.key)
                        && age(&o.dir.join(MANIFEST)) < age(&e.dir.join(MANIFEST))
                }
                _ => false,
            });
            let root = m.key.images.root_path();
            match superset {
                Some(o) => Some(format!(
                    "superseded by {}, which holds all it holds",
                    o.name
                )),
                None if !root.exists() => Some(format!(
                    "its image folder {} is gone",
                    crate::pathname::show(&root)
                )),
                None => None,
            }
        }
        State::Building(..) | State::Broken(_) => (age(&e.dir) > stale
            && newest_in(&e.dir).is_none_or(|t| t > stale))
        .then(|| "unfinished build left untouched".into()),
    }
}

/// Whether a store of key `a` holds everything a store of key `b` holds and is otherwise the
/// same: the same model, weights, precision, preprocessing, images and labels (a labelled store
/// does not supersede an unlabelled one: they answer different questions); at least `b`'s
/// layers and token effects.
fn holds_all_of(a: &Key, b: &Key) -> bool {
    a.model == b.model
        && a.dtype == b.dtype
        && a.preprocess == b.preprocess
        && a.images == b.images
        && a.format_version >= b.format_version
        && b.layers.iter().all(|l| a.layers.contains(l))
        && a.tokens_for >= b.tokens_for
        && a.labels == b.labels
}

/// The user's files a store holds, named, when it holds any.
fn user_work(dir: &Path) -> Option<String> {
    let held: Vec<&str> = USER_FILES
        .into_iter()
        .filter(|f| dir.join(f).exists())
        .collect();
    (!held.is_empty()).then(|| held.join(" and "))
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// How long ago the newest chunk of a build was written.
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
    fn the_cache_s_other_folders_are_never_collected() {
        let t = tempfile::tempdir().unwrap();
        super::super::cache::tests::lay_out_cache(t.path());
        // Beside the abandoned build, another that holds notes.
        std::fs::create_dir_all(t.path().join("probe-clip/fedcba9876543210")).unwrap();
        std::fs::write(t.path().join("probe-clip/fedcba9876543210/tui.json"), "{}").unwrap();
        let opts = Options {
            stale: Duration::ZERO,
            dry_run: false,
            named: &[],
        };
        let found = gc(t.path(), &opts).unwrap();
        assert_eq!(found.len(), 2);
        assert!(
            found
                .iter()
                .all(|r| r.path.starts_with(t.path().join("probe-clip")))
        );
        assert!(!t.path().join("probe-clip/0123456789abcdef").exists());
        assert!(
            t.path()
                .join("probe-clip/fedcba9876543210/tui.json")
                .exists()
        );
        let kept = found.iter().find(|r| r.kept.is_some()).unwrap();
        assert!(kept.kept.as_ref().unwrap().contains("tui.json"));
        // Named, it goes.
        let named = [t.path().join("probe-clip/fedcba9876543210")];
        let opts = Options {
            named: &named,
            ..opts
        };
        gc(t.path(), &opts).unwrap();
        assert!(!named[0].exists());
        assert!(t.path().join("models/probe-clip/config.json").exists());
    }
}
