//! A store with its model loaded on first use: the six analyses as the CLI and the TUI run
//! them, on store images (effects read from disk) or any image file (effects computed).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use candle_core::{DType, Device, IndexOp};
use image::RgbImage;

use super::maps::patch_map;
use super::neighbours::{Ask, mean_effect, nearest, stored_effect};
use super::{HeadRef, Heads};
use crate::index::model_key;
use crate::interpret::Interpretation;
use crate::model::load::source;
use crate::model::{Clip, Decomposition};
use crate::nn::{Hit, Metric};
use crate::store::Store;
use crate::{Error, Result};

/// Loads the model a store was built with (or `model`, when it has the same weights).
pub fn store_model(store: &Store, model: Option<&str>, device: &Device) -> Result<Clip> {
    let key = &store.manifest.key.model;
    let spec = match (model, &key.revision) {
        (Some(m), _) => m.to_string(),
        (None, Some(rev)) => format!("{}@{rev}", key.id),
        // A built-in model, by its own files (not a directory of that name where we stand).
        (None, None) if crate::model::load::builtin::find(&key.id).is_some() => {
            crate::model::load::builtin::materialize(&key.id, &crate::cachedir::default_cache())?
                .to_string_lossy()
                .into_owned()
        }
        (None, None) => {
            // Where `index` last saw this local model, if it is still there.
            let cache = store.dir().parent().and_then(Path::parent);
            match cache.and_then(|c| crate::store::local_models::recall(c, key)) {
                Some(dir) => dir.to_string_lossy().into_owned(),
                None => {
                    return Err(Error::Model(format!(
                        "{} was built from the local model {:?}, no longer where it was indexed from: pass it with --model DIR",
                        store.dir().display(),
                        key.id
                    )));
                }
            }
        }
    };
    let files = source::resolve(&spec)?;
    let (mk, _) = model_key(&spec, &files)?;
    if mk.weights != key.weights {
        return Err(Error::Model(format!(
            "{spec} is not the model this store was built with ({}): its weights differ",
            key.id
        )));
    }
    let dtype = match (device.is_cpu(), store.manifest.key.dtype.as_str()) {
        // A bf16 store's numbers again where the CPU has the tiles that computed them.
        (true, "bf16") => crate::model::kernels::bf16::cpu_dtype(DType::BF16).0,
        (true, _) => DType::F32,
        (false, "f16") => DType::F16,
        (false, "bf16") => DType::BF16,
        _ => DType::F32,
    };
    Clip::load(&files, device, dtype)
}

/// A query image: a store image (`#INDEX` or its path in the store's table) or any file.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryImage {
    /// The image file.
    pub path: PathBuf,
    /// Its index in the store, when it is a store image.
    pub index: Option<usize>,
}

impl QueryImage {
    /// Resolves what a user typed against `store`.
    pub fn resolve(arg: &str, store: Option<&Store>) -> Result<Self> {
        if let Some(s) = store {
            let index = match arg.strip_prefix('#') {
                Some(n) => Some(
                    n.parse::<usize>()
                        .map_err(|_| Error::Invalid(format!("{arg:?}: expected #INDEX")))?,
                ),
                None => s.find_image(arg),
            };
            if let Some(i) = index {
                return Self::stored(s, i);
            }
        }
        let path = PathBuf::from(arg);
        if !path.is_file() {
            return Err(Error::Invalid(format!(
                "{arg}: no such image file{}",
                if store.is_some() {
                    " or store image (#INDEX)"
                } else {
                    ""
                }
            )));
        }
        Ok(Self { path, index: None })
    }

    /// Store image `i`, refused when it is out of range or was unreadable at build time.
    pub fn stored(s: &Store, i: usize) -> Result<Self> {
        if i >= s.len() {
            return Err(Error::Invalid(format!(
                "#{i}: the store has {} images",
                s.len()
            )));
        }
        if s.valid()[i] != 1 {
            return Err(Error::Invalid(format!(
                "#{i} ({}) could not be read when the store was built",
                s.image(i)?.path
            )));
        }
        Ok(Self {
            path: s.image_path(i)?,
            index: Some(i),
        })
    }

