//! `interpret`, `report` and `search` as a user runs them: a local model indexed from its own
//! folder, found again without --model, and asked for by name once it has moved.

use super::*;

/// `interpret` of a store whose local model is gone: one clear line saying to pass --model.
fn asks_for_the_model(cache: &std::path::Path) {
    let out = bin()
        .args(["interpret", "--cache"])
        .arg(cache)
        .output()
        .unwrap();
    let err = clear_error(&out, "--model");
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// The report's markdown has one row per metric; its CSV numbers only, agreeing with the JSON.
fn markdown_and_csv_agree(md: &str, csv: &str, report: &serde_json::Value) {
    let first: Vec<&str> = md
        .lines()
        .map(|l| l.split(" | ").next().unwrap_or(""))
        .collect();
    assert_eq!(first[0], "| metric");
    assert!(
        first.contains(&"| association") && first.contains(&"| CCR"),
        "{md}"
    );
    let records: Vec<Vec<String>> = csv::Reader::from_reader(csv.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    assert_eq!(records.len(), 1);
    for field in &records[0][1..] {
        assert!(
            field.is_empty() || field.parse::<f64>().is_ok(),
            "{field:?} in {csv}"
        );
    }
    let assoc: f64 = records[0][3].parse().unwrap();
    assert!((assoc - report["scores"]["association"].as_f64().unwrap()).abs() < 1e-9);
}

#[test]
fn interpret_report_and_search_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let model = fixture("tiny-clip-hf");
    let run = |args: &[&str]| run_in_cache(&cache, args);
    let m = model.to_str().unwrap();
    let images = model.join("images");
    // A local model in a folder of its own, indexed from there.
    let local = tmp.path().join("my-clip");
    std::fs::create_dir_all(&local).unwrap();
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(model.join(f), local.join(f)).unwrap();
    }
    index_in_cache(&cache, &local, &images, &["--layers", "all"]);
    // Later commands find it where it was indexed from, without --model.
    let json: serde_json::Value =
        serde_json::from_str(&run(&["interpret", "--json", "--texts-per-head", "6"])).unwrap();
    // Moved away, it is one clear line saying what to pass; the same weights elsewhere do.
    std::fs::rename(&local, tmp.path().join("moved")).unwrap();
    asks_for_the_model(&cache);
    run(&["interpret", "-q", "--texts-per-head", "6", "--model", m]);
    let heads = json["heads"].as_array().unwrap();
    assert_eq!(heads.len(), 12);
    assert!(
        heads.iter().all(
            |h| h["texts"].as_array().unwrap().len() == 6 && h["label"]["property"].is_string()
        )
    );
    let report: serde_json::Value =
        serde_json::from_str(run(&["report", "--format", "json", "--layers", "last:2"]).trim())
            .unwrap();
    assert_eq!(report["scores"]["heads"], 8);
    // `--store` names it as in every other command.
    let hash = json["store"].as_str().unwrap()[..8].to_string();
    let named: serde_json::Value = serde_json::from_str(
        run(&[
            "report", "--format", "json", "--layers", "last:2", "--store", &hash,
        ])
        .trim(),
    )
    .unwrap();
    assert_eq!(named, report);
    let md = run(&["report", "--layers", "last:2"]);
    let csv = run(&["report", "--format", "csv", "--layers", "last:2"]);
    markdown_and_csv_agree(&md, &csv, &report);
    let label = heads[11]["label"]["property"].as_str().unwrap().to_string();
    let hits = run(&[
        "search",
        "--json",
        &format!("label:\"{label}\""),
        "layer:>=2",
    ]);
    assert!(hits.lines().count() >= 1);
    assert!(
        hits.lines()
            .all(|l| l.contains(&format!("\"label\":\"{label}\"")) && l.contains("\"layer\":2"))
    );
    let semantic = run(&[
        "search",
        "--semantic",
        "--json",
        "--model",
        m,
        "--limit",
        "3",
        "a red car",
    ]);
    assert_eq!(semantic.lines().count(), 3);
}
