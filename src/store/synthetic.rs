//! Stores of random vectors, written through the real chunk and finalisation code, for
//! benchmarks of opening and searching large stores without a model or images.

use std::path::Path;

use rayon::prelude::*;

use super::chunk::{ChunkBuf, Shape};
use super::finalize::finalize;
use super::format::{CHUNKS, FORMAT_VERSION, ImageRecord, ImagesKey, Key, Manifest, ModelKey};
use crate::{Error, Result};

/// Writes a finished store of `images` random rows in `dir`: `heads` heads of one layer,
/// dimension `dim`, values uniform in [-1, 1) from `seed`.
pub fn write(dir: &Path, images: usize, heads: usize, dim: usize, seed: u64) -> Result<Manifest> {
    write_with(dir, images, heads, dim, seed, &|i, head, out| {
        let mut s = seed ^ ((i * (heads + 1) + head) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        for o in out.iter_mut() {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            *o = (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0;
        }
    })
}

/// Like [`write`], with head `h` of image `i` filled by `fill(i, h, out)` (h = `heads` fills the
/// embedding); `seed` only names the image list.
pub fn write_with(
    dir: &Path,
    images: usize,
    heads: usize,
    dim: usize,
    seed: u64,
    fill: &(dyn Fn(usize, usize, &mut [f32]) + Sync),
) -> Result<Manifest> {
    std::fs::create_dir_all(dir.join(CHUNKS)).map_err(|e| Error::write(dir, e))?;
    let shape = Shape {
        layers: 1,
        heads,
        dim,
        tokens: 0,
        ablation_rows: 0,
    };
    let chunk_images = 4096;
    let key = Key {
        format_version: FORMAT_VERSION,
        model: ModelKey {
            id: "synthetic".into(),
            revision: None,
            weights: vec![],
        },
        dtype: "f32".into(),
        shape,
        preprocess: "none".into(),
        layers: vec![0],
        model_depth: Some(1),
        tokens_for: 0,
        chunk_images,
        labels: None,
        images: ImagesKey {
            root_bytes: None,
            root: "/synthetic".into(),
            count: images,
            digest: format!("seed {seed}"),
        },
    };
    let mut records = vec![];
    for (c, start) in (0..images).step_by(chunk_images).enumerate() {
        let len = chunk_images.min(images - start);
        let mut buf = ChunkBuf::new(shape, c, start, len, 0);
        let rows: Vec<(Vec<f32>, Vec<f32>)> = (start..start + len)
            .into_par_iter()
            .map(|i| {
                let mut h = vec![0f32; heads * dim];
                for (head, out) in h.chunks_exact_mut(dim).enumerate() {
                    fill(i, head, out);
                }
                let mut e = vec![0f32; dim];
                fill(i, heads, &mut e);
                (h, e)
            })
            .collect();
        for (j, (h, e)) in rows.iter().enumerate() {
            let i = start + j;
            buf.set_values(i, h, e, &[], None);
            buf.set_record(
                i,
                ImageRecord {
                    path: format!("synthetic/{i:07}.png"),
                    path_bytes: None,
                    bytes: 0,
                    mtime: 0,
                    sha256: None,
                    width: 224,
                    height: 224,
                    status: "ok".into(),
                    error: None,
                    class: None,
                    group: None,
                },
            );
        }
        records.push(buf.write(dir)?);
    }
    finalize(dir, &key, "synthetic", &records)
}
