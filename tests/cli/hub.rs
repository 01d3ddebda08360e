//! The Hugging Face Hub as a user without network meets it: an unreachable or unresolvable hub
//! says how to go on offline, and hub ids load from the standard cache layout.

use std::path::Path;

use candle_core::IndexOp;

use super::{clear_error, embed_via_hub};
use crate::common::*;

/// A hub that cannot be reached (here a closed local port) gives one line: the cause once, and
/// the ways to go on offline.
#[test]
fn an_unreachable_hub_says_how_to_go_on_offline() {
    let t = tempfile::tempdir().unwrap();
    let out = embed_via_hub("someorg/somemodel", t.path(), Some("http://127.0.0.1:9"));
    clear_error(&out, "cannot be reached");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("HF_HUB_OFFLINE=1") && err.contains("probe-clip"),
        "{err}"
    );
    assert_eq!(
        err.matches("127.0.0.1").count(),
        0,
        "the cause, not the URL twice: {err}"
    );
}

/// A Hub whose name does not resolve (no network) is answered at once from the cache, without
/// the client's retries: one line, well under the ~2 s the retries took.
#[test]
fn a_hub_that_does_not_resolve_is_answered_at_once() {
    let t = tempfile::tempdir().unwrap();
    let start = std::time::Instant::now();
    let out = embed_via_hub(
        "someorg/somemodel",
        t.path(),
        Some("https://hub.example.invalid"),
    );
    let took = start.elapsed();
    clear_error(&out, "does not resolve");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("hub.example.invalid") && err.contains("probe-clip"),
        "{err}"
    );
    assert!(took < std::time::Duration::from_millis(1500), "{took:?}");
}

/// A hub id resolves through the standard Hugging Face cache layout with HF_HUB_OFFLINE=1.
#[test]
fn hub_ids_load_from_the_offline_cache() {
    let home = tempfile::tempdir().unwrap();
    let commit = "0123456789abcdef0123456789abcdef01234567";
    let snap = hub_snapshot(
        home.path(),
        "someone/tiny-clip",
        commit,
        "tiny-clip-hf",
        &[
            "config.json",
            "model.safetensors",
            "preprocessor_config.json",
            "tokenizer.json",
        ],
    );
    let embed = |model: &str| {
        bin()
            .args(["embed", "-m", model, "--json", "-t", "a photo of a dog"])
            .env("HF_HUB_OFFLINE", "1")
            .env("HF_HOME", home.path())
            .env_remove("HF_HUB_CACHE")
            .env_remove("HUGGINGFACE_HUB_CACHE")
            .output()
            .unwrap()
    };
    let out = lines(&embed("someone/tiny-clip"));
    let want = clipscope::model::l2_normalize(&reference("tiny-clip-hf")["text_embeds"]).unwrap();
    assert_close(
        &floats(&out[0]["embedding"]),
        &want.i(0).unwrap().to_vec1::<f32>().unwrap(),
        1e-4,
        "hub text",
    );
    let pinned = lines(&embed(&format!("someone/tiny-clip@{commit}")));
    assert_eq!(out, pinned);
    let listed = bin()
        .args(["models"])
        .env("HF_HOME", home.path())
        .env_remove("HF_HUB_CACHE")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&listed.stdout).contains("someone/tiny-clip"));
    assert!(Path::new(&snap).is_dir());
}
