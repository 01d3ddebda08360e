//! SigLIP through the command line: the hub alias from the offline Hugging Face cache, and a
//! labelled store from `index` to `interpret`, `search`, the analyses, `zeroshot` and `ablate`.

mod common;

use candle_core::IndexOp;
use common::*;

fn to_lines(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `siglip-b-16` resolves to google/siglip-base-patch16-224 in the offline cache, with its
/// SentencePiece tokenizer and no CLIP fallback.
#[test]
fn siglip_alias_loads_from_the_offline_hub_cache() {
    let home = tempfile::tempdir().unwrap();
    let files = [
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
        "spiece.model",
        "tokenizer_config.json",
    ];
    let commit = "89abcdef0123456789abcdef0123456789abcdef";
    hub_snapshot(
        home.path(),
        "google/siglip-base-patch16-224",
        commit,
        "tiny-siglip",
        &files,
    );
    let out = offline_hub(home.path())
        .args([
            "embed",
            "--model",
            "siglip-b-16",
            "--json",
            "-t",
            "a photo of a dog",
        ])
        .output()
        .unwrap();
    let got = floats(&lines(&out)[0]["embedding"]);
    let want = clipscope::model::l2_normalize(&reference("tiny-siglip")["text_embeds"]).unwrap();
    assert_close(
        &got,
        &want.i(0).unwrap().to_vec1::<f32>().unwrap(),
        1e-5,
        "text embedding",
    );
    let models = bin()
        .arg("models")
        .env("HF_HOME", home.path())
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&models.stdout);
    for alias in [
        "siglip-b-16",
        "siglip-so400m-14",
        "siglip2-b-16",
        "siglip2-so400m-14",
    ] {
        assert!(
            listed.contains(alias),
            "{alias} missing from `models`:\n{listed}"
        );
    }
}

#[test]
fn a_labelled_siglip_store_runs_every_command() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let model = fixture("tiny-siglip2");
    let m = model.to_str().unwrap();
    let run = |args: &[&str]| run_in_cache(&cache, args);
    let red = |_: usize, n: &str| if n.contains("red") { "red" } else { "other" };
    let (probe, csv, images) = labelled_probe(tmp.path(), &cache, 36, red);
    let labels = csv.to_str().unwrap();
    run(&[
        "index",
        "--model",
        m,
        "--images",
        probe.to_str().unwrap(),
        "--labels",
        labels,
        "-q",
    ]);
    let interp = run(&["interpret", "-q"]); // the local model found where it was indexed from
    assert!(
        interp.contains("L0H5") && !interp.contains("L1H"),
        "{interp}"
    );

    let one = probe.join(&images[0]);
    let dec = to_lines(&run(&[
        "decompose",
        "--model",
        m,
        "--json",
        "--tokens",
        one.to_str().unwrap(),
    ]));
    assert_eq!(dec[0]["layers"], serde_json::json!([0]));
    let tokens = dec[0]["tokens"].as_array().unwrap();
    assert_eq!(
        (tokens.len(), tokens[0].as_array().unwrap().len()),
        (1, 25),
        "one layer of 25 patches"
    );
    assert!(dec[0]["note"].as_str().unwrap().contains("no class token"));

    let seg = run(&[
        "segment",
        "--model",
        m,
        "--json",
        "--text",
        "red",
        one.to_str().unwrap(),
    ]);
    let seg: serde_json::Value = serde_json::from_str(seg.trim()).unwrap();
    assert_eq!(seg["grid"], 5, "{seg}");

    let table = run(&["ablate", "--model", m]);
    assert!(table.contains("n/a (no class token)"), "{table}");
    let json: serde_json::Value =
        serde_json::from_str(run(&["ablate", "--model", m, "--json"]).trim()).unwrap();
    assert!(json["cls"].is_null() && json["attention_cumulative"].as_array().unwrap().len() == 1);
    run(&["ablate", "--model", m, "--importance"]);
    let found = run(&["search", "importance:>=0"]);
    // The whole cache is searched: each head is named with its store.
    assert!(
        found.contains("tiny-siglip2@") && found.contains("/L0H"),
        "{found}"
    );
    let zs = run(&["zeroshot"]);
    assert!(zs.contains("36 images, 2 classes"), "{zs}");
}
