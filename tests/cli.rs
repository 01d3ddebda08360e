//! The binary end to end: JSON Lines against the reference, and one clear line on bad input.

mod common;

#[path = "cli/bad_input.rs"]
mod bad_input;
#[path = "cli/families.rs"]
mod families;
#[path = "cli/hub.rs"]
mod hub;
#[path = "cli/readme.rs"]
mod readme;

use std::process::Output;

use candle_core::IndexOp;
use common::*;

fn run(args: &[&str]) -> Output {
    bin()
        .args(args)
        .env_remove("CLIPSCOPE_MODEL")
        .output()
        .expect("run clipscope")
}

/// `embed -m model` with the Hugging Face cache in `home`: through the hub at `endpoint`, or
/// offline (`HF_HUB_OFFLINE=1`) without one.
fn embed_via_hub(model: &str, home: &std::path::Path, endpoint: Option<&str>) -> Output {
    let mut cmd = bin();
    cmd.args(["embed", "-m", model, "--text", "hi"])
        .env("HF_HOME", home);
    match endpoint {
        Some(url) => cmd.env("HF_ENDPOINT", url).env_remove("HF_HUB_OFFLINE"),
        None => cmd.env("HF_HUB_OFFLINE", "1").env_remove("HF_HUB_CACHE"),
    };
    cmd.output().unwrap()
}

#[test]
fn decompose_json_matches_the_reference() {
    for name in FIXTURES {
        let dir = fixture(name);
        let r = reference(name);
        let imgs: Vec<String> = (0..6)
            .map(|i| {
                dir.join(format!("images/img0{i}.png"))
                    .display()
                    .to_string()
            })
            .collect();
        let mut args = vec![
            "decompose",
            "--model",
            dir.to_str().unwrap(),
            "--tokens",
            "--batch",
            "4",
            "--json",
        ];
        args.extend(imgs.iter().map(String::as_str));
        let out = lines(&run(&args));
        assert_eq!(out.len(), 6);
        let unit = clipscope::model::l2_normalize(&r["image_embeds"]).unwrap();
        for (i, obj) in out.iter().enumerate() {
            assert_eq!(obj["image"], imgs[i].as_str());
            let flat = |k: &str| {
                r[k].i(i)
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap()
            };
            assert_close(
                &floats(&obj["embedding"]),
                &unit.i(i).unwrap().to_vec1::<f32>().unwrap(),
                1e-5,
                "embedding",
            );
            assert_close(&floats(&obj["heads"]), &flat("heads"), 1e-5, "heads");
            assert_close(&floats(&obj["mlps"]), &flat("mlps"), 1e-5, "mlps");
            assert_close(&floats(&obj["tokens"]), &flat("tokens"), 1e-5, "tokens");
            let dims = r["heads"].dims();
            assert_eq!(obj["heads"].as_array().unwrap().len(), dims[1]);
            assert_eq!(obj["heads"][0].as_array().unwrap().len(), dims[2]);
        }
    }
}

#[test]
fn decompose_layer_selection_and_summary() {
    let dir = fixture("tiny-clip-hf");
    let img = dir.join("images/img01.png");
    let out = lines(&run(&[
        "decompose",
        "-m",
        dir.to_str().unwrap(),
        "--layers",
        "last:2",
        "--json",
        img.to_str().unwrap(),
    ]));
    assert_eq!(out[0]["layers"], serde_json::json!([1, 2]));
    assert!(out[0].get("tokens").is_none());
    let want = reference("tiny-clip-hf")["heads"]
        .i((1, 1..3))
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert_close(&floats(&out[0]["heads"]), &want, 1e-5, "last:2 heads");
    let text = run(&[
        "decompose",
        "-m",
        dir.to_str().unwrap(),
        img.to_str().unwrap(),
    ]);
    assert!(text.status.success());
    let s = String::from_utf8(text.stdout).unwrap();
    assert!(s.contains("top heads") && s.contains("L"), "{s}");
}

