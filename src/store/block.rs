//! A memory-mapped N × E f16 matrix of a store, checked piece by piece as it is read.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use half::f16;
use memmap2::Mmap;
use xxhash_rust::xxh3::xxh3_64;

use super::format::{FileInfo, sums_path};
use crate::{Error, Result};

/// Rows of f16 numbers in a store file: a head block, the embeddings or token effects.
pub struct Block {
    path: PathBuf,
    map: Option<Mmap>,
    rows: usize,
    dim: usize,
    piece_rows: usize,
    sums: Vec<u64>,
    checked: Vec<AtomicBool>,
}

impl Block {
    /// Maps `name` of store `dir`, rows of `dim` values, as described by `info`.
    pub fn open(dir: &Path, name: &str, info: &FileInfo, dim: usize) -> Result<Self> {
        if cfg!(target_endian = "big") {
            return Err(Error::store(
                dir,
                "stores are little-endian; this machine is not",
            ));
        }
        let path = dir.join(name);
        let file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
        let len = file.metadata().map_err(|e| Error::io(&path, e))?.len();
        let row = 2 * dim as u64;
        if len != info.bytes || !len.is_multiple_of(row) || !info.piece_bytes.is_multiple_of(row) {
            return Err(Error::store(
                &path,
                format!(
                    "{len} bytes where the manifest says {}: the store is damaged; run `clipscope store verify`",
                    info.bytes
                ),
            ));
        }
        let sums_file = sums_path(dir, name);
        let raw = std::fs::read(&sums_file).map_err(|e| Error::io(&sums_file, e))?;
        let sums: Vec<u64> = raw
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
            .collect();
        let pieces = len.div_ceil(info.piece_bytes) as usize;
        if sums.len() != pieces || raw.len() % 8 != 0 {
            return Err(Error::store(
                &sums_file,
                "wrong length: the store is damaged",
            ));
        }
        // SAFETY: store files are immutable once published (atomic rename, never rewritten),
        // so the mapping is not modified underneath us.
        let map = if len == 0 {
            None
        } else {
            Some(unsafe { Mmap::map(&file) }.map_err(|e| Error::io(&path, e))?)
        };
        Ok(Self {
            path,
            map,
            rows: (len / row) as usize,
            dim,
            piece_rows: (info.piece_bytes / row) as usize,
            checked: (0..pieces).map(|_| AtomicBool::new(false)).collect(),
            sums,
        })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Values per row.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Rows per checksummed piece.
    pub fn piece_rows(&self) -> usize {
        self.piece_rows
    }

    /// Number of pieces.
    pub fn pieces(&self) -> usize {
        self.sums.len()
    }

    fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }

    /// Rows of piece `p`, checked against its checksum on first access.
    pub fn piece(&self, p: usize) -> Result<&[f16]> {
        let pb = self.piece_rows * self.dim * 2;
        let bytes = self.bytes();
        let start = p * pb;
        let end = (start + pb).min(bytes.len());
        let slice = bytes.get(start..end).ok_or_else(|| {
            Error::Invalid(format!(
                "piece {p} of {} does not exist",
                self.path.display()
            ))
        })?;
        if !self.checked[p].load(Ordering::Relaxed) {
            if xxh3_64(slice) != self.sums[p] {
                return Err(Error::store(
                    &self.path,
                    format!(
                        "checksum mismatch in rows {}..: the store is corrupt; run `clipscope store verify`",
                        p * self.piece_rows
                    ),
                ));
            }
            self.checked[p].store(true, Ordering::Relaxed);
        }
        Ok(bytemuck::cast_slice(slice))
    }

    /// The whole matrix as one contiguous N·E slice, after checking every piece.
    pub fn as_slice(&self) -> Result<&[f16]> {
        use rayon::prelude::*;
        (0..self.pieces())
            .into_par_iter()
            .try_for_each(|p| self.piece(p).map(|_| ()))?;
        Ok(bytemuck::cast_slice(self.bytes()))
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> Result<&[f16]> {
        if i >= self.rows {
            return Err(Error::Invalid(format!("row {i} of {} rows", self.rows)));
        }
        let piece = self.piece(i / self.piece_rows)?;
        Ok(&piece[(i % self.piece_rows) * self.dim..][..self.dim])
    }

    /// Lets the kernel drop piece `p` from this process's resident memory (it stays in the page
    /// cache), so scans over large stores keep a small footprint.
    pub fn release(&self, p: usize) {
        #[cfg(unix)]
        if let Some(map) = &self.map {
            let pb = self.piece_rows * self.dim * 2;
            let start = p * pb;
            let len = pb.min(map.len().saturating_sub(start));
            // SAFETY: the mapping is read-only and file-backed (MAP_SHARED): dropping its pages
            // only makes the next access fault them in again from the file. No slice into this
            // piece is held across this call by the scans that use it.
            let _ = unsafe {
                map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, len)
            };
        }
        #[cfg(not(unix))]
        let _ = p;
    }
}
