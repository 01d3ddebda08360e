//! transformers' `CLIPConfig` and `CLIPImageProcessor` (`config.json`,
//! `preprocessor_config.json`); a `config.json` of the SigLIP family goes to
//! [`crate::model::load::config::siglip`].

use std::path::Path;

use serde_json::Value;

use super::json::{Obj, hf_sub, read_json};
use super::{
    Activation, ClipConfig, Format, HfTokenizerSpec, TextClean, TextConfig, TextPool, TowerConfig,
    VisionConfig,
};
use crate::image::{Preprocess, Resample, ResizeMode};
use crate::{Error, Result};

/// A transformers tower config; `defaults` are the activation and LayerNorm epsilon its model
/// class assumes when the file omits them.
pub(in crate::model) fn hf_tower(obj: &Obj, defaults: (&str, f64)) -> Result<TowerConfig> {
    let act_name = obj.opt_str("hidden_act")?.unwrap_or(defaults.0);
    let activation = Activation::from_hf(act_name).ok_or_else(|| {
        Error::config(
            obj.path,
            format!(
                "`{}`: unsupported activation {act_name:?}",
                obj.key("hidden_act")
            ),
        )
    })?;
    let tower = TowerConfig {
        width: obj.usize("hidden_size")?,
        layers: obj.usize("num_hidden_layers")?,
        heads: obj.usize("num_attention_heads")?,
        mlp_dim: obj.usize("intermediate_size")?,
        activation,
        eps: obj.opt_f64("layer_norm_eps")?.unwrap_or(defaults.1),
    };
    check_heads(&tower, obj)?;
    Ok(tower)
}

pub(in crate::model) fn check_heads(t: &TowerConfig, obj: &Obj) -> Result<()> {
    obj.ensure(t.width.is_multiple_of(t.heads), || {
        format!("width {} is not divisible by {} heads", t.width, t.heads)
    })
}

pub(in crate::model) fn check_patches(v: &VisionConfig, obj: &Obj) -> Result<()> {
    obj.ensure(v.image_size.is_multiple_of(v.patch_size), || {
        format!(
            "image size {} is not a multiple of patch size {}",
            v.image_size, v.patch_size
        )
    })
}

/// `CLIPVisionConfig` / `CLIPTextConfig` defaults: QuickGELU, ε = 1e-5.
const CLIP_DEFAULTS: (&str, f64) = ("quick_gelu", 1e-5);

/// Parses a transformers `config.json` (and `preprocessor_config.json` beside it, when present).
pub fn parse_hf(config: &Path, preprocessor: Option<&Path>) -> Result<ClipConfig> {
    let root_map = read_json(config)?;
    let kind = match root_map.get("model_type") {
        Some(Value::String(kind)) => Some(kind.as_str()),
        _ => None,
    };
    match kind {
        Some(k) if k.starts_with("siglip") => {
            return crate::model::load::config::siglip::parse(config, &root_map, preprocessor);
        }
        None | Some("clip" | METACLIP_2) => {}
        Some(other) => {
            return Err(Error::config(
                config,
                format!(
                    "`model_type` {other:?} is not supported (clipscope reads clip, {METACLIP_2}, siglip and siglip2)"
                ),
            ));
        }
    }
    let root = Obj {
        map: &root_map,
        path: config,
        prefix: String::new(),
    };
    let vmap = hf_sub(&root_map, "vision_config", config)?;
    let tmap = hf_sub(&root_map, "text_config", config)?;
    let vobj = Obj {
        map: &vmap,
        path: config,
        prefix: "vision_config".into(),
    };
    let tobj = Obj {
        map: &tmap,
        path: config,
        prefix: "text_config".into(),
    };
    // The top-level projection_dim wins: transformers builds both projections from it.
    let embed_dim = match root.opt_usize("projection_dim")? {
        Some(e) => e,
        None => vobj
            .usize("projection_dim")
            .map_err(|_| Error::config(config, "missing required key `projection_dim`"))?,
    };
    let vision = VisionConfig::vit(
        hf_tower(&vobj, CLIP_DEFAULTS)?,
        vobj.usize("image_size")?,
        vobj.usize("patch_size")?,
        true,
    );
    check_patches(&vision, &vobj)?;
    let mut text = TextConfig::clip(
        hf_tower(&tobj, CLIP_DEFAULTS)?,
        tobj.opt_usize("max_position_embeddings")?.unwrap_or(77),
        tobj.opt_usize("vocab_size")?.unwrap_or(49408),
    );
    if kind == Some(METACLIP_2) {
        metaclip_2_text(&mut text, &tobj)?;
    }
    let preprocess = match preprocessor {
        Some(p) => parse_hf_preprocessor(p, vision.image_size)?,
        None => Preprocess::openai(vision.image_size),
    };
    Ok(ClipConfig {
        format: Format::HuggingFace,
        embed_dim,
        vision,
        text,
        preprocess,
    })
}

