//! Head property labels from the evidence (the properties of a head's top TEXTSPAN texts,
//! weighed by the variance each explains, and what known image properties explain of its
//! effects), and the paper's model-level scores (docs/METRICS.md defines them).

use super::family_score::FamilyScore;
use super::shared::Shared;
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
    /// Two sources or more agree.
    Both,
    /// The model's own text families (docs/METRICS.md, "Family scores").
    Families,
    /// The evidence is weak or disagrees: the label is `unclear`.
    Unclear,
}

/// The label of a head whose evidence says nothing clear.
pub const UNCLEAR: &str = "unclear";
/// Image evidence (ε²) at which a property decides the label on its own.
pub const IMAGES_DECIDE: f64 = 0.4;
/// Image evidence (ε²) at which the images vote for a property.
pub const IMAGES_CONFIRM: f64 = 0.2;
/// Image evidence (ε²) under which a property the texts name is contradicted by the images.
pub const IMAGES_CONTRADICT: f64 = 0.05;
/// Weighted share of the top texts that must express a property for the texts to vote for it…
pub const TEXTS_DECIDE: f64 = 0.4;
/// …and how much more surprising (KL) it must be than the next property they share.
pub const TEXTS_LEAD: f64 = 1.25;
/// Chance spreads a family must lie above chance to vote…
pub const FAMILY_Z: f64 = 3.0;
/// …with at least this excess share (docs/METRICS.md, "Family scores")…
pub const FAMILY_CONFIRM: f64 = 0.1;
/// …and the excess at which it decides on its own.
pub const FAMILY_DECIDE: f64 = 0.3;
/// Chance spreads under which the family of the property the texts name contradicts them: the
/// model's own text tower finds no more of the head in that property's directions than in
/// random texts'.
pub const FAMILY_CONTRADICT_Z: f64 = 1.0;

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

/// The evidence a label is decided from.
#[derive(Debug, Clone, Copy)]
pub struct Sources<'a> {
    /// What the head's top texts share, most surprising first.
    pub shared: &'a [Shared],
    /// The model's text families (empty when not measured).
    pub families: &'a [FamilyScore],
    /// The known image properties (empty when none are known).
    pub images: &'a [PropertyEvidence],
}

/// One source's vote: a property and how strongly the source supports it (0–1).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Vote<'a> {
    property: &'a str,
    strength: f64,
    basis: Basis,
}

impl<'a> Sources<'a> {
    /// The property the known images separate most (ε²), when one names a label.
    fn image(&self) -> Option<Vote<'a>> {
        self.images
            .iter()
            .filter(|e| e.trusted())
            .filter_map(|e| Some((label_of(&e.property)?, e.adjusted())))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(property, strength)| Vote {
                property,
                strength,
                basis: Basis::Images,
            })
    }

    /// ε² of the images for `label`, when measured.
    fn image_of(&self, label: &str) -> Option<f64> {
        self.images
            .iter()
            .find(|e| label_of(&e.property) == Some(label) && e.trusted())
            .map(PropertyEvidence::adjusted)
    }

    /// The family far above chance that explains most beyond chance.
    fn family(&self) -> Option<Vote<'a>> {
        self.families
            .iter()
            .filter(|f| f.z() >= FAMILY_Z)
            .max_by(|a, b| a.excess().total_cmp(&b.excess()))
            .map(|f| Vote {
                property: &f.property,
                strength: f.excess(),
                basis: Basis::Families,
            })
    }

    /// How strongly each source but `except` supports `property` (a source supports what it
    /// measures above its confirming level, whether or not it is that source's first choice).
    fn support(&self, property: &str, except: Basis) -> Vec<f64> {
        let image = self.image_of(property).filter(|&e| e >= IMAGES_CONFIRM);
        let family = self
            .families
            .iter()
            .find(|f| f.property == property && f.z() >= FAMILY_Z)
            .map(FamilyScore::excess)
            .filter(|&e| e >= FAMILY_CONFIRM);
        let texts = self
            .shared
            .iter()
            .find(|s| s.property == property && s.share >= TEXTS_DECIDE)
            .map(|s| s.share);
        [
            (Basis::Images, image),
            (Basis::Families, family),
            (Basis::Texts, texts),
        ]
        .into_iter()
        .filter(|(b, _)| *b != except)
        .filter_map(|(_, s)| s)
        .collect()
    }

    /// The property the texts share most surprisingly, when enough of them share it, it leads
    /// the next, and its family (when measured) lies above chance.
    fn texts(&self) -> Option<Vote<'a>> {
        let first = self.shared.first()?;
        let lead = self
            .shared
            .get(1)
            .is_none_or(|s| first.score >= TEXTS_LEAD * s.score);
        let contradicted = self
            .families
            .iter()
            .any(|f| f.property == first.property && f.z() < FAMILY_CONTRADICT_Z);
        (first.share >= TEXTS_DECIDE && lead && !contradicted).then_some(Vote {
            property: &first.property,
            strength: first.share,
            basis: Basis::Texts,
        })
    }
}

