//! The aliases of the families after the paper's six, loaded from an offline Hugging Face cache
//! as a user with the real repositories would: the large open_clip layouts and CLIPA.

use candle_core::IndexOp;

use super::assert_clear_error;
use crate::common::*;

/// Fixture `name`'s reference text embedding of its first text, unit length.
fn first_text(name: &str) -> Vec<f32> {
    let want = clipscope::model::l2_normalize(&reference(name)["text_embeds"]).unwrap();
    want.i(0).unwrap().to_vec1::<f32>().unwrap()
}

/// The large layouts' aliases (DFN-5B ViT-H here) resolve to their hub repository and load its
/// open_clip files from the offline cache: a tiny model of their layout (QuickGELU, bigG's MLP
/// ratio, patch 14) embeds as open_clip does.
#[test]
fn large_layout_aliases_load_their_open_clip_files() {
    let home = tempfile::tempdir().unwrap();
    hub_snapshot(
        home.path(),
        "apple/DFN5B-CLIP-ViT-H-14",
        "89abcdef0123456789abcdef0123456789abcdef",
        "tiny-openclip-bigg",
        &[
            "open_clip_config.json",
            "open_clip_model.safetensors",
            "tokenizer.json",
        ],
    );
    let out = offline_hub(home.path())
        .args([
            "embed",
            "-m",
            "vit-h-14/dfn5b",
            "--json",
            "-t",
            "a photo of a dog",
        ])
        .output()
        .unwrap();
    assert_close(
        &floats(&lines(&out)[0]["embedding"]),
        &first_text("tiny-openclip-bigg"),
        1e-5,
        "DFN-5B layout text",
    );
}

/// A CLIPA repository ships no tokenizer: its text tower reads bert-base-uncased's, which the
/// Hub serves as google-bert/bert-base-uncased. From the offline cache the alias embeds text as
/// open_clip does; without that tokenizer in the cache, one line names it.
#[test]
fn clipa_reads_the_bert_tokenizer_its_config_names() {
    let home = tempfile::tempdir().unwrap();
    hub_snapshot(
        home.path(),
        "UCSC-VLAA/ViT-H-14-CLIPA-datacomp1B",
        "0123456789abcdef0123456789abcdef01234567",
        "tiny-openclip-clipa",
        &["open_clip_config.json", "open_clip_model.safetensors"],
    );
    let embed = || {
        offline_hub(home.path())
            .args([
                "embed",
                "-m",
                "vit-h-14-clipa/datacomp1b",
                "--json",
                "-t",
                "a photo of a dog",
            ])
            .output()
            .unwrap()
    };
    assert_clear_error(&embed(), "\"bert-base-uncased\"");
    hub_snapshot(
        home.path(),
        "google-bert/bert-base-uncased",
        "89abcdef0123456789abcdef0123456789abcdef",
        "tiny-openclip-clipa",
        &["tokenizer.json", "tokenizer_config.json"],
    );
    let out = embed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_close(
        &floats(&lines(&out)[0]["embedding"]),
        &first_text("tiny-openclip-clipa"),
        1e-5,
        "CLIPA text",
    );
    // open_clip's preprocessing for CLIPA wins over the repository's, and says so.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bilinear resampling, squash resize"), "{err}");
}

/// A MetaCLIP 2 repository as timm hosts it: open_clip files whose config need not say
/// `quick_gelu` (open_clip's `pretrained.py` sets it for the checkpoint, and so does the alias), and
/// the XLM-V tokenizer its config names, fetched from its own repository: the text embeds as
/// open_clip's does, read at the first end-of-sequence id.
#[test]
fn metaclip2_reads_its_xlm_v_tokenizer_and_open_clips_quick_gelu() {
    let home = tempfile::tempdir().unwrap();
    let snap = hub_snapshot(
        home.path(),
        "timm/vit_huge_patch14_clip_224.metaclip2_worldwide",
        "0123456789abcdef0123456789abcdef01234567",
        "tiny-openclip-metaclip2",
        &["open_clip_config.json", "open_clip_model.safetensors"],
    );
    let cfg = snap.join("open_clip_config.json");
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.contains("\"quick_gelu\": true,"));
    std::fs::write(&cfg, text.replace("\"quick_gelu\": true,", "")).unwrap();
    let embed = || {
        offline_hub(home.path())
            .args(["embed", "-m", "vit-h-14-worldwide/metaclip2", "--json"])
            .args(["-t", "a photo of a dog"])
            .output()
            .unwrap()
    };
    assert_clear_error(&embed(), "\"facebook/xlm-v-base\"");
    hub_snapshot(
        home.path(),
        "facebook/xlm-v-base",
        "89abcdef0123456789abcdef0123456789abcdef",
        "tiny-openclip-metaclip2",
        &["tokenizer.json", "tokenizer_config.json"],
    );
    let out = embed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_close(
        &floats(&lines(&out)[0]["embedding"]),
        &first_text("tiny-openclip-metaclip2"),
        1e-5,
        "MetaCLIP 2 text",
    );
}
