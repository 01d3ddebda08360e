//! Interpretation end to end on a planted store: heads built from pool texts of known
//! properties get those properties, search finds them, scores are proper fractions.

mod common;

use candle_core::{DType, Device};
use clipscope::interpret::labels::scores;
use clipscope::interpret::texts::embed_texts;
use clipscope::interpret::{Pool, Settings, interpret};
use clipscope::model::{Clip, ModelFiles};
use clipscope::store::{Store, synthetic};
use common::*;

const PROPS: [&str; 6] = ["color", "animal", "food", "weather", "texture", "vehicle"];
/// Property planted in each head: two colour heads.
const PLANTED: [usize; 7] = [0, 1, 2, 0, 3, 4, 5];

#[test]
fn planted_heads_get_their_properties_and_search_finds_the_colour_heads() {
    // A pool of 15 built-in descriptions per property.
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
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("pool.tsv"), &tsv).unwrap();
    let pool = Pool::from_file(&tmp.path().join("pool.tsv")).unwrap();
    let files = ModelFiles::from_dir(&fixture("tiny-clip-hf"), "tiny").unwrap();
    let clip = Clip::load(&files, &Device::Cpu, DType::F32).unwrap();
    let emb = embed_texts(&clip, &pool.texts, &|_| {}).unwrap();
    let e = clip.config.embed_dim;

    // Head h of image i = Σ_j c_ij t_j over 5 texts of its property (different ones for the
    // two colour heads), c_ij with std 3, 2.5, 2, 1.5, 1, plus a little noise.
    let texts_of = |head: usize| -> Vec<usize> {
        let p = PLANTED[head];
        let offset = if head == 3 { 5 } else { 0 };
        (0..5).map(|k| p * 15 + offset + k).collect()
    };
    let dir = tmp.path().join("store");
    let emb_ref = &emb;
    synthetic::write_with(&dir, 400, PLANTED.len(), e, 1, &|i, head, out| {
        let mut s = (i * 31 + head * 7 + 1) as u64;
        let mut gauss = || {
            let mut u = 0.0f32;
            for _ in 0..6 {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                u += (s >> 40) as f32 / (1u64 << 24) as f32;
            }
            u - 3.0
        };
        out.iter_mut().for_each(|o| *o = 0.01 * gauss());
        if head == PLANTED.len() {
            return;
        }
        for (k, t) in texts_of(head).into_iter().enumerate() {
            let c = gauss() * (3.0 - 0.5 * k as f32);
            out.iter_mut()
                .zip(&emb_ref[t * e..(t + 1) * e])
                .for_each(|(o, v)| *o += c * v);
        }
    })
    .unwrap();
    let store = Store::open(&dir).unwrap();
    let tags: Vec<String> = pool.tags.iter().map(|t| t.clone().unwrap()).collect();
    let settings = Settings {
        rank: 80,
        texts_per_head: 10,
        top_k: 5,
    };
    let interp = interpret(&store, &pool, &emb, &tags, settings, &|| {}).unwrap();
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
    interp.save(&dir).unwrap();

    let (index, _) = clipscope::search::store_index(&dir).unwrap();
    let hits = index.search("color", 5).unwrap();
    let ids: Vec<&str> = hits.iter().map(|h| h.head.id.as_str()).collect();
    assert_eq!(ids[..2], ["synthetic/L0H0", "synthetic/L0H3"], "{ids:?}");
    assert_eq!(index.search("colr", 5).unwrap()[0].head.label, "color");

    // A user label shows up in search at once.
    clipscope::interpret::interpretation::set_override(&dir, "L0H2", Some("cuisine")).unwrap();
    let (index, _) = clipscope::search::store_index(&dir).unwrap();
    assert_eq!(
        index.search("cuisine", 5).unwrap()[0].head.id,
        "synthetic/L0H2"
    );

    let interp = clipscope::interpret::Interpretation::load(&dir)
        .unwrap()
        .unwrap();
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
    run(&[
        "index",
        "-q",
        "--layers",
        "all",
        "--model",
        local.to_str().unwrap(),
        "--images",
        images.to_str().unwrap(),
    ]);
    // Later commands find it where it was indexed from, without --model.
    let json: serde_json::Value =
        serde_json::from_str(&run(&["interpret", "--json", "--texts-per-head", "6"])).unwrap();
    // Moved away, it is one clear line saying what to pass; the same weights elsewhere do.
    std::fs::rename(&local, tmp.path().join("moved")).unwrap();
    let out = bin()
        .args(["interpret", "--cache"])
        .arg(&cache)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("--model") && err.lines().count() == 1,
        "{err}"
    );
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
