//! The engine against transformers and open_clip on the reference fixtures: preprocessing,
//! tokenizer, both towers and the per-head decomposition.

mod common;

use candle_core::{DType, IndexOp, Tensor};
use clipscope::model::{Wanted, l2_normalize};
use common::*;

#[test]
fn pixel_values_match_the_reference_processor() {
    for name in FIXTURES {
        let (clip, r) = (load_fixture(name), reference(name));
        let px = reference_pixels(&clip, name, "images");
        assert!(max_abs_diff(&px, &r["pixel_values"]) < 1e-5, "{name}");
        // Non-square images go through the bicubic resize and the centre crop, as transformers'
        // processor does (torchvision's int16 taps). A fixture whose big images went through
        // open_clip's own transform (Pillow's 22-bit taps, and Pillow 13's pass order) has some
        // resized pixels one or two levels apart: 2 / 255 / std in normalised units.
        let big = reference_pixels(&clip, name, "big_images");
        let d = max_abs_diff(&big, &r["big_pixel_values"]);
        let pillow = reference_json(name)["big_images_through"].is_string();
        let tol = if pillow {
            2.0 / 255.0 / 0.26 + 1e-4
        } else {
            1e-5
        };
        assert!(d < tol, "{name}: big images differ by {d}");
    }
}

#[test]
fn decomposition_matches_prs_hook() {
    for name in FIXTURES {
        let (clip, r) = (load_fixture(name), reference(name));
        let dec = decomposes_as_reference(&clip, name, true);
        let unit = l2_normalize(&r["image_embeds"]).unwrap();
        // The identity: every component together is the unit embedding.
        let sum = (dec.heads.sum((1, 2)).unwrap() + dec.mlps.sum(1).unwrap()).unwrap();
        assert!(max_abs_diff(&sum, &unit) < 1e-5, "{name} identity");
        // Tokens sum to their heads.
        let from_tokens = dec.tokens.as_ref().unwrap().sum(2).unwrap();
        assert!(
            max_abs_diff(&from_tokens, &dec.heads) < 1e-5,
            "{name} token sum"
        );
        let feats = clip.image_features(&r["pixel_values"]).unwrap();
        assert!(
            max_abs_diff(&feats, &r["image_embeds"]) < 1e-4,
            "{name} image features"
        );
    }
}

#[test]
fn an_image_alone_decomposes_bit_for_bit_as_in_a_batch() {
    // A resumed index may meet an image in a batch of one: its numbers must not change.
    let bits = |t: &Tensor| -> Vec<u32> {
        let v: Vec<f32> = t.flatten_all().unwrap().to_vec1().unwrap();
        v.into_iter().map(f32::to_bits).collect()
    };
    for name in FIXTURES {
        let (clip, r) = (load_fixture(name), reference(name));
        let px = &r["pixel_values"];
        let layers: Vec<usize> = (0..clip.config.depth()).collect();
        let batch = clip.decompose(px, &layers, true).unwrap();
        for i in 0..px.dim(0).unwrap() {
            let one = clip
                .decompose(&px.narrow(0, i, 1).unwrap(), &layers, true)
                .unwrap();
            let row = |t: &Tensor| t.narrow(0, i, 1).unwrap();
            assert_eq!(
                bits(&one.embedding),
                bits(&row(&batch.embedding)),
                "{name} #{i}"
            );
            assert_eq!(
                bits(&one.heads),
                bits(&row(&batch.heads)),
                "{name} #{i} heads"
            );
            assert_eq!(bits(&one.mlps), bits(&row(&batch.mlps)), "{name} #{i} mlps");
            let tokens = |d: &clipscope::model::Decomposition| d.tokens.clone().unwrap();
            assert_eq!(
                bits(&tokens(&one)),
                bits(&row(&tokens(&batch))),
                "{name} #{i} tokens"
            );
        }
    }
}

#[test]
fn layer_selection_reports_the_same_heads() {
    for name in FIXTURES {
        let (clip, r) = (load_fixture(name), reference(name));
        let last = clip.config.depth() - 1;
        let dec = clip.decompose(&r["pixel_values"], &[last], false).unwrap();
        assert_eq!(dec.layers, vec![last]);
        assert!(dec.tokens.is_none());
        let want = r["heads"].i((.., last..last + 1)).unwrap();
        assert!(max_abs_diff(&dec.heads, &want) < 1e-5, "{name}");
    }
}

