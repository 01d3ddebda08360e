//! Model configuration: parsing Hugging Face `config.json` and open_clip `open_clip_config.json`
//! into one architecture description.

use std::path::Path;

use serde_json::{Map, Value};

use crate::image::{Preprocess, Resample, ResizeMode};
use crate::{Error, Result};

/// The on-disk layout of a checkpoint: which weight names and conventions it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// transformers `CLIPModel` (`config.json`, `model.safetensors`).
    HuggingFace,
    /// open_clip (`open_clip_config.json`, `open_clip_model.safetensors`).
    OpenClip,
    /// transformers `SiglipModel` (`config.json` with `model_type` `siglip`): no class token, an
    /// attention-pooling head instead of ln_post and a projection, a bidirectional text tower.
    Siglip,
}

/// The MLP nonlinearity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// x·sigmoid(1.702x), OpenAI's checkpoints.
    QuickGelu,
    /// Exact erf GELU (`nn.GELU()`, HF `gelu`), LAION and DataComp checkpoints.
    Gelu,
    /// The tanh approximation (HF `gelu_new`, `gelu_pytorch_tanh`).
    GeluTanh,
}

impl Activation {
    fn from_hf(name: &str) -> Option<Self> {
        match name {
            "quick_gelu" => Some(Self::QuickGelu),
            "gelu" => Some(Self::Gelu),
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Some(Self::GeluTanh),
            _ => None,
        }
    }
}

/// One transformer tower (vision or text).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TowerConfig {
    /// Residual width D.
    pub width: usize,
    /// Number of residual blocks L.
    pub layers: usize,
    /// Attention heads H per block.
    pub heads: usize,
    /// MLP hidden size.
    pub mlp_dim: usize,
    /// MLP activation.
    pub activation: Activation,
    /// LayerNorm epsilon.
    pub eps: f64,
}

impl TowerConfig {
    /// Per-head width d = D / H.
    pub fn head_dim(&self) -> usize {
        self.width / self.heads
    }
}

/// The vision tower: a tower plus its patch geometry.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VisionConfig {
    /// The transformer.
    pub tower: TowerConfig,
    /// Input side S (square).
    pub image_size: usize,
    /// Patch side p; the grid is S/p × S/p.
    pub patch_size: usize,
    /// Whether token 0 is a class token (CLIP) or the tokens are the patches alone (SigLIP).
    pub class_token: bool,
}

impl VisionConfig {
    /// Patches per side G.
    pub fn grid(&self) -> usize {
        self.image_size / self.patch_size
    }

    /// Tokens T: 1 + G² with a class token, G² without.
    pub fn tokens(&self) -> usize {
        usize::from(self.class_token) + self.grid() * self.grid()
    }
}

/// The patch grid side G and the first patch token of T tokens: (√T, 0) when T is a square (no
/// class token), (√(T − 1), 1) when T − 1 is (a class token first). For T ≥ 2 at most one holds.
pub fn patch_grid(t: usize) -> Option<(usize, usize)> {
    let side = |n: usize| {
        let g = (n as f64).sqrt().round() as usize;
        (g > 0 && g * g == n).then_some(g)
    };
    side(t)
        .map(|g| (g, 0))
        .or_else(|| side(t.checked_sub(1)?).map(|g| (g, 1)))
}

/// The text tower: a tower plus its vocabulary and context.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TextConfig {
    /// The transformer.
    pub tower: TowerConfig,
    /// Maximum tokens per text (77 for CLIP).
    pub context_length: usize,
    /// Vocabulary size.
    pub vocab_size: usize,
}

/// A whole CLIP checkpoint's architecture and preprocessing.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClipConfig {
    /// Weight layout.
    pub format: Format,
    /// Joint embedding size E.
    pub embed_dim: usize,
    /// Vision tower.
    pub vision: VisionConfig,
    /// Text tower.
    pub text: TextConfig,
    /// Image preprocessing.
    pub preprocess: Preprocess,
}

impl ClipConfig {
    /// The layers whose heads have a direct effect of the decomposed form: every vision layer
    /// of a CLIP, the one attention-pooling layer of a SigLIP.
    pub fn depth(&self) -> usize {
        match self.format {
            Format::Siglip => 1,
            Format::HuggingFace | Format::OpenClip => self.vision.tower.layers,
        }
    }
}

