//! Turns the complete chunks of a build into the finished, head-major store.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use xxhash_rust::xxh3::xxh3_64;

use super::chunk::{self, ChunkRecord};
use super::format::{
    ABLATION, CHUNKS, CLASSES, FileInfo, GROUPS, ImageRecord, KEY, Key, MANIFEST, Manifest,
    NO_LABEL, PIECE_BYTES, TokensInfo, head_file, hex, piece_rows, sums_path, tmp_path,
    write_atomic,
};
use crate::scratch::Scratch;
use crate::{Error, Result};

/// A data file being written: SHA-256 of the whole, xxh3 of each piece, atomic publication.
pub(crate) struct Sink {
    name: String,
    path: PathBuf,
    /// Removed unless published: a failed build leaves no partial file.
    tmp: Scratch,
    out: BufWriter<File>,
    sha: Sha256,
    piece_bytes: usize,
    piece: Vec<u8>,
    sums: Vec<u8>,
    bytes: u64,
}

impl Sink {
    pub(crate) fn create(dir: &Path, name: &str, piece_bytes: usize) -> Result<Self> {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::write(parent, e))?;
        }
        let tmp = Scratch::new(tmp_path(&path));
        let file = File::create(tmp.path()).map_err(|e| Error::write(&path, e))?;
        Ok(Self {
            name: name.to_string(),
            path,
            tmp,
            out: BufWriter::with_capacity(1 << 20, file),
            sha: Sha256::new(),
            piece_bytes,
            piece: Vec::with_capacity(piece_bytes),
            sums: vec![],
            bytes: 0,
        })
    }

    pub(crate) fn write(&mut self, mut data: &[u8]) -> Result<()> {
        self.out
            .write_all(data)
            .map_err(|e| Error::write(&self.path, e))?;
        self.sha.update(data);
        self.bytes += data.len() as u64;
        while !data.is_empty() {
            let take = (self.piece_bytes - self.piece.len()).min(data.len());
            self.piece.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.piece.len() == self.piece_bytes {
                self.sums
                    .extend_from_slice(&xxh3_64(&self.piece).to_le_bytes());
                self.piece.clear();
            }
        }
        Ok(())
    }

    pub(crate) fn finish(mut self, dir: &Path) -> Result<(String, FileInfo)> {
        if !self.piece.is_empty() {
            self.sums
                .extend_from_slice(&xxh3_64(&self.piece).to_le_bytes());
        }
        let file = self
            .out
            .into_inner()
            .map_err(|e| Error::write(&self.path, e.into_error()))?;
        file.sync_all().map_err(|e| Error::write(&self.path, e))?;
        drop(file);
        self.tmp
            .publish(&self.path)
            .map_err(|e| Error::write(&self.path, e))?;
        write_atomic(&sums_path(dir, &self.name), &self.sums)?;
        let info = FileInfo {
            bytes: self.bytes,
            sha256: hex(&self.sha.finalize()),
            piece_bytes: self.piece_bytes as u64,
        };
        Ok((self.name, info))
    }
}

/// Writes the finished store from `chunks` (complete, in order, covering every image), then the
/// manifest, then removes the chunks. Every file is published by atomic rename and the content
/// depends only on the chunks, so an interrupted finalisation can simply run again.
pub fn finalize(dir: &Path, key: &Key, slug: &str, chunks: &[ChunkRecord]) -> Result<Manifest> {
    let shape = key.shape;
    let mut sinks = Sinks::create(dir, key)?;
    let (mut failed, mut images, mut with_tokens) = (0usize, 0usize, 0usize);
    for rec in chunks {
        if rec.start != images {
            return Err(Error::store(dir, format!("chunk {} is missing", images)));
        }
        let data = chunk::read_data(dir, rec)?;
        sinks.values(rec, &data, key)?;
        failed += sinks.records(dir, &rec.images)?;
        images += rec.len;
        with_tokens += rec.with_tokens;
    }
    if images != key.images.count {
        return Err(Error::store(
            dir,
            format!("chunks cover {images} of {} images", key.images.count),
        ));
    }
    let manifest = Manifest {
        format_version: key.format_version,
        hash: key.hash(),
        key: key.clone(),
        slug: slug.to_string(),
        images,
        failed,
        heads: shape.heads,
        dim: shape.dim,
        tokens_per_image: shape.tokens,
        tokens: (key.tokens_for > 0).then_some(TokensInfo {
            count: with_tokens,
            tokens: shape.tokens,
        }),
        files: sinks.finish(dir)?,
    };
    let json = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| Error::caused(dir, "cannot encode JSON", e))?;
    write_atomic(&dir.join(MANIFEST), &json)?;
    let _ = std::fs::remove_dir_all(dir.join(CHUNKS));
    let _ = std::fs::remove_file(dir.join(KEY));
    Ok(manifest)
}