/// The label the sources support (docs/METRICS.md, "Labels"): strong image evidence decides;
/// otherwise two sources that agree; otherwise a strong family, or the texts where no source
/// speaks against them; otherwise `unclear`.
pub fn decide(sources: &Sources) -> Label {
    let label = |property: &str, confidence: f64, basis| Label {
        property: property.to_string(),
        confidence,
        basis,
    };
    let image = sources.image();
    let family = sources.family();
    let texts = sources.texts();
    let mut votes: Vec<Vote> = [
        image.filter(|v| v.strength >= IMAGES_CONFIRM),
        family.filter(|v| v.strength >= FAMILY_CONFIRM),
        texts,
    ]
    .into_iter()
    .flatten()
    .collect();
    votes.sort_by(|a, b| b.strength.total_cmp(&a.strength));
    if let Some(v) = image.filter(|v| v.strength >= IMAGES_DECIDE) {
        let basis = if sources.support(v.property, Basis::Images).is_empty() {
            Basis::Images
        } else {
            Basis::Both
        };
        return label(v.property, v.strength, basis);
    }
    for v in &votes {
        let others = sources.support(v.property, v.basis);
        if !others.is_empty() {
            let miss = others.iter().fold(1.0 - v.strength, |m, s| m * (1.0 - s));
            return label(v.property, 1.0 - miss, Basis::Both);
        }
    }
    if let Some(v) = family.filter(|v| v.strength >= FAMILY_DECIDE) {
        return label(v.property, v.strength, Basis::Families);
    }
    // One source alone, with no other against it.
    if let [v] = votes[..] {
        let contradicted = sources
            .image_of(v.property)
            .is_some_and(|e| e < IMAGES_CONTRADICT);
        if v.basis != Basis::Families && !contradicted {
            return label(v.property, v.strength, v.basis);
        }
    }
    let best = votes.iter().map(|v| v.strength).fold(0.0, f64::max);
    label(UNCLEAR, best, Basis::Unclear)
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

#[cfg(test)]
mod tests {
    use super::*;

    use crate::interpret::strings as tags;

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
            fit: None,
        }
    }

    fn shared(s: &[(&str, f64, f64)]) -> Vec<Shared> {
        s.iter()
            .map(|&(p, share, chance)| Shared::new(p, share, chance))
            .collect()
    }

    fn family(property: &str, explained: f64) -> FamilyScore {
        FamilyScore {
            property: property.into(),
            explained,
            chance: 0.2,
            spread: 0.05,
            dims: 10,
        }
    }

    fn decided(s: &[Shared], f: &[FamilyScore], i: &[PropertyEvidence]) -> (String, Basis) {
        let l = decide(&Sources {
            shared: s,
            families: f,
            images: i,
        });
        (l.property, l.basis)
    }

    #[test]
    fn sources_decide_together() {
        let colour = shared(&[("color", 1.0, 0.15), ("clothing", 0.4, 0.03)]);
        // The texts alone, when nothing speaks against them.
        assert_eq!(decided(&colour, &[], &[]), ("color".into(), Basis::Texts));
        // A text share that is not clear: unclear.
        let flat = shared(&[("animal", 0.3, 0.05), ("food", 0.3, 0.05)]);
        assert_eq!(decided(&flat, &[], &[]).0, UNCLEAR);
        // Strong image evidence decides, whatever the texts say.
        let got = decided(&colour, &[], &[ev("count", 0.7), ev("color", 0.1)]);
        assert_eq!(got, ("counting".into(), Basis::Images));
        // Images that do not separate the colour the texts name make it unclear…
        assert_eq!(decided(&colour, &[], &[ev("color", 0.02)]).0, UNCLEAR);
        // …and images that do, confirm it.
        let got = decided(&colour, &[], &[ev("color", 0.3)]);
        assert_eq!(got, ("color".into(), Basis::Both));
        // Classes name no property: they never decide a label.
        assert_eq!(decided(&colour, &[], &[ev("class", 0.9)]).0, "color");
        // A family far above chance agrees with the texts…
        let f = [family("color", 0.6), family("shape", 0.25)];
        assert_eq!(decided(&colour, &f, &[]), ("color".into(), Basis::Both));
        // …decides alone when the texts are unclear…
        assert_eq!(decided(&flat, &f, &[]), ("color".into(), Basis::Families));
        // …and a weak family against the texts leaves the label unclear.
        let weak = [family("shape", 0.4)];
        assert_eq!(decided(&colour, &weak, &[]).0, UNCLEAR);
        // The texts' property whose own family lies at chance is contradicted by the model…
        let at_chance = [family("color", 0.22)];
        assert_eq!(decided(&colour, &at_chance, &[]).0, UNCLEAR);
        // …and one a little above chance is not.
        let above = [family("color", 0.27)];
        assert_eq!(decided(&colour, &above, &[]).0, "color");
        // No evidence at all: unclear.
        assert_eq!(decided(&[], &[family("shape", 0.22)], &[]).0, UNCLEAR);
    }
}
