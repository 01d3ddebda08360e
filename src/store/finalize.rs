//! Turns the complete chunks of a build into the finished, head-major store.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use xxhash_rust::xxh3::xxh3_64;

use super::chunk::{self, ChunkRecord};
use super::format::{
    ABLATION, CHUNKS, CLASSES, FileInfo, GROUPS, KEY, Key, MANIFEST, Manifest, NO_LABEL,
    PIECE_BYTES, TokensInfo, head_file, hex, piece_rows, sums_path, tmp_path, write_atomic,
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
    let row = 2 * shape.dim;
    let rows_piece = piece_rows(row) * row;
    let mut heads = vec![];
    for &l in &key.layers {
        for h in 0..shape.heads {
            heads.push(Sink::create(dir, &head_file(l, h), rows_piece)?);
        }
    }
    let mut emb = Sink::create(dir, "embeddings.f16", rows_piece)?;
    let abl_row = 2 * shape.ablation_values();
    let mut ablation = (abl_row > 0)
        .then(|| Sink::create(dir, ABLATION, piece_rows(abl_row) * abl_row))
        .transpose()?;
    let mut classes = key
        .labels
        .is_some()
        .then(|| Sink::create(dir, CLASSES, PIECE_BYTES))
        .transpose()?;
    let mut groups = key
        .labels
        .as_ref()
        .filter(|l| !l.groups.is_empty())
        .map(|_| Sink::create(dir, GROUPS, PIECE_BYTES))
        .transpose()?;
    let tok_row = 2 * shape.token_values();
    let mut tokens = (key.tokens_for > 0)
        .then(|| Sink::create(dir, "tokens.f16", piece_rows(tok_row) * tok_row))
        .transpose()?;
    let mut table = Sink::create(dir, "images.jsonl", PIECE_BYTES)?;
    let mut index = Sink::create(dir, "images.idx", PIECE_BYTES)?;
    let mut valid = Sink::create(dir, "valid.u8", PIECE_BYTES)?;
    let (mut offset, mut failed, mut images, mut with_tokens) = (0u64, 0usize, 0usize, 0usize);
    for rec in chunks {
        if rec.start != images {
            return Err(Error::store(dir, format!("chunk {} is missing", images)));
        }
        let data = chunk::read_data(dir, rec)?;
        let n = rec.len;
        let slab = n * row;
        for (i, sink) in heads.iter_mut().enumerate() {
            sink.write(&data[i * slab..(i + 1) * slab])?;
        }
        let base = heads.len() * slab;
        emb.write(&data[base..base + slab])?;
        let base = base + slab;
        let abl = n * abl_row;
        if let Some(a) = ablation.as_mut() {
            a.write(&data[base..base + abl])?;
        }
        let base = base + abl;
        if let Some(t) = tokens.as_mut() {
            t.write(&data[base..base + rec.with_tokens * tok_row])?;
        }
        for img in &rec.images {
            index.write(&offset.to_le_bytes())?;
            let mut line =
                serde_json::to_vec(img).map_err(|e| Error::caused(dir, "cannot encode JSON", e))?;
            line.push(b'\n');
            table.write(&line)?;
            offset += line.len() as u64;
            valid.write(&[img.ok() as u8])?;
            let label = |v: Option<u32>| v.unwrap_or(NO_LABEL).to_le_bytes();
            if let Some(c) = classes.as_mut() {
                c.write(&label(img.class))?;
            }
            if let Some(g) = groups.as_mut() {
                g.write(&label(img.group))?;
            }
            failed += usize::from(!img.ok());
        }
        images += n;
        with_tokens += rec.with_tokens;
    }
    if images != key.images.count {
        return Err(Error::store(
            dir,
            format!("chunks cover {images} of {} images", key.images.count),
        ));
    }
    index.write(&offset.to_le_bytes())?;
    let mut files = BTreeMap::new();
    let sinks = heads
        .into_iter()
        .chain([emb, table, index, valid])
        .chain(tokens)
        .chain(ablation)
        .chain(classes)
        .chain(groups);
    for sink in sinks {
        let (name, info) = sink.finish(dir)?;
        files.insert(name, info);
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
        files,
    };
    let json = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| Error::caused(dir, "cannot encode JSON", e))?;
    write_atomic(&dir.join(MANIFEST), &json)?;
    let _ = std::fs::remove_dir_all(dir.join(CHUNKS));
    let _ = std::fs::remove_file(dir.join(KEY));
    Ok(manifest)
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
