//! What a nearest-neighbour scan reads: rows of f16 values piece by piece, from a store's head
//! block (memory-mapped) or a matrix in memory.

use half::f16;

use crate::store::Block;
use crate::{Error, Result};

/// Rows of f16 values readable piece by piece.
pub trait Rows: Sync {
    /// Number of rows.
    fn rows(&self) -> usize;
    /// Values per row.
    fn dim(&self) -> usize;
    /// Rows per piece.
    fn piece_rows(&self) -> usize;
    /// The rows of piece `p`.
    fn piece(&self, p: usize) -> Result<&[f16]>;
    /// Called when a scan is done with piece `p`.
    fn release(&self, _p: usize) {}
}

impl Rows for Block {
    fn rows(&self) -> usize {
        Block::rows(self)
    }
    fn dim(&self) -> usize {
        Block::dim(self)
    }
    fn piece_rows(&self) -> usize {
        Block::piece_rows(self)
    }
    fn piece(&self, p: usize) -> Result<&[f16]> {
        Block::piece(self, p)
    }
    fn release(&self, p: usize) {
        Block::release(self, p)
    }
}

/// An in-memory row-major matrix.
pub struct Matrix<'a> {
    data: &'a [f16],
    dim: usize,
}

impl<'a> Matrix<'a> {
    /// Wraps `data` as rows of `dim` values.
    pub fn new(data: &'a [f16], dim: usize) -> Result<Self> {
        if dim == 0 || !data.len().is_multiple_of(dim) {
            return Err(Error::Invalid(format!(
                "{} values are not rows of {dim}",
                data.len()
            )));
        }
        Ok(Self { data, dim })
    }
}

const MATRIX_PIECE: usize = 1024;

impl Rows for Matrix<'_> {
    fn rows(&self) -> usize {
        self.data.len() / self.dim
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn piece_rows(&self) -> usize {
        MATRIX_PIECE
    }
    fn piece(&self, p: usize) -> Result<&[f16]> {
        let start = p * MATRIX_PIECE * self.dim;
        let end = (start + MATRIX_PIECE * self.dim).min(self.data.len());
        Ok(&self.data[start..end])
    }
}
