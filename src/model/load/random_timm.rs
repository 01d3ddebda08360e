//! Random-weight open_clip checkpoints of the timm towers clipscope knows ([`crate::model::load::config::eva`]),
//! at the named model's real sizes, for `clipscope bench --arch eva02-b-16` and friends.

use std::collections::HashMap;
use std::path::Path;

use candle_core::Tensor;

use crate::model::load::config::eva::{self, EvaArch, EvaPool, QkvLayout};
use crate::{Error, Result};

/// Draws a tensor of a shape from N(mean, std²): (shape, std, mean).
pub type Draw<'a> = &'a mut dyn FnMut(&[usize], f64, f64) -> Result<Tensor>;

/// The text stub's width, context and vocabulary.
const TEXT: (usize, usize, usize) = (64, 77, 49408);

/// Writes `open_clip_config.json` and `open_clip_model.safetensors` of timm model `name` (224 px)
/// with joint width `embed` and weights from `draw` into `dir`.
pub fn write(dir: &Path, name: &str, embed: usize, draw: Draw) -> Result<()> {
    let a = eva::find(name).ok_or_else(|| Error::Model(format!("no timm tower {name}")))?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let (tw, ctx, vocab) = TEXT;
    let config = serde_json::json!({
        "model_cfg": {
            "embed_dim": embed,
            "vision_cfg": {"image_size": 224, "timm_model_name": name, "timm_pool": a.pool.name(), "timm_proj": null},
            "text_cfg": {"context_length": ctx, "vocab_size": vocab, "width": tw, "heads": 1, "layers": 1},
            "custom_text": true
        }
    });
    let path = dir.join("open_clip_config.json");
    std::fs::write(&path, config.to_string()).map_err(|e| Error::io(&path, e))?;
    let mut t = Tensors {
        map: HashMap::new(),
        draw,
    };
    trunk(&mut t, a, embed)?;
    text(&mut t, embed)?;
    let path = dir.join("open_clip_model.safetensors");
    candle_core::safetensors::save(&t.map, &path).map_err(|e| Error::Weights {
        path,
        message: e.to_string(),
    })
}

/// Named random tensors.
struct Tensors<'a> {
    map: HashMap<String, Tensor>,
    draw: Draw<'a>,
}

impl Tensors<'_> {
    fn put(&mut self, name: &str, shape: &[usize], std: f64, mean: f64) -> Result<()> {
        self.map
            .insert(name.to_string(), (self.draw)(shape, std, mean)?);
        Ok(())
    }

    /// A Linear's weight (out, in) and bias.
    fn linear(&mut self, prefix: &str, i: usize, o: usize) -> Result<()> {
        self.put(&format!("{prefix}.weight"), &[o, i], 0.02, 0.0)?;
        self.put(&format!("{prefix}.bias"), &[o], 0.02, 0.0)
    }

    fn norm(&mut self, prefix: &str, w: usize) -> Result<()> {
        self.put(&format!("{prefix}.weight"), &[w], 0.02, 1.0)?;
        self.put(&format!("{prefix}.bias"), &[w], 0.02, 0.0)
    }
}

fn trunk(t: &mut Tensors, a: &EvaArch, embed: usize) -> Result<()> {
    let (d, p, m) = (a.width, a.patch, a.mlp_dim);
    let g = 224 / p;
    let prefix = usize::from(a.class_token);
    let v = "visual.trunk";
    if a.class_token {
        t.put(&format!("{v}.cls_token"), &[1, 1, d], 0.02, 0.0)?;
    }
    t.put(
        &format!("{v}.pos_embed"),
        &[1, prefix + g * g, d],
        0.02,
        0.0,
    )?;
    t.put(
        &format!("{v}.patch_embed.proj.weight"),
        &[d, 3, p, p],
        0.02,
        0.0,
    )?;
    if a.patch_bias {
        t.put(&format!("{v}.patch_embed.proj.bias"), &[d], 0.02, 0.0)?;
    }
    if a.norm_pre {
        t.norm(&format!("{v}.norm_pre"), d)?;
    }
    for i in 0..a.depth {
        let b = format!("{v}.blocks.{i}");
        t.norm(&format!("{b}.norm1"), d)?;
        t.norm(&format!("{b}.norm2"), d)?;
        match a.qkv {
            QkvLayout::Separate => {
                t.linear(&format!("{b}.attn.q_proj"), d, d)?;
                t.put(&format!("{b}.attn.k_proj.weight"), &[d, d], 0.02, 0.0)?;
                t.linear(&format!("{b}.attn.v_proj"), d, d)?;
            }
            QkvLayout::FusedQvBias => {
                t.put(&format!("{b}.attn.qkv.weight"), &[3 * d, d], 0.02, 0.0)?;
                t.put(&format!("{b}.attn.q_bias"), &[d], 0.02, 0.0)?;
                t.put(&format!("{b}.attn.v_bias"), &[d], 0.02, 0.0)?;
            }
            QkvLayout::Fused => t.linear(&format!("{b}.attn.qkv"), d, 3 * d)?,
        }
        if a.sub_ln {
            t.norm(&format!("{b}.attn.norm"), d)?;
        }
        t.linear(&format!("{b}.attn.proj"), d, d)?;
        if a.swiglu {
            t.linear(&format!("{b}.mlp.fc1_g"), d, m)?;
            t.linear(&format!("{b}.mlp.fc1_x"), d, m)?;
            t.norm(&format!("{b}.mlp.norm"), m)?;
        } else {
            t.linear(&format!("{b}.mlp.fc1"), d, m)?;
        }
        t.linear(&format!("{b}.mlp.fc2"), m, d)?;
    }
    t.norm(&format!("{v}.norm"), d)?;
    if let EvaPool::Map { .. } = a.pool {
        let ap = format!("{v}.attn_pool");
        t.put(&format!("{ap}.latent"), &[1, 1, d], 0.02, 0.0)?;
        t.linear(&format!("{ap}.q"), d, d)?;
        t.linear(&format!("{ap}.kv"), d, 2 * d)?;
        t.linear(&format!("{ap}.proj"), d, d)?;
        t.norm(&format!("{ap}.norm"), d)?;
        t.linear(&format!("{ap}.mlp.fc1"), d, 4 * d)?;
        t.linear(&format!("{ap}.mlp.fc2"), 4 * d, d)?;
    }
    t.linear(&format!("{v}.head"), d, embed)
}

/// open_clip's text tower under `text.` (CustomTextCLIP), one layer.
fn text(t: &mut Tensors, embed: usize) -> Result<()> {
    let (w, ctx, vocab) = TEXT;
    t.put("text.token_embedding.weight", &[vocab, w], 0.02, 0.0)?;
    t.put("text.positional_embedding", &[ctx, w], 0.02, 0.0)?;
    let b = "text.transformer.resblocks.0";
    t.norm(&format!("{b}.ln_1"), w)?;
    t.norm(&format!("{b}.ln_2"), w)?;
    t.put(&format!("{b}.attn.in_proj_weight"), &[3 * w, w], 0.02, 0.0)?;
    t.put(&format!("{b}.attn.in_proj_bias"), &[3 * w], 0.02, 0.0)?;
    t.linear(&format!("{b}.attn.out_proj"), w, w)?;
    t.linear(&format!("{b}.mlp.c_fc"), w, 4 * w)?;
    t.linear(&format!("{b}.mlp.c_proj"), 4 * w, w)?;
    t.norm("text.ln_final", w)?;
    t.put("text.text_projection", &[w, embed], 0.02, 0.0)
}
