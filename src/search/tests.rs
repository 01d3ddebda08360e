//! The search index: typos, prefixes, filters and ranking.

use super::*;

fn doc(layer: u64, head: u64, label: &str, texts: &[&str]) -> HeadDoc {
    HeadDoc {
        id: format!("m/L{layer}H{head}"),
        store: "s".into(),
        model: "vit-b-16-openai".into(),
        layer,
        head,
        label: label.into(),
        texts: texts.iter().map(|t| t.to_string()).collect(),
        importance: Some(layer as f64 / 11.0),
        evidence: std::collections::BTreeMap::new(),
        families: std::collections::BTreeMap::new(),
        ccs: Some(head),
    }
}

#[test]
fn typos_prefixes_and_filters() {
    let docs = vec![
        doc(9, 1, "animal", &["a striped zebra", "a tiger"]),
        doc(11, 2, "color", &["a red car", "a bright blue door"]),
        doc(10, 3, "location", &["snowy mountains", "a street in Paris"]),
    ];
    let idx = SearchIndex::build(&docs, None).unwrap();
    assert_eq!(idx.search("color", 5).unwrap()[0].head.id, "m/L11H2");
    assert_eq!(idx.search("colr", 5).unwrap()[0].head.id, "m/L11H2");
    assert_eq!(idx.search("colour", 5).unwrap()[0].head.id, "m/L11H2");
    let hits = idx.search("strped", 5).unwrap();
    assert_eq!(hits[0].head.id, "m/L9H1");
    assert_eq!(hits[0].matching_texts, ["a striped zebra"]);
    assert_eq!(idx.search("moun", 5).unwrap()[0].head.id, "m/L10H3");
    let filtered = idx.search("layer:>=10", 5).unwrap();
    assert_eq!(filtered.len(), 2);
    assert!(filtered.iter().all(|h| h.head.layer >= 10));
    assert_eq!(idx.search("label:location", 5).unwrap().len(), 1);
    let important = idx.search("importance:>0.95", 5).unwrap();
    assert_eq!(important.len(), 1, "only L11H2");
    assert_eq!(important[0].head.importance, Some(1.0));
    assert!(idx.search("zzzzqqq", 5).unwrap().is_empty());
    // Concept consistency: equal, and at most (here each head's CCS is its number).
    let ids = |q: &str| -> Vec<String> {
        let mut v: Vec<String> = idx
            .search(q, 5)
            .unwrap()
            .into_iter()
            .map(|h| h.head.id)
            .collect();
        v.sort();
        v
    };
    assert_eq!(ids("ccs:3"), ["m/L10H3"]);
    assert_eq!(ids("ccs:<=2"), ["m/L11H2", "m/L9H1"]);
    assert_eq!(ids("color ccs:>=2"), ["m/L11H2"]);
}

#[test]
fn a_query_of_filters_alone_ranks_by_importance() {
    // Importance rising against the layer order, more heads than the text ranking's
    // candidates, and one unmeasured head.
    let docs: Vec<HeadDoc> = (0..300u64)
        .map(|i| HeadDoc {
            importance: (i != 7).then_some(i as f64 / 299.0),
            ..doc(i / 12, i % 12, "color", &["a red car"])
        })
        .collect();
    let idx = SearchIndex::build(&docs, None).unwrap();
    let top = idx.search("importance:>0.5", 3).unwrap();
    let ids: Vec<&str> = top.iter().map(|h| h.head.id.as_str()).collect();
    assert_eq!(
        ids,
        ["m/L24H11", "m/L24H10", "m/L24H9"],
        "most important first"
    );
    let all = idx.search("layer:>=0", 300).unwrap();
    assert_eq!(all.len(), 300);
    assert!(
        all.windows(2)
            .all(|w| w[0].head.importance >= w[1].head.importance)
    );
    assert_eq!(all[299].head.importance, None, "unmeasured last");
}

#[test]
fn one_edit() {
    assert!(within_one_edit("color", "colr"));
    assert!(within_one_edit("color", "colour"));
    assert!(within_one_edit("form", "from"));
    assert!(!within_one_edit("color", "cool"));
}
