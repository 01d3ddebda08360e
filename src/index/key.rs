//! A store's key for a model: its id, revision and the SHA-256 of each weight file, and its
//! slug (the name of the store's folder).

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::model::ModelFiles;
use crate::model::load::source::{ModelSpec, find_alias};
use crate::store::format;
use crate::store::slugify;
use crate::{Error, Result};

/// The model part of a store key, and the model's slug. Weight files are identified by their
/// SHA-256: the hub cache names blobs by it; other files are hashed.
pub fn model_key(spec: &str, files: &ModelFiles) -> Result<(format::ModelKey, String)> {
    let (id, slug) = match ModelSpec::parse(spec)? {
        ModelSpec::Dir(d) => {
            let canon = d.canonicalize().map_err(|e| Error::io(&d, e))?;
            let name = canon
                .file_name()
                .map_or("model".into(), |n| n.to_string_lossy().into_owned());
            let slug = slugify(&name);
            (name, slug)
        }
        ModelSpec::Builtin(name) => (name.to_string(), slugify(name)),
        ModelSpec::Hub { repo, .. } => {
            let slug = find_alias(&repo).map_or_else(|| slugify(&repo), |a| slugify(a.alias));
            (repo, slug)
        }
    };
    let mut revision = None;
    let mut weights = vec![];
    for w in &files.weights {
        if revision.is_none() {
            revision = snapshot_commit(w);
        }
        weights.push(file_digest(w)?);
    }
    Ok((
        format::ModelKey {
            id,
            revision,
            weights,
        },
        slug,
    ))
}

fn snapshot_commit(path: &Path) -> Option<String> {
    let parts: Vec<_> = path.iter().map(|p| p.to_string_lossy()).collect();
    let i = parts.iter().position(|p| p == "snapshots")?;
    parts.get(i + 1).map(|s| s.to_string())
}

/// SHA-256 of a file, taken from its hub blob name when it has one.
fn file_digest(path: &Path) -> Result<String> {
    let canon = path.canonicalize().map_err(|e| Error::io(path, e))?;
    let name = canon
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let in_blobs = canon
        .parent()
        .and_then(|p| p.file_name())
        .is_some_and(|n| n == "blobs");
    if in_blobs && name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(name.to_ascii_lowercase());
    }
    let mut file = std::fs::File::open(&canon).map_err(|e| Error::io(&canon, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(&canon, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(format::hex(&h.finalize()))
}
