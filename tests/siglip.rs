//! SigLIP and SigLIP 2 against transformers on the fixtures of tools/make_siglip_fixtures.py:
//! preprocessing, both tokenizers, both towers and the pooling head's decomposition.

mod common;

use candle_core::{DType, Device, IndexOp};
use clipscope::model::{Clip, Format, ModelFiles, Wanted, l2_normalize};
use common::*;

#[test]
fn siglip_configs_read_as_one_pooling_layer_without_a_class_token() {
    for (name, grid, heads) in [("tiny-siglip", 4, 4), ("tiny-siglip2", 5, 6)] {
        let clip = load_fixture(name);
        let c = &clip.config;
        assert_eq!(c.format, Format::Siglip, "{name}");
        assert_eq!((c.vision.grid(), c.vision.tokens()), (grid, grid * grid));
        assert_eq!((c.depth(), c.vision.tower.heads), (1, heads), "{name}");
        assert_eq!(c.embed_dim, c.vision.tower.width, "{name}");
        assert_eq!((c.preprocess.mean, c.preprocess.std), ([0.5; 3], [0.5; 3]));
        assert!(
            !c.preprocess.do_center_crop,
            "{name}: SigLIP resizes without a crop"
        );
        assert_eq!(c.text.context_length, 64);
    }
}

#[test]
fn pixel_values_match_siglip_image_processor() {
    for name in SIGLIP_FIXTURES {
        let (clip, r) = (load_fixture(name), reference(name));
        let d = max_abs_diff(&reference_pixels(&clip, name, "images"), &r["pixel_values"]);
        assert!(d < 1e-5, "{name}: {d}");
        // Non-square images are squashed by Pillow's bicubic resize.
        let big = reference_pixels(&clip, name, "big_images");
        let d = max_abs_diff(&big, &r["big_pixel_values"]);
        assert!(d < 1e-5, "{name}: resized images differ by {d}");
        let feats = clip.image_features(&big).unwrap();
        for c in cosines(&feats, &r["big_pooler_output"]) {
            assert!(c > 0.999_9, "{name}: resized cosine {c}");
        }
    }
}

#[test]
fn tokenizers_match_transformers() {
    for name in SIGLIP_FIXTURES {
        let (clip, r) = (load_fixture(name), reference(name));
        let texts = reference_texts(name);
        let want: Vec<Vec<i64>> = r["input_ids"].to_vec2().unwrap();
        let mask: Option<Vec<Vec<i64>>> = r.get("attention_mask").map(|m| m.to_vec2().unwrap());
        for (i, text) in texts.iter().enumerate() {
            let got = clip.tokenize(text).unwrap();
            // The reference is padded to 64: the mask, or the fixture's length rule, says where.
            let n = match &mask {
                Some(m) => m[i].iter().filter(|&&v| v == 1).count(),
                None => got.len(),
            };
            let got64: Vec<i64> = got.iter().map(|&x| x as i64).collect();
            assert_eq!(got64[..], want[i][..n], "{name}: {text:?}");
            assert!(
                n <= 64 && got.len() == n,
                "{name}: {text:?} is {} ids",
                got.len()
            );
        }
    }
}

#[test]
fn text_embeddings_match_siglip_text_model() {
    for name in SIGLIP_FIXTURES {
        let (clip, r) = (load_fixture(name), reference(name));
        let ids = reference_ids(&clip, name);
        let emb = clip.text_features(&ids).unwrap();
        let d = max_abs_diff(&emb, &r["text_embeds"]);
        assert!(d < 1e-5, "{name}: text embeddings differ by {d}");
        // One text alone gives the numbers it gives in the batch.
        let one = clip.text_features(&ids[1..2]).unwrap();
        assert!(max_abs_diff(&one, &emb.i(1..2).unwrap()) < 1e-6, "{name}");
    }
}

