//! One model's row of the cross-model comparison: the paper's scores, concept consistency,
//! importance, image evidence and the pruning experiment, over the analysed layers of an
//! interpreted store. `clipscope report` prints the rows; the explorer's `:compare` shows them.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Interpretation;
use super::agreement::{Agreement, agreement};
use super::consistency::{Consistency, Pruning};
use super::scores::{Scores, scores};
use crate::model::LayerSelection;
use crate::store::Store;
use crate::store::cache::{State, list};
use crate::{Error, Result};

/// A head whose importance was measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Important {
    /// Its id (`L10H3`).
    pub head: String,
    /// Its effective label.
    pub label: String,
    /// Importance, 0–1 (the margin lost when it alone is ablated, over the largest).
    pub importance: f64,
    /// Top-1 change in points when it alone is ablated.
    pub top1_delta: f64,
}

/// One interpreted store, as the comparison sees it.
#[derive(Debug, Clone, Serialize)]
pub struct ModelRow {
    /// Model id and store hash prefix.
    pub model: String,
    /// Images in the store.
    pub images: usize,
    /// The analysed layers.
    pub layers: Vec<usize>,
    /// Association, entanglement and the rest (docs/METRICS.md).
    pub scores: Scores,
    /// Measured heads, most important first.
    pub important: Vec<Important>,
    /// Labels against the image evidence, when the images' properties are known.
    pub evidence: Option<Agreement>,
    /// Concept consistency by the pool's tags.
    pub consistency: Consistency,
    /// The same by the language model's judgement, when it was asked.
    pub llm_consistency: Option<Consistency>,
    /// The pruning experiment, when run (`ablate --prune-ccs`).
    pub pruning: Option<Pruning>,
}

/// The row of the store in `dir` over `layers` (those of them it stores), with `k` top texts.
pub fn model_row(dir: &Path, layers: &LayerSelection, k: usize) -> Result<ModelRow> {
    let store = Store::open(dir)?;
    let interp = Interpretation::load(dir)?.ok_or_else(|| {
        Error::store(
            dir,
            format!(
                "no interpretation: run `clipscope interpret --store {}`",
                dir.display()
            ),
        )
    })?;
    let total = store.manifest.key.model_depth.unwrap_or(0);
    let wanted = layers.resolve(total.max(store.layers().iter().max().map_or(0, |m| m + 1)))?;
    let layers: Vec<usize> = wanted
        .into_iter()
        .filter(|l| store.layers().contains(l))
        .collect();
    if layers.is_empty() {
        return Err(Error::store(
            dir,
            format!(
                "none of the analysed layers is stored (stored: {:?})",
                store.layers()
            ),
        ));
    }
    let mut important: Vec<Important> = interp
        .heads
        .iter()
        .filter_map(|h| {
            let i = interp.importance(h)?;
            let delta = h.importance?.top1_delta;
            Some(Important {
                head: h.id(),
                label: interp.label(h).unwrap_or_default(),
                importance: i,
                top1_delta: delta,
            })
        })
        .collect();
    important.sort_by(|a, b| b.importance.total_cmp(&a.importance));
    Ok(ModelRow {
        model: format!(
            "{} ({})",
            store.manifest.key.model.id,
            store.manifest.hash.get(..8).unwrap_or(&store.manifest.hash)
        ),
        images: store.len(),
        scores: scores(&interp.head_tags(&layers), k),
        consistency: interp.consistency(&layers, k),
        llm_consistency: interp.llm_consistency(&layers),
        important,
        evidence: agreement(&interp),
        pruning: interp.pruning.clone(),
        layers,
    })
}

/// Every finished, interpreted store in `cache`.
pub fn interpreted_stores(cache: &Path) -> Vec<PathBuf> {
    list(cache)
        .into_iter()
        .filter(|e| matches!(e.state, State::Finished(_)) && e.dir.join("interpret").is_dir())
        .map(|e| e.dir)
        .collect()
}
