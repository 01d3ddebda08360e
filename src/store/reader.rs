//! Opening a finished store: the manifest is read, the tables are mapped, blocks on demand.

use std::path::{Path, PathBuf};

use super::block::Block;
use super::format::{
    ABLATION, CLASSES, GROUPS, ImageRecord, MANIFEST, Manifest, NO_LABEL, head_file,
};
use super::pieces::Pieces;
use crate::{Error, Result};

/// The labels of a store's images (format 2, `index --labels`).
#[derive(Debug, Clone, PartialEq)]
pub struct StoreLabels {
    /// Per image, its class index.
    pub classes: Vec<Option<u32>>,
    /// Per image, its group index, when the labels have groups.
    pub groups: Option<Vec<Option<u32>>>,
    /// Class names by index.
    pub class_names: Vec<String>,
    /// Group names by index (empty without groups).
    pub group_names: Vec<String>,
}

/// A finished store, opened in time independent of its number of images.
pub struct Store {
    dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    table: Pieces,
    index: Pieces,
    valid: Pieces,
}

fn map(dir: &Path, name: &str, m: &Manifest) -> Result<Pieces> {
    let info = m
        .files
        .get(name)
        .ok_or_else(|| Error::store(dir, format!("{name} is not listed in the manifest")))?;
    Pieces::open(dir, name, info)
}

impl Store {
    /// Opens the store in `dir`, refusing unfinished builds, unknown versions, a manifest that
    /// disagrees with its key or its files (`consistency`), and a damaged validity table; the
    /// other files' pieces are checked as they are first read.
    pub fn open(dir: &Path) -> Result<Self> {
        let path = dir.join(MANIFEST);
        if !path.exists() {
            let why = if dir.join(super::format::KEY).exists() {
                "the build is not finished: run the same `clipscope index` command again"
            } else {
                "not a clipscope store (no manifest.json)"
            };
            return Err(Error::store(dir, why));
        }
        let manifest = super::consistency::read_manifest(dir)?;
        let table = map(dir, "images.jsonl", &manifest)?;
        let index = map(dir, "images.idx", &manifest)?;
        let valid = map(dir, "valid.u8", &manifest)?;
        // One byte per image, read whole by its users: checked now, once.
        valid.all()?;
        Ok(Self {
            dir: dir.to_path_buf(),
            manifest,
            table,
            index,
            valid,
        })
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Number of images in the table (failed ones included).
    pub fn len(&self) -> usize {
        self.manifest.images
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.manifest.images == 0
    }

    /// Stored layers.
    pub fn layers(&self) -> &[usize] {
        &self.manifest.key.layers
    }

    /// One byte per image: 1 when indexed, 0 when it could not be read.
    pub fn valid(&self) -> &[u8] {
        // Checked whole when the store was opened.
        self.valid.all().unwrap_or(&[])
    }

    /// Row `i` of the image table.
    pub fn image(&self, i: usize) -> Result<ImageRecord> {
        if i >= self.len() {
            return Err(Error::Invalid(format!(
                "image {i} of {} images",
                self.len()
            )));
        }
        let bad = || Error::store(self.dir.join("images.jsonl"), format!("row {i} is damaged"));
        let offsets = self.index.get(8 * i..8 * i + 16)?;
        let at = |k: usize| {
            u64::from_le_bytes(offsets[8 * k..8 * k + 8].try_into().unwrap_or([0xff; 8]))
        };
        let (a, b) = (at(0), at(1));
        if a > b || b > self.table.byte_len() as u64 {
            return Err(bad());
        }
        let line = self.table.get(a as usize..b as usize)?;
        serde_json::from_slice(line).map_err(|_| bad())
    }

    /// Absolute path of image `i`.
    pub fn image_path(&self, i: usize) -> Result<PathBuf> {
        let rec = self.image(i)?;
        let root = self.manifest.key.images.root_path();
        Ok(
            match rec
                .path_bytes
                .as_deref()
                .and_then(crate::pathname::from_hex)
            {
                Some(raw) => root.join(raw),
                None => root.join(rec.path),
            },
        )
    }

    /// The index of the image whose table path is `rel`, as shown (a name that is not UTF-8
    /// with `\xHH` escapes; a linear scan of the table).
    pub fn find_image(&self, rel: &str) -> Option<usize> {
        (0..self.len()).find(|&i| self.image(i).is_ok_and(|r| r.path == rel))
    }

    /// The N × E block of `layer` (a model layer number) and `head`.
    pub fn head(&self, layer: usize, head: usize) -> Result<Block> {
        if !self.layers().contains(&layer) || head >= self.manifest.heads {
            return Err(Error::Invalid(format!(
                "{} is not in this store (layers {:?}, {} heads)",
                crate::head::HeadRef { layer, head },
                self.layers(),
                self.manifest.heads
            )));
        }
        self.block(&head_file(layer, head), self.manifest.dim)
    }

    /// The N × E unit image embeddings.
    pub fn embeddings(&self) -> Result<Block> {
        self.block("embeddings.f16", self.manifest.dim)
    }

    /// Per-token effects: row i is image i's `[L][T][H][E]`, for the first `count` images.
    pub fn tokens(&self) -> Result<Option<Block>> {
        let Some(t) = &self.manifest.tokens else {
            return Ok(None);
        };
        let per = self.layers().len() * t.tokens * self.manifest.heads * self.manifest.dim;
        self.block("tokens.f16", per).map(Some)
    }

    /// Format 2: each image's `3·depth + 1` ablation rows of E values (every layer's attention
    /// total, every layer's class-token term, the pre term and every MLP), as one N × (A·E)
    /// block; `None` for a format-1 store.
    pub fn ablation(&self) -> Result<Option<Block>> {
        let rows = self.manifest.key.shape.ablation_rows;
        if rows == 0 || !self.manifest.files.contains_key(ABLATION) {
            return Ok(None);
        }
        self.block(ABLATION, rows * self.manifest.dim).map(Some)
    }

    /// The images' class indices (and group indices) with their names, when the store was
    /// indexed with labels; `None` otherwise.
    pub fn labels(&self) -> Result<Option<StoreLabels>> {
        let Some(key) = &self.manifest.key.labels else {
            return Ok(None);
        };
        let read = |name: &str, count: usize| -> Result<Vec<Option<u32>>> {
            let path = self.dir.join(name);
            let file = map(&self.dir, name, &self.manifest)?;
            let bytes = file.all()?;
            if bytes.len() != 4 * self.len() {
                return Err(Error::store(&path, "wrong length: the store is damaged"));
            }
            let v: Vec<Option<u32>> = bytes
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .map(|v| (v != NO_LABEL).then_some(v))
                .collect();
            if v.iter().flatten().any(|&c| c as usize >= count) {
                return Err(Error::store(
                    &path,
                    "an index past the names: the store is damaged",
                ));
            }
            Ok(v)
        };
        Ok(Some(StoreLabels {
            classes: read(CLASSES, key.classes.len())?,
            groups: if key.groups.is_empty() {
                None
            } else {
                Some(read(GROUPS, key.groups.len())?)
            },
            class_names: key.classes.clone(),
            group_names: key.groups.clone(),
        }))
    }

    fn block(&self, name: &str, dim: usize) -> Result<Block> {
        let info = self.manifest.files.get(name).ok_or_else(|| {
            Error::store(&self.dir, format!("{name} is not listed in the manifest"))
        })?;
        Block::open(&self.dir, name, info, dim)
    }
}
