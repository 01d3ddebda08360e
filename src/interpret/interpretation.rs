//! The interpretation of a store: TEXTSPAN texts and a property label for every stored head,
//! saved beside the store (`interpret/*.json`), with user label overrides (`labels.json`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::consistency::{Ccs, Pruning};
use super::family_score::FamilyScore;
use super::labels::Label;
use super::scores::HeadTags;
use super::shared::Shared;
use crate::evidence::PropertyEvidence;
use crate::store::format::write_atomic;
use crate::{Error, Result};

/// Version of the interpretation files (3: labels from what the texts share, the model's text
/// families and the image evidence).
pub const INTERPRET_VERSION: u32 = 4;

/// One chosen text of a head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadText {
    /// Index in the pool.
    pub index: usize,
    /// The description.
    pub text: String,
    /// Its property (the pool's tag: what the text is about).
    pub property: String,
    /// Every property it expresses: its tag and what the lexicon finds in its words.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<String>,
    /// Std over images of its projection when it was picked.
    pub std: f64,
    /// Variance of the head explained after this pick.
    pub variance_explained: f64,
}

/// A head's interpretation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadInterp {
    /// Model layer.
    pub layer: usize,
    /// Head.
    pub head: usize,
    /// TEXTSPAN texts in pick order.
    pub texts: Vec<HeadText>,
    /// The property the evidence supports (docs/METRICS.md, "Labels").
    pub label: Option<Label>,
    /// What each known image property explains of the head's effects, when the store's images
    /// have known properties (probe images, labelled stores).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<PropertyEvidence>,
    /// The properties its top texts share more than chance, most surprising first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared: Vec<Shared>,
    /// What each property's text family explains of its effects, against random families.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub families: Vec<FamilyScore>,
    /// The language model's label, when one was asked (`interpret --llm-url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm_label: Option<String>,
    /// What mean-ablating this head alone does to the store's zero-shot classification, when
    /// measured (`ablate --importance` on a labelled store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub importance: Option<Importance>,
    /// Concept consistency of its top texts with its (effective) label, with each text's
    /// verdict (docs/METRICS.md, "Concept consistency"); refreshed on load, so that a user's
    /// label override counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ccs: Option<Ccs>,
    /// The same judged by the language model against its own label, when one was asked
    /// (`interpret --llm-url`): the paper's judge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm_ccs: Option<Ccs>,
}

/// A head's importance for zero-shot classification (single-head mean-ablation).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Importance {
    /// Top-1 accuracy change in points (negative: the head helped).
    pub top1_delta: f64,
    /// Mean drop of the correct class's logit margin over the best other class.
    pub margin_drop: f64,
}

impl HeadInterp {
    /// `L{layer}H{head}`.
    pub fn id(&self) -> String {
        crate::head::HeadRef {
            layer: self.layer,
            head: self.head,
        }
        .to_string()
    }
}

/// Settings of an interpretation run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Subspace rank.
    pub rank: usize,
    /// Texts per head.
    pub texts_per_head: usize,
    /// Texts that vote for the label.
    pub top_k: usize,
}

/// The interpretation of one store with one pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interpretation {
    /// File version.
    pub version: u32,
    /// Hash of the store.
    pub store: String,
    /// Model slug.
    pub slug: String,
    /// Pool name.
    pub pool: String,
    /// SHA-256 of the pool.
    pub pool_sha256: String,
    /// Settings.
    pub settings: Settings,
    /// Every stored head.
    pub heads: Vec<HeadInterp>,
    /// The pruning-by-consistency experiment, when run (`ablate --prune-ccs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pruning: Option<Pruning>,
    /// User label overrides by head id (from `labels.json`, applied on load).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub overrides: BTreeMap<String, String>,
}

fn dir(store_dir: &Path) -> PathBuf {
    store_dir.join("interpret")
}

