//! The on-disk format of a store, version 2 (docs/FORMAT.md is the specification).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::shape::Shape;
use crate::{Error, Result};

/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 2;

/// The oldest format version readers still open (version 1 lacks the ablation rows and
/// labels).
pub const OLDEST_READABLE: u32 = 1;

/// Target size of one checksummed piece of a data file.
pub const PIECE_BYTES: usize = 1 << 20;

/// Name of the finished store's manifest; its presence marks a complete store.
pub const MANIFEST: &str = "manifest.json";
/// Name of the key file written when a build starts.
pub const KEY: &str = "key.json";
/// Directory of the build's chunk files.
pub const CHUNKS: &str = "chunks";
/// Format 2: N rows of `3·depth + 1` E-vectors per image (attention totals, class-token terms,
/// pre term and MLPs), f16.
pub const ABLATION: &str = "ablation.f16";
/// Format 2, with labels: N little-endian u32 class indices ([`NO_LABEL`] when unknown).
pub const CLASSES: &str = "classes.u32";
/// Format 2, with grouped labels: N little-endian u32 group indices.
pub const GROUPS: &str = "groups.u32";
/// The user's label overrides beside a finished store (`{"L10H3": "color", …}`).
pub const LABELS_FILE: &str = "labels.json";
/// The explorer's bookmarks and notes beside a finished store.
pub const NOTES_FILE: &str = "tui.json";
/// The files beside a store that hold the user's own work: `store gc` never removes a store
/// holding one unless it is named.
pub const USER_FILES: [&str; 2] = [LABELS_FILE, NOTES_FILE];
/// The class or group index of an image without one.
pub const NO_LABEL: u32 = u32::MAX;

/// Everything that determines a store's content; its SHA-256 is the store's hash.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Key {
    /// The format version.
    pub format_version: u32,
    /// The model.
    pub model: ModelKey,
    /// Compute precision of the forward pass (f32, f16, bf16).
    pub dtype: String,
    /// The image preprocessing, as written by clipscope.
    pub preprocess: String,
    /// Per-image shape of the stored data.
    pub shape: Shape,
    /// The 0-based layers whose heads are stored.
    pub layers: Vec<usize>,
    /// Number of layers of the model's vision tower.
    #[serde(default)]
    pub model_depth: Option<usize>,
    /// Per-token effects are stored for the first this many images.
    pub tokens_for: usize,
    /// Images per chunk while building.
    pub chunk_images: usize,
    /// The image list.
    pub images: ImagesKey,
    /// The images' classes (and groups), when the build was given them (format 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<LabelsKey>,
}

/// The labels part of a [`Key`]: class (and group) names, and a digest of each image's.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct LabelsKey {
    /// Where the labels came from: `folders`, or the CSV file's name.
    pub source: String,
    /// Class names, by class index.
    pub classes: Vec<String>,
    /// Group names, by group index (empty when the labels have no groups).
    pub groups: Vec<String>,
    /// SHA-256 of the lines `class \t group \n` (indices, `-` when unknown), one per image.
    pub digest: String,
}

/// The model part of a [`Key`].
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ModelKey {
    /// Hub id, or the directory's name for a local model.
    pub id: String,
    /// Hub commit, when the files come from a hub snapshot.
    pub revision: Option<String>,
    /// SHA-256 of each weight file, in load order.
    pub weights: Vec<String>,
}

/// The image-list part of a [`Key`].
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ImagesKey {
    /// The directory image paths are relative to (canonical; shown escaped when not UTF-8).
    pub root: String,
    /// The directory's exact bytes as hex, only when it is not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub root_bytes: Option<String>,
    /// Number of images.
    pub count: usize,
    /// SHA-256 of the lines `path \t bytes \t mtime \n`, in order.
    pub digest: String,
}

impl ImagesKey {
    /// The directory image paths are relative to, byte for byte.
    pub fn root_path(&self) -> std::path::PathBuf {
        match self
            .root_bytes
            .as_deref()
            .and_then(crate::pathname::from_hex)
        {
            Some(raw) => raw.into(),
            None => self.root.clone().into(),
        }
    }
}

impl Key {
    /// Whether the images were rotated by their EXIF orientation (`index --apply-exif`).
    pub fn applies_exif(&self) -> bool {
        self.preprocess.contains("apply_exif: true")
    }

    /// The store's hash: SHA-256 of the key's canonical JSON.
    pub fn hash(&self) -> String {
        // Field order is fixed by the struct, so the JSON is canonical.
        let json = serde_json::to_vec(self).unwrap_or_default();
        hex(&Sha256::digest(&json))
    }
}