/// Every file of a store being finished, written chunk by chunk in image order.
struct Sinks {
    /// One per (layer, head), in the key's layer order.
    heads: Vec<Sink>,
    emb: Sink,
    ablation: Option<Sink>,
    classes: Option<Sink>,
    groups: Option<Sink>,
    tokens: Option<Sink>,
    /// The image records as JSON lines, and each line's offset.
    table: Sink,
    index: Sink,
    valid: Sink,
    /// Where the next image record starts in `table`.
    offset: u64,
}

impl Sinks {
    /// The files `key` asks for in `dir`, empty.
    fn create(dir: &Path, key: &Key) -> Result<Self> {
        let shape = key.shape;
        let row = 2 * shape.dim;
        let rows_piece = piece_rows(row) * row;
        let mut heads = vec![];
        for &l in &key.layers {
            for h in 0..shape.heads {
                heads.push(Sink::create(dir, &head_file(l, h), rows_piece)?);
            }
        }
        let abl_row = 2 * shape.ablation_values();
        let tok_row = 2 * shape.token_values();
        let labels = key.labels.as_ref();
        Ok(Self {
            heads,
            emb: Sink::create(dir, "embeddings.f16", rows_piece)?,
            ablation: (abl_row > 0)
                .then(|| Sink::create(dir, ABLATION, piece_rows(abl_row) * abl_row))
                .transpose()?,
            classes: labels
                .map(|_| Sink::create(dir, CLASSES, PIECE_BYTES))
                .transpose()?,
            groups: labels
                .filter(|l| !l.groups.is_empty())
                .map(|_| Sink::create(dir, GROUPS, PIECE_BYTES))
                .transpose()?,
            tokens: (key.tokens_for > 0)
                .then(|| Sink::create(dir, "tokens.f16", piece_rows(tok_row) * tok_row))
                .transpose()?,
            table: Sink::create(dir, "images.jsonl", PIECE_BYTES)?,
            index: Sink::create(dir, "images.idx", PIECE_BYTES)?,
            valid: Sink::create(dir, "valid.u8", PIECE_BYTES)?,
            offset: 0,
        })
    }

    /// Chunk `rec`'s values (`data`: every head's rows, the embeddings, the ablation rows, the
    /// token rows of the images that have them), each to its file.
    fn values(&mut self, rec: &ChunkRecord, data: &[u8], key: &Key) -> Result<()> {
        let shape = key.shape;
        let slab = rec.len * 2 * shape.dim;
        for (i, sink) in self.heads.iter_mut().enumerate() {
            sink.write(&data[i * slab..(i + 1) * slab])?;
        }
        let base = self.heads.len() * slab;
        self.emb.write(&data[base..base + slab])?;
        let base = base + slab;
        let abl = rec.len * 2 * shape.ablation_values();
        if let Some(a) = self.ablation.as_mut() {
            a.write(&data[base..base + abl])?;
        }
        let base = base + abl;
        if let Some(t) = self.tokens.as_mut() {
            t.write(&data[base..base + rec.with_tokens * 2 * shape.token_values()])?;
        }
        Ok(())
    }

    /// The records of a chunk's images: their JSON lines and offsets, validity and labels. How
    /// many of them failed.
    fn records(&mut self, dir: &Path, images: &[ImageRecord]) -> Result<usize> {
        let mut failed = 0;
        for img in images {
            self.index.write(&self.offset.to_le_bytes())?;
            let mut line =
                serde_json::to_vec(img).map_err(|e| Error::caused(dir, "cannot encode JSON", e))?;
            line.push(b'\n');
            self.table.write(&line)?;
            self.offset += line.len() as u64;
            self.valid.write(&[img.ok() as u8])?;
            let label = |v: Option<u32>| v.unwrap_or(NO_LABEL).to_le_bytes();
            if let Some(c) = self.classes.as_mut() {
                c.write(&label(img.class))?;
            }
            if let Some(g) = self.groups.as_mut() {
                g.write(&label(img.group))?;
            }
            failed += usize::from(!img.ok());
        }
        Ok(failed)
    }

    /// Ends the index with the table's length and publishes every file: name → size and hashes.
    fn finish(mut self, dir: &Path) -> Result<BTreeMap<String, FileInfo>> {
        self.index.write(&self.offset.to_le_bytes())?;
        let mut files = BTreeMap::new();
        let sinks = self
            .heads
            .into_iter()
            .chain([self.emb, self.table, self.index, self.valid])
            .chain(self.tokens)
            .chain(self.ablation)
            .chain(self.classes)
            .chain(self.groups);
        for sink in sinks {
            let (name, info) = sink.finish(dir)?;
            files.insert(name, info);
        }
        Ok(files)
    }
}

/// The temporary files that an interrupted finalisation left in `dir` and `dir/heads`.
pub fn stale_tmp(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for d in [dir.to_path_buf(), dir.join("heads")] {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.ends_with(".tmp") {
                out.push(e.path());
            }
        }
    }
    out
}

/// Removes [`stale_tmp`] (call with the finalisation lock held).
pub fn remove_stale_tmp(dir: &Path) {
    for p in stale_tmp(dir) {
        let _ = std::fs::remove_file(p);
    }
}
