//! Concept consistency (Madasu, Lal, Howard, "Quantifying Interpretability in CLIP Models with
//! Concept Consistency", arXiv 2503.11103; code avinashsai/CCS-CLIP): how many of a head's top
//! TEXTSPAN texts agree with its concept label (CCS), the share of heads at each CCS (CCS@K),
//! and how concentrated the consistent heads' concepts are (CCR). docs/METRICS.md defines them.
//!
//! The paper asks LLM judges whether each text fits the label. clipscope's judge is the one every
//! interpretation has: each pool text's property tag (the built-in pool is tagged; a user pool is
//! tagged by CLIP text similarity), which agrees when it is the head's label. The judge is named
//! with every score, and the verdicts are kept so that a user sees why.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The judge of the verdicts: the pool's property tags against the head's label.
pub const TAGS: &str = "tags";

/// One top text and whether it agrees with the head's label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The text.
    pub text: String,
    /// Its property, as the judge sees it (the pool's tag; the LLM judge names only the label
    /// a text fits, and nothing for one that does not).
    pub property: String,
    /// Whether that is the head's label.
    pub agrees: bool,
}

/// A head's concept consistency score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ccs {
    /// Agreeing texts among the top k (0–k).
    pub score: usize,
    /// The label judged against.
    pub label: String,
    /// Who judged ([`TAGS`]).
    pub judge: String,
    /// The top k texts' verdicts, in pick order.
    pub verdicts: Vec<Verdict>,
}

/// The CCS of a head labelled `label` whose top texts (pick order) are `texts` with properties
/// `tags`, over the first `k`. An `unclear` label agrees with nothing (no text is tagged so).
pub fn ccs(label: &str, texts: &[String], tags: &[String], k: usize) -> Ccs {
    let verdicts: Vec<Verdict> = texts
        .iter()
        .zip(tags)
        .take(k)
        .map(|(t, p)| Verdict {
            text: t.clone(),
            property: p.clone(),
            agrees: p == label,
        })
        .collect();
    Ccs {
        score: verdicts.iter().filter(|v| v.agrees).count(),
        label: label.to_string(),
        judge: TAGS.to_string(),
        verdicts,
    }
}

/// The CCS band of a score out of `k` (the paper's, for k = 5: high 5, moderate 3, low ≤ 1).
pub fn band(score: usize, k: usize) -> &'static str {
    if score >= k {
        "high"
    } else if score == k.div_ceil(2) {
        "moderate"
    } else if score <= 1 {
        "low"
    } else {
        "mid"
    }
}

/// Model-level consistency of the analysed heads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Consistency {
    /// Heads scored.
    pub heads: usize,
    /// Texts judged per head.
    pub k: usize,
    /// Who judged.
    pub judge: String,
    /// CCS@K for K = 0..=k: the share of heads whose CCS is K.
    pub at: Vec<f64>,
    /// Share of heads with CCS = k (high).
    pub high: f64,
    /// Share with CCS = ⌈k/2⌉ (moderate).
    pub moderate: f64,
    /// Share with CCS ≤ 1 (low).
    pub low: f64,
    /// Concepts held by more than one high-CCS head / high-CCS heads; `None` without any.
    pub ccr: Option<f64>,
    /// Those concepts, with their high-CCS heads' count.
    pub concentrated: BTreeMap<String, usize>,
}

/// CCS@K, bands and CCR of `heads` (each head's CCS), with `k` texts judged per head.
pub fn consistency(heads: &[&Ccs], k: usize) -> Consistency {
    let n = heads.len();
    let share = |c: usize| if n == 0 { 0.0 } else { c as f64 / n as f64 };
    let mut at = vec![0usize; k + 1];
    for h in heads {
        at[h.score.min(k)] += 1;
    }
    let mut per: BTreeMap<String, usize> = BTreeMap::new();
    for h in heads.iter().filter(|h| h.score >= k) {
        *per.entry(h.label.clone()).or_default() += 1;
    }
    let high: usize = per.values().sum();
    let concentrated: BTreeMap<String, usize> = per.into_iter().filter(|p| p.1 > 1).collect();
    Consistency {
        heads: n,
        k,
        judge: heads.first().map_or(TAGS.to_string(), |h| h.judge.clone()),
        at: at.iter().map(|&c| share(c)).collect(),
        high: share(at[k]),
        moderate: share(at[k.div_ceil(2)]),
        low: share(at.iter().take(2).sum()),
        ccr: (high > 0).then(|| concentrated.len() as f64 / high as f64),
        concentrated,
    }
}

/// One pruned set over its runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pruned {
    /// `high`, `low` or `random`.
    pub set: String,
    /// The heads of each run (`L3H1`).
    pub runs: Vec<Vec<String>>,
    /// Top-1 (%) after each run's pruning.
    pub top1: Vec<f64>,
    /// Mean of `top1`.
    pub mean: f64,
    /// Sample standard deviation of `top1` (0 for one run).
    pub std: f64,
}

/// The pruning experiment's result (`ablate --prune-ccs`; computed in the importance layer,
/// which sits above this one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pruning {
    /// Top-1 (%) unpruned.
    pub baseline_top1: f64,
    /// Heads pruned per run.
    pub heads: usize,
    /// Seeds drawn.
    pub seeds: u64,
    /// High, low and random, in that order.
    pub sets: Vec<Pruned>,
}

impl Pruned {
    /// Its top-1 as printed: the mean, with `± std` when there were several runs.
    pub fn top1_text(&self) -> String {
        if self.top1.len() > 1 {
            format!("{:.2} ± {:.2}", self.mean, self.std)
        } else {
            format!("{:.2}", self.mean)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::interpret::strings as s;

    #[test]
    fn scores_verdicts_bands_and_ccr() {
        let texts = s(&["red", "blue", "a circle", "green", "teal", "stripes"]);
        let tags = s(&["color", "color", "shape", "color", "color", "texture"]);
        let c = ccs("color", &texts, &tags, 5);
        assert_eq!(c.score, 4);
        assert_eq!(c.verdicts.len(), 5);
        assert!(!c.verdicts[2].agrees && c.verdicts[2].property == "shape");
        assert_eq!(ccs("unclear", &texts, &tags, 5).score, 0);
        assert_eq!(
            (band(5, 5), band(3, 5), band(1, 5), band(0, 5), band(4, 5)),
            ("high", "moderate", "low", "low", "mid")
        );
        let five = |l: &str| ccs(l, &s(&["a"; 5]), &s(&[l; 5]), 5);
        let heads = [
            five("color"),
            five("color"),
            five("shape"),
            c.clone(),
            ccs("shape", &texts, &tags, 5),
        ];
        let r = consistency(&heads.iter().collect::<Vec<_>>(), 5);
        assert_eq!(r.at, [0.0, 0.2, 0.0, 0.0, 0.2, 0.6]);
        assert_eq!((r.high, r.moderate, r.low), (0.6, 0.0, 0.2));
        // Three high heads; one concept (color) held by more than one of them.
        assert_eq!(r.ccr, Some(1.0 / 3.0));
        assert_eq!(r.concentrated.get("color"), Some(&2));
        assert_eq!(consistency(&[&c], 5).ccr, None);
    }
}