/// transformers' `model_type` of MetaCLIP 2 (`MetaClip2Model`).
const METACLIP_2: &str = "metaclip_2";

/// `MetaClip2TextTransformer`: CLIP's causal tower read at the first `eos_token_id`
/// (`(input_ids == eos_token_id).int().argmax(-1)`, position 0 without one), and the XLM-V
/// tokenizer its repository ships, called as transformers calls it (`padding="max_length"`,
/// truncation, nothing cleaned); the conversion script (`convert_metaclip_2_to_hf.py`) took
/// both from facebook/xlm-v-base, which serves a repository that lacks them.
fn metaclip_2_text(text: &mut TextConfig, tobj: &Obj) -> Result<()> {
    // MetaClip2TextConfig's default, CLIP's end-of-text id.
    text.pool = TextPool::Eos(tobj.opt_token_id("eos_token_id")?.unwrap_or(49407));
    text.hf_tokenizer = Some(HfTokenizerSpec {
        name: "facebook/xlm-v-base".into(),
        strip_sep: false,
        clean: TextClean::Verbatim,
    });
    Ok(())
}

/// Parses a `preprocessor_config.json` (CLIPImageProcessor).
pub fn parse_hf_preprocessor(path: &Path, image_size: usize) -> Result<Preprocess> {
    parse_hf_preprocessor_onto(path, Preprocess::openai(image_size), image_size)
}

/// Parses a `preprocessor_config.json` over `base`, the image processor's own defaults.
pub(in crate::model) fn parse_hf_preprocessor_onto(
    path: &Path,
    base: Preprocess,
    image_size: usize,
) -> Result<Preprocess> {
    let map = read_json(path)?;
    let obj = Obj {
        map: &map,
        path,
        prefix: String::new(),
    };
    let mut p = base;
    if let Some((h, w)) = obj.opt_side("size")? {
        // `{"height", "width"}` (or `[h, w]`) resizes both sides to it: `CLIPImageProcessor.resize`
        // keeps the aspect only for `{"shortest_edge"}` (or a bare number).
        if exact_size(&map) {
            p.mode = ResizeMode::Squash;
        }
        if p.mode == ResizeMode::Squash && h != w {
            return Err(Error::config(
                path,
                format!("`size` {h}x{w}: only square model inputs are supported"),
            ));
        }
        p.resize = h;
    }
    if let Some(crop) = obj.opt_side("crop_size")? {
        p.crop = crop;
    }
    if let Some(m) = obj.opt_triple("image_mean")? {
        p.mean = m;
    }
    if let Some(s) = obj.opt_triple("image_std")? {
        p.std = s;
    }
    if let Some(r) = obj.opt_usize("resample")? {
        p.resample = Resample::from_pil(r as u32).ok_or_else(|| {
            Error::config(path, format!("`resample`: unsupported PIL filter {r}"))
        })?;
    }
    p.do_resize = obj.opt_bool("do_resize")?.unwrap_or(true);
    p.do_center_crop = obj.opt_bool("do_center_crop")?.unwrap_or(p.do_center_crop);
    p.do_normalize = obj.opt_bool("do_normalize")?.unwrap_or(true);
    p.rescale = obj.opt_f64("rescale_factor")?.unwrap_or(1.0 / 255.0) as f32;
    if obj.opt_bool("do_rescale")? == Some(false) {
        p.rescale = 1.0;
    }
    if p.crop != (image_size, image_size) && p.do_center_crop {
        return Err(Error::config(
            path,
            format!(
                "crop_size {:?} does not match the model's image_size {image_size}",
                p.crop
            ),
        ));
    }
    Ok(p)
}

/// Whether `size` names both sides (`{"height", "width"}` or `[h, w]`) rather than the shortest.
fn exact_size(map: &serde_json::Map<String, Value>) -> bool {
    match map.get("size") {
        Some(Value::Array(_)) => true,
        Some(Value::Object(o)) => o.contains_key("height") && o.contains_key("width"),
        _ => false,
    }
}