#[test]
fn pooling_head_decomposition_matches_the_reference() {
    for name in SIGLIP_FIXTURES {
        let (clip, r) = (load_fixture(name), reference(name));
        let px = &r["pixel_values"];
        let feats = clip.image_features(px).unwrap();
        let d = max_abs_diff(&feats, &r["pooler_output"]);
        assert!(d < 1e-5, "{name}: pooler_output differs by {d}");
        let dec = clip.decompose(px, &[0], true).unwrap();
        let unit = l2_normalize(&r["pooler_output"]).unwrap();
        assert!(
            max_abs_diff(&dec.embedding, &unit) < 1e-5,
            "{name} embedding"
        );
        let heads = dec.heads.i((.., 0)).unwrap();
        assert!(max_abs_diff(&heads, &r["heads"]) < 1e-5, "{name} heads");
        let tokens = dec.tokens.as_ref().unwrap().i((.., 0)).unwrap();
        assert!(max_abs_diff(&tokens, &r["tokens"]) < 1e-5, "{name} tokens");
        assert!(
            max_abs_diff(&dec.mlps.i((.., 1)).unwrap(), &r["mlp"]) < 1e-5,
            "{name} mlp"
        );
        // The identity: heads and the MLP term are the unit embedding.
        let sum = (dec.heads.sum((1, 2)).unwrap() + dec.mlps.sum(1).unwrap()).unwrap();
        assert!(max_abs_diff(&sum, &unit) < 1e-5, "{name} identity");
        // With the ablation terms: the pooling attention total, and no class-token term.
        let full = clip
            .decompose_with(
                px,
                Wanted {
                    layers: &[0],
                    tokens: false,
                    ablation: true,
                },
            )
            .unwrap();
        let attn = full.attn.unwrap();
        assert!(max_abs_diff(&attn, &dec.heads.sum(2).unwrap()) < 1e-6);
        assert_eq!(
            full.cls
                .unwrap()
                .abs()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap(),
            0.0
        );
    }
}

#[test]
fn only_the_pooling_layer_decomposes() {
    let clip = load_fixture("tiny-siglip");
    let px = &reference("tiny-siglip")["pixel_values"];
    let err = clip.decompose(px, &[1], false).unwrap_err().to_string();
    assert!(err.contains("layer 1 does not exist"), "{err}");
}

#[test]
fn sentencepiece_port_matches_the_sentencepiece_library() {
    use clipscope::model::load::spiece::SentencePiece;
    let dir = fixture("tiny-siglip");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("spiece_reference.json")).unwrap())
            .unwrap();
    // spiece.model: nmt_nfkc map, dummy prefix; spiece-bytes.model: no map, byte fallback.
    for name in ["spiece.model", "spiece-bytes.model"] {
        let sp = SentencePiece::load(&dir.join(name)).unwrap();
        for case in r[name].as_array().unwrap() {
            let text = case[0].as_str().unwrap();
            let want: Vec<u32> = case[1]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as u32)
                .collect();
            assert_eq!(sp.encode(text), want, "{name}: {text:?}");
        }
    }
}

#[test]
fn unsupported_siglip_checkpoints_are_one_clear_line() {
    let tmp = tempfile::tempdir().unwrap();
    let src = fixture("tiny-siglip");
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("config.json")).unwrap()).unwrap();
    let cases = [
        ("model_type", serde_json::json!("siglip2"), "NaFlex"),
        (
            "vision_use_head",
            serde_json::json!(false),
            "no attention-pooling head",
        ),
    ];
    for (key, value, want) in cases {
        let dir = tmp.path().join(key);
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["model.safetensors", "spiece.model"] {
            std::fs::copy(src.join(f), dir.join(f)).unwrap();
        }
        let mut c = config.clone();
        if key == "model_type" {
            c[key] = value;
        } else {
            c["vision_config"][key] = value;
        }
        std::fs::write(dir.join("config.json"), c.to_string()).unwrap();
        let files = ModelFiles::from_dir(&dir, key).unwrap();
        let err = match Clip::load(&files, &Device::Cpu, DType::F32) {
            Ok(_) => panic!("{key}: loaded"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(want) && !err.contains('\n'), "{key}: {err}");
    }
}

#[test]
fn patch_maps_cover_the_pixels_the_patches_read() {
    use clipscope::analysis::Heads;
    use clipscope::analysis::session::{QueryImage, maps};
    // tiny-siglip2 reads 42 px as 5 × 5 patches of 8: the map belongs over 40 × 40.
    let clip = load_fixture("tiny-siglip2");
    let q = QueryImage::resolve(
        fixture("tiny-siglip2")
            .join("images/big00.png")
            .to_str()
            .unwrap(),
        None,
    )
    .unwrap();
    let text = vec![0.1f32; clip.config.embed_dim];
    let m = maps(&clip, &q, &Heads::All, &[text]).unwrap();
    assert_eq!((m.grid, m.crop.width(), m.crop.height()), (5, 40, 40));
    assert_eq!(m.maps[0].len(), 25);
}
