//! Head property labels from the evidence (the properties of a head's top TEXTSPAN texts,
//! weighed by the variance each explains, and what known image properties explain of its
//! effects), and the paper's model-level scores (docs/METRICS.md defines them).

use std::collections::BTreeMap;

use crate::evidence::{PropertyEvidence, label_of};

/// A head's property, how sure the evidence is, and which evidence decided it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Label {
    /// The property, or `unclear` when the evidence is weak or disagrees.
    pub property: String,
    /// 0–1: the winning weighted share of the texts, or the image evidence (ε²), whichever
    /// decided (docs/METRICS.md).
    pub confidence: f64,
    /// What decided it.
    #[serde(default)]
    pub basis: Basis,
}

/// Which evidence decided a label.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// The head's top texts (no image evidence, or none that speaks against them).
    #[default]
    Texts,
    /// What known image properties explain of the head's effects.
    Images,
    /// Both agree.
    Both,
    /// The evidence is weak or disagrees: the label is `unclear`.
    Unclear,
}

/// The label of a head whose evidence says nothing clear.
pub const UNCLEAR: &str = "unclear";
/// Image evidence (ε²) at which a property decides the label on its own.
pub const IMAGES_DECIDE: f64 = 0.4;
/// Image evidence (ε²) that confirms the texts' property.
pub const IMAGES_CONFIRM: f64 = 0.2;
/// Image evidence (ε²) under which a property the texts name is contradicted by the images.
pub const IMAGES_CONTRADICT: f64 = 0.05;
/// Weighted share of the top texts a property needs to win on the texts alone…
pub const TEXTS_DECIDE: f64 = 0.4;
/// …and its lead over the next property.
pub const TEXTS_LEAD: f64 = 0.1;

/// Each top text's weight: the variance of the head it explains (its pick's increase of the
/// variance explained); equal weights when none is recorded.
pub fn text_weights(variance_explained: &[f64], k: usize) -> Vec<f64> {
    let top = &variance_explained[..k.min(variance_explained.len())];
    let w: Vec<f64> = top
        .iter()
        .enumerate()
        .map(|(i, &v)| (v - if i == 0 { 0.0 } else { top[i - 1] }).max(0.0))
        .collect();
    if w.iter().sum::<f64>() > 0.0 {
        w
    } else {
        vec![1.0; top.len()]
    }
}

/// The label the evidence supports (docs/METRICS.md, "Labels"): `tags` and `weights` of the top
/// texts in pick order, `evidence` of the known image properties (empty when none are known).
pub fn decide(tags: &[String], weights: &[f64], evidence: &[PropertyEvidence]) -> Option<Label> {
    let total: f64 = weights.iter().sum();
    let mut share: BTreeMap<&str, f64> = BTreeMap::new();
    for (t, w) in tags.iter().zip(weights) {
        *share.entry(t.as_str()).or_default() += w / total.max(f64::MIN_POSITIVE);
    }
    let mut ranked: Vec<(&str, f64)> = share.into_iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    let text = ranked.first().copied();
    let lead = text.map_or(0.0, |t| t.1 - ranked.get(1).map_or(0.0, |r| r.1));
    let image = evidence
        .iter()
        .filter_map(|e| Some((label_of(&e.property)?, e.adjusted())))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    let image_of = |label: &str| {
        evidence
            .iter()
            .find(|e| label_of(&e.property) == Some(label))
            .map(PropertyEvidence::adjusted)
    };
    let label = |property: &str, confidence: f64, basis| Label {
        property: property.to_string(),
        confidence,
        basis,
    };
    if let Some((p, e)) = image
        && e >= IMAGES_DECIDE
    {
        let both = text.is_some_and(|t| t.0 == p);
        return Some(label(p, e, if both { Basis::Both } else { Basis::Images }));
    }
    let (t, s) = text?;
    if let Some(e) = image_of(t) {
        if e >= IMAGES_CONFIRM {
            return Some(label(t, s.max(e), Basis::Both));
        }
        if e < IMAGES_CONTRADICT {
            return Some(label(UNCLEAR, s, Basis::Unclear));
        }
    }
    if s >= TEXTS_DECIDE && lead >= TEXTS_LEAD {
        return Some(label(t, s, Basis::Texts));
    }
    Some(label(UNCLEAR, s, Basis::Unclear))
}

/// The majority property among the first `k` tags; a tie goes to the property that reaches the
/// tied count first in pick order (the higher-ranked texts).
pub fn majority(tags: &[String], k: usize) -> Option<Label> {
    let top = &tags[..k.min(tags.len())];
    let mut best: Option<(&str, usize, usize)> = None; // (property, count, first position)
    for (i, t) in top.iter().enumerate() {
        let count = top.iter().filter(|x| *x == t).count();
        let first = top.iter().position(|x| x == t).unwrap_or(i);
        if best.is_none_or(|(_, c, f)| count > c || (count == c && first < f)) {
            best = Some((t, count, first));
        }
    }
    best.map(|(p, c, _)| Label {
        property: p.to_string(),
        confidence: c as f64 / top.len() as f64,
        basis: Basis::Texts,
    })
}

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

    fn tags(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn majority_and_ties() {
        let l = majority(
            &tags(&["color", "shape", "color", "shape", "animal", "x"]),
            5,
        )
        .unwrap();
        assert_eq!((l.property.as_str(), l.confidence), ("color", 0.4));
        assert_eq!(majority(&tags(&["a", "b"]), 5).unwrap().property, "a");
        assert!(majority(&[], 5).is_none());
    }

    fn ev(property: &str, eta2: f64) -> PropertyEvidence {
        PropertyEvidence {
            property: property.into(),
            eta2,
            chance: 0.01,
            images: 1000,
            groups: 10,
            top: None,
        }
    }

    #[test]
    fn labels_weigh_texts_by_variance_and_images_by_eta() {
        let t = tags(&["color", "animal", "animal", "food", "plant"]);
        // The first text explains most of the head: colour wins on the texts alone.
        let w = text_weights(&[0.5, 0.55, 0.6, 0.62, 0.63], 5);
        assert!((w[0] - 0.5).abs() < 1e-12 && (w[1] - 0.05).abs() < 1e-12);
        let l = decide(&t, &w, &[]).unwrap();
        assert_eq!((l.property.as_str(), l.basis), ("color", Basis::Texts));
        // Equal weights: animal has 2 of 5, no lead of 0.1 over nothing… it leads colour by 0.2.
        let l = decide(&t, &[1.0; 5], &[]).unwrap();
        assert_eq!(l.property, "animal");
        // A flat spread of texts is unclear.
        let flat = tags(&["color", "animal", "food", "plant", "sport"]);
        assert_eq!(decide(&flat, &[1.0; 5], &[]).unwrap().property, UNCLEAR);
        // Strong image evidence decides, whatever the texts say.
        let l = decide(&t, &w, &[ev("count", 0.7), ev("color", 0.1)]).unwrap();
        assert_eq!((l.property.as_str(), l.basis), ("counting", Basis::Images));
        // Images that do not separate the colour the texts name make it unclear…
        let l = decide(&t, &w, &[ev("color", 0.02), ev("shape", 0.1)]).unwrap();
        assert_eq!((l.property.as_str(), l.basis), (UNCLEAR, Basis::Unclear));
        // …and images that do, confirm it.
        let l = decide(&t, &w, &[ev("color", 0.3)]).unwrap();
        assert_eq!((l.property.as_str(), l.basis), ("color", Basis::Both));
        // Classes name no property: they never decide a label.
        let l = decide(&t, &w, &[ev("class", 0.9)]).unwrap();
        assert_eq!(l.property, "color");
    }

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
