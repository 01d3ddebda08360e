//! Semantic regression tests on the built-in probe CLIP (a CLIP trained on the probe world,
//! tools/train_probe_clip.py), run as a user runs clipscope: index held-out probe images,
//! interpret, search. For colour, shape and count, the first search hit is among the two heads
//! whose effects the property explains most (η²), and most heads that clearly carry a property
//! are labelled with it. These fail when the labeler, the evidence or the search regress.

mod common;

use common::run_in_cache as run;
use serde_json::Value;
use std::path::Path;

/// The label an image property speaks for.
fn label_of(property: &str) -> Option<&'static str> {
    clipscope::evidence::label_of(property)
}

/// Every 6th text of the built-in pool (all its properties), to keep the tests short.
fn short_pool(dir: &std::path::Path) -> std::path::PathBuf {
    let pool = dir.join("pool.tsv");
    let builtin = clipscope::interpret::Pool::builtin();
    let tsv: String = builtin
        .texts
        .iter()
        .zip(&builtin.tags)
        .step_by(6)
        .map(|(t, p)| format!("{t}\t{}\n", p.clone().unwrap_or_default()))
        .collect();
    std::fs::write(&pool, tsv).unwrap();
    pool
}

/// The number each row of a `search` table shows is the one that ranked it: image evidence
/// (`ε²`) first, then text relevance (`text`), each falling down the list.
fn shown_numbers_rank(table: &str) {
    let kinds = ["ε²", "text", "importance", "cos"];
    let ranked: Vec<(usize, f64)> = table
        .lines()
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            // The kind word followed by its number (a label may be `text` too).
            let at = (0..w.len() - 1)
                .find(|&i| kinds.contains(&w[i]) && w[i + 1].parse::<f64>().is_ok())
                .expect(l);
            let kind = kinds.iter().position(|k| *k == w[at]).unwrap_or(0);
            (kind, w[at + 1].parse().expect(l))
        })
        .collect();
    assert_eq!(
        ranked.first().map(|r| r.0),
        Some(0),
        "evidence first: {table}"
    );
    for pair in ranked.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        assert!(a.0 < b.0 || (a.0 == b.0 && a.1 >= b.1), "{table}");
    }
}

#[test]
fn search_finds_the_heads_that_carry_colour_shape_and_count() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let images = tmp.path().join("probe");
    // Images 0..1199 are held out of the probe CLIP's training.
    run(&cache, &["probe", images.to_str().unwrap(), "-n", "480"]);
    run(
        &cache,
        &[
            "index",
            "--model",
            "probe-clip",
            "--images",
            images.to_str().unwrap(),
            "--layers",
            "all",
            "-q",
        ],
    );
    let pool = short_pool(tmp.path());
    let interp: Value = serde_json::from_str(&run(
        &cache,
        &[
            "interpret",
            "--store",
            "probe-clip",
            "--pool",
            pool.to_str().unwrap(),
            "--json",
            "-q",
        ],
    ))
    .unwrap();
    let heads = interp["heads"].as_array().unwrap();
    assert_eq!(heads.len(), 16);
    search_lists_a_carrier_first(&cache, heads);
    the_colour_head_tells_colours_apart(&cache, &images, heads);
    // The id the whole-cache search prints is taken back where a head is asked for.
    let table = run(&cache, &["search", "color"]);
    let printed = table.split_whitespace().nth(1).unwrap();
    assert!(printed.starts_with("probe-clip@"), "{table}");
    run(
        &cache,
        &["head-nn", "--store", "probe-clip", "--head", printed, "#0"],
    );
    clear_heads_carry_their_label(heads);
    the_report_agrees(&cache);
}

/// A head's id, `L1H2`.
fn id(h: &Value) -> String {
    format!("L{}H{}", h["layer"], h["head"])
}

/// A head's η² for `property` on the probe images (0 without evidence).
fn eta(h: &Value, property: &str) -> f64 {
    h["evidence"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["property"] == property)
        .map_or(0.0, |e| e["eta2"].as_f64().unwrap())
}

/// `search color|shape|counting|texture` lists first one of the two heads that carry the
/// property most.
fn search_lists_a_carrier_first(cache: &Path, heads: &[Value]) {
    // The probe CLIP carries colour and count in single heads (η² 0.58 and 0.93 here), shape
    // only weakly (0.15; its zero-shot shape accuracy is 44%) and texture spread over its first
    // layer (0.3): the search must still find the head that carries each most.
    for (query, property, carried) in [
        ("color", "color", 0.4),
        ("shape", "shape", 0.1),
        ("counting", "count", 0.5),
        ("texture", "texture", 0.2),
    ] {
        let mut by_eta: Vec<(f64, String)> =
            heads.iter().map(|h| (eta(h, property), id(h))).collect();
        by_eta.sort_by(|a, b| b.0.total_cmp(&a.0));
        assert!(
            by_eta[0].0 >= carried,
            "some head carries {property}: {by_eta:?}"
        );
        let hits = run(cache, &["search", "--store", "probe-clip", "--json", query]);
        let first: Value = serde_json::from_str(hits.lines().next().unwrap()).unwrap();
        let first = first["head"]["id"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_string();
        assert!(
            by_eta[..2].iter().any(|(_, h)| *h == first),
            "search {query:?} lists {first} first; the heads carrying {property} most: {by_eta:?}"
        );
        shown_numbers_rank(&run(cache, &["search", query]));
    }
}

/// Through the colour head, the explorer's score (the centred cosine) gives images of another
/// colour other neighbours: two such queries share at most half their top 10.
fn the_colour_head_tells_colours_apart(cache: &Path, images: &Path, heads: &[Value]) {
    let colour_head = heads
        .iter()
        .max_by(|a, b| eta(a, "color").total_cmp(&eta(b, "color")))
        .map(id)
        .unwrap();
    let probes = std::fs::read_to_string(images.join("probe.jsonl")).unwrap();
    let colours: Vec<Value> = probes
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["color"].clone())
        .collect();
    let a = colours.iter().position(|c| c == "red").unwrap();
    let b = colours.iter().position(|c| c == "blue").unwrap();
    let top10 = |i: usize| -> Vec<u64> {
        let out = run(
            cache,
            &[
                "head-nn",
                "--store",
                "probe-clip",
                "--metric",
                "centred",
                "--json",
                "-k",
                "10",
                "--head",
                &colour_head,
                &format!("#{i}"),
            ],
        );
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["metric"], "centred cosine");
        let r = v["results"].as_array().unwrap();
        r.iter().map(|h| h["index"].as_u64().unwrap()).collect()
    };
    let (ta, tb) = (top10(a), top10(b));
    let shared = ta.iter().filter(|i| tb.contains(i)).count();
    assert!(
        shared <= 5,
        "red #{a} and blue #{b} share {shared} of 10: {ta:?} {tb:?}"
    );
}

