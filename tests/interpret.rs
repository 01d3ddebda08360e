//! Interpretation end to end on a planted store: heads built from pool texts of known
//! properties get those properties, search finds them, scores are proper fractions.

#[path = "interpret/command_line.rs"]
mod command_line;
mod common;

use clipscope::interpret::scores::scores;
use clipscope::interpret::texts::embed_texts;
use clipscope::interpret::{Pool, Settings};
use clipscope::store::{Store, synthetic};
use common::*;

const PROPS: [&str; 6] = ["color", "animal", "food", "weather", "texture", "vehicle"];
/// Property planted in each head: two colour heads.
const PLANTED: [usize; 7] = [0, 1, 2, 0, 3, 4, 5];

/// A pool of 15 built-in descriptions per property, written in `dir` and read back.
fn short_pool(dir: &std::path::Path) -> Pool {
    let builtin = Pool::builtin();
    let mut tsv = String::new();
    for p in PROPS {
        let texts = builtin
            .texts
            .iter()
            .zip(&builtin.tags)
            .filter(|(_, t)| t.as_deref() == Some(p));
        for (t, _) in texts.take(15) {
            tsv.push_str(&format!("{t}\t{p}\n"));
        }
    }
    std::fs::write(dir.join("pool.tsv"), &tsv).unwrap();
    Pool::from_file(&dir.join("pool.tsv")).unwrap()
}

/// A user label shows up in search at once, and counts: L0H2's texts are not "cuisine", so its
/// CCS is 0. Returns the interpretation as saved with it.
fn a_user_label_counts_at_once(dir: &std::path::Path) -> clipscope::interpret::Interpretation {
    clipscope::interpret::interpretation::set_override(dir, "L0H2", Some("cuisine")).unwrap();
    let (index, _) = clipscope::search::store_index(dir).unwrap();
    assert_eq!(
        index.search("cuisine", 5).unwrap()[0].head.id,
        "synthetic/L0H2"
    );
    let interp = clipscope::interpret::Interpretation::load(dir)
        .unwrap()
        .unwrap();
    let h2 = interp.heads.iter().find(|h| h.id() == "L0H2").unwrap();
    assert_eq!(h2.ccs.as_ref().unwrap().score, 0);
    let (index, _) = clipscope::search::store_index(dir).unwrap();
    let low = index.search("ccs:0", 9).unwrap();
    assert!(low.iter().any(|h| h.head.id == "synthetic/L0H2"));
    assert!(low.iter().all(|h| h.head.ccs == Some(0)));
    interp
}

#[test]
fn planted_heads_get_their_properties_and_search_finds_the_colour_heads() {
    let tmp = tempfile::tempdir().unwrap();
    let pool = short_pool(tmp.path());
    let clip = load_fixture("tiny-clip-hf");
    let emb = embed_texts(&clip, &pool.texts, &|_| {}).unwrap();
    let e = clip.config.embed_dim;

    let dir = tmp.path().join("store");
    write_planted(&dir, &PLANTED, &emb, e);
    let texts_of = |head: usize| texts_of(&PLANTED, head);
    let interp = interpret_tagged(&dir, &pool, &emb, 10);
    for (h, head) in interp.heads.iter().enumerate() {
        let label = head.label.as_ref().unwrap();
        assert_eq!(
            label.property, PROPS[PLANTED[h]],
            "head {h}: {:?}",
            head.texts
        );
        assert!(
            head.texts
                .first()
                .is_some_and(|t| texts_of(h).contains(&t.index)),
            "head {h}: first pick is planted"
        );
    }
    // Every planted head's top 5 texts carry its property: CCS 5 each; the two colour heads
    // make colour the one concept held by more than one high-CCS head.
    // Each head's CCS counts its top 5 picks whose tag is its label (the tiny model's text
    // space is small, so TEXTSPAN may pick a text of another property that explains as much).
    let agreeing = |h: &clipscope::interpret::HeadInterp| {
        let label = &h.label.as_ref().unwrap().property;
        h.texts
            .iter()
            .take(5)
            .filter(|t| &t.property == label)
            .count()
    };
    assert!(
        interp
            .heads
            .iter()
            .all(|h| h.ccs.as_ref().unwrap().score == agreeing(h))
    );
    interp.save(&dir).unwrap();

    let (index, _) = clipscope::search::store_index(&dir).unwrap();
    let hits = index.search("color", 5).unwrap();
    let ids: Vec<&str> = hits.iter().map(|h| h.head.id.as_str()).collect();
    assert_eq!(ids[..2], ["synthetic/L0H0", "synthetic/L0H3"], "{ids:?}");
    assert_eq!(index.search("colr", 5).unwrap()[0].head.label, "color");

    let interp = a_user_label_counts_at_once(&dir);

    let s = scores(&interp.head_tags(&[0]), 5);
    let n = s.heads as f64;
    assert_eq!(n, 7.0);
    for v in [s.association, s.entanglement, s.shared_label] {
        assert!(
            (0.0..=1.0).contains(&v) && ((v * n).round() - v * n).abs() < 1e-9,
            "{v}"
        );
    }
    assert_eq!(s.heads_per_property["color"], 2);
}

