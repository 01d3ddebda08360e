//! The six analysis views (the five of CLIP-InterpreT and the ablation table): their inputs,
//! and the work each runs off the UI thread.

use std::sync::Arc;

use image::RgbImage;

use super::data::Data;
pub use super::kind::Kind;
use crate::analysis::figures;
use crate::analysis::session::{QueryImage, Session};
use crate::analysis::{HeadRef, Heads};
use crate::nn::{Hit, Metric};

/// The neighbour views' default score: the centred cosine, whose neighbours change with the
/// query (by the dot product or plain cosine, a head's large common component gives most queries
/// the same few images); the CLI keeps the paper's dot product by default (`--metric`).
const NEIGHBOURS: Metric = Metric::Centred;

/// The neighbour scores in the order `m` cycles them.
pub const SCORES: [Metric; 3] = [Metric::Centred, Metric::Cosine, Metric::Dot];

/// One result row of a nearest-neighbour analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Store index.
    pub index: usize,
    /// Score.
    pub score: f32,
    /// Path in the store's table.
    pub path: String,
}

/// What an analysis found.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Nearest store images.
    Hits {
        /// What was searched.
        title: String,
        /// Heads used.
        heads: Vec<HeadRef>,
        /// The results, best first.
        rows: Vec<Row>,
    },
    /// A heat map over the query image.
    Map {
        /// What was mapped.
        title: String,
        /// Numbers: range, winning share.
        summary: String,
        /// The overlay figure.
        figure: Arc<RgbImage>,
    },
}

/// An analysis view's inputs and its last result.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// Which analysis.
    pub kind: Kind,
    /// The head.
    pub head: HeadRef,
    /// The property (analysis 1).
    pub property: String,
    /// The query image (analyses 1–4).
    pub query: Option<QueryImage>,
    /// Texts (analyses 2, 3, 5).
    pub texts: [String; 2],
    /// Neighbours to find.
    pub k: usize,
    /// The neighbour score.
    pub metric: Metric,
    /// The layers whose heads of a property count (property NN, ablating a property); `None`:
    /// every stored layer.
    pub layers: Option<Vec<usize>>,
    /// The running job.
    pub job: Option<u64>,
    /// The last result.
    pub outcome: Option<Result<Outcome, String>>,
    /// Selected result row.
    pub sel: usize,
}

impl Analysis {
    /// Defaults for head `h` of `data`: its label, its first two texts, the first readable
    /// store image.
    pub fn new(kind: Kind, data: &Data, h: HeadRef) -> Self {
        let texts: Vec<String> = data
            .head(h)
            .map(|x| x.texts.iter().take(2).map(|t| t.text.clone()).collect())
            .unwrap_or_default();
        let text = |i: usize, or: &str| {
            if kind == Kind::Ablate {
                // The property whose heads to ablate; empty: the head alone.
                return String::new();
            }
            texts.get(i).cloned().unwrap_or_else(|| or.to_string())
        };
        let store = data.store();
        let query = QueryImage::first_stored(store);
        Self {
            kind,
            head: h,
            property: data.label(h).unwrap_or_default(),
            query,
            texts: [text(0, "a photo"), text(1, "a picture of a background")],
            k: match kind {
                Kind::HeadNn => 8,
                Kind::TextNn => 3,
                Kind::Ablate => 12,
                _ => 4,
            },
            metric: NEIGHBOURS,
            layers: None,
            job: None,
            outcome: None,
            sel: 0,
        }
    }

    /// The rows of the last result, if it has any.
    pub fn rows(&self) -> &[Row] {
        match &self.outcome {
            Some(Ok(Outcome::Hits { rows, .. })) => rows,
            _ => &[],
        }
    }

    /// `heads` in the chosen layers; an error when none is.
    fn in_layers(&self, heads: Vec<HeadRef>) -> crate::Result<Vec<HeadRef>> {
        let Some(layers) = &self.layers else {
            return Ok(heads);
        };
        let kept: Vec<HeadRef> = heads
            .into_iter()
            .filter(|h| layers.contains(&h.layer))
            .collect();
        match kept.is_empty() {
            true => Err(crate::Error::Invalid(format!(
                "no head of that property in layers {layers:?} (:layers all uses every layer)"
            ))),
            false => Ok(kept),
        }
    }

    /// ` in layers [2, 3]` when the layers are chosen.
    fn layers_note(&self) -> String {
        self.layers
            .as_ref()
            .map_or(String::new(), |l| format!(" in layers {l:?}"))
    }

