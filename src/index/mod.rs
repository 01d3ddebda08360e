//! The indexing pipeline, the layer above the store's format and the model: images are
//! decoded, run through the model and written as chunks, then finalised into a store
//! (`clipscope index`, `explore` and `demo`); resumable at every chunk.

mod forward;
mod key;

use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;

use candle_core::DType;
use sha2::{Digest, Sha256};

use crate::model::{Clip, ModelFiles};
use crate::store::Shape;
use crate::store::chunk::{self, ChunkBuf, ChunkRecord};
use crate::store::finalize::finalize;
use crate::store::format::{
    CHUNKS, FORMAT_VERSION, ImageRecord, KEY, Key, MANIFEST, Manifest, hex, read_versioned,
    write_atomic,
};
use crate::store::images::ImageList;
use crate::store::labels::Labels;
use crate::store::lock::Lock;
use crate::{Error, Result};
pub use key::model_key;

/// Upper bound on a chunk's data file.
const CHUNK_BYTES: usize = 256 << 20;

/// What to build and where.
pub struct Plan {
    /// The store's key (its hash names the directory).
    pub key: Key,
    /// Short model name.
    pub slug: String,
    /// The store directory, `<cache>/<slug>/<hash[..16]>`.
    pub dir: PathBuf,
    /// The images.
    pub list: ImageList,
    /// Each image's class and group, when the build was given labels.
    pub labels: Option<Vec<(Option<u32>, Option<u32>)>>,
    /// The model's directory, when it is a local one (remembered for later commands).
    pub local_model: Option<PathBuf>,
}

impl Plan {
    /// Plans a store of `list` under `cache` for `clip` loaded from `files` (`spec` as given
    /// on the command line).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        clip: &Clip,
        spec: &str,
        files: &ModelFiles,
        dtype: DType,
        list: ImageList,
        layers: Vec<usize>,
        tokens_for: usize,
        chunk_images: Option<usize>,
        labels: Option<Labels>,
        cache: &Path,
    ) -> Result<Self> {
        let c = &clip.config;
        let shape = Shape {
            layers: layers.len(),
            heads: c.heads(),
            dim: c.embed_dim,
            tokens: c.vision.tokens(),
            ablation_rows: 3 * c.depth() + 1,
        };
        let per_image = 2 * (shape.head_values() + shape.dim + shape.ablation_values());
        let chunk_images = chunk_images
            .unwrap_or_else(|| (CHUNK_BYTES / per_image).clamp(1, 4096))
            .max(1);
        let (model, slug) = model_key(spec, files)?;
        let key = Key {
            format_version: FORMAT_VERSION,
            model,
            dtype: format!("{dtype:?}").to_lowercase(),
            shape,
            preprocess: format!("{:?}", clip.preprocess()),
            layers,
            model_depth: Some(c.depth()),
            tokens_for,
            chunk_images,
            images: list.key(),
            labels: labels.as_ref().map(|l| l.key.clone()),
        };
        let dir = cache.join(&slug).join(&key.hash()[..16]);
        let local_model = match crate::model::load::source::ModelSpec::parse(spec)? {
            crate::model::load::source::ModelSpec::Dir(d) => Some(d),
            _ => None,
        };
        Ok(Self {
            key,
            slug,
            dir,
            list,
            labels: labels.map(|l| l.of_image),
            local_model,
        })
    }

    /// Number of chunks.
    pub fn chunks(&self) -> usize {
        self.list.entries.len().div_ceil(self.key.chunk_images)
    }

    fn chunk_range(&self, c: usize) -> (usize, usize) {
        let start = c * self.key.chunk_images;
        (
            start,
            (start + self.key.chunk_images).min(self.list.entries.len()),
        )
    }
}

/// How to run the build.
pub struct Options {
    /// Images per forward pass.
    pub batch: usize,
    /// Build only chunks `c` with `c % n == i`.
    pub shard: Option<(usize, usize)>,
    /// Decoding threads.
    pub decoders: usize,
}

/// What a build run did.
pub struct Report {
    /// Images processed by this run.
    pub processed: usize,
    /// Of those, images that could not be read.
    pub failed: usize,
    /// Images already done by earlier runs.
    pub resumed: usize,
    /// Complete chunks of the whole store.
    pub chunks_done: usize,
    /// All chunks of the store.
    pub chunks_total: usize,
    /// The manifest, when the store is finished.
    pub manifest: Option<Manifest>,
}

struct Batch {
    chunk: usize,
    items: Vec<(usize, ImageRecord, Option<Vec<f32>>)>,
}

