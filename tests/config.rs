//! Parsing real hub configurations of the paper's models, and refusing broken ones clearly.

mod common;
#[path = "config/transformers.rs"]
mod transformers;

use clipscope::model::load::config::eva::QkvLayout;
use clipscope::model::load::config::{Readout, TextClean, TextPool, parse_hf, parse_open_clip};
use clipscope::model::{Activation, ClipConfig, Format};
use common::fixture;

/// A config's sizes at once: vision [width, layers, heads, MLP width, patch, tokens], text
/// [width, heads, MLP width], the embedding's width.
fn sizes(c: &ClipConfig) -> ([usize; 6], [usize; 3], usize) {
    let (v, t) = (&c.vision.tower, &c.text.tower);
    (
        [
            v.width,
            v.layers,
            v.heads,
            v.mlp_dim,
            c.vision.patch_size,
            c.vision.tokens(),
        ],
        [t.width, t.heads, t.mlp_dim],
        c.embed_dim,
    )
}

#[test]
fn openai_b16_with_legacy_config_dicts() {
    let c = parse_hf(&fixture("configs/openai-clip-vit-base-patch16.json"), None).unwrap();
    assert_eq!(c.format, Format::HuggingFace);
    assert_eq!(
        sizes(&c),
        ([768, 12, 12, 3072, 16, 197], [512, 8, 2048], 512)
    );
    assert_eq!(c.vision.grid(), 14);
    assert_eq!(c.vision.tower.activation, Activation::QuickGelu);
}

#[test]
fn laion_l14_top_level_projection_dim_wins() {
    let c = parse_hf(
        &fixture("configs/laion-CLIP-ViT-L-14-laion2B-s32B-b82K.json"),
        None,
    )
    .unwrap();
    // The sub-configs say 512 for the embedding; transformers uses the top level.
    assert_eq!(
        sizes(&c),
        ([1024, 24, 16, 4096, 14, 257], [768, 12, 3072], 768)
    );
    assert_eq!(c.vision.tower.activation, Activation::Gelu);
}

#[test]
fn datacomp_open_clip_config() {
    let c = parse_open_clip(&fixture("configs/datacomp-open_clip_config.json")).unwrap();
    assert_eq!(c.format, Format::OpenClip);
    assert_eq!(c.vision.tower.activation, Activation::Gelu);
    assert_eq!(
        sizes(&c),
        ([768, 12, 12, 3072, 32, 50], [512, 8, 2048], 512)
    );
    assert!(c.preprocess.crop_rounding_half_even);
}

