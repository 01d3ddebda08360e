//! The image list of a store: a directory walked recursively in sorted order, or a list file.

use std::ffi::{OsStr, OsString};
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
    /// Path relative to the list's root, with `/` separators, as shown (a name that is not
    /// UTF-8 has its bad bytes as `\xHH`: see [`crate::pathname`]).
    pub rel: String,
    /// The relative path's exact bytes as hex, when it is not UTF-8.
    pub raw: Option<String>,
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
            // Bytewise order of the relative paths.
            rels.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
            let entries = rels.iter().map(|rel| stat(&root, rel)).collect();
            Ok(Self { root, entries })
        } else {
            let text = std::fs::read_to_string(source).map_err(|e| Error::io(source, e))?;
            let parent = source.parent().filter(|p| !p.as_os_str().is_empty());
            let root = canon(parent.unwrap_or(Path::new(".")))?;
            let entries = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(|l| stat(&root, std::ffi::OsStr::new(l)))
                .collect();
            Ok(Self { root, entries })
        }
    }

    /// Absolute path of entry `i`.
    pub fn path(&self, i: usize) -> PathBuf {
        self.entries[i].path(&self.root)
    }

    /// The image-list part of a store key.
    pub fn key(&self) -> ImagesKey {
        let mut h = Sha256::new();
        for e in &self.entries {
            match e.raw.as_deref().and_then(crate::pathname::from_hex) {
                Some(raw) => h.update(raw.as_encoded_bytes()),
                None => h.update(e.rel.as_bytes()),
            }
            h.update(format!("\t{}\t{}\n", e.bytes, e.mtime).as_bytes());
        }
        ImagesKey {
            root: crate::pathname::show(&self.root),
            root_bytes: crate::pathname::raw_hex(self.root.as_os_str()),
            count: self.entries.len(),
            digest: hex(&h.finalize()),
        }
    }
}

impl Listed {
    /// The file's path under `root`, byte for byte.
    pub fn path(&self, root: &Path) -> PathBuf {
        match self.raw.as_deref().and_then(crate::pathname::from_hex) {
            Some(raw) => root.join(raw),
            None => root.join(&self.rel),
        }
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<OsString>) -> Result<()> {
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
            let parts: Vec<&OsStr> = rel.iter().collect();
            out.push(parts.join(OsStr::new("/")));
        }
    }
    Ok(())
}

fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

fn stat(root: &Path, rel: &OsStr) -> Listed {
    let meta = std::fs::metadata(root.join(rel)).ok();
    let bytes = meta.as_ref().map_or(0, |m| m.len());
    let mtime = meta
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64);
    Listed {
        rel: crate::pathname::escape(rel),
        raw: crate::pathname::raw_hex(rel),
        bytes,
        mtime,
    }
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
