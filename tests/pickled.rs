//! PyTorch-pickled checkpoints load through the restricted reader and give the numbers of
//! their safetensors twins; a malicious pickle is refused and runs nothing.

mod common;

use std::path::{Path, PathBuf};

use candle_core::{DType, Device};
use clipscope::model::{Clip, ModelFiles, l2_normalize};
use common::*;

/// A model directory holding the fixture's config and tokenizer with pickled weights.
fn pickled_dir(t: &Path, name: &str, weights: &str) -> PathBuf {
    let dir = t.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(fixture(name)).unwrap() {
        let p = e.unwrap().path();
        let n = p.file_name().unwrap().to_str().unwrap().to_string();
        if n.ends_with(".json") && !n.starts_with("reference") {
            std::fs::copy(&p, dir.join(&n)).unwrap();
        }
    }
    std::fs::copy(
        fixture("pickled").join(format!("{name}.bin")),
        dir.join(weights),
    )
    .unwrap();
    dir
}

#[test]
fn pickled_checkpoints_equal_their_safetensors_twins() {
    let t = tempfile::tempdir().unwrap();
    for (name, weights) in [
        ("tiny-clip-hf", "pytorch_model.bin"),
        ("tiny-openclip", "open_clip_pytorch_model.bin"),
    ] {
        let dir = pickled_dir(t.path(), name, weights);
        let files = ModelFiles::from_dir(&dir, name).unwrap();
        assert!(files.weights[0].ends_with(weights), "{:?}", files.weights);
        let clip = Clip::load(&files, &Device::Cpu, DType::F32).unwrap();
        let r = reference(name);
        decomposes_as_reference(&clip, name, false);
        let text = clip.text_features(&reference_ids(&clip, name)).unwrap();
        assert!(
            max_abs_diff(&text, &r["text_embeds"]) < 1e-4,
            "{name} text embeddings"
        );
    }
}

#[test]
fn the_malicious_pickle_is_refused_and_runs_nothing() {
    let marker = Path::new("/tmp/clipscope-pickle-executed");
    let _ = std::fs::remove_file(marker);
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("evil");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        fixture("tiny-clip-hf").join("config.json"),
        dir.join("config.json"),
    )
    .unwrap();
    std::fs::copy(
        fixture("pickled").join("malicious.bin"),
        dir.join("pytorch_model.bin"),
    )
    .unwrap();
    let out = bin()
        .args(["decompose", "--model"])
        .arg(&dir)
        .arg(fixture("tiny-clip-hf").join("images/img00.png"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("pytorch_model.bin"), "{err}");
    assert!(err.contains("posix.system"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!marker.exists(), "the pickle's payload ran");
}

#[test]
fn a_truncated_pickle_is_one_clear_error() {
    let t = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(fixture("pickled").join("tiny-clip-hf.bin")).unwrap();
    let p = t.path().join("pytorch_model.bin");
    std::fs::write(&p, &bytes[..bytes.len() / 3]).unwrap();
    let e = clipscope::model::load::pickle::read(&p)
        .unwrap_err()
        .to_string();
    assert!(e.contains("pytorch_model.bin"), "{e}");
}

/// A hub repository that ships only `pytorch_model.bin` resolves through the offline cache.
#[test]
fn hub_repositories_with_only_pickles_fall_back_to_them() {
    let home = tempfile::tempdir().unwrap();
    let repo = home.path().join("hub/models--someone--pickled-clip");
    let commit = "89abcdef0123456789abcdef0123456789abcdef";
    let snap = repo.join("snapshots").join(commit);
    std::fs::create_dir_all(&snap).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), commit).unwrap();
    pickled_dir(home.path(), "tiny-clip-hf", "pytorch_model.bin");
    for e in std::fs::read_dir(home.path().join("tiny-clip-hf")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, snap.join(p.file_name().unwrap())).unwrap();
    }
    let out = offline_hub(home.path())
        .args(["decompose", "-m", "someone/pickled-clip", "--json"])
        .arg(fixture("tiny-clip-hf").join("images/img00.png"))
        .output()
        .unwrap();
    succeeded(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let got: Vec<f32> = v["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    let want = l2_normalize(&reference("tiny-clip-hf")["image_embeds"]).unwrap();
    let want: Vec<f32> = want.get(0).unwrap().to_vec1().unwrap();
    assert_close(&got, &want, 1e-5, "embedding");
}