/// Heads that clearly carry a labelled property (η² ≥ 0.5 for their strongest) carry its
/// label, at least 80% of them.
fn clear_heads_carry_their_label(heads: &[Value]) {
    let mut clear = vec![];
    for h in heads {
        let strongest = h["evidence"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| {
                let l = label_of(e["property"].as_str()?)?;
                Some((l, e["eta2"].as_f64()?))
            })
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((want, e)) = strongest
            && e >= 0.5
        {
            clear.push((
                id(h),
                want,
                h["label"]["property"].as_str().unwrap().to_string(),
            ));
        }
    }
    let right = clear.iter().filter(|(_, want, got)| want == got).count();
    assert!(!clear.is_empty(), "some head clearly carries a property");
    assert!(
        right * 5 >= clear.len() * 4,
        "{right} of {} clear heads carry their property's label: {clear:?}",
        clear.len()
    );
}

/// The report says the same, and how well the model names its own world's colours.
fn the_report_agrees(cache: &Path) {
    let report: Value =
        serde_json::from_str(run(cache, &["report", "--format", "json", "--layers", "all"]).trim())
            .unwrap();
    assert!(
        report["labels_backed_by_images"].as_f64().unwrap() >= 0.8,
        "{report}"
    );
    // The probe CLIP names its own world's colours: the evidence counts, and the report says
    // how well the model names it.
    let carriers = report["image_evidence"]["carriers"].as_array().unwrap();
    let color = carriers.iter().find(|c| c["property"] == "color").unwrap();
    let fit = color["fit"].as_f64().unwrap();
    assert!(fit >= clipscope::evidence::FIT_TRUST, "{color}");
    let md = run(cache, &["report", "--layers", "all"]);
    assert!(md.contains(&format!("fit {fit:.2})")), "{md}");
}

/// The probe SigLIP (tests/fixtures/probe-siglip, tools/train_probe_siglip.py: zero-shot colour
/// 99%, texture 84%, background 78% on held-out images) through the same commands: its pooling
/// heads are labelled by what their effects carry, and `search color` lists the pooling head
/// whose effects colour explains most.
#[test]
fn siglip_pooling_heads_are_labelled_by_what_they_carry() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let images = tmp.path().join("probe");
    let model = common::fixture("probe-siglip");
    let m = model.to_str().unwrap();
    // Images 0..1199 are held out of the probe SigLIP's training too.
    run(&cache, &["probe", images.to_str().unwrap(), "-n", "480"]);
    let dir = images.to_str().unwrap();
    run(&cache, &["index", "--model", m, "--images", dir, "-q"]);
    let pool = short_pool(tmp.path());
    let pool = pool.to_str().unwrap();
    let interp: Value =
        serde_json::from_str(&run(&cache, &["interpret", "--pool", pool, "--json", "-q"])).unwrap();
    let heads = interp["heads"].as_array().unwrap();
    assert_eq!(heads.len(), 4, "one pooling layer of four heads");
    let evidence = |h: &Value| -> Vec<(String, f64)> {
        h["evidence"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                (
                    e["property"].as_str().unwrap().to_string(),
                    e["eta2"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    let mut by_colour = vec![];
    for h in heads {
        let ev = evidence(h);
        let (property, eta) = ev
            .iter()
            .filter(|(p, _)| label_of(p).is_some())
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        // This SigLIP's pooling heads all carry colour most (η² 0.43 to 0.55 here).
        let id = format!("L0H{}", h["head"]);
        assert!(
            *eta >= 0.3,
            "{id}: its strongest property, {property}, at η² {eta}"
        );
        let label = h["label"]["property"].as_str().unwrap();
        assert_eq!(
            Some(label),
            label_of(property),
            "{id} is labelled by its evidence"
        );
        let colour = ev.iter().find(|(p, _)| p == "color").map_or(0.0, |e| e.1);
        by_colour.push((colour, id));
    }
    by_colour.sort_by(|a, b| b.0.total_cmp(&a.0));
    let hits = run(&cache, &["search", "--json", "color"]);
    let first: Value = serde_json::from_str(hits.lines().next().unwrap()).unwrap();
    let first = first["head"]["id"].as_str().unwrap();
    assert!(
        first.ends_with(&format!("/{}", by_colour[0].1)),
        "search color lists {first} first; colour η² by head: {by_colour:?}"
    );
}
