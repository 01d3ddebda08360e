//! Where the search indexes live and when they are rebuilt: one per store (`<store>/search/`)
//! and one across the cache (`<cache>/search/`), each with a `stamp` of what it was built from.
//! A rebuild happens under a lock beside the index (`search.lock`), into a temporary folder
//! published by rename, so concurrent searches wait for one another and then share the finished
//! index instead of colliding in tantivy's writer lock. A store or cache that this process
//! cannot write keeps its index in a per-user folder instead (`cachedir::writable`).

use std::path::Path;

use tantivy::Index;

use super::{SCHEMA_VERSION, SearchIndex, docs_of, schema};
use crate::cachedir::writable;
use crate::interpret::Interpretation;
use crate::scratch::Scratch;
use crate::store::format::{LABELS_FILE, write_atomic};
use crate::{Error, Result};

impl SearchIndex {
    /// Opens the index in `dir` if its stamp file equals `stamp`, else rebuilds it from
    /// `docs()`: under the lock `<dir>.lock`, into a temporary folder renamed into place.
    pub fn open_or_build(
        dir: &Path,
        stamp: &str,
        docs: impl FnOnce() -> Result<Vec<super::HeadDoc>>,
    ) -> Result<Self> {
        if let Some(me) = Self::open_current(dir, stamp) {
            return Ok(me);
        }
        let parent = dir.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|e| Error::write(parent, e))?;
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("search");
        let lock_path = parent.join(format!("{name}.lock"));
        // Another search building the same index: wait for it, then use what it built.
        let _lock = crate::store::lock::Lock::wait(&lock_path)?;
        if let Some(me) = Self::open_current(dir, stamp) {
            return Ok(me);
        }
        let tmp = Scratch::new(parent.join(format!(".{name}.{}.tmp", std::process::id())));
        drop(Self::build(&docs()?, Some(tmp.path()))?);
        write_atomic(&tmp.path().join("stamp"), stamp.as_bytes())?;
        let _ = std::fs::remove_dir_all(dir);
        tmp.publish(dir).map_err(|e| Error::write(dir, e))?;
        Self::open_current(dir, stamp)
            .ok_or_else(|| Error::store(dir, "the search index just built cannot be opened"))
    }

    /// The index in `dir` when its stamp is `stamp`.
    fn open_current(dir: &Path, stamp: &str) -> Option<Self> {
        let current = std::fs::read_to_string(dir.join("stamp")).is_ok_and(|s| s == stamp);
        let index = current.then(|| Index::open_in_dir(dir).ok()).flatten()?;
        Self::with_reader(index, schema().1).ok()
    }
}

/// The index of one store, kept in `<store>/search/` (or its per-user stand-in) and rebuilt when its interpretation or
/// labels change.
pub fn store_index(store_dir: &Path) -> Result<(SearchIndex, Interpretation)> {
    let interp = Interpretation::load(store_dir)?.ok_or_else(|| {
        Error::store(
            store_dir,
            "not interpreted yet: run `clipscope interpret` first",
        )
    })?;
    Ok((index_of(store_dir, &interp)?, interp))
}

/// The index of the store at `store_dir` whose interpretation (labels applied) is `interp`.
pub fn index_of(store_dir: &Path, interp: &Interpretation) -> Result<SearchIndex> {
    let stamp = stamp_of(store_dir);
    let dir = writable(store_dir).join("search");
    SearchIndex::open_or_build(&dir, &stamp, || Ok(docs_of(interp)))
}

/// The index across every interpreted store in `cache`, kept in `<cache>/search/`.
pub fn cache_index(cache: &Path) -> Result<SearchIndex> {
    use crate::store::cache::{State, list};
    let dirs: Vec<_> = list(cache)
        .into_iter()
        .filter(|e| matches!(e.state, State::Finished(_)) && e.dir.join("interpret").is_dir())
        .map(|e| e.dir)
        .collect();
    if dirs.is_empty() {
        return Err(Error::store(
            cache,
            "no interpreted store: run `clipscope index`, then `clipscope interpret`",
        ));
    }
    let stamp: String = dirs
        .iter()
        .map(|d| format!("{}\n{}", d.display(), stamp_of(d)))
        .collect();
    SearchIndex::open_or_build(&writable(cache).join("search"), &stamp, || {
        let mut all = vec![];
        for d in &dirs {
            if let Some(i) = Interpretation::load(d)? {
                all.extend(docs_of(&i));
            }
        }
        Ok(all)
    })
}

/// What an index depends on: the interpretation files and labels, with sizes and mtimes.
fn stamp_of(store_dir: &Path) -> String {
    let mut parts = vec![SCHEMA_VERSION.to_string()];
    let mut push = |p: &Path| {
        if let Ok(m) = std::fs::metadata(p) {
            let t = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
            parts.push(format!("{} {} {:?}", p.display(), m.len(), t));
        }
    };
    let mut files: Vec<_> = std::fs::read_dir(store_dir.join("interpret"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    files
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .for_each(|p| push(p));
    push(&store_dir.join(LABELS_FILE));
    parts.join("\n")
}
