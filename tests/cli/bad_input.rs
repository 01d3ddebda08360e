//! Bad input to the binary: broken, wrong and corrupt model files and bad arguments each give one
//! clear line and a non-zero exit.

use super::{clear_error, embed_via_hub, run};
use crate::common::*;

/// A copy of fixture `from`'s files in a temporary folder, to break.
fn temp_model(from: &str) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture(from)).unwrap() {
        let p = entry.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, t.path().join(p.file_name().unwrap())).unwrap();
        }
    }
    t
}

/// The tiny CLIP's folder, as an argument.
fn tiny() -> String {
    fixture("tiny-clip-hf").display().to_string()
}

/// One of the tiny CLIP's images, as an argument.
fn tiny_image() -> String {
    fixture("tiny-clip-hf")
        .join("images/img00.png")
        .display()
        .to_string()
}

/// A copy of the tiny CLIP whose config.json `edit` changed.
fn with_config(edit: impl FnOnce(&mut serde_json::Value)) -> tempfile::TempDir {
    let model = temp_model("tiny-clip-hf");
    let cfg = model.path().join("config.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(&cfg, v.to_string()).unwrap();
    model
}

/// Missing, non-image and truncated files; the good images still reported.
#[test]
fn bad_inputs_give_one_clear_line() {
    let (m, img) = (tiny(), tiny_image());
    let (m, img) = (m.as_str(), img.as_str());
    let tmp = tempfile::tempdir().unwrap();
    // Missing file, non-image, truncated PNG.
    clear_error(
        &run(&["decompose", "-m", m, "/no/such.png"]),
        "/no/such.png",
    );
    let text = tmp.path().join("notes.png");
    std::fs::write(&text, "hello").unwrap();
    clear_error(
        &run(&["decompose", "-m", m, text.to_str().unwrap()]),
        "notes.png",
    );
    let png = std::fs::read(fixture("tiny-clip-hf").join("images/big02.png")).unwrap();
    let cut = tmp.path().join("cut.png");
    std::fs::write(&cut, &png[..png.len() / 2]).unwrap();
    clear_error(
        &run(&["decompose", "-m", m, cut.to_str().unwrap()]),
        "cut.png",
    );
    // Good images are still reported when others fail.
    let out = run(&["decompose", "-m", m, "--json", img, "/no/such.png"]);
    assert!(!out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
}

/// Unknown, uncached, misconfigured, mis-shaped and corrupt models, and bad arguments.
#[test]
fn bad_models_and_arguments_give_one_clear_line() {
    let (m, img) = (tiny(), tiny_image());
    let (m, img) = (m.as_str(), img.as_str());
    let tmp = tempfile::tempdir().unwrap();
    // Unknown model, offline hub id not cached.
    clear_error(
        &run(&["embed", "-m", "no such model", "-t", "x"]),
        "unknown model",
    );
    let off = embed_via_hub("someone/clip-nothing", tmp.path(), None);
    clear_error(&off, "not in the Hugging Face cache");
    // Config with a missing key.
    let broken = with_config(|v| {
        v["vision_config"]
            .as_object_mut()
            .unwrap()
            .remove("patch_size");
    });
    clear_error(
        &run(&["embed", "-m", broken.path().to_str().unwrap(), "-t", "x"]),
        "vision_config.patch_size",
    );
    // Weights with a wrong shape.
    let wrong = with_config(|v| v["vision_config"]["intermediate_size"] = 96.into());
    clear_error(
        &run(&["embed", "-m", wrong.path().to_str().unwrap(), "-t", "x"]),
        "mlp.fc1.weight",
    );
    // Corrupt weights file.
    let corrupt = temp_model("tiny-openclip");
    std::fs::write(
        corrupt.path().join("open_clip_model.safetensors"),
        b"garbage",
    )
    .unwrap();
    clear_error(
        &run(&["embed", "-m", corrupt.path().to_str().unwrap(), "-t", "x"]),
        "safetensors",
    );
    // Bad arguments.
    clear_error(
        &run(&["decompose", "-m", m, "--layers", "7", img]),
        "layer 7",
    );
    clear_error(
        &run(&["decompose", "-m", m, "--device", "cuda", img]),
        "cuda",
    );
    clear_error(&run(&["embed", "-m", m]), "nothing to embed");
}
