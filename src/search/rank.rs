//! Ranking by image evidence: a query word that names a property (`color`, `colours`, `count`,
//! `letters`) puts the heads whose effects that property is known to explain first, by how much
//! it explains (the images are the ground truth), above heads that merely have the word in a
//! text.

use super::{Hit, RankedBy, within_one_edit};

/// Hits fetched from the text index before the evidence re-ranks them.
pub const CANDIDATES: usize = 1000;

/// Words people use for a labelled property.
const SYNONYMS: [(&str, &str); 8] = [
    ("colour", "color"),
    ("count", "counting"),
    ("number", "counting"),
    ("letter", "text"),
    ("glyph", "text"),
    ("digit", "text"),
    ("location", "position"),
    ("pattern", "texture"),
];

/// The labels a query word names (`colours` → `color`, `count` → `counting`).
pub fn labels_named(word: &str) -> Vec<String> {
    let w = word
        .strip_suffix('s')
        .filter(|w| w.len() >= 3)
        .unwrap_or(word);
    let mut out: Vec<String> = SYNONYMS
        .iter()
        .filter(|(s, _)| *s == w || *s == word)
        .map(|(_, l)| l.to_string())
        .collect();
    out.push(w.to_string());
    out
}

/// How strongly a hit's evidence speaks for what `words` name: its image evidence where the
/// store's images have that property known (and the model names it), else its text families
/// (0 when neither says anything).
fn evidence_for(hit: &Hit, words: &[String]) -> RankedBy {
    let labels: Vec<String> = words.iter().flat_map(|w| labels_named(w)).collect();
    let best = |map: &std::collections::BTreeMap<String, f64>| {
        labels
            .iter()
            .flat_map(|l| {
                map.iter()
                    .filter(move |(label, _)| {
                        *label == l || (l.len() >= 4 && within_one_edit(label, l))
                    })
                    .map(|(_, &e)| e)
            })
            .reduce(f64::max)
    };
    match best(&hit.head.evidence) {
        Some(e) => RankedBy::Evidence(e),
        None => RankedBy::Family(best(&hit.head.families).unwrap_or(0.0)),
    }
}

/// `hits` (text relevance order) re-ranked: by the evidence for what the query names, then by
/// text relevance (heads without such evidence keep their relevance order after those with it);
/// the first `limit`.
pub fn by_evidence(hits: Vec<Hit>, words: &[String], limit: usize) -> Vec<Hit> {
    let value = |r: &RankedBy| match r {
        RankedBy::Evidence(e) | RankedBy::Family(e) => *e,
        _ => 0.0,
    };
    let mut keyed: Vec<(RankedBy, usize, Hit)> = hits
        .into_iter()
        .enumerate()
        .map(|(i, h)| (evidence_for(&h, words), i, h))
        .collect();
    keyed.sort_by(|a, b| value(&b.0).total_cmp(&value(&a.0)).then(a.1.cmp(&b.1)));
    keyed
        .into_iter()
        .take(limit)
        .map(|(e, _, mut h)| {
            if value(&e) > 0.0 {
                h.ranked_by = e;
            }
            h
        })
        .collect()
}

/// `hits` most important first (unmeasured heads last, in layer and head order), at most
/// `limit`: the ranking of a query of filters alone, whose matches all score alike.
pub fn by_importance(mut hits: Vec<Hit>, limit: usize) -> Vec<Hit> {
    hits.sort_by(|a, b| {
        let (x, y) = (a.head.importance, b.head.importance);
        y.unwrap_or(f64::NEG_INFINITY)
            .total_cmp(&x.unwrap_or(f64::NEG_INFINITY))
            .then((a.head.layer, a.head.head).cmp(&(b.head.layer, b.head.head)))
    });
    hits.truncate(limit);
    for h in &mut hits {
        h.ranked_by = RankedBy::Importance(h.head.importance);
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::super::{HeadDoc, SearchIndex};
    use std::collections::BTreeMap;

    fn doc(head: u64, label: &str, texts: &[&str], evidence: &[(&str, f64)]) -> HeadDoc {
        HeadDoc {
            id: format!("m/L3H{head}"),
            store: "s".into(),
            model: "probe".into(),
            layer: 3,
            head,
            label: label.into(),
            texts: texts.iter().map(|t| t.to_string()).collect(),
            importance: None,
            evidence: evidence
                .iter()
                .map(|(l, e)| (l.to_string(), *e))
                .collect::<BTreeMap<_, _>>(),
            families: BTreeMap::new(),
            ccs: None,
        }
    }

    #[test]
    fn image_evidence_outranks_a_word_in_a_text() {
        let docs = vec![
            doc(
                0,
                "color",
                &["bright colors", "a red car"],
                &[("color", 0.1)],
            ),
            doc(
                1,
                "text",
                &["a street sign"],
                &[("counting", 0.7), ("color", 0.05)],
            ),
            doc(2, "counting", &["three dogs"], &[("counting", 0.3)]),
            doc(3, "unclear", &["a calm lake"], &[("color", 0.8)]),
        ];
        let idx = SearchIndex::build(&docs, None).unwrap();
        let ids = |q: &str| -> Vec<String> {
            idx.search(q, 4)
                .unwrap()
                .into_iter()
                .map(|h| h.head.id)
                .collect()
        };
        // Head 3's effects are mostly colour: first, though no text of it says so.
        assert_eq!(ids("color")[0], "m/L3H3");
        assert_eq!(ids("colours")[0], "m/L3H3");
        // Head 1 separates counts most, whatever its label.
        assert_eq!(ids("counting")[..2], ["m/L3H1", "m/L3H2"]);
        assert_eq!(ids("count")[0], "m/L3H1");
        // Filters hold for heads found by their evidence too.
        assert!(ids("counting layer:>=4").is_empty());
        assert_eq!(ids("counting head:<2"), ["m/L3H1"], "L3H2 is filtered out");
        // Without evidence for the word, text relevance alone orders.
        assert_eq!(ids("street")[0], "m/L3H1");
        let hit = &idx.search("color", 1).unwrap()[0];
        assert_eq!(hit.head.evidence["color"], 0.8, "stored and returned");
    }
}