impl Interpretation {
    /// Saves to `<store>/interpret/<pool-sha16>-r<rank>-m<texts>-k<top-k>.json` (every setting
    /// in the name, so other settings never overwrite it); returns the path.
    pub fn save(&self, store_dir: &Path) -> Result<PathBuf> {
        let d = dir(store_dir);
        std::fs::create_dir_all(&d).map_err(|e| Error::write(&d, e))?;
        let s = self.settings;
        let path = d.join(format!(
            "{}-r{}-m{}-k{}.json",
            &self.pool_sha256[..16],
            s.rank,
            s.texts_per_head,
            s.top_k
        ));
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::caused(&path, "cannot encode JSON", e))?;
        write_atomic(&path, &json)?;
        Ok(path)
    }

    /// The most recent interpretation saved beside the store, with `labels.json` applied.
    pub fn load(store_dir: &Path) -> Result<Option<Self>> {
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(dir(store_dir))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
            .collect();
        files.sort();
        let Some((_, path)) = files.pop() else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let mut me: Self = serde_json::from_str(&text).map_err(|e| {
            Error::store(
                &path,
                format!("unreadable interpretation ({e}); run `clipscope interpret` again"),
            )
        })?;
        if me.version != INTERPRET_VERSION {
            return Err(Error::store(
                &path,
                format!(
                    "interpretation version {}, expected {INTERPRET_VERSION}; run `clipscope interpret` again",
                    me.version
                ),
            ));
        }
        me.overrides = load_overrides(store_dir)?;
        me.refresh_ccs();
        Ok(Some(me))
    }

    /// Records each head's importance (layer, head, top-1 change, margin drop).
    pub fn set_importance(&mut self, heads: &[(usize, usize, f64, f64)]) {
        for h in &mut self.heads {
            h.importance = heads
                .iter()
                .find(|x| (x.0, x.1) == (h.layer, h.head))
                .map(|x| Importance {
                    top1_delta: x.2,
                    margin_drop: x.3,
                });
        }
    }

    /// The largest margin drop of any head (what importance 1.0 means), when measured and
    /// positive.
    pub fn importance_scale(&self) -> Option<f64> {
        self.heads
            .iter()
            .filter_map(|h| h.importance.map(|i| i.margin_drop))
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
            .filter(|&m| m > 0.0)
    }

    /// A head's importance on a 0–1 scale (its margin drop over the largest), when measured.
    pub fn importance(&self, h: &HeadInterp) -> Option<f64> {
        Some(h.importance?.margin_drop / self.importance_scale()?)
    }

    /// A head's effective label: the user's override, else the majority property.
    pub fn label(&self, h: &HeadInterp) -> Option<String> {
        self.overrides
            .get(&h.id())
            .cloned()
            .or_else(|| h.label.as_ref().map(|l| l.property.clone()))
    }

    /// The heads of `layers` as the scores see them.
    pub fn head_tags(&self, layers: &[usize]) -> Vec<HeadTags> {
        self.heads
            .iter()
            .filter(|h| layers.contains(&h.layer))
            .map(|h| HeadTags {
                label: self.label(h).unwrap_or_default(),
                tags: h.texts.iter().map(|t| t.property.clone()).collect(),
                variance_explained: h.texts.iter().map(|t| t.variance_explained).collect(),
            })
            .collect()
    }
}

/// User label overrides of a store (`labels.json`: head id → label).
pub fn load_overrides(store_dir: &Path) -> Result<BTreeMap<String, String>> {
    let path = store_dir.join(crate::store::format::LABELS_FILE);
    if !path.exists() {
        return Ok(BTreeMap::new());
    }
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::config(&path, format!("expected {{\"L10H3\": \"label\", …}}: {e}")))
}

/// Sets (or with `None` removes) the override of head `id`.
pub fn set_override(store_dir: &Path, id: &str, label: Option<&str>) -> Result<()> {
    let mut map = load_overrides(store_dir)?;
    match label {
        Some(l) => map.insert(id.to_string(), l.to_string()),
        None => map.remove(id),
    };
    let json = serde_json::to_vec_pretty(&map)
        .map_err(|e| Error::caused(store_dir, "cannot encode JSON", e))?;
    write_atomic(&store_dir.join(crate::store::format::LABELS_FILE), &json)
}
