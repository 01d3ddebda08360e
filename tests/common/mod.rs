//! Helpers shared by the integration tests: fixture paths and reference tensors.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};

/// The CLIP reference fixtures: transformers, open_clip, open_clip with the large layouts' QuickGELU,
/// bigG MLP ratio and patch 14 (tools/make_openclip_fixtures.py), CLIPA's layout
/// (tools/make_clipa_fixtures.py), MetaCLIP 2's text side in open_clip's and transformers' formats
/// (tools/make_metaclip2_fixtures.py) and
/// timm's EVA-02 trunk, pre-norm and EVA-02-E's post-norm (tools/make_eva_fixtures.py) and PE-Core's, pooled by an attention head
/// (tools/make_pecore_fixtures.py: B/16, and bigG without a class token), and MobileCLIP 2's
/// timm ViT with its bidirectional text tower (tools/make_mobileclip2_fixtures.py).
pub const FIXTURES: [&str; 11] = [
    "tiny-clip-hf",
    "tiny-hf-metaclip2",
    "tiny-openclip",
    "tiny-openclip-bigg",
    "tiny-openclip-clipa",
    "tiny-openclip-metaclip2",
    "tiny-openclip-eva02",
    "tiny-openclip-eva02-e",
    "tiny-openclip-pecore",
    "tiny-openclip-pecore-bigg",
    "tiny-openclip-mobileclip2",
];

/// The two SigLIP reference fixtures (tools/make_siglip_fixtures.py): a spiece.model tokenizer,
/// and a tokenizer.json with an attention mask.
pub const SIGLIP_FIXTURES: [&str; 2] = ["tiny-siglip", "tiny-siglip2"];

/// `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The fixture's `reference.safetensors`.
pub fn reference(name: &str) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(fixture(name).join("reference.safetensors"), &Device::Cpu)
        .expect("reference tensors")
}

/// The fixture's `reference.json`.
pub fn reference_json(name: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(name).join("reference.json")).unwrap())
        .unwrap()
}

/// Uniform values in [-0.5, 0.5) from SplitMix64 seeded with `seed`: synthetic test data, the
/// same on every machine.
pub fn uniform(seed: u64) -> impl FnMut() -> f32 {
    let mut rng = clipscope::model::load::random::SplitMix64(seed);
    move || (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32 - 0.5
}

/// Largest absolute elementwise difference.
pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims(), "shapes differ");
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

/// Row-wise cosine similarities of two (N, E) tensors.
pub fn cosines(a: &Tensor, b: &Tensor) -> Vec<f32> {
    let n = |t: &Tensor| clipscope::model::l2_normalize(t).unwrap();
    (n(a) * n(b)).unwrap().sum(1).unwrap().to_vec1().unwrap()
}

/// The `clipscope` binary, with its default cache in the build's temporary folder.
pub fn bin() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_clipscope"));
    c.env(
        "CLIPSCOPE_CACHE",
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cache"),
    );
    c
}

/// `clipscope index -q --json`, then `extra`, over `images` with `model` into `cache`; not yet run.
pub fn index_command(
    model: &Path,
    images: &Path,
    cache: &Path,
    extra: &[&str],
) -> std::process::Command {
    let mut c = bin();
    c.args(["index", "-q", "--json"])
        .args(extra)
        .arg("--model")
        .arg(model)
        .arg("--images")
        .arg(images)
        .arg("--cache")
        .arg(cache);
    c
}

/// `clipscope index -q EXTRA --model MODEL --images IMAGES` run into `cache` as [`run_in_cache`]
/// runs it; returns its stdout.
pub fn index_in_cache(cache: &Path, model: &Path, images: &Path, extra: &[&str]) -> String {
    let (m, i) = (model.to_str().unwrap(), images.to_str().unwrap());
    let mut args = vec!["index", "-q"];
    args.extend(extra);
    args.extend(["--model", m, "--images", i]);
    run_in_cache(cache, &args)
}

