//! Derived blocks cached beside a store: the mean of several head blocks (a property's
//! database for property-based nearest neighbours), computed once and memory-mapped after.

use half::f16;
use half::slice::HalfFloatSliceExt;
use sha2::{Digest, Sha256};

use super::block::Block;
use super::finalize::Sink;
use super::format::{FileInfo, hex, piece_rows, write_atomic};
use super::reader::Store;
use crate::{Error, Result};

/// The N × E mean of the blocks of `heads` ((layer, head) pairs), cached as
/// `derived/mean-<hash>.f16` in the store (with its piece checksums and a size record), or in
/// the per-user folder standing in for a read-only store (`cachedir::writable`).
pub fn mean_block(store: &Store, heads: &[(usize, usize)]) -> Result<Block> {
    let mut sorted = heads.to_vec();
    sorted.sort();
    sorted.dedup();
    let id: String = sorted.iter().map(|(l, h)| format!("L{l}H{h},")).collect();
    let name = format!(
        "derived/mean-{}.f16",
        &hex(&Sha256::digest(id.as_bytes()))[..16]
    );
    // Beside the store, or in this user's stand-in for a store that cannot be written.
    let dir = &crate::cachedir::writable(store.dir());
    let dim = store.manifest.dim;
    let info_path = dir.join(format!("{name}.json"));
    if let Ok(text) = std::fs::read(&info_path)
        && let Ok(info) = serde_json::from_slice::<FileInfo>(&text)
        && let Ok(block) = Block::open(dir, &name, &info, dim)
    {
        return Ok(block);
    }
    let blocks: Vec<Block> = sorted
        .iter()
        .map(|&(l, h)| store.head(l, h))
        .collect::<Result<_>>()?;
    let first = blocks
        .first()
        .ok_or_else(|| Error::Invalid("no head to average".into()))?;
    let mut sink = Sink::create(dir, &name, piece_rows(2 * dim) * 2 * dim)?;
    let (mut acc, mut tmp) = (
        vec![0f32; first.piece_rows() * dim],
        vec![0f32; first.piece_rows() * dim],
    );
    let w = 1.0 / blocks.len() as f32;
    for p in 0..first.pieces() {
        let n = first.piece(p)?.len();
        acc[..n].iter_mut().for_each(|a| *a = 0.0);
        for b in &blocks {
            b.piece(p)?.convert_to_f32_slice(&mut tmp[..n]);
            acc[..n]
                .iter_mut()
                .zip(&tmp[..n])
                .for_each(|(a, t)| *a += w * t);
            b.release(p);
        }
        let half: Vec<f16> = acc[..n].iter().map(|&v| f16::from_f32(v)).collect();
        sink.write(bytemuck::cast_slice(&half))?;
    }
    let (_, info) = sink.finish(dir)?;
    let json = serde_json::to_vec(&info)
        .map_err(|e| Error::caused(&info_path, "cannot encode JSON", e))?;
    write_atomic(&info_path, &json)?;
    Block::open(dir, &name, &info, dim)
}