/// CLIPA's options read as open_clip builds the model: no ln_pre, the patches' mean, a
/// bidirectional text tower read at its last position, BERT's tokenizer named; and the pool
/// types that have no place in the convention refused by name.
#[test]
fn clipa_options_are_read_and_the_rest_refused() {
    let c = parse_open_clip(&fixture("tiny-openclip-clipa/open_clip_config.json")).unwrap();
    assert!(!c.vision.ln_pre);
    assert_eq!(c.vision.readout, Readout::PatchMean);
    assert_eq!((c.text.causal, c.text.pool), (false, TextPool::Last));
    let spec = c.text.hf_tokenizer.unwrap();
    assert_eq!(
        (spec.name.as_str(), spec.strip_sep),
        ("bert-base-uncased", true)
    );
    assert_eq!(c.text.context_length, 32);
    let plain = parse_open_clip(&fixture("tiny-openclip/open_clip_config.json")).unwrap();
    assert!(plain.vision.ln_pre && plain.text.causal && plain.text.hf_tokenizer.is_none());
    assert_eq!(
        (plain.vision.readout, plain.text.pool),
        (Readout::Class, TextPool::Argmax)
    );

    let t = tempfile::tempdir().unwrap();
    let clipa =
        std::fs::read_to_string(fixture("tiny-openclip-clipa/open_clip_config.json")).unwrap();
    let parse = |name: &str, from: &str, to: &str| {
        assert!(clipa.contains(from), "{from}");
        parse_open_clip(&write(&t, name, &clipa.replace(from, to)))
    };
    // Settings outside the convention, refused with the key and the value named.
    for (from, to, names) in [
        (
            "\"final_ln_after_pool\": true",
            "\"final_ln_after_pool\": false",
            ["vision_cfg.pool_type", "final_ln_after_pool"],
        ),
        (
            "\"pool_type\": \"avg\"",
            "\"pool_type\": \"none\"",
            ["vision_cfg.pool_type", "\"none\""],
        ),
        (
            "\"pool_type\": \"last\"",
            "\"pool_type\": \"first\"",
            ["text_cfg.pool_type", "\"first\""],
        ),
    ] {
        let e = parse("a.json", from, to).unwrap_err().to_string();
        assert!(names.iter().all(|n| e.contains(n)), "{e}");
    }
    // open_clip's `clean` functions are read; settings that change the ids otherwise are not.
    let canon = parse(
        "d.json",
        "\"strip_sep_token\": true",
        "\"clean\": \"canonicalize\"",
    )
    .unwrap();
    assert_eq!(
        canon.text.hf_tokenizer.unwrap().clean,
        TextClean::Canonicalize
    );
    for (to, key) in [
        ("\"clean\": \"bogus\"", "tokenizer_kwargs.clean"),
        ("\"language\": \"fr\"", "tokenizer_kwargs.language"),
    ] {
        let e = parse("d.json", "\"strip_sep_token\": true", to)
            .unwrap_err()
            .to_string();
        assert!(e.contains(key) && e.contains("not supported"), "{e}");
    }
    let eos = parse(
        "e.json",
        "\"pool_type\": \"last\"",
        "\"pool_type\": \"eos\", \"eos_id\": 7",
    )
    .unwrap();
    assert_eq!(eos.text.pool, TextPool::Eos(7));
}