/// The 5 pool texts planted in head `head` (15 texts per property; the second head of a
/// property gets the next 5).
fn texts_of(planted: &[usize], head: usize) -> Vec<usize> {
    let p = planted[head];
    let offset = 5 * planted[..head].iter().filter(|&&q| q == p).count();
    (0..5).map(|k| p * 15 + offset + k).collect()
}

/// A synthetic store whose head h of image i is Σ_j c_ij t_j over the 5 texts of its planted
/// property, c_ij with std 3, 2.5, 2, 1.5, 1, plus a little noise.
fn write_planted(dir: &std::path::Path, planted: &[usize], emb: &[f32], e: usize) {
    synthetic::write_with(dir, 400, planted.len(), e, 1, &|i, head, out| {
        let mut u = uniform((i * 31 + head * 7 + 1) as u64);
        // Irwin–Hall: six uniforms, mean 0, variance 1/2.
        let mut gauss = || (0..6).map(|_| u()).sum::<f32>();
        out.iter_mut().for_each(|o| *o = 0.01 * gauss());
        if head >= planted.len() {
            return; // the rows beyond the heads: noise only
        }
        for (k, t) in texts_of(planted, head).into_iter().enumerate() {
            let c = gauss() * (3.0 - 0.5 * k as f32);
            out.iter_mut()
                .zip(&emb[t * e..(t + 1) * e])
                .for_each(|(o, v)| *o += c * v);
        }
    })
    .unwrap();
}

/// A synthetic store of `planted.len()` heads whose interpretation gives head h the label
/// `planted[h].0` and top texts tagged `planted[h].1`: CCS known by construction.
fn planted_interpretation(dir: &std::path::Path, planted: &[(&str, [&str; 5])]) {
    use clipscope::interpret::interpretation::{HeadInterp, HeadText, INTERPRET_VERSION};
    use clipscope::interpret::labels::{Basis, Label};
    synthetic::write(dir, 40, planted.len(), 8, 3).unwrap();
    let store = Store::open(dir).unwrap();
    let heads = planted
        .iter()
        .enumerate()
        .map(|(h, (label, tags))| HeadInterp {
            layer: 0,
            head: h,
            texts: tags
                .iter()
                .enumerate()
                .map(|(k, t)| HeadText {
                    index: k,
                    text: format!("a text about {t}"),
                    property: t.to_string(),
                    properties: vec![],
                    std: 1.0,
                    variance_explained: 0.1 * (k + 1) as f64,
                })
                .collect(),
            label: Some(Label {
                property: label.to_string(),
                confidence: 0.6,
                basis: Basis::Texts,
            }),
            evidence: vec![],
            shared: vec![],
            families: vec![],
            llm_label: None,
            importance: None,
            ccs: None,
            llm_ccs: None,
        })
        .collect();
    clipscope::interpret::Interpretation {
        version: INTERPRET_VERSION,
        store: store.manifest.hash.clone(),
        slug: store.manifest.slug.clone(),
        pool: "planted".into(),
        pool_sha256: "0123456789abcdef0123456789abcdef".into(),
        settings: Settings {
            rank: 8,
            texts_per_head: 5,
            top_k: 5,
        },
        heads,
        pruning: None,
        overrides: Default::default(),
    }
    .save(dir)
    .unwrap();
}

