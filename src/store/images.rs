//! The image list of a store: a directory walked recursively in sorted order, or a list file.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use sha2::{Digest, Sha256};

use super::format::{ImagesKey, hex};
use crate::{Error, Result};

/// File extensions taken from a directory (compared case-insensitively).
pub const EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "webp", "bmp", "gif", "tiff", "tif"];

/// One listed image.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    /// Path relative to the list's root, with `/` separators.
    pub rel: String,
    /// Size in bytes (0 when the file cannot be read).
    pub bytes: u64,
    /// Modification time in seconds (0 when unknown).
    pub mtime: i64,
}

/// The images of a store, in index order.
#[derive(Debug, Clone)]
pub struct ImageList {
    /// Canonical directory that paths are relative to.
    pub root: PathBuf,
    /// The images.
    pub entries: Vec<Listed>,
}

impl ImageList {
    /// Lists `source`: a directory (walked recursively, sorted by relative path) or a text file
    /// with one image path per line (relative paths resolve against the file's directory;
    /// empty lines and lines starting with `#` are skipped).
    pub fn from_source(source: &Path) -> Result<Self> {
        let meta = std::fs::metadata(source).map_err(|e| Error::io(source, e))?;
        let canon = |p: &Path| p.canonicalize().map_err(|e| Error::io(p, e));
        if meta.is_dir() {
            let root = canon(source)?;
            let mut rels = vec![];
            walk(&root, &root, &mut rels)?;
            rels.sort();
            let entries = rels.into_iter().map(|rel| stat(&root, rel)).collect();
            Ok(Self { root, entries })
        } else {
            let text = std::fs::read_to_string(source).map_err(|e| Error::io(source, e))?;
            let parent = source.parent().filter(|p| !p.as_os_str().is_empty());
            let root = canon(parent.unwrap_or(Path::new(".")))?;
            let entries = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(|l| stat(&root, l.to_string()))
                .collect();
            Ok(Self { root, entries })
        }
    }

    /// Absolute path of entry `i`.
    pub fn path(&self, i: usize) -> PathBuf {
        self.root.join(&self.entries[i].rel)
    }

    /// The image-list part of a store key.
    pub fn key(&self) -> ImagesKey {
        let mut h = Sha256::new();
        for e in &self.entries {
            h.update(format!("{}\t{}\t{}\n", e.rel, e.bytes, e.mtime).as_bytes());
        }
        ImagesKey {
            root: self.root.to_string_lossy().into_owned(),
            count: self.entries.len(),
            digest: hex(&h.finalize()),
        }
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| Error::io(&path, e))?;
        // Directory links are not followed (no cycles); file links are.
        if kind.is_dir() {
            walk(root, &path, out)?;
        } else if has_image_extension(&path)
            && let Ok(rel) = path.strip_prefix(root)
        {
            let parts: Vec<_> = rel.iter().map(|c| c.to_string_lossy()).collect();
            out.push(parts.join("/"));
        }
    }
    Ok(())
}

fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

fn stat(root: &Path, rel: String) -> Listed {
    let meta = std::fs::metadata(root.join(&rel)).ok();
    let bytes = meta.as_ref().map_or(0, |m| m.len());
    let mtime = meta
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64);
    Listed { rel, bytes, mtime }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_sorted_and_filters_extensions() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("b/c")).unwrap();
        for f in ["z.PNG", "a.jpg", "b/c/x.webp", "notes.txt", "b/a.tiff"] {
            std::fs::write(dir.path().join(f), b"x").unwrap();
        }
        let list = ImageList::from_source(dir.path()).unwrap();
        let rels: Vec<_> = list.entries.iter().map(|e| e.rel.as_str()).collect();
        assert_eq!(rels, ["a.jpg", "b/a.tiff", "b/c/x.webp", "z.PNG"]);
        let before = list.key();
        std::fs::write(dir.path().join("a.jpg"), b"xy").unwrap();
        assert_ne!(ImageList::from_source(dir.path()).unwrap().key(), before);

        let listfile = dir.path().join("list.txt");
        std::fs::write(&listfile, "# comment\nb/a.tiff\n\nmissing.png\n").unwrap();
        let list = ImageList::from_source(&listfile).unwrap();
        assert_eq!(list.entries.len(), 2);
        assert_eq!(list.entries[1].bytes, 0);
    }
}
