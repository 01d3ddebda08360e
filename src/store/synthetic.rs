//! Stores of random vectors, written through the real chunk and finalisation code, for
//! benchmarks of opening and searching large stores without a model or images.

use std::path::Path;

use rayon::prelude::*;

use super::chunk::ChunkBuf;
use super::finalize::finalize;
use super::format::{
    CHUNKS, FORMAT_VERSION, ImageRecord, ImagesKey, Key, LabelsKey, Manifest, ModelKey,
};
use super::shape::Shape;
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
    let spec = Spec {
        images,
        layers: 1,
        heads,
        dim,
        depth: 0,
        classes: 0,
        seed,
    };
    write_spec(dir, &spec, fill)
}

/// The shape of a synthetic store.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spec {
    /// Images.
    pub images: usize,
    /// Stored layers (the model's last ones).
    pub layers: usize,
    /// Heads per layer.
    pub heads: usize,
    /// Embedding dimension.
    pub dim: usize,
    /// Model depth for the ablation rows (0: none, as a format-1 store).
    pub depth: usize,
    /// Classes of the labels, image i in class i mod classes (0: no labels).
    pub classes: usize,
    /// Names the image list.
    pub seed: u64,
}

/// Writes a finished store of `spec`'s shape: row slot s of image i (layer-major heads, then
/// the embedding, then the `3·depth + 1` ablation rows) filled by `fill(i, s, out)`.
pub fn write_spec(
    dir: &Path,
    spec: &Spec,
    fill: &(dyn Fn(usize, usize, &mut [f32]) + Sync),
) -> Result<Manifest> {
    let Spec {
        images, classes, ..
    } = *spec;
    std::fs::create_dir_all(dir.join(CHUNKS)).map_err(|e| Error::write(dir, e))?;
    let key = key(spec);
    let (shape, chunk_images) = (key.shape, key.chunk_images);
    let mut records = vec![];
    for (c, start) in (0..images).step_by(chunk_images).enumerate() {
        let len = chunk_images.min(images - start);
        let mut buf = ChunkBuf::new(shape, c, start, len, 0);
        let rows: Vec<(Vec<f32>, Vec<f32>, Vec<f32>)> = (start..start + len)
            .into_par_iter()
            .map(|i| values(i, shape, fill))
            .collect();
        for (j, (h, e, a)) in rows.iter().enumerate() {
            let i = start + j;
            buf.set_values(i, h, e, a, None);
            buf.set_record(i, record(i, classes));
        }
        records.push(buf.write(dir)?);
    }
    finalize(dir, &key, "synthetic", &records)
}

/// The store key of `spec`: a synthetic model whose last `layers` layers are stored.
fn key(spec: &Spec) -> Key {
    let Spec {
        images,
        layers,
        heads,
        dim,
        depth,
        classes,
        seed,
    } = *spec;
    let ablation_rows = if depth > 0 { 3 * depth + 1 } else { 0 };
    let shape = Shape {
        layers,
        heads,
        dim,
        tokens: 0,
        ablation_rows,
    };
    let model_depth = depth.max(layers);
    let labels = (classes > 0).then(|| LabelsKey {
        source: "synthetic".into(),
        classes: (0..classes).map(|c| format!("class {c}")).collect(),
        groups: vec![],
        digest: format!("seed {seed}"),
    });
    let chunk_images = 4096
        .min((256 << 20) / (2 * dim * (layers * heads + 1 + ablation_rows)).max(1))
        .max(1);
    Key {
        format_version: FORMAT_VERSION,
        model: ModelKey {
            id: "synthetic".into(),
            revision: None,
            weights: vec![],
        },
        dtype: "f32".into(),
        shape,
        preprocess: "none".into(),
        layers: (model_depth - layers..model_depth).collect(),
        model_depth: Some(model_depth),
        tokens_for: 0,
        chunk_images,
        labels,
        images: ImagesKey {
            root_bytes: None,
            root: "/synthetic".into(),
            count: images,
            digest: format!("seed {seed}"),
        },
    }
}

/// Image `i`'s rows: its heads' (layer-major), its embedding and its ablation rows.
fn values(
    i: usize,
    shape: Shape,
    fill: &(dyn Fn(usize, usize, &mut [f32]) + Sync),
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (slots, dim) = (shape.layers * shape.heads, shape.dim);
    let mut h = vec![0f32; slots * dim];
    for (slot, out) in h.chunks_exact_mut(dim).enumerate() {
        fill(i, slot, out);
    }
    let mut e = vec![0f32; dim];
    fill(i, slots, &mut e);
    let mut a = vec![0f32; shape.ablation_rows * dim];
    for (r, out) in a.chunks_exact_mut(dim).enumerate() {
        fill(i, slots + 1 + r, out);
    }
    (h, e, a)
}

/// Image `i`'s record: a made-up path, and its class where there are `classes`.
fn record(i: usize, classes: usize) -> ImageRecord {
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
        class: (classes > 0).then_some((i % classes.max(1)) as u32),
        group: None,
    }
}
