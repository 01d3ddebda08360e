//! open_clip's `open_clip_config.json` (`model_cfg`, `preprocess_cfg`).

use std::path::Path;

use serde_json::Value;

use super::hf::{check_heads, check_patches};
use super::json::{Obj, read_json};
use super::{
    Activation, ClipConfig, Format, HfTokenizerSpec, Readout, TextClean, TextConfig, TextPool,
    TowerConfig, VisionConfig,
};
use crate::image::{Preprocess, Resample, ResizeMode};
use crate::{Error, Result};

/// Options of open_clip's `VisionTransformer` / `TextTransformer` that change the computation
/// and that clipscope does not implement: refuse them rather than compute something else.
const UNSUPPORTED_OPEN_CLIP: &[(&str, &str)] = &[
    ("vision_cfg", "attentional_pool"),
    ("vision_cfg", "global_average_pool"),
    ("vision_cfg", "ls_init_value"),
    ("vision_cfg", "attn_pooler_queries"),
    ("text_cfg", "hf_model_name"),
    ("text_cfg", "ls_init_value"),
    ("text_cfg", "embed_cls"),
    ("text_cfg", "proj_bias"),
];

fn open_clip_tower(obj: &Obj, width: usize, heads: usize, act: Activation) -> Result<TowerConfig> {
    let mlp_ratio = obj.opt_f64("mlp_ratio")?.unwrap_or(4.0);
    let tower = TowerConfig {
        width,
        layers: obj.usize("layers")?,
        heads,
        mlp_dim: (width as f64 * mlp_ratio) as usize,
        activation: act,
        eps: 1e-5,
    };
    check_heads(&tower, obj)?;
    Ok(tower)
}

/// `vision_cfg.pool_type` with `final_ln_after_pool`: the class token's row (`tok`, where ln_post
/// before or after the pool is the same), or the patches' mean with ln_post after it (`avg`).
/// Averaging tokens that each went through ln_post with their own statistics is refused: the
/// convention linearises one LayerNorm of the read row.
fn readout(vobj: &Obj) -> Result<Readout> {
    let after = vobj.opt_bool("final_ln_after_pool")?.unwrap_or(false);
    match vobj.opt_str("pool_type")?.unwrap_or("tok") {
        "tok" => Ok(Readout::Class),
        "avg" if after => Ok(Readout::PatchMean),
        "avg" => Err(Error::config(
            vobj.path,
            format!(
                "`{}` = \"avg\" without `final_ln_after_pool` (ln_post on every token before the mean) is not supported",
                vobj.key("pool_type")
            ),
        )),
        other => Err(Error::config(
            vobj.path,
            format!("`{}` = {other:?} is not supported", vobj.key("pool_type")),
        )),
    }
}

/// `text_cfg.pool_type` (default `argmax`) and `eos_id` (default 2, open_clip's).
fn text_pool(tobj: &Obj) -> Result<TextPool> {
    match tobj.opt_str("pool_type")?.unwrap_or("argmax") {
        "argmax" => Ok(TextPool::Argmax),
        "last" => Ok(TextPool::Last),
        "eos" => Ok(TextPool::Eos(tobj.opt_token_id("eos_id")?.unwrap_or(2))),
        other => Err(Error::config(
            tobj.path,
            format!("`{}` = {other:?} is not supported", tobj.key("pool_type")),
        )),
    }
}

/// `text_cfg.hf_tokenizer_name` and `tokenizer_kwargs` (`strip_sep_token`, `clean`).
fn hf_tokenizer(tobj: &Obj) -> Result<Option<HfTokenizerSpec>> {
    let Some(name) = tobj.opt_str("hf_tokenizer_name")? else {
        return Ok(None);
    };
    let (mut strip_sep, mut clean) = (false, TextClean::Whitespace);
    if !matches!(tobj.map.get("tokenizer_kwargs"), None | Some(Value::Null)) {
        let kw = tobj.child("tokenizer_kwargs")?;
        for key in kw.map.keys() {
            match key.as_str() {
                "strip_sep_token" => strip_sep = kw.opt_bool(key)?.unwrap_or(false),
                "clean" => {
                    clean = match kw.opt_str(key)? {
                        None | Some("whitespace") => TextClean::Whitespace,
                        Some("lower") => TextClean::Lower,
                        Some("canonicalize") => TextClean::Canonicalize,
                        Some(other) => {
                            return Err(Error::config(
                                tobj.path,
                                format!("`{}` = {other:?} is not supported", kw.key(key)),
                            ));
                        }
                    }
                }
                // Other settings (`tokenizer_mode`, `language`) change the ids: refused.
                _ => {
                    return Err(Error::config(
                        tobj.path,
                        format!("`{}` is not supported", kw.key(key)),
                    ));
                }
            }
        }
    }
    Ok(Some(HfTokenizerSpec {
        name: name.to_string(),
        strip_sep,
        clean,
    }))
}