/// Runs `clipscope ARGS` with `CLIPSCOPE_CACHE=cache`; panics with its stderr unless it
/// succeeds; returns its stdout.
pub fn run_in_cache(cache: &std::path::Path, args: &[&str]) -> String {
    let out = bin()
        .args(args)
        .env("CLIPSCOPE_CACHE", cache)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Panics with the run's stderr unless it succeeded.
pub fn succeeded(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The JSON Lines of a successful run's stdout; panics with its stderr otherwise.
pub fn lines(out: &std::process::Output) -> Vec<serde_json::Value> {
    succeeded(out);
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A successful run's stdout as one JSON value; panics with its stderr otherwise.
pub fn json(out: &std::process::Output) -> serde_json::Value {
    succeeded(out);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A failed run's stderr after checking that it is clear: a non-zero exit, no panic, every line
/// clipscope's own, and `needle` in it.
pub fn clear_error(out: &std::process::Output, needle: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "expected failure, stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    assert!(
        err.lines().all(|l| l.starts_with("clipscope: ")),
        "unexpected stderr: {err}"
    );
    assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
    err
}

/// The integers of a JSON array.
pub fn ints(v: &serde_json::Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect()
}

/// A new pseudo-terminal, of `size` (rows, columns) when given: its master and slave ends.
pub fn pty(size: Option<(u16, u16)>) -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    use std::os::fd::{FromRawFd, OwnedFd};
    let (mut m, mut s) = (0, 0);
    let size = size.map(|(rows, cols)| libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    });
    let size_ptr = size.as_ref().map_or(std::ptr::null(), |w| w as *const _);
    // SAFETY: openpty writes two new descriptors into the two integers and reads `size` (a live
    // winsize or null) only.
    let rc = unsafe {
        libc::openpty(
            &mut m,
            &mut s,
            std::ptr::null_mut(),
            std::ptr::null(),
            size_ptr,
        )
    };
    assert_eq!(rc, 0, "openpty");
    // SAFETY: both descriptors were just opened and are owned by nothing else.
    unsafe { (OwnedFd::from_raw_fd(m), OwnedFd::from_raw_fd(s)) }
}

/// Fixture `name`'s model, on the CPU in f32.
pub fn load_fixture(name: &str) -> clipscope::model::Clip {
    load_fixture_as(name, candle_core::DType::F32)
}

/// Fixture `name`'s model, on the CPU in `dtype`.
pub fn load_fixture_as(name: &str, dtype: candle_core::DType) -> clipscope::model::Clip {
    let files = clipscope::model::ModelFiles::from_dir(&fixture(name), name).unwrap();
    clipscope::model::Clip::load(&files, &Device::Cpu, dtype).unwrap()
}

/// The normalised pixels `clip` gives the images that fixture `name`'s reference lists under
/// `key` (`images`, `big_images`).
pub fn reference_pixels(clip: &clipscope::model::Clip, name: &str, key: &str) -> Tensor {
    let files = reference_json(name)[key].as_array().unwrap().clone();
    let bufs: Vec<Vec<f32>> = files
        .iter()
        .map(|f| fixture(name).join("images").join(f.as_str().unwrap()))
        .map(|p| {
            let img = clipscope::image::load_rgb(&p).unwrap();
            clip.preprocess().apply(&img).unwrap()
        })
        .collect();
    clip.pixels(&bufs).unwrap()
}

/// The texts of fixture `name`'s reference.
pub fn reference_texts(name: &str) -> Vec<String> {
    let json = reference_json(name);
    let texts = json["texts"].as_array().unwrap();
    texts.iter().map(|t| t.as_str().unwrap().into()).collect()
}

/// The token ids `clip` gives the reference's texts of fixture `name`.
pub fn reference_ids(clip: &clipscope::model::Clip, name: &str) -> Vec<Vec<u32>> {
    let texts = reference_texts(name);
    texts.iter().map(|t| clip.tokenize(t).unwrap()).collect()
}

/// Every number of a JSON value (nested arrays flattened).
pub fn floats(v: &serde_json::Value) -> Vec<f32> {
    match v {
        serde_json::Value::Array(a) => a.iter().flat_map(floats).collect(),
        n => vec![n.as_f64().unwrap() as f32],
    }
}

/// Asserts equal lengths and a largest absolute difference below `tol`.
pub fn assert_close(got: &[f32], want: &[f32], tol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let d = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(d < tol, "{what}: max difference {d}");
}

/// Lays out `files` of fixture `name` as snapshot `commit` of hub repository `repo` (`org/name`)
/// in the standard Hugging Face cache under `home` (`$HF_HOME`); returns the snapshot folder.
pub fn hub_snapshot(home: &Path, repo: &str, commit: &str, name: &str, files: &[&str]) -> PathBuf {
    let dir = home
        .join("hub")
        .join(format!("models--{}", repo.replace('/', "--")));
    let snap = dir.join("snapshots").join(commit);
    std::fs::create_dir_all(&snap).unwrap();
    std::fs::create_dir_all(dir.join("refs")).unwrap();
    std::fs::write(dir.join("refs/main"), commit).unwrap();
    for f in files {
        std::fs::copy(fixture(name).join(f), snap.join(f)).unwrap();
    }
    snap
}

/// `n` probe images written into `dir`/probe by the binary (cache `cache`) and a labels CSV
/// `dir`/labels.csv giving each its `label(index, file name)`: (probe folder, CSV, file names).
pub fn labelled_probe(
    dir: &Path,
    cache: &Path,
    n: usize,
    label: fn(usize, &str) -> &'static str,
) -> (PathBuf, PathBuf, Vec<String>) {
    let probe = dir.join("probe");
    run_in_cache(
        cache,
        &["probe", probe.to_str().unwrap(), "-n", &n.to_string()],
    );
    let images: Vec<String> = std::fs::read_dir(&probe)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".png"))
        .collect();
    let csv = dir.join("labels.csv");
    let rows: Vec<String> = images
        .iter()
        .enumerate()
        .map(|(i, n)| format!("{n},{}", label(i, n)))
        .collect();
    std::fs::write(&csv, rows.join("\n")).unwrap();
    (probe, csv, images)
}

