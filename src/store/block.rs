//! A memory-mapped N × E f16 matrix of a store, checked piece by piece as it is read.

use std::path::Path;

use half::f16;

use super::format::FileInfo;
use super::pieces::Pieces;
use crate::{Error, Result};

/// Rows of f16 numbers in a store file: a head block, the embeddings or token effects.
pub struct Block {
    file: Pieces,
    rows: usize,
    dim: usize,
    piece_rows: usize,
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
        let file = Pieces::open(dir, name, info)?;
        let row = 2 * dim;
        if row == 0
            || !file.byte_len().is_multiple_of(row)
            || !file.piece_bytes().is_multiple_of(row)
        {
            return Err(Error::store(
                file.path(),
                format!(
                    "{} bytes, pieces of {}, in rows of {dim} values: the store is damaged; run `clipscope store verify`",
                    file.byte_len(),
                    file.piece_bytes()
                ),
            ));
        }
        Ok(Self {
            rows: file.byte_len() / row,
            dim,
            piece_rows: file.piece_bytes() / row,
            file,
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
        self.file.pieces()
    }

    /// Rows of piece `p`, checked against its checksum on first access.
    pub fn piece(&self, p: usize) -> Result<&[f16]> {
        Ok(bytemuck::cast_slice(self.file.piece(p)?))
    }

    /// The whole matrix as one contiguous N·E slice, after checking every piece.
    pub fn as_slice(&self) -> Result<&[f16]> {
        use rayon::prelude::*;
        (0..self.pieces())
            .into_par_iter()
            .try_for_each(|p| self.piece(p).map(|_| ()))?;
        Ok(bytemuck::cast_slice(self.file.all()?))
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
        let pb = self.file.piece_bytes();
        self.file.release(p.saturating_mul(pb), pb);
    }
}