/// A JSON object with the file it came from, for error messages naming both.
pub(super) struct Obj<'a> {
    pub(super) map: &'a Map<String, Value>,
    pub(super) path: &'a Path,
    pub(super) prefix: String,
}

impl<'a> Obj<'a> {
    pub(super) fn key(&self, k: &str) -> String {
        if self.prefix.is_empty() {
            k.to_string()
        } else {
            format!("{}.{k}", self.prefix)
        }
    }

    pub(super) fn child(&self, k: &str) -> Result<Obj<'a>> {
        match self.map.get(k) {
            Some(Value::Object(map)) => Ok(Obj {
                map,
                path: self.path,
                prefix: self.key(k),
            }),
            Some(_) => Err(Error::config(
                self.path,
                format!("`{}` is not an object", self.key(k)),
            )),
            None => Err(Error::config(
                self.path,
                format!("missing required key `{}`", self.key(k)),
            )),
        }
    }

    pub(super) fn opt_usize(&self, k: &str) -> Result<Option<usize>> {
        match self.map.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .filter(|&n| n > 0)
                .map(|n| Some(n as usize))
                .ok_or_else(|| {
                    Error::config(
                        self.path,
                        format!("`{}` must be a positive integer, got {v}", self.key(k)),
                    )
                }),
        }
    }

    pub(super) fn usize(&self, k: &str) -> Result<usize> {
        self.opt_usize(k)?.ok_or_else(|| {
            Error::config(self.path, format!("missing required key `{}`", self.key(k)))
        })
    }

    pub(super) fn opt_f64(&self, k: &str) -> Result<Option<f64>> {
        match self.map.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_f64().map(Some).ok_or_else(|| {
                Error::config(
                    self.path,
                    format!("`{}` must be a number, got {v}", self.key(k)),
                )
            }),
        }
    }

    pub(super) fn opt_bool(&self, k: &str) -> Result<Option<bool>> {
        match self.map.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(Error::config(
                self.path,
                format!("`{}` must be true or false, got {v}", self.key(k)),
            )),
        }
    }

    pub(super) fn opt_str(&self, k: &str) -> Result<Option<&'a str>> {
        match self.map.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(Error::config(
                self.path,
                format!("`{}` must be a string, got {v}", self.key(k)),
            )),
        }
    }

    pub(super) fn opt_triple(&self, k: &str) -> Result<Option<[f32; 3]>> {
        match self.map.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(a)) if a.len() == 3 && a.iter().all(Value::is_number) => {
                let f = |i: usize| a[i].as_f64().unwrap_or_default() as f32;
                Ok(Some([f(0), f(1), f(2)]))
            }
            Some(Value::Number(n)) => {
                let v = n.as_f64().unwrap_or_default() as f32;
                Ok(Some([v, v, v]))
            }
            Some(v) => Err(Error::config(
                self.path,
                format!("`{}` must be 3 numbers, got {v}", self.key(k)),
            )),
        }
    }

    /// An image side given as `n`, `[n, n]` or `{"height": n, "width": n}` / `{"shortest_edge": n}`.
    pub(super) fn opt_side(&self, k: &str) -> Result<Option<(usize, usize)>> {
        let bad = |v: &Value| {
            Error::config(
                self.path,
                format!("`{}`: unsupported size {v}", self.key(k)),
            )
        };
        match self.map.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .map(|n| Some((n as usize, n as usize)))
                .ok_or_else(|| bad(&Value::Number(n.clone()))),
            Some(v @ Value::Array(a)) => match (
                a.first().and_then(Value::as_u64),
                a.get(1).and_then(Value::as_u64),
            ) {
                (Some(h), Some(w)) if a.len() == 2 => Ok(Some((h as usize, w as usize))),
                _ => Err(bad(v)),
            },
            Some(v @ Value::Object(o)) => {
                let get = |n: &str| o.get(n).and_then(Value::as_u64).map(|x| x as usize);
                match (get("height"), get("width"), get("shortest_edge")) {
                    (Some(h), Some(w), _) => Ok(Some((h, w))),
                    (_, _, Some(s)) => Ok(Some((s, s))),
                    _ => Err(bad(v)),
                }
            }
            Some(v) => Err(bad(v)),
        }
    }
}

