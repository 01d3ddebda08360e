//! A finished store's file, memory-mapped and checked piece by piece against its `.xxh3`
//! checksums the first time a piece is read (docs/FORMAT.md): no byte of a store is believed
//! before the piece holding it has been checked.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use memmap2::Mmap;
use xxhash_rust::xxh3::xxh3_64;

use super::format::{FileInfo, sums_path};
use crate::{Error, Result};

/// One store file with its piece checksums.
pub struct Pieces {
    path: PathBuf,
    map: Option<Mmap>,
    piece_bytes: usize,
    sums: Vec<u64>,
    checked: Vec<AtomicBool>,
}

impl Pieces {
    /// Maps `name` of store `dir` as `info` describes it: its size must be the manifest's, its
    /// checksums file must hold one checksum per piece.
    pub fn open(dir: &Path, name: &str, info: &FileInfo) -> Result<Self> {
        let path = dir.join(name);
        let file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
        let len = file.metadata().map_err(|e| Error::io(&path, e))?.len();
        if len != info.bytes {
            return Err(Error::store(
                &path,
                format!(
                    "{len} bytes where the manifest says {}: the store is damaged; run `clipscope store verify`",
                    info.bytes
                ),
            ));
        }
        let piece_bytes = usize::try_from(info.piece_bytes)
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| {
                Error::store(
                    &path,
                    "a piece size of 0 in the manifest: the store is damaged",
                )
            })?;
        let sums_file = sums_path(dir, name);
        let raw = std::fs::read(&sums_file).map_err(|e| Error::io(&sums_file, e))?;
        let pieces = len.div_ceil(piece_bytes as u64) as usize;
        if raw.len() != 8 * pieces {
            return Err(Error::store(
                &sums_file,
                "wrong length: the store is damaged",
            ));
        }
        let sums = raw
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect();
        // SAFETY: store files are immutable once published (atomic rename, never rewritten),
        // so the mapping is not modified underneath us.
        let map = match len {
            0 => None,
            _ => Some(unsafe { Mmap::map(&file) }.map_err(|e| Error::io(&path, e))?),
        };
        Ok(Self {
            path,
            map,
            piece_bytes,
            checked: (0..pieces).map(|_| AtomicBool::new(false)).collect(),
            sums,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's length in bytes.
    pub fn byte_len(&self) -> usize {
        self.map.as_deref().map_or(0, <[u8]>::len)
    }

    /// Bytes per piece.
    pub fn piece_bytes(&self) -> usize {
        self.piece_bytes
    }

    /// Number of pieces.
    pub fn pieces(&self) -> usize {
        self.sums.len()
    }

    /// Piece `p`, checked against its checksum on first access.
    pub fn piece(&self, p: usize) -> Result<&[u8]> {
        let bytes = self.map.as_deref().unwrap_or(&[]);
        let start = p.saturating_mul(self.piece_bytes);
        let end = start.saturating_add(self.piece_bytes).min(bytes.len());
        let slice = bytes.get(start..end).filter(|_| p < self.sums.len());
        let slice = slice.ok_or_else(|| {
            Error::Invalid(format!(
                "piece {p} of {} does not exist",
                crate::pathname::show(&self.path)
            ))
        })?;
        if !self.checked[p].load(Ordering::Relaxed) {
            if xxh3_64(slice) != self.sums[p] {
                return Err(Error::store(
                    &self.path,
                    format!(
                        "checksum mismatch in bytes {start}..{end}: the store is corrupt; run `clipscope store verify`"
                    ),
                ));
            }
            self.checked[p].store(true, Ordering::Relaxed);
        }
        Ok(slice)
    }

    /// Bytes `range` of the file, after checking every piece they touch.
    pub fn get(&self, range: Range<usize>) -> Result<&[u8]> {
        if range.start > range.end || range.end > self.byte_len() {
            return Err(Error::store(
                &self.path,
                format!(
                    "bytes {range:?} of {}: the store is damaged",
                    self.byte_len()
                ),
            ));
        }
        if range.is_empty() {
            return Ok(&[]);
        }
        for p in range.start / self.piece_bytes..=(range.end - 1) / self.piece_bytes {
            self.piece(p)?;
        }
        Ok(&self.map.as_deref().unwrap_or(&[])[range])
    }

    /// The whole file, every piece checked.
    pub fn all(&self) -> Result<&[u8]> {
        self.get(0..self.byte_len())
    }

    /// Lets the kernel drop `len` bytes from `start` out of this process's resident memory
    /// (they stay in the page cache), so scans over large stores keep a small footprint.
    pub fn release(&self, start: usize, len: usize) {
        #[cfg(unix)]
        if let Some(map) = &self.map {
            let len = len.min(map.len().saturating_sub(start));
            // SAFETY: the mapping is read-only and file-backed (MAP_SHARED): dropping its pages
            // only makes the next access fault them in again from the file. No slice into this
            // range is held across this call by the scans that use it.
            let _ = unsafe {
                map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, len)
            };
        }
        #[cfg(not(unix))]
        let _ = (start, len);
    }
}