#[test]
fn embed_json_matches_the_reference() {
    for name in FIXTURES {
        let dir = fixture(name);
        let r = reference(name);
        let texts = reference_texts(name);
        let mut args: Vec<String> = vec![
            "embed".into(),
            "--model".into(),
            dir.display().to_string(),
            "--json".into(),
        ];
        for t in &texts {
            args.push("--text".into());
            args.push(t.clone());
        }
        args.push(dir.join("images/big00.png").display().to_string());
        let out = lines(&run(&args.iter().map(String::as_str).collect::<Vec<_>>()));
        assert_eq!(out.len(), texts.len() + 1);
        let unit = clipscope::model::l2_normalize(&r["text_embeds"]).unwrap();
        let ids = r["input_ids"].to_vec2::<i64>().unwrap();
        for (i, obj) in out.iter().take(texts.len()).enumerate() {
            assert_eq!(obj["text"], texts[i].as_str());
            let got = ints(&obj["input_ids"]);
            // The reference's ids up to its padding (CLIP's BPE unpadded, ending with its end
            // token, padded by transformers with it; a Hugging Face tokenizer's ids padded to the
            // context as open_clip's are).
            assert_eq!(&got[..], &ids[i][..got.len()], "{name}");
            let pad = |&p: &i64| p == 0 || p == 49407;
            assert!(ids[i][got.len()..].iter().all(pad), "{name}");
            assert_close(
                &floats(&obj["embedding"]),
                &unit.i(i).unwrap().to_vec1::<f32>().unwrap(),
                1e-4,
                "text embedding",
            );
        }
        let img = &out[texts.len()];
        let e = floats(&img["embedding"]);
        let norm: f32 = e.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
        let want = r["big_image_embeds"]
            .i(0)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let wn: f32 = want.iter().map(|x| x * x).sum::<f32>().sqrt();
        let cos: f32 = e.iter().zip(&want).map(|(a, b)| a * b).sum::<f32>() / wn;
        assert!(cos > 0.999, "{name}: cosine {cos}");
    }
}

#[test]
fn demo_offline_falls_back_to_the_probe_clip_and_every_command_finds_it() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let cmd = |args: &[&str]| {
        common::bin()
            .args(args)
            .env("CLIPSCOPE_CACHE", &cache)
            .env("HF_HUB_OFFLINE", "1")
            .env("HF_HOME", tmp.path().join("hf"))
            .output()
            .unwrap()
    };
    let run = || cmd(&["demo", "--no-tui", "--count", "24"]);
    let out = run();
    let (so, se) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{se}");
    assert!(se.contains("built-in probe CLIP"), "{se}");
    assert!(
        so.contains("probe-clip") && so.contains("24 images"),
        "{so}"
    );
    assert!(so.contains("search \"color\""), "{so}");
    assert!(so.contains("η² ="), "{so}");
    // The probe CLIP names the probe images' properties: they are within its domain.
    assert!(!so.contains("outside this model's domain"), "{so}");
    // The second run finds the store and its interpretation.
    let out = run();
    let se = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{se}");
    assert!(se.contains("up to date"), "{se}");
    // Commands that need the model find the built-in one by name, without --model.
    // Each command line with its arguments split at '|'.
    for line in [
        "segment|--store|probe-clip|--text|red|--json|#0",
        "contrast|--store|probe-clip|-t|red|-t|blue|--json|#0",
        "text-nn|--store|probe-clip|--head|L3H0|--json|red",
        "search|--store|probe-clip|--semantic|--json|a red circle",
    ] {
        let args: Vec<&str> = line.split('|').collect();
        let out = cmd(&args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A piped --show asks the terminal nothing (no kitty query in the pipe): half blocks.
    let out = cmd(&[
        "segment",
        "--store",
        "probe-clip",
        "--text",
        "red",
        "--show",
        "#0",
    ]);
    let so = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(!so.contains("\x1b_G") && so.contains('▄'), "{so:?}");
}

#[test]
fn doctor_reports_protocol_paths_and_gpu() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("config.toml"), "theme = 3\n").unwrap();
    let out = common::bin()
        .args(["doctor", "--json"])
        .env("CLIPSCOPE_CONFIG_HOME", tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["tty"], false);
    assert_eq!(
        v["protocol"], "halfblocks",
        "no terminal to ask: half blocks"
    );
    assert!(v["gpu"].as_str().unwrap().contains("CPU build"));
    let problems = v["problems"].to_string();
    assert!(
        problems.contains("config.toml"),
        "a bad config is reported: {problems}"
    );
}

#[test]
fn explore_without_a_terminal_is_one_clear_error() {
    let out = common::bin().args(["explore"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("explore needs a terminal"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(out.stdout.is_empty(), "nothing on stdout");
}
