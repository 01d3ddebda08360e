//! The heads of an interpretation as the search index holds them: one document a head.

use std::collections::BTreeMap;

use crate::interpret::Interpretation;

/// One head as the index holds it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HeadDoc {
    /// Stable id: `<slug>/L<layer>H<head>`.
    pub id: String,
    /// Hash prefix of the store.
    pub store: String,
    /// Model slug.
    pub model: String,
    /// Layer.
    pub layer: u64,
    /// Head.
    pub head: u64,
    /// Effective label (user override or majority property).
    pub label: String,
    /// TEXTSPAN texts in pick order.
    pub texts: Vec<String>,
    /// Importance for zero-shot classification, 0–1 (its margin drop over the store's largest;
    /// docs/METRICS.md), when measured (`ablate --importance`).
    pub importance: Option<f64>,
    /// Image evidence by the label it speaks for: ε², the share of the head's effect variance
    /// a known image property explains, corrected for chance (docs/METRICS.md).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub evidence: BTreeMap<String, f64>,
    /// The model's text families by label: the excess share of the head's variance a
    /// property's family explains one chance spread below its measurement, where that is above
    /// chance (docs/METRICS.md, "Family scores" and "Search").
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub families: BTreeMap<String, f64>,
    /// Concept consistency: how many of its top texts agree with its label (`ccs:5`,
    /// `ccs:<=1`; docs/METRICS.md).
    pub ccs: Option<u64>,
}

/// The heads of an interpretation as documents.
pub fn docs_of(interp: &Interpretation) -> Vec<HeadDoc> {
    let scale = interp.importance_scale();
    interp
        .heads
        .iter()
        .map(|h| HeadDoc {
            id: format!("{}/{}", interp.slug, h.id()),
            store: interp.store[..16.min(interp.store.len())].to_string(),
            model: interp.slug.clone(),
            layer: h.layer as u64,
            head: h.head as u64,
            label: interp.label(h).unwrap_or_default(),
            texts: h.texts.iter().map(|t| t.text.clone()).collect(),
            importance: h.importance.zip(scale).map(|(i, s)| i.margin_drop / s),
            evidence: h
                .evidence
                .iter()
                .filter(|e| e.trusted())
                .filter_map(|e| {
                    Some((
                        crate::evidence::label_of(&e.property)?.to_string(),
                        e.adjusted(),
                    ))
                })
                .collect(),
            families: h
                .families
                .iter()
                .filter(|f| f.assured() > 0.0)
                .map(|f| (f.property.clone(), f.assured()))
                .collect(),
            ccs: h.ccs.as_ref().map(|c| c.score as u64),
        })
        .collect()
}