pub(super) fn read_json(path: &Path) -> Result<Map<String, Value>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Error::config(path, "expected a JSON object")),
        Err(e) => Err(Error::config(path, format!("invalid JSON: {e}"))),
    }
}

/// A sub-config with transformers' legacy `*_config_dict` merged over it.
pub(super) fn hf_sub(
    root: &Map<String, Value>,
    name: &str,
    path: &Path,
) -> Result<Map<String, Value>> {
    let mut merged = match root.get(name) {
        Some(Value::Object(m)) => m.clone(),
        Some(Value::Null) | None => Map::new(),
        Some(_) => return Err(Error::config(path, format!("`{name}` is not an object"))),
    };
    if let Some(Value::Object(over)) = root.get(&format!("{name}_dict")) {
        merged.extend(over.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    if merged.is_empty() {
        return Err(Error::config(
            path,
            format!("missing required key `{name}`"),
        ));
    }
    Ok(merged)
}

/// A transformers tower config; `defaults` are the activation and LayerNorm epsilon its model
/// class assumes when the file omits them.
pub(super) fn hf_tower(obj: &Obj, defaults: (&str, f64)) -> Result<TowerConfig> {
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

pub(super) fn check_heads(t: &TowerConfig, obj: &Obj) -> Result<()> {
    if !t.width.is_multiple_of(t.heads) {
        return Err(Error::config(
            obj.path,
            format!(
                "`{}`: width {} is not divisible by {} heads",
                obj.prefix, t.width, t.heads
            ),
        ));
    }
    Ok(())
}

pub(super) fn check_patches(v: &VisionConfig, obj: &Obj) -> Result<()> {
    if !v.image_size.is_multiple_of(v.patch_size) {
        return Err(Error::config(
            obj.path,
            format!(
                "`{}`: image size {} is not a multiple of patch size {}",
                obj.prefix, v.image_size, v.patch_size
            ),
        ));
    }
    Ok(())
}

/// `CLIPVisionConfig` / `CLIPTextConfig` defaults: QuickGELU, ε = 1e-5.
const CLIP_DEFAULTS: (&str, f64) = ("quick_gelu", 1e-5);

/// Parses a transformers `config.json` (and `preprocessor_config.json` beside it, when present).
pub fn parse_hf(config: &Path, preprocessor: Option<&Path>) -> Result<ClipConfig> {
    let root_map = read_json(config)?;
    if let Some(Value::String(kind)) = root_map.get("model_type")
        && kind.starts_with("siglip")
    {
        return super::siglip::config::parse(config, &root_map, preprocessor);
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
    let vision = VisionConfig {
        tower: hf_tower(&vobj, CLIP_DEFAULTS)?,
        image_size: vobj.usize("image_size")?,
        patch_size: vobj.usize("patch_size")?,
        class_token: true,
    };
    check_patches(&vision, &vobj)?;
    let text = TextConfig {
        tower: hf_tower(&tobj, CLIP_DEFAULTS)?,
        context_length: tobj.opt_usize("max_position_embeddings")?.unwrap_or(77),
        vocab_size: tobj.opt_usize("vocab_size")?.unwrap_or(49408),
    };
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

/// Parses a `preprocessor_config.json` (CLIPImageProcessor).
pub fn parse_hf_preprocessor(path: &Path, image_size: usize) -> Result<Preprocess> {
    parse_hf_preprocessor_onto(path, Preprocess::openai(image_size), image_size)
}

/// Parses a `preprocessor_config.json` over `base`, the image processor's own defaults.
pub(super) fn parse_hf_preprocessor_onto(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_is_told_apart_with_and_without_a_class_token() {
        assert_eq!(patch_grid(50), Some((7, 1))); // ViT-B/32: CLS + 7×7
        assert_eq!(patch_grid(197), Some((14, 1))); // ViT-B/16
        assert_eq!(patch_grid(196), Some((14, 0))); // SigLIP-B/16
        assert_eq!(patch_grid(729), Some((27, 0))); // SigLIP so400m/14 at 384
        assert_eq!(patch_grid(2), Some((1, 1)));
        assert_eq!(patch_grid(3), None);
        assert_eq!(patch_grid(0), None);
    }
}