/// One row of the image table.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ImageRecord {
    /// Path relative to the key's root, as shown (bad UTF-8 bytes as `\xHH`).
    pub path: String,
    /// The path's exact bytes as hex, only when it is not UTF-8 (format addition, optional).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub path_bytes: Option<String>,
    /// File size in bytes.
    pub bytes: u64,
    /// Modification time, seconds since the Unix epoch.
    pub mtime: i64,
    /// SHA-256 of the file's bytes (absent when it could not be read).
    pub sha256: Option<String>,
    /// Width in pixels after EXIF orientation (0 when unreadable).
    pub width: u32,
    /// Height in pixels after EXIF orientation (0 when unreadable).
    pub height: u32,
    /// `ok`, or `failed` with the reason in `error`.
    pub status: String,
    /// Why the image could not be used.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    /// Its class index, when the store has labels (format 2).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub class: Option<u32>,
    /// Its group index, when the labels have groups (format 2).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub group: Option<u32>,
}

impl ImageRecord {
    /// Whether the image was indexed.
    pub fn ok(&self) -> bool {
        self.status == "ok"
    }
}

/// Size and checksums of one data file of a finished store.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct FileInfo {
    /// Length in bytes.
    pub bytes: u64,
    /// SHA-256 of the whole file.
    pub sha256: String,
    /// Size of each checksummed piece (a whole number of rows); the last may be shorter.
    pub piece_bytes: u64,
}

/// Shape of the stored per-token effects.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TokensInfo {
    /// Images with token effects (the first `count` of the table).
    pub count: usize,
    /// Tokens per image, CLS first.
    pub tokens: usize,
}

/// The manifest of a finished store (`manifest.json`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Manifest {
    /// The format version.
    pub format_version: u32,
    /// SHA-256 of `key`.
    pub hash: String,
    /// What the store was built from.
    pub key: Key,
    /// Short model name used for the cache directory.
    pub slug: String,
    /// Images in the table.
    pub images: usize,
    /// Images that could not be read (zero rows, excluded from searches).
    pub failed: usize,
    /// Heads per layer.
    pub heads: usize,
    /// Embedding dimension.
    pub dim: usize,
    /// Image tokens per image: a CLIP's class token plus its patches, a SigLIP's patches.
    pub tokens_per_image: usize,
    /// Per-token effects, when stored.
    pub tokens: Option<TokensInfo>,
    /// Every data file, by path relative to the store.
    pub files: BTreeMap<String, FileInfo>,
}

impl Manifest {
    /// Whether the model's token 0 is a class token: false for a SigLIP, whose tokens are its
    /// patches alone (`tokens_per_image` a square).
    pub fn class_token(&self) -> bool {
        crate::model::load::config::patch_grid(self.tokens_per_image)
            .is_none_or(|(_, first)| first == 1)
    }
}

/// Reads a manifest or key file, refusing versions this build does not know.
pub fn read_versioned<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse_versioned(path, &text)
}

/// [`read_versioned`] of the text already read from `path`.
pub fn parse_versioned<T: for<'de> Deserialize<'de>>(path: &Path, text: &str) -> Result<T> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| Error::store(path, format!("not valid JSON ({e}); the store is corrupt")))?;
    match value.get("format_version").and_then(|v| v.as_u64()) {
        Some(v) if (OLDEST_READABLE as u64..=FORMAT_VERSION as u64).contains(&v) => {}
        Some(v) => {
            return Err(Error::store(
                path,
                format!(
                    "store format version {v}, but this clipscope reads versions {OLDEST_READABLE} to {FORMAT_VERSION}: \
                     use a matching clipscope or rebuild the store"
                ),
            ));
        }
        None => {
            return Err(Error::store(
                path,
                "no format_version: not a clipscope store",
            ));
        }
    }
    serde_json::from_value(value)
        .map_err(|e| Error::store(path, format!("malformed ({e}); the store is corrupt")))
}

pub use crate::digest::hex;

/// Path of the data file holding layer `l`, head `h`.
pub fn head_file(layer: usize, head: usize) -> String {
    format!("heads/L{layer:02}H{head:02}.f16")
}

/// Path of the piece checksums of a data file.
pub fn sums_path(dir: &Path, file: &str) -> PathBuf {
    dir.join(format!("{file}.xxh3"))
}

/// Rows per checksummed piece for rows of `row_bytes` bytes.
pub fn piece_rows(row_bytes: usize) -> usize {
    (PIECE_BYTES / row_bytes.max(1)).max(1)
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, synced, then renamed; the
/// temporary file is removed when a step fails.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    // Removed if anything below fails: no debris left on a full disk.
    let tmp = crate::scratch::Scratch::new(tmp_path(path));
    let mut f = std::fs::File::create(tmp.path()).map_err(|e| Error::write(path, e))?;
    f.write_all(bytes).map_err(|e| Error::write(path, e))?;
    f.sync_all().map_err(|e| Error::write(path, e))?;
    drop(f);
    tmp.publish(path).map_err(|e| Error::write(path, e))
}

/// A temporary name beside `path`, unique to this process.
pub fn tmp_path(path: &Path) -> PathBuf {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}