#[test]
fn big_images_match_by_cosine() {
    for name in FIXTURES {
        let (clip, r) = (load_fixture(name), reference(name));
        let feats = clip
            .image_features(&reference_pixels(&clip, name, "big_images"))
            .unwrap();
        for c in cosines(&feats, &r["big_image_embeds"]) {
            assert!(c > 0.999, "{name}: cosine {c}");
        }
    }
}

#[test]
fn tokenizer_and_text_tower_match() {
    for name in FIXTURES {
        let (clip, r) = (load_fixture(name), reference(name));
        let texts = reference_texts(name);
        let ref_ids = r["input_ids"]
            .to_dtype(DType::I64)
            .unwrap()
            .to_vec2::<i64>()
            .unwrap();
        let mut all = vec![];
        for (text, want) in texts.iter().zip(&ref_ids) {
            let ids = clip.tokenize(text).unwrap();
            let want: Vec<u32> = want.iter().map(|&i| i as u32).collect();
            assert_eq!(&ids[..], &want[..ids.len()], "{name}: {text}");
            assert!(
                want[ids.len()..].iter().all(|&i| i == 0 || i == 49407),
                "{name}: padding after {text}"
            );
            all.push(ids);
        }
        let emb = clip.text_features(&all).unwrap();
        let d = max_abs_diff(&emb, &r["text_embeds"]);
        assert!(d < 1e-4, "{name}: text embeddings differ by {d}");
    }
}

#[test]
fn truncation_keeps_the_end_token() {
    let clip = load_fixture("tiny-clip-hf");
    let long = "word ".repeat(200);
    let ids = clip.tokenize(&long).unwrap();
    assert_eq!(ids.len(), 77);
    assert_eq!(ids[0], 49406);
    assert_eq!(ids[76], 49407);
    assert!(clip.text_features(&[ids]).is_ok());
}

/// Half precision (meant for GPUs) stays close to f32; LayerNorm and softmax run in f32.
#[test]
fn half_precision_is_close() {
    for name in FIXTURES {
        let clip = load_fixture_as(name, DType::BF16);
        let r = reference(name);
        let layers: Vec<usize> = (0..clip.config.depth()).collect();
        let dec = clip.decompose(&r["pixel_values"], &layers, false).unwrap();
        let unit = l2_normalize(&r["image_embeds"]).unwrap();
        for c in cosines(&dec.embedding, &unit) {
            assert!(c > 0.99, "{name}: bf16 cosine {c}");
        }
        assert!(
            max_abs_diff(&dec.heads, &r["heads"]) < 0.05,
            "{name}: bf16 heads"
        );
    }
}

/// The ablation terms equal the reference's own arrays: each layer's attention total is the sum
/// of its heads, the class-token term is token 0 summed over heads (zeros without a class
/// token), and layer totals + MLPs
/// are the unit embedding.
#[test]
fn ablation_terms_match_the_reference() {
    for name in FIXTURES {
        let (clip, r) = (load_fixture(name), reference(name));
        let n = clip.config.depth();
        let dec = clip
            .decompose_with(
                &r["pixel_values"],
                Wanted {
                    layers: &[n - 1],
                    tokens: false,
                    ablation: true,
                },
            )
            .unwrap();
        let attn = dec.attn.unwrap();
        let cls = dec.cls.unwrap();
        assert!(
            max_abs_diff(&attn, &r["heads"].sum(2).unwrap()) < 1e-5,
            "{name} attn"
        );
        // Token 0's share, where token 0 is a class token (none for PE-Core bigG: zeros).
        let cls_ref = r["tokens"].i((.., .., 0)).unwrap().sum(2).unwrap();
        let cls_ref = match clip.config.vision.class_token {
            true => cls_ref,
            false => cls_ref.zeros_like().unwrap(),
        };
        assert!(max_abs_diff(&cls, &cls_ref) < 1e-5, "{name} cls");
        let total = (attn.sum(1).unwrap() + dec.mlps.sum(1).unwrap()).unwrap();
        assert!(
            max_abs_diff(&total, &dec.embedding) < 1e-5,
            "{name} identity"
        );
        // Asking for ablation terms changes nothing else, bit for bit.
        let plain = clip.decompose(&r["pixel_values"], &[n - 1], false).unwrap();
        assert_eq!(max_abs_diff(&plain.heads, &dec.heads), 0.0, "{name}");
    }
}