    /// The first readable store image.
    pub fn first_stored(s: &Store) -> Option<Self> {
        (0..s.len())
            .find(|&i| s.valid()[i] == 1)
            .and_then(|i| Self::stored(s, i).ok())
    }

    /// The readable store image after `from` (before it, not `forward`), wrapping around;
    /// `from` none counts as image 0.
    pub fn step_stored(s: &Store, from: Option<usize>, forward: bool) -> Option<Self> {
        let n = s.len();
        let mut i = from.unwrap_or(0);
        (0..n).find_map(|_| {
            i = if forward {
                (i + 1) % n
            } else {
                (i + n - 1) % n
            };
            Self::stored(s, i).ok()
        })
    }

    /// Its file name, for titles.
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Decodes the image and runs the decomposition of `layers` (with token effects if asked);
    /// also returns the centre crop the model saw.
    pub fn decompose(
        &self,
        clip: &Clip,
        layers: &[usize],
        tokens: bool,
    ) -> Result<(RgbImage, Decomposition)> {
        let pre = clip.preprocess();
        let img = crate::image::load_rgb_with(&self.path, &pre.decode())?;
        let crop = pre.geometry(&img)?;
        let px = clip.pixels(&[pre.apply(&img)?])?;
        Ok((crop, clip.decompose(&px, layers, tokens)?))
    }
}

/// Patch maps of one image: the crop, the grid side and one map per text.
#[derive(Debug, Clone)]
pub struct Maps {
    /// The centre crop the model saw: the part its patches cover.
    pub crop: RgbImage,
    /// Patches per side.
    pub grid: usize,
    /// One `grid²` map per text, in cosine units.
    pub maps: Vec<Vec<f32>>,
}

fn check(clip: &Clip, heads: &Heads) -> Result<()> {
    let (depth, per) = (clip.config.depth(), clip.config.heads());
    let bad = |what: String| {
        Err(Error::Invalid(format!(
            "{what} does not exist: the model has {depth} layers of {per} heads"
        )))
    };
    match heads {
        Heads::Some(v) => match v.iter().find(|h| h.layer >= depth || h.head >= per) {
            Some(h) => bad(h.to_string()),
            None => Ok(()),
        },
        Heads::Layer(l) if *l >= depth => bad(format!("layer {l}")),
        _ => Ok(()),
    }
}

/// Analyses 2 and 3: where `heads` of the image's patches write each of the unit text
/// embeddings `texts`.
pub fn maps(clip: &Clip, q: &QueryImage, heads: &Heads, texts: &[Vec<f32>]) -> Result<Maps> {
    check(clip, heads)?;
    let n = clip.config.depth();
    let (crop, d) = q.decompose(clip, &heads.layers(n), true)?;
    let maps = texts
        .iter()
        .map(|t| patch_map(&d, 0, heads, t))
        .collect::<Result<Vec<_>>>()?;
    // The patches cover G·p pixels a side: fewer than the input when p does not divide it
    // (SigLIP So400m/14 reads 378 of 384); the map belongs over that part only.
    let v = &clip.config.vision;
    let side = (v.grid() * v.patch_size) as u32;
    let crop = if side < crop.width().min(crop.height()) {
        image::imageops::crop_imm(&crop, 0, 0, side, side).to_image()
    } else {
        crop
    };
    Ok(Maps {
        crop,
        grid: v.grid(),
        maps,
    })
}

/// A store and, once an analysis needs it, its model.
pub struct Session {
    /// The store.
    pub store: Store,
    model: Option<String>,
    device: Device,
    cache: PathBuf,
    clip: OnceLock<Clip>,
}

impl Session {
    /// A session over `store`; `model` overrides the store's model (needed for local models),
    /// `cache` holds text embeddings.
    pub fn new(store: Store, model: Option<String>, device: Device, cache: &Path) -> Self {
        Self {
            store,
            model,
            device,
            cache: cache.to_path_buf(),
            clip: OnceLock::new(),
        }
    }

    /// The device the model runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Where text embeddings are cached.
    pub fn cache(&self) -> &Path {
        &self.cache
    }

