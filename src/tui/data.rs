//! What the explorer shows: a store, its interpretation and search index, per-head metrics.

use std::sync::Arc;

use crate::analysis::HeadRef;
use crate::analysis::session::Session;
use crate::interpret::{HeadInterp, Interpretation};
use crate::search::{SearchIndex, docs_of, index_of, store_index};
use crate::store::Store;
use crate::{Error, Result};

/// How grid cells are coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// The head's property label.
    Label,
    /// Variance explained by its top texts.
    Variance,
    /// RMS norm of its direct effects over the images.
    Norm,
    /// How strongly its top texts agree with its label.
    Association,
    /// What mean-ablating it alone costs zero-shot classification (0–1, `ablate --importance`).
    Importance,
    /// Concept consistency: the share of its top texts that agree with its label (CCS / k).
    Ccs,
}

impl Metric {
    /// All metrics in cycling order.
    pub const ALL: [Metric; 6] = [
        Self::Label,
        Self::Variance,
        Self::Norm,
        Self::Association,
        Self::Importance,
        Self::Ccs,
    ];

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Label => "label",
            Self::Variance => "variance",
            Self::Norm => "norm",
            Self::Association => "association",
            Self::Importance => "importance",
            Self::Ccs => "ccs",
        }
    }

    /// The metric named `s`.
    pub fn parse(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "no metric {s:?}: label, variance, norm, association, importance or ccs"
                ))
            })
    }
}

/// A word on the model for the status bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelNote {
    /// What it is, in a few words.
    pub text: &'static str,
    /// Whether it is a warning (random weights).
    pub warn: bool,
}

/// The store and everything read from it at start.
pub struct Data {
    /// The store and its model.
    pub session: Arc<Session>,
    /// Its interpretation, when it has one.
    pub interp: Option<Interpretation>,
    /// Its search index, when interpreted.
    pub index: Option<SearchIndex>,
    /// Stored layers.
    pub layers: Vec<usize>,
    /// Heads per layer.
    pub heads: usize,
    /// Whether the one stored layer is a SigLIP attention-pooling head (the tokens are patches
    /// only, with no class token).
    pub pooling: bool,
    /// Bytes of the store's data files.
    pub bytes: u64,
    /// Where the model runs.
    pub device: String,
    /// What the model is when it is a built-in one (random weights, or trained on the probe
    /// images only), for the status bar.
    pub model_note: Option<ModelNote>,
    /// Head RMS norms, once computed (layer-major over `layers`).
    pub norms: Option<Vec<f32>>,
    paths: std::sync::OnceLock<Vec<(usize, String)>>,
}

impl Data {
    /// Reads the interpretation and opens (or builds) the search index of `session`'s store.
    pub fn new(session: Session, device: &str) -> Result<Self> {
        let dir = session.store.dir().to_path_buf();
        let (index, interp) = match Interpretation::load(&dir)? {
            // A store in a read-only cache gets its index in memory.
            Some(interp) => {
                let index = match index_of(&dir, &interp) {
                    Ok(i) => i,
                    Err(_) => SearchIndex::build(&docs_of(&interp), None)?,
                };
                (Some(index), Some(interp))
            }
            None => (None, None),
        };
        let m = &session.store.manifest;
        let id = &m.key.model.id;
        let model_note = match crate::model::load::builtin::find(id) {
            Some(b) => Some(ModelNote {
                text: b.note,
                warn: b.random_weights,
            }),
            None => id.contains("random").then_some(ModelNote {
                text: "RANDOM WEIGHTS",
                warn: true,
            }),
        };
        Ok(Self {
            layers: session.store.layers().to_vec(),
            heads: m.heads,
            pooling: !m.class_token(),
            bytes: m.files.values().map(|f| f.bytes).sum(),
            device: device.to_string(),
            model_note,
            interp,
            index,
            norms: None,
            paths: std::sync::OnceLock::new(),
            session: Arc::new(session),
        })
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.session.store
    }

    /// The interpretation of `h`.
    pub fn head(&self, h: HeadRef) -> Option<&HeadInterp> {
        self.interp
            .as_ref()?
            .heads
            .iter()
            .find(|x| x.layer == h.layer && x.head == h.head)
    }

    /// The effective label of `h`.
    pub fn label(&self, h: HeadRef) -> Option<String> {
        self.interp.as_ref()?.label(self.head(h)?)
    }

    /// Stable id: `<slug>/L10H3`.
    pub fn id(&self, h: HeadRef) -> String {
        format!("{}/{h}", self.store().manifest.slug)
    }

    /// The metric value of `h` in [0, 1] (or a raw norm), when known.
    pub fn value(&self, h: HeadRef, m: Metric) -> Option<f32> {
        let hi = || self.head(h);
        match m {
            Metric::Label => None,
            Metric::Variance => {
                let k = self.interp.as_ref()?.settings.top_k.max(1);
                let texts = &hi()?.texts;
                let t = texts.get(k.min(texts.len()).checked_sub(1)?)?;
                Some(t.variance_explained as f32)
            }
            Metric::Association => Some(hi()?.label.as_ref()?.confidence as f32),
            Metric::Importance => Some(self.interp.as_ref()?.importance(hi()?)?.max(0.0) as f32),
            Metric::Ccs => {
                // CCS over the k texts judged, as the head pane and `report` count it.
                let k = self.interp.as_ref()?.settings.top_k.max(1);
                Some(hi()?.ccs.as_ref()?.score as f32 / k as f32)
            }
            Metric::Norm => {
                let li = self.layers.iter().position(|&l| l == h.layer)?;
                let norms = self.norms.as_ref()?;
                let max = norms.iter().cloned().fold(f32::MIN, f32::max).max(1e-12);
                Some(norms.get(li * self.heads + h.head)? / max)
            }
        }
    }

    /// (index, path in the table) of every readable store image, read once.
    pub fn paths(&self) -> &[(usize, String)] {
        self.paths.get_or_init(|| {
            let s = self.store();
            (0..s.len())
                .filter(|&i| s.valid()[i] == 1)
                .filter_map(|i| Some((i, s.image(i).ok()?.path)))
                .collect()
        })
    }

    /// Re-reads label overrides and rebuilds the search index (after a label edit).
    pub fn reload_labels(&mut self) -> Result<()> {
        let (i, s) = store_index(self.store().dir())?;
        self.index = Some(i);
        self.interp = Some(s);
        Ok(())
    }
}

/// RMS norm of every stored head's effects over up to 4,096 valid images (a job at start).
pub fn head_norms(store: &Store) -> Result<Vec<f32>> {
    let n = store.len();
    let step = n.div_ceil(4096).max(1);
    let valid = store.valid();
    let mut out = vec![];
    for &l in store.layers() {
        for h in 0..store.manifest.heads {
            let block = store.head(l, h)?;
            let (mut sum, mut count) = (0f64, 0usize);
            for i in (0..n).step_by(step) {
                if valid.get(i) != Some(&1) {
                    continue;
                }
                sum += block
                    .row(i)?
                    .iter()
                    .map(|v| (v.to_f64()).powi(2))
                    .sum::<f64>();
                count += 1;
            }
            out.push(if count == 0 {
                0.0
            } else {
                (sum / count as f64).sqrt() as f32
            });
        }
    }
    Ok(out)
}
