//! What a head's top texts have in common (docs/METRICS.md, "Labels"): for each property its
//! texts express, the share of the texts' weight that expresses it, against how often the pool
//! expresses it (the chance of sharing it), so that "a red dress, a yellow tulip, a blue car"
//! reads as colour and "a red dress, a blue shirt, a green coat" as clothing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A property that a head's top texts share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shared {
    /// The property.
    pub property: String,
    /// Weighted share of the top texts that express it.
    pub share: f64,
    /// Share of the pool's texts that express it.
    pub chance: f64,
    /// Binary KL divergence of `share` from `chance` (nats; 0 unless share > chance): how
    /// surprising it is that the texts share the property.
    pub score: f64,
}

impl Shared {
    /// `property` shared at `share` against its `chance`, scored by how surprising that is.
    pub fn new(property: &str, share: f64, chance: f64) -> Self {
        Self {
            property: property.to_string(),
            share,
            chance,
            score: if share > chance {
                kl(share, chance)
            } else {
                0.0
            },
        }
    }
}

/// Share of `properties` (per pool text) that holds each property: the chance baseline.
pub fn chance_of(properties: &[Vec<String>]) -> BTreeMap<String, f64> {
    let mut count: BTreeMap<String, f64> = BTreeMap::new();
    for p in properties.iter().flatten() {
        *count.entry(p.clone()).or_default() += 1.0;
    }
    let n = properties.len().max(1) as f64;
    count.values_mut().for_each(|c| *c /= n);
    count
}

fn kl(share: f64, chance: f64) -> f64 {
    let (s, p) = (share.clamp(0.0, 1.0), chance.clamp(1e-6, 1.0 - 1e-6));
    let term = |a: f64, b: f64| if a > 0.0 { a * (a / b).ln() } else { 0.0 };
    term(s, p) + term(1.0 - s, 1.0 - p)
}

/// The properties that two or more of the top texts (each text's `properties`, its `weight`)
/// share, more often than chance, most surprising first.
pub fn shared(
    properties: &[Vec<String>],
    weights: &[f64],
    chance: &BTreeMap<String, f64>,
) -> Vec<Shared> {
    let total: f64 = weights.iter().sum::<f64>().max(f64::MIN_POSITIVE);
    let mut share: BTreeMap<&str, (f64, usize)> = BTreeMap::new();
    for (ps, w) in properties.iter().zip(weights) {
        for p in ps {
            let s = share.entry(p.as_str()).or_default();
            *s = (s.0 + w / total, s.1 + 1);
        }
    }
    let mut out: Vec<Shared> = share
        .into_iter()
        .filter(|(_, (_, texts))| *texts >= 2)
        .map(|(p, (s, _))| Shared::new(p, s, chance.get(p).copied().unwrap_or(0.0)))
        .filter(|s| s.score > 0.0)
        .collect();
    out.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.property.cmp(&b.property))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &[&[&str]]) -> Vec<Vec<String>> {
        s.iter()
            .map(|t| t.iter().map(|x| x.to_string()).collect())
            .collect()
    }

    #[test]
    fn what_the_texts_share_beats_what_one_text_is() {
        let chance: BTreeMap<String, f64> = [
            ("color", 0.15),
            ("clothing", 0.03),
            ("plant", 0.035),
            ("vehicle", 0.04),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
        // Coloured things of several kinds: colour.
        let coloured = p(&[
            &["clothing", "color"],
            &["plant", "color"],
            &["clothing", "color"],
            &["vehicle", "color"],
            &["color"],
        ]);
        let s = shared(&coloured, &[1.0; 5], &chance);
        assert_eq!(s[0].property, "color");
        assert!((s[0].share - 1.0).abs() < 1e-12);
        // Garments of several colours: clothing is rarer in the pool, so it is the surprise.
        let garments = p(&[
            &["clothing", "color"],
            &["clothing", "color"],
            &["clothing", "color"],
            &["clothing", "color"],
            &["clothing"],
        ]);
        assert_eq!(
            shared(&garments, &[1.0; 5], &chance)[0].property,
            "clothing"
        );
        // Weights count: one heavy text of colour outweighs four light ones.
        let w = [0.8, 0.05, 0.05, 0.05, 0.05];
        let mixed = p(&[&["color"], &["plant"], &["color"], &["vehicle"], &["plant"]]);
        assert_eq!(shared(&mixed, &w, &chance)[0].property, "color");
        let w = [0.05, 0.05, 0.05, 0.05, 0.8];
        assert_eq!(shared(&mixed, &w, &chance)[0].property, "plant");
        // One text is not a sharing, however heavy.
        let one = p(&[&["vehicle"], &["plant"], &["color"]]);
        assert!(shared(&one, &[0.9, 0.05, 0.05], &chance).is_empty());
        // Nothing above chance: nothing shared.
        assert!(shared(&p(&[&[], &[]]), &[1.0, 1.0], &chance).is_empty());
    }

    #[test]
    fn chance_is_the_pools_share() {
        let c = chance_of(&p(&[&["color"], &["color", "shape"], &[], &["shape"]]));
        assert_eq!((c["color"], c["shape"]), (0.5, 0.5));
    }
}
