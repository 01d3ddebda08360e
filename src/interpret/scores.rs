//! The paper's model-level scores over the analysed heads: association, entanglement, shared
//! labels and variance explained (docs/METRICS.md, "Scores").

use std::collections::BTreeMap;

/// One analysed head, as the scores see it.
#[derive(Debug, Clone)]
pub struct HeadTags {
    /// Its (effective) label.
    pub label: String,
    /// Properties of its top texts in pick order.
    pub tags: Vec<String>,
    /// Variance explained after each pick.
    pub variance_explained: Vec<f64>,
}

/// Model-level scores over the analysed heads.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Scores {
    /// Number of analysed heads.
    pub heads: usize,
    /// Fraction whose top k texts mostly (≥ ⌈k/2⌉ + 1) carry the head's label.
    pub association: f64,
    /// Fraction whose top k texts carry two or more properties each supported by ≥ 2 texts.
    pub entanglement: f64,
    /// Fraction whose label is also another analysed head's label.
    pub shared_label: f64,
    /// Mean variance explained by the top k texts.
    pub mean_ve_top_k: f64,
    /// Mean variance explained by all chosen texts.
    pub mean_ve_all: f64,
    /// Analysed heads per label.
    pub heads_per_property: BTreeMap<String, usize>,
}

/// Scores of `heads` with top-k = `k`.
pub fn scores(heads: &[HeadTags], k: usize) -> Scores {
    let n = heads.len();
    let frac = |c: usize| if n == 0 { 0.0 } else { c as f64 / n as f64 };
    let mut per = BTreeMap::new();
    for h in heads {
        *per.entry(h.label.clone()).or_insert(0) += 1;
    }
    let need = k.div_ceil(2) + 1;
    let assoc = heads
        .iter()
        .filter(|h| h.tags.iter().take(k).filter(|t| **t == h.label).count() >= need)
        .count();
    let entangled = heads
        .iter()
        .filter(|h| {
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for t in h.tags.iter().take(k) {
                *counts.entry(t).or_insert(0) += 1;
            }
            counts.values().filter(|&&c| c >= 2).count() >= 2
        })
        .count();
    let shared = heads
        .iter()
        .filter(|h| per.get(&h.label).is_some_and(|&c| c >= 2))
        .count();
    let mean = |f: &dyn Fn(&HeadTags) -> Option<f64>| {
        let v: Vec<f64> = heads.iter().filter_map(f).collect();
        if v.is_empty() {
            0.0
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    Scores {
        heads: n,
        association: frac(assoc),
        entanglement: frac(entangled),
        shared_label: frac(shared),
        mean_ve_top_k: mean(&|h| {
            h.variance_explained
                .get(k.min(h.variance_explained.len()).checked_sub(1)?)
                .copied()
        }),
        mean_ve_all: mean(&|h| h.variance_explained.last().copied()),
        heads_per_property: per,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::interpret::strings as tags;

    #[test]
    fn scores_are_fractions_of_the_analysed_heads() {
        let h = |label: &str, t: &[&str]| HeadTags {
            label: label.into(),
            tags: tags(t),
            variance_explained: vec![0.5, 0.7],
        };
        let heads = [
            h("color", &["color", "color", "color", "color", "shape"]), // associated
            h("color", &["color", "color", "shape", "shape", "animal"]), // entangled
            h("animal", &["animal", "animal", "animal", "food", "plant"]), // neither
        ];
        let s = scores(&heads, 5);
        assert_eq!((s.association, s.entanglement), (1.0 / 3.0, 1.0 / 3.0));
        assert_eq!(s.shared_label, 2.0 / 3.0);
        assert_eq!(s.heads_per_property["color"], 2);
        assert!((s.mean_ve_top_k - 0.7).abs() < 1e-12);
    }
}
