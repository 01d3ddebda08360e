//! open_clip's `open_clip_config.json` (`model_cfg`, `preprocess_cfg`).

use std::path::Path;

use serde_json::Value;

use super::hf::{check_heads, check_patches};
use super::json::{Obj, read_json};
use super::{Activation, ClipConfig, Format, TextConfig, TowerConfig, VisionConfig};
use crate::image::{Preprocess, Resample, ResizeMode};
use crate::{Error, Result};

/// Options of open_clip's `VisionTransformer` / `TextTransformer` that change the computation
/// and that clipscope does not implement: refuse them rather than compute something else.
const UNSUPPORTED_OPEN_CLIP: &[(&str, &str)] = &[
    ("vision_cfg", "timm_model_name"),
    ("vision_cfg", "attentional_pool"),
    ("vision_cfg", "global_average_pool"),
    ("vision_cfg", "ls_init_value"),
    ("vision_cfg", "no_ln_pre"),
    ("vision_cfg", "final_ln_after_pool"),
    ("vision_cfg", "attn_pooler_queries"),
    ("text_cfg", "hf_model_name"),
    ("text_cfg", "ls_init_value"),
    ("text_cfg", "embed_cls"),
    ("text_cfg", "no_causal_mask"),
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
    for (obj, key, want) in [(&vobj, "pool_type", "tok"), (&tobj, "pool_type", "argmax")] {
        if let Some(p) = obj.opt_str(key)?
            && p != want
        {
            return Err(Error::config(
                path,
                format!("`{}` = {p:?} is not supported", obj.key(key)),
            ));
        }
    }
    let act = if model.opt_bool("quick_gelu")?.unwrap_or(false) {
        Activation::QuickGelu
    } else {
        Activation::Gelu
    };
    let vwidth = vobj.usize("width")?;
    let head_width = vobj.opt_usize("head_width")?.unwrap_or(64);
    if !vwidth.is_multiple_of(head_width) {
        return Err(Error::config(
            path,
            format!("`vision_cfg.width` {vwidth} is not a multiple of head_width {head_width}"),
        ));
    }
    let image_size = match vobj.opt_side("image_size")? {
        Some((h, w)) if h == w => h,
        Some((h, w)) => {
            return Err(Error::config(
                path,
                format!("non-square image_size {h}x{w} is not supported"),
            ));
        }
        None => {
            return Err(Error::config(
                path,
                "missing required key `model_cfg.vision_cfg.image_size`",
            ));
        }
    };
    let vision = VisionConfig {
        tower: open_clip_tower(&vobj, vwidth, vwidth / head_width, act)?,
        image_size,
        patch_size: vobj.usize("patch_size")?,
        class_token: true,
    };
    check_patches(&vision, &vobj)?;
    let twidth = tobj.usize("width")?;
    let text = TextConfig {
        tower: open_clip_tower(&tobj, twidth, tobj.usize("heads")?, act)?,
        context_length: tobj.opt_usize("context_length")?.unwrap_or(77),
        vocab_size: tobj.opt_usize("vocab_size")?.unwrap_or(49408),
    };
    let mut preprocess = Preprocess::openai(image_size);
    preprocess.crop_rounding_half_even = true;
    if let Ok(pre) = root.child("preprocess_cfg") {
        if let Some(m) = pre.opt_triple("mean")? {
            preprocess.mean = m;
        }
        if let Some(s) = pre.opt_triple("std")? {
            preprocess.std = s;
        }
        if let Some(name) = pre.opt_str("interpolation")? {
            preprocess.resample = Resample::from_name(name).ok_or_else(|| {
                Error::config(
                    path,
                    format!("`preprocess_cfg.interpolation` {name:?} is not supported"),
                )
            })?;
        }
        if let Some(mode) = pre.opt_str("resize_mode")? {
            preprocess.mode = match mode {
                "shortest" => ResizeMode::Shortest,
                "squash" => ResizeMode::Squash,
                other => {
                    return Err(Error::config(
                        path,
                        format!("`preprocess_cfg.resize_mode` {other:?} is not supported"),
                    ));
                }
            };
        }
    }
    Ok(ClipConfig {
        format: Format::OpenClip,
        embed_dim: model.usize("embed_dim")?,
        vision,
        text,
        preprocess,
    })
}
