//! `clipscope merge`: joins the chunks built by `index --shard I/N` runs into one store.

use std::path::{Path, PathBuf};

use super::chunk;
use super::finalize::finalize;
use super::format::{CHUNKS, KEY, Key, MANIFEST, Manifest, read_versioned, write_atomic};
use crate::{Error, Result};

/// Copies the complete chunks of `parts` (store directories of one key) into `into`, then
/// finishes the store when every chunk is present. Returns the manifest, or the numbers of
/// chunks present and needed.
pub fn merge(
    parts: &[PathBuf],
    into: &Path,
) -> Result<std::result::Result<Manifest, (usize, usize)>> {
    let keys = parts
        .iter()
        .map(|p| read_key(p))
        .collect::<Result<Vec<_>>>()?;
    let Some(key) = keys.first().cloned() else {
        return Err(Error::Invalid("merge needs at least one part".into()));
    };
    if let Some((p, _)) = parts.iter().zip(&keys).find(|(_, k)| **k != key) {
        return Err(Error::store(
            p,
            "built from a different model, image list or settings than the first part: not one store",
        ));
    }
    if into.join(MANIFEST).exists() {
        return read_versioned::<Manifest>(&into.join(MANIFEST)).map(Ok);
    }
    if let Some(done) = parts.iter().find(|p| p.join(MANIFEST).exists()) {
        return Err(Error::store(
            done,
            "already a finished store: use it directly",
        ));
    }
    std::fs::create_dir_all(into.join(CHUNKS)).map_err(|e| Error::write(into, e))?;
    let json = serde_json::to_vec_pretty(&key)
        .map_err(|e| Error::caused(into, "cannot encode JSON", e))?;
    if !into.join(KEY).exists() {
        write_atomic(&into.join(KEY), &json)?;
    }
    let total = key.images.count.div_ceil(key.chunk_images.max(1));
    let mut done = vec![];
    for c in 0..total {
        if let Some(rec) = chunk::complete(into, c) {
            done.push(rec);
            continue;
        }
        for part in parts {
            if let Some(rec) = chunk::complete(part, c) {
                let (_, src_rec) = chunk::paths(part, c);
                let (dst_data, dst_rec) = chunk::paths(into, c);
                let data = chunk::read_data(part, &rec)?;
                write_atomic(&dst_data, &data)?;
                let meta = std::fs::read(&src_rec).map_err(|e| Error::io(&src_rec, e))?;
                write_atomic(&dst_rec, &meta)?;
                done.push(rec);
                break;
            }
        }
    }
    if done.len() < total {
        return Ok(Err((done.len(), total)));
    }
    let slug = into
        .canonicalize()
        .ok()
        .and_then(|p| {
            p.parent()?
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| super::slugify(&key.model.id));
    finalize(into, &key, &slug, &done).map(Ok)
}

/// The key of a build in progress or of a finished store.
fn read_key(dir: &Path) -> Result<Key> {
    if dir.join(MANIFEST).exists() {
        return Ok(read_versioned::<Manifest>(&dir.join(MANIFEST))?.key);
    }
    if !dir.join(KEY).exists() {
        return Err(Error::store(
            dir,
            "not a clipscope store or build (no key.json)",
        ));
    }
    read_versioned(&dir.join(KEY))
}
