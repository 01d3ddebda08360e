//! Chunks: the immutable, atomically published unit of a store build.
//!
//! Chunk `c` holds images `[c·C, min((c+1)·C, N))`. Its data file `chunks/cNNNNNN.f16` is the
//! heads `[L][H][n][E]`, then the embeddings `[n][E]`, then (format 2) the ablation rows
//! `[n][A][E]`, then the token effects `[k][L][T][H][E]` of its first `k` images (those below
//! `tokens_for`), little-endian f16. Its record `chunks/cNNNNNN.json` is written after the data
//! and marks the chunk complete.

use std::path::{Path, PathBuf};

use half::f16;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use super::format::{CHUNKS, ImageRecord, write_atomic};
use super::shape::Shape;
use crate::{Error, Result};

/// The record of a complete chunk.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ChunkRecord {
    /// Chunk number.
    pub index: usize,
    /// Global index of its first image.
    pub start: usize,
    /// Images in the chunk.
    pub len: usize,
    /// Images with token effects.
    pub with_tokens: usize,
    /// Size of the data file.
    pub bytes: u64,
    /// xxh3-64 of the data file.
    pub xxh3: u64,
    /// The image table rows.
    pub images: Vec<ImageRecord>,
}

/// File names of chunk `index` in store `dir`: (data, record).
pub fn paths(dir: &Path, index: usize) -> (PathBuf, PathBuf) {
    let base = dir.join(CHUNKS);
    (
        base.join(format!("c{index:06}.f16")),
        base.join(format!("c{index:06}.json")),
    )
}

/// A chunk being filled batch by batch.
pub struct ChunkBuf {
    shape: Shape,
    /// Chunk number.
    pub index: usize,
    /// First image.
    pub start: usize,
    /// Images in the chunk.
    pub len: usize,
    with_tokens: usize,
    heads: Vec<f16>,
    embeddings: Vec<f16>,
    ablation: Vec<f16>,
    tokens: Vec<f16>,
    images: Vec<Option<ImageRecord>>,
}

impl ChunkBuf {
    /// An empty chunk of `len` images starting at `start`; token effects for images below
    /// `tokens_for`.
    pub fn new(shape: Shape, index: usize, start: usize, len: usize, tokens_for: usize) -> Self {
        let with_tokens = tokens_for.saturating_sub(start).min(len);
        Self {
            shape,
            index,
            start,
            len,
            with_tokens,
            heads: vec![f16::ZERO; len * shape.head_values()],
            embeddings: vec![f16::ZERO; len * shape.dim],
            ablation: vec![f16::ZERO; len * shape.ablation_values()],
            tokens: vec![f16::ZERO; with_tokens * shape.token_values()],
            images: vec![None; len],
        }
    }

    /// Whether image `global` needs token effects.
    pub fn wants_tokens(&self, global: usize) -> bool {
        global < self.start + self.with_tokens
    }

    /// Records image `global`'s table row.
    pub fn set_record(&mut self, global: usize, record: ImageRecord) {
        self.images[global - self.start] = Some(record);
    }

    /// Stores image `global`'s heads `[L][H][E]`, embedding `[E]`, ablation rows `[A][E]` (when
    /// the shape has them) and optionally its token effects `[L][T][H][E]`, all f32.
    pub fn set_values(
        &mut self,
        global: usize,
        heads: &[f32],
        emb: &[f32],
        ablation: &[f32],
        tokens: Option<&[f32]>,
    ) {
        let (s, r, n) = (self.shape, global - self.start, self.len);
        for (lh, src) in heads.chunks_exact(s.dim).enumerate() {
            let dst = &mut self.heads[(lh * n + r) * s.dim..][..s.dim];
            dst.iter_mut()
                .zip(src)
                .for_each(|(d, &v)| *d = f16::from_f32(v));
        }
        let dst = &mut self.embeddings[r * s.dim..][..s.dim];
        dst.iter_mut()
            .zip(emb)
            .for_each(|(d, &v)| *d = f16::from_f32(v));
        let dst = &mut self.ablation[r * s.ablation_values()..][..s.ablation_values()];
        dst.iter_mut()
            .zip(ablation)
            .for_each(|(d, &v)| *d = f16::from_f32(v));
        if let Some(t) = tokens.filter(|_| r < self.with_tokens) {
            let dst = &mut self.tokens[r * s.token_values()..][..s.token_values()];
            dst.iter_mut()
                .zip(t)
                .for_each(|(d, &v)| *d = f16::from_f32(v));
        }
    }

    /// Publishes the chunk: the data file, then its record, each by atomic rename.
    pub fn write(self, dir: &Path) -> Result<ChunkRecord> {
        let (data_path, record_path) = paths(dir, self.index);
        let parts = [&self.heads, &self.embeddings, &self.ablation, &self.tokens];
        let mut bytes: Vec<u8> =
            Vec::with_capacity(2 * parts.iter().map(|p| p.len()).sum::<usize>());
        for part in parts {
            bytes.extend_from_slice(bytemuck::cast_slice(part));
        }
        let images = self
            .images
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                r.ok_or_else(|| {
                    Error::Invalid(format!("image {} was never recorded", self.start + i))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        write_atomic(&data_path, &bytes)?;
        let record = ChunkRecord {
            index: self.index,
            start: self.start,
            len: self.len,
            with_tokens: self.with_tokens,
            bytes: bytes.len() as u64,
            xxh3: xxh3_64(&bytes),
            images,
        };
        let json = serde_json::to_vec(&record)
            .map_err(|e| Error::caused(&record_path, "cannot encode JSON", e))?;
        write_atomic(&record_path, &json)?;
        Ok(record)
    }
}

/// The record of chunk `index` when the chunk is complete (record present, data of the
/// recorded size); `None` otherwise.
pub fn complete(dir: &Path, index: usize) -> Option<ChunkRecord> {
    let (data, record) = paths(dir, index);
    let text = std::fs::read(&record).ok()?;
    let rec: ChunkRecord = serde_json::from_slice(&text).ok()?;
    let size = std::fs::metadata(&data).ok()?.len();
    (size == rec.bytes && rec.index == index).then_some(rec)
}

/// Reads a complete chunk's data, checking its checksum.
pub fn read_data(dir: &Path, rec: &ChunkRecord) -> Result<Vec<u8>> {
    let (data, _) = paths(dir, rec.index);
    let bytes = std::fs::read(&data).map_err(|e| Error::io(&data, e))?;
    if bytes.len() as u64 != rec.bytes || xxh3_64(&bytes) != rec.xxh3 {
        return Err(Error::store(
            &data,
            "checksum mismatch: the chunk is corrupt; delete it and run the same command again",
        ));
    }
    Ok(bytes)
}