/// A timm tower named by open_clip: EVA-02's read with what its name fixes; other timm models,
/// other pools and an extra projection refused by name.
#[test]
fn timm_towers_are_known_by_name_or_refused() {
    let c = parse_open_clip(&fixture("tiny-openclip-eva02/open_clip_config.json")).unwrap();
    let arch = c.vision.eva.as_ref().unwrap();
    assert_eq!(
        (arch.name, arch.heads, c.vision.patch_size),
        ("eva02_base_patch16_clip_224", 12, 16)
    );
    assert!(arch.sub_ln && arch.swiglu && !arch.post_norm && !c.vision.ln_pre);
    assert_eq!(arch.qkv, QkvLayout::Separate);
    assert_eq!(c.vision.tower.activation, Activation::Silu);
    // EVA-02-E: post-norm blocks, a fused qkv with q and v biases, GELU, no rope.
    let e = parse_open_clip(&fixture("tiny-openclip-eva02-e/open_clip_config.json")).unwrap();
    let arch = e.vision.eva.as_ref().unwrap();
    assert_eq!(
        (arch.name, arch.heads, arch.qkv),
        (
            "eva02_enormous_patch14_clip_224",
            16,
            QkvLayout::FusedQvBias
        )
    );
    assert!(arch.post_norm && !arch.sub_ln && !arch.swiglu && arch.rope.is_none());
    assert_eq!(e.vision.tower.activation, Activation::Gelu);
    let t = tempfile::tempdir().unwrap();
    let eva =
        std::fs::read_to_string(fixture("tiny-openclip-eva02/open_clip_config.json")).unwrap();
    let parse = |name: &str, from: &str, to: &str| {
        assert!(eva.contains(from), "{from}");
        parse_open_clip(&write(&t, name, &eva.replace(from, to)))
            .unwrap_err()
            .to_string()
    };
    // Each broken setting refused with its key and value named (PE-Core pools with an attention
    // head: its config says `map`).
    for (name, from, to, says) in [
        (
            "a.json",
            "eva02_base_patch16_clip_224",
            "fastvit_mci3",
            &[
                "vision_cfg.timm_model_name",
                "fastvit_mci3",
                "eva02_large_patch14_clip_336",
                "vit_pe_core_base_patch16_224",
            ][..],
        ),
        (
            "d.json",
            "eva02_base_patch16_clip_224",
            "vit_pe_core_base_patch16_224",
            &["vision_cfg.timm_pool", "\"map\""],
        ),
        (
            "b.json",
            "\"timm_pool\": \"token\"",
            "\"timm_pool\": \"avg\"",
            &["vision_cfg.timm_pool", "\"avg\""],
        ),
        (
            "c.json",
            "\"timm_proj\": null",
            "\"timm_proj\": \"linear\"",
            &["vision_cfg.timm_proj"],
        ),
    ] {
        let e = parse(name, from, to);
        assert!(says.iter().all(|s| e.contains(s)), "{e}");
    }
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn broken_configs_name_the_problem() {
    let t = tempfile::tempdir().unwrap();
    let e = parse_hf(&write(&t, "a.json", "{ not json"), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("a.json") && e.contains("invalid JSON"), "{e}");
    let e = parse_hf(
        &write(&t, "b.json", r#"{"projection_dim": 8, "text_config": {}}"#),
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("vision_config"), "{e}");
    let cfg = std::fs::read_to_string(fixture("tiny-clip-hf/config.json")).unwrap();
    let e = parse_hf(
        &write(&t, "c.json", &cfg.replace("\"quick_gelu\"", "\"swish\"")),
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("unsupported activation"), "{e}");
    let e = parse_hf(
        &write(
            &t,
            "d.json",
            &cfg.replace("\"num_attention_heads\": 4", "\"num_attention_heads\": 5"),
        ),
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("not divisible"), "{e}");
    let oc = std::fs::read_to_string(fixture("tiny-openclip/open_clip_config.json")).unwrap();
    let e = parse_open_clip(&write(
        &t,
        "e.json",
        &oc.replace(
            "\"head_width\": 16",
            "\"head_width\": 16, \"attentional_pool\": true",
        ),
    ))
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("attentional_pool") && e.contains("not supported"),
        "{e}"
    );
    let e = parse_open_clip(&write(&t, "f.json", &oc.replace("\"embed_dim\": 32,", "")))
        .unwrap_err()
        .to_string();
    assert!(e.contains("model_cfg.embed_dim"), "{e}");
}

/// SigLIP configs as sparse as the hub's (google/siglip-base-patch16-224 names little more than
/// its patch size): transformers' class defaults fill the rest. The expected values are what
/// transformers 5.24's `SiglipConfig.from_json_file` reads from the same files.
#[test]
fn siglip_hub_configs_take_transformers_defaults() {
    let cases = [
        (
            "google-siglip-base-patch16-224",
            (768, 12, 12, 3072, 224, 16),
            (32000, 768, 12, 12),
        ),
        (
            "google-siglip-so400m-patch14-384",
            (1152, 27, 16, 4304, 384, 14),
            (32000, 1152, 27, 16),
        ),
        (
            "google-siglip2-base-patch16-224",
            (768, 12, 12, 3072, 224, 16),
            (256000, 768, 12, 12),
        ),
    ];
    for (name, v, t) in cases {
        let c = parse_hf(&fixture(&format!("configs/{name}.json")), None).unwrap();
        let (vt, tt) = (&c.vision.tower, &c.text.tower);
        assert_eq!(c.format, Format::Siglip, "{name}");
        assert_eq!(
            (
                vt.width,
                vt.layers,
                vt.heads,
                vt.mlp_dim,
                c.vision.image_size,
                c.vision.patch_size
            ),
            v,
            "{name} vision"
        );
        assert_eq!(
            (c.text.vocab_size, tt.width, tt.layers, tt.heads),
            t,
            "{name} text"
        );
        assert_eq!(
            (vt.eps, tt.eps, c.text.context_length, c.embed_dim),
            (1e-6, 1e-6, 64, v.0)
        );
        assert_eq!(vt.activation, Activation::GeluTanh);
    }
    let so400m = parse_hf(
        &fixture("configs/google-siglip-so400m-patch14-384.json"),
        None,
    )
    .unwrap();
    assert_eq!((so400m.vision.grid(), so400m.vision.tokens()), (27, 729));
}