#[test]
fn report_compares_the_concept_consistency_of_planted_models() {
    let tmp = tempfile::tempdir().unwrap();
    let c = "color";
    // Model A: two colour heads and a shape head of CCS 5, one of CCS 3, one of 1, an unclear
    // head (0): CCS@5 = 3/6, CCS@≤1 = 2/6, CCR = 1 concept (colour) / 3 high heads.
    let a = tmp.path().join("a");
    planted_interpretation(
        &a,
        &[
            (c, [c; 5]),
            (c, [c; 5]),
            ("shape", ["shape"; 5]),
            (c, [c, c, c, "shape", "shape"]),
            ("texture", ["texture", "shape", c, "food", "animal"]),
            ("unclear", [c, "shape", c, "food", "animal"]),
        ],
    );
    // Model B: four heads of CCS 5 with four different concepts: CCR 0.
    let b = tmp.path().join("b");
    planted_interpretation(
        &b,
        &[
            (c, [c; 5]),
            ("shape", ["shape"; 5]),
            ("food", ["food"; 5]),
            ("animal", ["animal"; 5]),
        ],
    );
    let png = tmp.path().join("models.png");
    let out = bin()
        .args(["report", "--format", "json", "--layers", "all", "--out"])
        .arg(&png)
        .arg(&a)
        .arg(&b)
        .output()
        .unwrap();
    let rows = lines(&out);
    assert_eq!(rows.len(), 2);
    let got = |r: &serde_json::Value, k: &str| r["consistency"][k].as_f64().unwrap();
    let close = |x: f64, y: f64| (x - y).abs() < 1e-12;
    assert!(close(got(&rows[0], "high"), 3.0 / 6.0));
    assert!(close(got(&rows[0], "moderate"), 1.0 / 6.0));
    assert!(close(got(&rows[0], "low"), 2.0 / 6.0));
    assert!(close(got(&rows[0], "ccr"), 1.0 / 3.0));
    assert_eq!(rows[0]["consistency"]["concentrated"]["color"], 2);
    assert!(close(got(&rows[1], "high"), 1.0) && close(got(&rows[1], "ccr"), 0.0));
    let at: Vec<f64> = serde_json::from_value(rows[0]["consistency"]["at"].clone()).unwrap();
    assert_eq!(at.len(), 6);
    assert!(close(at.iter().sum::<f64>(), 1.0));
    let img = image::open(&png).unwrap().to_rgb8();
    assert!(img.width() > 400);
    // Both models' bars are drawn (the first two colours of the palette).
    use clipscope::analysis::bars::PALETTE;
    let has = |c: image::Rgb<u8>| img.pixels().any(|p| *p == c);
    assert!(has(PALETTE[0]) && has(PALETTE[1]));
    // The markdown table has the same numbers.
    let md = run_in_cache(
        &tmp.path().join("cache"),
        &[
            "report",
            "--layers",
            "all",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
        ],
    );
    // One row per metric, a column per model: A then B.
    for row in [
        "| CCS@5 (high) | 0.5000 | 1.0000 |",
        "| CCS@≤1 (low) | 0.3333 | 0.0000 |",
        "| CCR | 0.3333 | 0.0000 |",
    ] {
        assert!(md.lines().any(|l| l == row), "{row} in {md}");
    }
    assert!(img.width() >= clipscope::analysis::render::FIGURE_PX);
}
