//! Parsing a transformers `SiglipConfig` (`model_type` `siglip`) and its
//! `SiglipImageProcessor` into clipscope's architecture description.
//!
//! Defaults are those of transformers' `SiglipVisionConfig` / `SiglipTextConfig` (224 px, patch
//! 16, GELU-tanh, ε = 1e-6, 64 text positions, a 32,000-token vocabulary) and
//! `SiglipImageProcessor` (resize both sides without a crop, bicubic, mean = std = 0.5).

use std::path::Path;

use serde_json::{Map, Value};

use crate::image::{Preprocess, ResizeMode};
use crate::model::load::config::json::{Obj, hf_sub};
use crate::model::load::config::{
    ClipConfig, Format, TextConfig, TextPool, VisionConfig, hf_tower, parse_hf_preprocessor_onto,
};
use crate::{Error, Result};

/// `SiglipVisionConfig` / `SiglipTextConfig` defaults: GELU (tanh), ε = 1e-6.
const SIGLIP_DEFAULTS: (&str, f64) = ("gelu_pytorch_tanh", 1e-6);

/// `SiglipVisionConfig.__init__`'s defaults, for the keys a checkpoint's `config.json` omits
/// (google/siglip-base-patch16-224 gives little more than `patch_size`).
const VISION_DEFAULTS: [(&str, u64); 6] = [
    ("hidden_size", 768),
    ("intermediate_size", 3072),
    ("num_hidden_layers", 12),
    ("num_attention_heads", 12),
    ("image_size", 224),
    ("patch_size", 16),
];

/// `SiglipTextConfig.__init__`'s defaults.
const TEXT_DEFAULTS: [(&str, u64); 6] = [
    ("vocab_size", 32000),
    ("hidden_size", 768),
    ("intermediate_size", 3072),
    ("num_hidden_layers", 12),
    ("num_attention_heads", 12),
    ("max_position_embeddings", 64),
];

/// `map` with `defaults` filled in where a key is absent or null.
fn with_defaults(mut map: Map<String, Value>, defaults: &[(&str, u64)]) -> Map<String, Value> {
    for &(k, v) in defaults {
        if map.get(k).is_none_or(Value::is_null) {
            map.insert(k.into(), v.into());
        }
    }
    map
}

/// `SiglipImageProcessor`'s defaults at side `size`.
pub fn preprocess(size: usize) -> Preprocess {
    Preprocess {
        mean: [0.5; 3],
        std: [0.5; 3],
        mode: ResizeMode::Squash,
        do_center_crop: false,
        ..Preprocess::openai(size)
    }
}

/// Parses `config.json` (already read into `root`) and the `preprocessor_config.json` beside it.
pub fn parse(
    path: &Path,
    root: &Map<String, Value>,
    preprocessor: Option<&Path>,
) -> Result<ClipConfig> {
    if let Some(Value::String(kind)) = root.get("model_type")
        && kind != "siglip"
    {
        return Err(Error::config(
            path,
            format!(
                "model_type {kind:?} is not supported: clipscope reads SigLIP and SigLIP 2's fixed-resolution checkpoints (model_type \"siglip\"), not NaFlex ones"
            ),
        ));
    }
    // A sub-config may be as small as its model_type: the class defaults fill the rest.
    let sub = |name: &str| match root.get(name) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(_) => hf_sub(root, name, path),
    };
    let vmap = with_defaults(sub("vision_config")?, &VISION_DEFAULTS);
    let tmap = with_defaults(sub("text_config")?, &TEXT_DEFAULTS);
    let obj = |map, prefix: &str| Obj {
        map,
        path,
        prefix: prefix.into(),
    };
    let (vobj, tobj) = (obj(&vmap, "vision_config"), obj(&tmap, "text_config"));
    let vision = vision(&vobj)?;
    // SiglipModel compares the text head's output with the pooled image output directly.
    let embed_dim = vision.tower.width;
    let text = text(&tobj, embed_dim)?;
    let side = vision.image_size;
    let preprocess = match preprocessor {
        Some(p) => parse_hf_preprocessor_onto(p, preprocess(side), side)?,
        None => preprocess(side),
    };
    if preprocess.do_resize && !preprocess.do_center_crop && preprocess.resize != side {
        return Err(Error::config(
            preprocessor.unwrap_or(path),
            format!(
                "images are resized to {0}x{0} but the model reads {side}x{side}",
                preprocess.resize
            ),
        ));
    }
    Ok(ClipConfig {
        format: Format::Siglip,
        embed_dim,
        vision,
        text,
        preprocess,
    })
}

/// The vision tower: a ViT without class token, read by its attention-pooling head.
fn vision(vobj: &Obj) -> Result<VisionConfig> {
    let path = vobj.path;
    if vobj.opt_bool("vision_use_head")? == Some(false) {
        return Err(Error::config(
            path,
            "`vision_config.vision_use_head` is false: the model has no attention-pooling head to decompose",
        ));
    }
    let vision = VisionConfig::vit(
        hf_tower(vobj, SIGLIP_DEFAULTS)?,
        vobj.usize("image_size")?,
        vobj.usize("patch_size")?,
        false,
    );
    // A conv of stride p over a side that p does not divide reads floor(S/p) patches (So400m/14
    // at 384 px: 27 × 27), ignoring the last S mod p pixels, as transformers does.
    if vision.patch_size > vision.image_size {
        return Err(Error::config(
            path,
            format!(
                "`vision_config.patch_size` {} exceeds image_size {}",
                vision.patch_size, vision.image_size
            ),
        ));
    }
    if vobj.opt_usize("num_channels")?.unwrap_or(3) != 3 {
        return Err(Error::config(
            path,
            "only 3-channel (RGB) vision towers are supported",
        ));
    }
    Ok(vision)
}

/// The text tower: bidirectional and read at the last position (SiglipTextTransformer's
/// pooler), its head projecting to the vision width `embed_dim`.
fn text(tobj: &Obj, embed_dim: usize) -> Result<TextConfig> {
    let text = TextConfig {
        causal: false,
        pool: TextPool::Last,
        ..TextConfig::clip(
            hf_tower(tobj, SIGLIP_DEFAULTS)?,
            tobj.usize("max_position_embeddings")?,
            tobj.usize("vocab_size")?,
        )
    };
    let projection = tobj
        .opt_usize("projection_size")?
        .unwrap_or(text.tower.width);
    if projection != embed_dim {
        return Err(Error::config(
            tobj.path,
            format!(
                "`text_config.projection_size` {projection} differs from the vision width {embed_dim}"
            ),
        ));
    }
    Ok(text)
}