    /// The model, loaded on first use.
    pub fn clip(&self) -> Result<&Clip> {
        if let Some(c) = self.clip.get() {
            return Ok(c);
        }
        let mut c = store_model(&self.store, self.model.as_deref(), &self.device)?;
        // Query images are decoded as the store's images were.
        c.config.preprocess.apply_exif = self.store.manifest.key.applies_exif();
        Ok(self.clip.get_or_init(|| c))
    }

    /// Unit text embeddings, cached per model and text in the cache directory.
    pub fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let clip = self.clip()?;
        let e = clip.config.embed_dim;
        let flat = crate::interpret::texts::embed_texts_cached(clip, texts, &self.cache)?;
        Ok(flat.chunks_exact(e).map(<[f32]>::to_vec).collect())
    }

    /// Analyses 2 and 3: where `heads` of the image's patches write each text.
    pub fn maps(&self, q: &QueryImage, heads: &Heads, texts: &[String]) -> Result<Maps> {
        maps(self.clip()?, q, heads, &self.embed(texts)?)
    }

    /// The query image's effect vectors through `heads`: read from the store for a store image,
    /// else computed by the model.
    pub fn image_effects(&self, q: &QueryImage, heads: &[HeadRef]) -> Result<Vec<Vec<f32>>> {
        if let Some(i) = q.index {
            return heads
                .iter()
                .map(|&h| stored_effect(&self.store, h, i))
                .collect();
        }
        let mut layers: Vec<usize> = heads.iter().map(|h| h.layer).collect();
        layers.sort();
        layers.dedup();
        let (_, d) = q.decompose(self.clip()?, &layers, false)?;
        heads
            .iter()
            .map(|h| {
                let li = layers.iter().position(|&l| l == h.layer).unwrap_or(0);
                Ok(d.heads.i((0, li, h.head))?.to_vec1::<f32>()?)
            })
            .collect()
    }

    /// Analysis 4: store images nearest to an image through one head.
    pub fn head_nn(&self, q: &QueryImage, head: HeadRef, k: usize, m: Metric) -> Result<Vec<Hit>> {
        let e = self.image_effects(q, &[head])?;
        let ask = Ask {
            vector: &e[0],
            image: true,
            k,
            metric: m,
            exclude: q.index,
        };
        nearest(&self.store, &[head], &ask)
    }

    /// Analysis 5: store images nearest to a text through one head.
    pub fn text_nn(&self, text: &str, head: HeadRef, k: usize, m: Metric) -> Result<Vec<Hit>> {
        let t = self.embed(&[text.to_string()])?.remove(0);
        let ask = Ask {
            vector: &t,
            image: false,
            k,
            metric: m,
            exclude: None,
        };
        nearest(&self.store, &[head], &ask)
    }

    /// The heads labelled `property` (case-insensitive), or an error listing the labels.
    pub fn property_heads(interp: &Interpretation, property: &str) -> Result<Vec<HeadRef>> {
        let want = property.to_lowercase();
        let heads: Vec<HeadRef> = interp
            .heads
            .iter()
            .filter(|h| interp.label(h).is_some_and(|l| l.to_lowercase() == want))
            .map(|h| HeadRef {
                layer: h.layer,
                head: h.head,
            })
            .collect();
        if heads.is_empty() {
            let mut labels: Vec<String> = interp
                .heads
                .iter()
                .filter_map(|h| interp.label(h))
                .collect();
            labels.sort();
            labels.dedup();
            return Err(Error::Invalid(format!(
                "no head is labelled {property:?}; labels here: {}",
                labels.join(", ")
            )));
        }
        Ok(heads)
    }

    /// Analysis 1: store images nearest to an image through the mean of `heads`' effects.
    pub fn property_nn(
        &self,
        q: &QueryImage,
        heads: &[HeadRef],
        k: usize,
        m: Metric,
    ) -> Result<Vec<Hit>> {
        let e = self.image_effects(q, heads)?;
        let ask = Ask {
            vector: &mean_effect(&e)?,
            image: true,
            k,
            metric: m,
            exclude: q.index,
        };
        nearest(&self.store, heads, &ask)
    }
}