    /// The job computing this analysis with the current inputs.
    pub fn work(&self, data: &Data) -> impl FnOnce() -> Result<Outcome, String> + Send + 'static {
        let me = self.clone();
        let session = data.session.clone();
        let interp = data.interp.clone();
        move || {
            me.compute(&session, interp.as_ref())
                .map_err(|e| e.to_string())
        }
    }

    fn compute(
        &self,
        s: &Session,
        interp: Option<&crate::interpret::Interpretation>,
    ) -> crate::Result<Outcome> {
        let need_query = || {
            self.query
                .clone()
                .ok_or_else(|| crate::Error::Invalid("no query image: pick one with p".into()))
        };
        let rows = |hits: Vec<Hit>| -> crate::Result<Vec<Row>> {
            hits.into_iter()
                .map(|h| {
                    Ok(Row {
                        index: h.index,
                        score: h.score,
                        path: s.store.image(h.index)?.path,
                    })
                })
                .collect()
        };
        let h = self.head;
        let how = format!("{} · k {}", self.metric.name(), self.k);
        match self.kind {
            Kind::PropertyNn => {
                let q = need_query()?;
                let interp = interp.ok_or_else(|| {
                    crate::Error::Invalid("property NN needs an interpreted store".into())
                })?;
                let heads = self.in_layers(Session::property_heads(interp, &self.property)?)?;
                let hits = s.property_nn(&q, &heads, self.k, self.metric)?;
                Ok(Outcome::Hits {
                    title: format!(
                        "nearest to {} by {}{} · {how}",
                        q.name(),
                        self.property,
                        self.layers_note()
                    ),
                    heads,
                    rows: rows(hits)?,
                })
            }
            Kind::HeadNn => {
                let q = need_query()?;
                let hits = s.head_nn(&q, h, self.k, self.metric)?;
                Ok(Outcome::Hits {
                    title: format!("nearest to {} through {h} · {how}", q.name()),
                    heads: vec![h],
                    rows: rows(hits)?,
                })
            }
            Kind::TextNn => {
                let hits = s.text_nn(&self.texts[0], h, self.k, self.metric)?;
                Ok(Outcome::Hits {
                    title: format!("nearest to {:?} through {h} · {how}", self.texts[0]),
                    heads: vec![h],
                    rows: rows(hits)?,
                })
            }
            Kind::Segment | Kind::Contrast => self.map(s, need_query()?),
            Kind::Ablate => self.ablate(s, interp),
        }
    }

    fn ablate(
        &self,
        s: &Session,
        interp: Option<&crate::interpret::Interpretation>,
    ) -> crate::Result<Outcome> {
        let property = self.texts[0].trim();
        let heads = if property.is_empty() {
            vec![self.head]
        } else {
            let interp = interp.ok_or_else(|| {
                crate::Error::Invalid("ablating a property needs an interpreted store".into())
            })?;
            self.in_layers(Session::property_heads(interp, property)?)?
        };
        let pairs: Vec<(usize, usize)> = heads.iter().map(|h| (h.layer, h.head)).collect();
        let f = crate::importance::view::ablate_heads(&s.store, s.clip()?, s.cache(), &pairs)?;
        let (b, a) = (&f.result.before, &f.result.after);
        let what = if property.is_empty() {
            self.head.to_string()
        } else {
            format!("{property}{} ({} heads)", self.layers_note(), heads.len())
        };
        let row = |(index, class): &(usize, String), lost: bool| -> crate::Result<Row> {
            let path = s.store.image(*index)?.path;
            let how = if lost { "lost" } else { "gained" };
            Ok(Row {
                index: *index,
                score: if lost { -1.0 } else { 1.0 },
                path: format!("{how} {class}: {path}"),
            })
        };
        let rows = f
            .lost
            .iter()
            .map(|x| row(x, true))
            .chain(f.gained.iter().map(|x| row(x, false)))
            .take(self.k.max(1) * 8)
            .collect::<crate::Result<Vec<_>>>()?;
        let classes: Vec<String> = f
            .classes
            .iter()
            .filter(|c| c.1 < 0)
            .take(3)
            .chain(f.classes.iter().rev().filter(|c| c.1 > 0).take(3))
            .map(|(n, d)| format!("{n} {d:+}"))
            .collect();
        Ok(Outcome::Hits {
            title: format!(
                "{what} mean-ablated: top-1 {:.2}% -> {:.2}% ({:+.2}), {} images lost, {} gained{}",
                b.top1_pct(),
                a.top1_pct(),
                a.top1_pct() - b.top1_pct(),
                f.lost.len(),
                f.gained.len(),
                if classes.is_empty() {
                    String::new()
                } else {
                    format!("; classes {}", classes.join(", "))
                }
            ),
            heads,
            rows,
        })
    }

    fn map(&self, s: &Session, q: QueryImage) -> crate::Result<Outcome> {
        let h = self.head;
        let n = self.kind.texts();
        let m = s.maps(&q, &Heads::Some(vec![h]), &self.texts[..n])?;
        if self.kind == Kind::Segment {
            let what = format!("{h} - {}", q.name());
            let fig = figures::segment(&m.crop, &m.maps[0], m.grid, &self.texts[0], &what)?;
            return Ok(Outcome::Map {
                title: format!("{:?} in {} through {h}", self.texts[0], q.name()),
                summary: format!("{} ({g}x{g})", figures::score_span(&m.maps[0]), g = m.grid),
                figure: Arc::new(fig),
            });
        }
        let (diff, wins) = figures::contrast(&m.maps[0], &m.maps[1]);
        let texts = (self.texts[0].as_str(), self.texts[1].as_str());
        let fig = figures::contrast_figure(&m.crop, &diff, m.grid, texts)?;
        Ok(Outcome::Map {
            title: format!(
                "{:?} vs {:?} in {} through {h}",
                self.texts[0],
                self.texts[1],
                q.name()
            ),
            summary: format!(
                "{:?} wins {wins} of {} patches, {:?} the rest",
                self.texts[0],
                diff.len(),
                self.texts[1]
            ),
            figure: Arc::new(fig),
        })
    }
}