/// open_clip's eval transform at side `size` before `preprocess_cfg`: OpenAI's values, and the
/// centre crop's offsets rounded half to even as torchvision's are.
fn open_clip_preprocess(size: usize) -> Preprocess {
    let mut p = Preprocess::openai(size);
    p.crop_rounding_half_even = true;
    p
}

/// `preprocess_cfg` (`mean`, `std`, `interpolation`, `resize_mode`) over open_clip's defaults.
fn preprocess_cfg(pre: &Obj, size: usize) -> Result<Preprocess> {
    let mut preprocess = open_clip_preprocess(size);
    if let Some(m) = pre.opt_triple("mean")? {
        preprocess.mean = m;
    }
    if let Some(s) = pre.opt_triple("std")? {
        preprocess.std = s;
    }
    if let Some(name) = pre.opt_str("interpolation")? {
        preprocess.resample = Resample::from_name(name).ok_or_else(|| {
            Error::config(
                pre.path,
                format!("`{}` {name:?} is not supported", pre.key("interpolation")),
            )
        })?;
    }
    if let Some(mode) = pre.opt_str("resize_mode")? {
        preprocess.mode = match mode {
            "shortest" => ResizeMode::Shortest,
            "squash" => ResizeMode::Squash,
            other => {
                return Err(Error::config(
                    pre.path,
                    format!("`{}` {other:?} is not supported", pre.key("resize_mode")),
                ));
            }
        };
    }
    Ok(preprocess)
}

/// open_clip's own `VisionTransformer` (`width`, `layers`, `head_width`, …).
fn vit(vobj: &Obj, act: Activation) -> Result<VisionConfig> {
    let path = vobj.path;
    let vwidth = vobj.usize("width")?;
    let head_width = vobj.opt_usize("head_width")?.unwrap_or(64);
    if !vwidth.is_multiple_of(head_width) {
        return Err(Error::config(
            path,
            format!("`vision_cfg.width` {vwidth} is not a multiple of head_width {head_width}"),
        ));
    }
    let image_size = vobj.square_side("image_size")?;
    let vision = VisionConfig {
        ln_pre: !vobj.opt_bool("no_ln_pre")?.unwrap_or(false),
        readout: readout(vobj)?,
        ..VisionConfig::vit(
            open_clip_tower(vobj, vwidth, vwidth / head_width, act)?,
            image_size,
            vobj.usize("patch_size")?,
            true,
        )
    };
    check_patches(&vision, vobj)?;
    Ok(vision)
}

/// Parses an open_clip `open_clip_config.json` (`model_cfg` and `preprocess_cfg`).
pub fn parse_open_clip(path: &Path) -> Result<ClipConfig> {
    let root_map = read_json(path)?;
    let root = Obj {
        map: &root_map,
        path,
        prefix: String::new(),
    };
    let model = root.child("model_cfg")?;
    let vobj = model.child("vision_cfg")?;
    let tobj = model.child("text_cfg")?;
    for (tower, key) in UNSUPPORTED_OPEN_CLIP {
        let obj = if *tower == "vision_cfg" { &vobj } else { &tobj };
        match obj.map.get(*key) {
            None | Some(Value::Null) | Some(Value::Bool(false)) => {}
            Some(v) => {
                return Err(Error::config(
                    path,
                    format!("`{}` = {v} is not supported", obj.key(key)),
                ));
            }
        }
    }
    if let Some(Value::Array(_)) = vobj.map.get("layers") {
        return Err(Error::config(
            path,
            "ResNet vision towers (`vision_cfg.layers` is a list) are not supported",
        ));
    }
    let act = if model.opt_bool("quick_gelu")?.unwrap_or(false) {
        Activation::QuickGelu
    } else {
        Activation::Gelu
    };
    let vision = match vobj.opt_str("timm_model_name")? {
        Some(name) => super::timm::vision(&vobj, name)?,
        None => vit(&vobj, act)?,
    };
    let twidth = tobj.usize("width")?;
    let text = TextConfig {
        causal: !tobj.opt_bool("no_causal_mask")?.unwrap_or(false),
        pool: text_pool(&tobj)?,
        hf_tokenizer: hf_tokenizer(&tobj)?,
        ..TextConfig::clip(
            open_clip_tower(&tobj, twidth, tobj.usize("heads")?, act)?,
            tobj.opt_usize("context_length")?.unwrap_or(77),
            tobj.opt_usize("vocab_size")?.unwrap_or(49408),
        )
    };
    let preprocess = match root.child("preprocess_cfg") {
        Ok(pre) => preprocess_cfg(&pre, vision.image_size)?,
        Err(_) => open_clip_preprocess(vision.image_size),
    };
    Ok(ClipConfig {
        format: Format::OpenClip,
        embed_dim: model.usize("embed_dim")?,
        vision,
        text,
        preprocess,
    })
}