/// [`bin`] reading only the Hugging Face cache under `home` (`HF_HOME`, `HF_HUB_OFFLINE=1`).
pub fn offline_hub(home: &Path) -> std::process::Command {
    let mut c = bin();
    c.env("HF_HUB_OFFLINE", "1")
        .env("HF_HOME", home)
        .env_remove("HF_HUB_CACHE")
        .env_remove("HUGGINGFACE_HUB_CACHE");
    c
}

/// `clip`'s decomposition of every layer for fixture `name`'s reference pixels, checked against
/// the reference: the unit embedding, heads and MLPs within 1e-5, and with `tokens` the
/// per-token effects too.
pub fn decomposes_as_reference(
    clip: &clipscope::model::Clip,
    name: &str,
    tokens: bool,
) -> clipscope::model::Decomposition {
    let r = reference(name);
    let layers: Vec<usize> = (0..clip.config.depth()).collect();
    let dec = clip.decompose(&r["pixel_values"], &layers, tokens).unwrap();
    let unit = clipscope::model::l2_normalize(&r["image_embeds"]).unwrap();
    assert!(
        max_abs_diff(&dec.embedding, &unit) < 1e-5,
        "{name} embedding"
    );
    assert!(max_abs_diff(&dec.heads, &r["heads"]) < 1e-5, "{name} heads");
    assert!(max_abs_diff(&dec.mlps, &r["mlps"]) < 1e-5, "{name} mlps");
    if tokens {
        assert!(
            max_abs_diff(dec.tokens.as_ref().unwrap(), &r["tokens"]) < 1e-5,
            "{name} tokens"
        );
    }
    dec
}

/// Interprets the store in `dir` with a tagged `pool` whose unit text embeddings are `emb`
/// (the built-in lexicon, no text families), `texts` TEXTSPAN texts per head, rank 80, top 5.
pub fn interpret_tagged(
    dir: &Path,
    pool: &clipscope::interpret::Pool,
    emb: &[f32],
    texts: usize,
) -> clipscope::interpret::Interpretation {
    use clipscope::interpret::{Inputs, Settings, interpret, lexicon::Lexicon};
    let store = clipscope::store::Store::open(dir).unwrap();
    let tags: Vec<String> = pool.tags.iter().map(|t| t.clone().unwrap()).collect();
    let lexicon = Lexicon::builtin();
    let attrs = clipscope::evidence::of_store(&store).unwrap();
    let inputs = Inputs {
        pool,
        text_emb: emb,
        tags: &tags,
        lexicon: &lexicon,
        families: None,
        attrs: &attrs,
        fits: &[],
    };
    let settings = Settings {
        rank: 80,
        texts_per_head: texts,
        top_k: 5,
    };
    interpret(&store, &inputs, settings, &|| {}).unwrap()
}
