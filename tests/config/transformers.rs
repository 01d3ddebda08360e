//! transformers-format configurations beyond CLIPModel's: MetaCLIP 2, an unknown `model_type`,
//! and the image processor's two forms of `size`.

use clipscope::model::load::config::{TextClean, TextPool, parse_hf};
use clipscope::model::{Activation, Format};

use super::write;
use crate::common::fixture;

/// transformers' MetaCLIP 2 (`model_type` metaclip_2, the config convert_metaclip_2_to_hf.py
/// writes for facebook/metaclip-2-worldwide-huge-quickgelu): CLIP's layout read at XLM-V's
/// end id through its own tokenizer, nothing cleaned; a `model_type` clipscope does not know is
/// refused by name rather than read as CLIP.
#[test]
fn metaclip_2_in_transformers_format_is_read_and_unknown_types_refused() {
    let path = fixture("configs/facebook-metaclip-2-worldwide-huge-quickgelu.json");
    let c = parse_hf(&path, None).unwrap();
    assert_eq!(c.format, Format::HuggingFace);
    assert_eq!(
        (c.vision.tower.width, c.vision.tower.layers, c.vision.grid()),
        (1280, 32, 16)
    );
    assert_eq!(c.vision.tower.activation, Activation::QuickGelu);
    assert_eq!(
        (c.text.vocab_size, c.text.pool),
        (901_629, TextPool::Eos(2))
    );
    assert!(c.text.causal);
    let spec = c.text.hf_tokenizer.as_ref().unwrap();
    assert_eq!(
        (spec.name.as_str(), spec.clean, spec.strip_sep),
        ("facebook/xlm-v-base", TextClean::Verbatim, false)
    );
    let t = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    // MetaClip2TextConfig's default end id is CLIP's.
    let no_eos = text.replace("\"eos_token_id\": 2,", "");
    let c = parse_hf(&write(&t, "a.json", &no_eos), None).unwrap();
    assert_eq!(c.text.pool, TextPool::Eos(49407));
    // Any vocabulary index is an id, 0 included; a negative one is refused by name.
    let zero = text.replace("\"eos_token_id\": 2,", "\"eos_token_id\": 0,");
    let c = parse_hf(&write(&t, "z.json", &zero), None).unwrap();
    assert_eq!(c.text.pool, TextPool::Eos(0));
    let negative = text.replace("\"eos_token_id\": 2,", "\"eos_token_id\": -1,");
    let e = parse_hf(&write(&t, "n.json", &negative), None).unwrap_err();
    assert!(e.to_string().contains("text_config.eos_token_id"), "{e}");
    let other = text.replace(
        "\"model_type\": \"metaclip_2\"",
        "\"model_type\": \"altclip\"",
    );
    let e = parse_hf(&write(&t, "b.json", &other), None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("b.json") && e.contains("\"altclip\" is not supported"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1, "{e}");
}

/// `CLIPImageProcessor` resizes both sides to a `size` of `{height, width}` and keeps the aspect
/// only for `{shortest_edge}` (transformers' `resize`).
#[test]
fn a_preprocessor_size_of_height_and_width_squashes() {
    use clipscope::image::ResizeMode;
    use clipscope::model::load::config::parse_hf_preprocessor;
    let t = tempfile::tempdir().unwrap();
    for (size, mode) in [
        (r#"{"height": 224, "width": 224}"#, ResizeMode::Squash),
        (r#"[224, 224]"#, ResizeMode::Squash),
        (r#"{"shortest_edge": 224}"#, ResizeMode::Shortest),
        ("224", ResizeMode::Shortest),
    ] {
        let json = format!(r#"{{"size": {size}, "crop_size": 224}}"#);
        let p = parse_hf_preprocessor(&write(&t, "p.json", &json), 224).unwrap();
        assert_eq!((p.mode, p.resize), (mode, 224), "{size}");
    }
    let json = r#"{"size": {"height": 224, "width": 256}, "crop_size": 224}"#;
    let e = parse_hf_preprocessor(&write(&t, "q.json", json), 224).unwrap_err();
    assert!(e.to_string().contains("only square"), "{e}");
}