/// Builds (or resumes, or finds finished) the store planned by `plan`. `progress` is called
/// with the number of images each batch adds (resumed ones first).
pub fn build(
    clip: &Clip,
    plan: &Plan,
    opts: &Options,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Report> {
    let dir = &plan.dir;
    let total = plan.chunks();
    // A finished store with nothing left to tidy (no chunks, key or temporary files of a killed
    // build) is only read: no lock, no write, so a store in a read-only cache (a shared dataset
    // mount) is found as it is.
    if !dir.join(CHUNKS).exists()
        && !dir.join(KEY).exists()
        && crate::store::finalize::stale_tmp(dir).is_empty()
        && let Some(m) = finished(dir)?
    {
        return Ok(Report::finished(m, total));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
    if let (Some(model), Some(cache)) = (&plan.local_model, dir.parent().and_then(Path::parent)) {
        // Only a hint: a cache that cannot take it still gets its store.
        let _ = crate::store::local_models::remember(cache, &plan.key.model, model);
    }
    let lock_name = match opts.shard {
        Some((i, n)) => format!("lock.{i}-of-{n}"),
        None => "lock".to_string(),
    };
    let _lock = Lock::acquire(&dir.join(lock_name))?;
    if let Some(m) = finished(dir)? {
        // A build killed after publishing the manifest may have left its chunks behind.
        let _fin = Lock::acquire(&dir.join("lock.finalize"))?;
        let _ = std::fs::remove_dir_all(dir.join(CHUNKS));
        let _ = std::fs::remove_file(dir.join(KEY));
        crate::store::finalize::remove_stale_tmp(dir);
        return Ok(Report::finished(m, total));
    }
    std::fs::create_dir_all(dir.join(CHUNKS)).map_err(|e| Error::write(dir, e))?;
    let key_path = dir.join(KEY);
    if !key_path.exists() {
        let json = serde_json::to_vec_pretty(&plan.key)
            .map_err(|e| Error::caused(dir, "cannot encode JSON", e))?;
        write_atomic(&key_path, &json)?;
    }
    let mine = |c: &usize| opts.shard.is_none_or(|(i, n)| c % n == i);
    let mut pending = vec![];
    let mut resumed = 0;
    for c in (0..total).filter(mine) {
        match chunk::complete(dir, c) {
            Some(rec) => resumed += rec.len,
            None => pending.push(c),
        }
    }
    progress(resumed);
    let (processed, failed) = run_pipeline(clip, plan, opts, &pending, progress)?;
    let done: Vec<ChunkRecord> = (0..total).filter_map(|c| chunk::complete(dir, c)).collect();
    let mut report = Report {
        processed,
        failed,
        resumed,
        chunks_done: done.len(),
        chunks_total: total,
        manifest: None,
    };
    if done.len() == total {
        let _fin = Lock::acquire(&dir.join("lock.finalize"))?;
        report.manifest = Some(match finished(dir)? {
            Some(m) => m,
            None => finalize(dir, &plan.key, &plan.slug, &done)?,
        });
    }
    Ok(report)
}

impl Report {
    fn finished(m: Manifest, total: usize) -> Self {
        Self {
            processed: 0,
            failed: 0,
            resumed: m.images,
            chunks_done: total,
            chunks_total: total,
            manifest: Some(m),
        }
    }
}

fn finished(dir: &Path) -> Result<Option<Manifest>> {
    let path = dir.join(MANIFEST);
    path.exists().then(|| read_versioned(&path)).transpose()
}

fn run_pipeline(
    clip: &Clip,
    plan: &Plan,
    opts: &Options,
    pending: &[usize],
    progress: &(dyn Fn(usize) + Sync),
) -> Result<(usize, usize)> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.decoders.max(1))
        .build()
        .map_err(|e| Error::failed("cannot start decoder threads", e))?;
    let (tx, rx) = sync_channel::<Batch>(2);
    let batch = opts.batch.max(1);
    std::thread::scope(|s| {
        s.spawn(move || {
            for &c in pending {
                let (start, end) = plan.chunk_range(c);
                for b in (start..end).step_by(batch) {
                    let items = pool.install(|| decode(plan, clip, b, (b + batch).min(end)));
                    if tx.send(Batch { chunk: c, items }).is_err() {
                        return; // the consumer stopped on an error
                    }
                }
            }
        });
        let (mut processed, mut failed) = (0, 0);
        let mut current: Option<ChunkBuf> = None;
        for b in rx {
            let mut buf = match current.take() {
                Some(buf) if buf.index == b.chunk => buf,
                _ => {
                    let (start, end) = plan.chunk_range(b.chunk);
                    ChunkBuf::new(
                        plan.key.shape,
                        b.chunk,
                        start,
                        end - start,
                        plan.key.tokens_for,
                    )
                }
            };
            let n = b.items.len();
            failed += b.items.iter().filter(|i| i.2.is_none()).count();
            let last = b.chunk_end(plan);
            forward::into_chunk(clip, plan, &mut buf, b.items)?;
            processed += n;
            progress(n);
            if last {
                buf.write(&plan.dir)?;
            } else {
                current = Some(buf);
            }
        }
        Ok((processed, failed))
    })
}

impl Batch {
    fn chunk_end(&self, plan: &Plan) -> bool {
        let (_, end) = plan.chunk_range(self.chunk);
        self.items.last().is_some_and(|i| i.0 + 1 == end)
    }
}

fn decode(
    plan: &Plan,
    clip: &Clip,
    start: usize,
    end: usize,
) -> Vec<(usize, ImageRecord, Option<Vec<f32>>)> {
    use rayon::prelude::*;
    (start..end)
        .into_par_iter()
        .map(|i| {
            let e = &plan.list.entries[i];
            let mut rec = ImageRecord {
                path: e.rel.clone(),
                path_bytes: e.raw.clone(),
                bytes: e.bytes,
                mtime: e.mtime,
                sha256: None,
                width: 0,
                height: 0,
                status: "ok".into(),
                error: None,
                class: None,
                group: None,
            };
            if let Some((class, group)) = plan.labels.as_ref().and_then(|l| l.get(i)) {
                (rec.class, rec.group) = (*class, *group);
            }
            let path = plan.list.path(i);
            let pixels = crate::image::file::read(&path).and_then(|bytes| {
                rec.sha256 = Some(hex(&Sha256::digest(&bytes)));
                let img = crate::image::decode_rgb(&bytes, &path, &clip.preprocess().decode())?;
                (rec.width, rec.height) = img.dimensions();
                clip.preprocess().apply(&img)
            });
            match pixels {
                Ok(p) => (i, rec, Some(p)),
                Err(err) => {
                    rec.status = "failed".into();
                    rec.error = Some(err.to_string());
                    (i, rec, None)
                }
            }
        })
        .collect()
}
