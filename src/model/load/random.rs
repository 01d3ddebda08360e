//! Random-weight checkpoints of the standard CLIP architectures, for benchmarks and tests that
//! must not download anything. Deterministic for a given seed.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};

use crate::{Error, Result};

/// A standard vision architecture (REFERENCE.md §1.1) with a small text tower.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Arch {
    /// ViT-B/32: 224 px, 12 × 12 heads, width 768, E = 512.
    #[value(name = "vit-b-32")]
    VitB32,
    /// ViT-B/16: 224 px, 12 × 12 heads, width 768, E = 512.
    #[value(name = "vit-b-16")]
    VitB16,
    /// ViT-L/14: 224 px, 24 × 16 heads, width 1024, E = 768.
    #[value(name = "vit-l-14")]
    VitL14,
    /// The demo's tiny model: 224 px, patch 32, 4 × 4 heads, width 128, E = 64.
    #[value(name = "tiny")]
    Tiny,
    /// SigLIP B/16: 224 px, 12 × 12 heads, width 768, then the attention-pooling head (E = 768).
    #[value(name = "siglip-b-16")]
    SiglipB16,
    /// EVA-02 CLIP B/16 (timm `eva02_base_patch16_clip_224`): rotary attention, sub-LN, SwiGLU,
    /// E = 512; open_clip format.
    #[value(name = "eva02-b-16")]
    Eva02B16,
    /// PE-Core B/16 (timm `vit_pe_core_base_patch16_224`): rotary attention, an attention pool of
    /// 8 heads, E = 1024; open_clip format.
    #[value(name = "pe-core-b-16")]
    PeCoreB16,
}

impl Arch {
    /// (patch, width, layers, heads, embed).
    fn dims(self) -> (usize, usize, usize, usize, usize) {
        match self {
            Self::VitB32 => (32, 768, 12, 12, 512),
            Self::VitB16 => (16, 768, 12, 12, 512),
            Self::VitL14 => (14, 1024, 24, 16, 768),
            Self::Tiny => (32, 128, 4, 4, 64),
            Self::SiglipB16 => (16, 768, 12, 12, 768),
            Self::Eva02B16 => (16, 768, 12, 12, 512),
            Self::PeCoreB16 => (16, 768, 12, 12, 1024),
        }
    }

    /// The timm model an open_clip checkpoint of this architecture names, for the timm ones.
    fn timm(self) -> Option<&'static str> {
        match self {
            Self::Eva02B16 => Some("eva02_base_patch16_clip_224"),
            Self::PeCoreB16 => Some("vit_pe_core_base_patch16_224"),
            _ => None,
        }
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny deterministic generator of 64-bit words, the
/// same on every machine (random weights, probe images, pruning samples, mutation tests).
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next word.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// SplitMix64 + Box–Muller: a tiny deterministic normal generator.
struct Normal(SplitMix64);

impl Normal {
    fn uniform(&mut self) -> f64 {
        ((self.0.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// A tensor of `shape` drawn from N(mean, std²).
    fn tensor(&mut self, shape: &[usize], std: f64, mean: f64) -> Result<Tensor> {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|_| {
                let (u1, u2) = (self.uniform(), self.uniform());
                (mean + std * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
            })
            .collect();
        Ok(Tensor::from_vec(v, shape, &Device::Cpu)?)
    }
}

/// Writes a checkpoint of `arch` with random weights into `dir`: Hugging Face format
/// (`config.json`, `model.safetensors`), or open_clip's for the timm towers. The text tower is a
/// one-layer stub (width 64).
pub fn write_checkpoint(dir: &Path, arch: Arch, seed: u64) -> Result<()> {
    let (patch, width, layers, _, embed) = arch.dims();
    if let Some(name) = arch.timm() {
        let mut rng = Normal(SplitMix64(seed));
        return super::random_timm::write(dir, name, embed, &mut |shape, std, mean| {
            rng.tensor(shape, std, mean)
        });
    }
    let siglip = arch == Arch::SiglipB16;
    let (tw, vocab, ctx) = if siglip {
        (64usize, 32000usize, 64usize)
    } else {
        (64, 49408, 77)
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let config = config_json(arch, (tw, vocab, ctx));
    let path = dir.join("config.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&config).unwrap_or_default(),
    )
    .map_err(|e| Error::io(&path, e))?;
    let mut rng = Normal(SplitMix64(seed));
    let mut t: HashMap<String, Tensor> = HashMap::new();
    let tokens = (224 / patch) * (224 / patch) + usize::from(!siglip);
    put_encoder(&mut t, &mut rng, "vision_model", width, layers)?;
    put_encoder(&mut t, &mut rng, "text_model", tw, 1)?;
    let mut put = |name: &str, shape: &[usize], std: f64, mean: f64| -> Result<()> {
        t.insert(name.to_string(), rng.tensor(shape, std, mean)?);
        Ok(())
    };
    put(
        "vision_model.embeddings.patch_embedding.weight",
        &[width, 3, patch, patch],
        0.02,
        0.0,
    )?;
    if siglip {
        put_siglip_heads(&mut put, width, tw)?;
    } else {
        put(
            "vision_model.embeddings.class_embedding",
            &[width],
            0.02,
            0.0,
        )?;
        put("vision_model.pre_layrnorm.weight", &[width], 0.02, 1.0)?;
        put("vision_model.pre_layrnorm.bias", &[width], 0.02, 0.0)?;
        put("visual_projection.weight", &[embed, width], 0.02, 0.0)?;
        put("text_projection.weight", &[embed, tw], 0.02, 0.0)?;
    }
    put(
        "vision_model.embeddings.position_embedding.weight",
        &[tokens, width],
        0.02,
        0.0,
    )?;
    for ln in ["vision_model.post_layernorm", "text_model.final_layer_norm"] {
        let w = if ln.starts_with("text") { tw } else { width };
        put(&format!("{ln}.weight"), &[w], 0.02, 1.0)?;
        put(&format!("{ln}.bias"), &[w], 0.02, 0.0)?;
    }
    put(
        "text_model.embeddings.token_embedding.weight",
        &[vocab, tw],
        0.02,
        0.0,
    )?;
    put(
        "text_model.embeddings.position_embedding.weight",
        &[ctx, tw],
        0.02,
        0.0,
    )?;
    let path = dir.join("model.safetensors");
    candle_core::safetensors::save(&t, &path).map_err(|e| Error::Weights {
        path,
        message: e.to_string(),
    })
}

/// The checkpoint's `config.json`: CLIP's or SigLIP's, the vision tower `arch`'s, the text tower
/// one layer of width `tw` over `vocab` tokens and `ctx` positions.
fn config_json(arch: Arch, (tw, vocab, ctx): (usize, usize, usize)) -> serde_json::Value {
    let (patch, width, layers, heads, embed) = arch.dims();
    let clip_config = serde_json::json!({
        "model_type": "clip",
        "projection_dim": embed,
        "vision_config": {
            "hidden_size": width, "intermediate_size": 4 * width, "num_attention_heads": heads,
            "num_hidden_layers": layers, "image_size": 224, "patch_size": patch, "hidden_act": "quick_gelu"
        },
        "text_config": {
            "hidden_size": tw, "intermediate_size": 4 * tw, "num_attention_heads": 1,
            "num_hidden_layers": 1, "max_position_embeddings": ctx, "vocab_size": vocab, "hidden_act": "quick_gelu"
        }
    });
    let siglip_config = serde_json::json!({
        "model_type": "siglip",
        "vision_config": {
            "hidden_size": width, "intermediate_size": 4 * width, "num_attention_heads": heads,
            "num_hidden_layers": layers, "image_size": 224, "patch_size": patch
        },
        "text_config": {
            "hidden_size": tw, "intermediate_size": 4 * tw, "num_attention_heads": 1,
            "num_hidden_layers": 1, "vocab_size": vocab, "projection_size": width
        }
    });
    if arch == Arch::SiglipB16 {
        siglip_config
    } else {
        clip_config
    }
}

/// `n` encoder layers of width `w` under `prefix` (transformers' CLIP names), drawn from `rng`.
fn put_encoder(
    t: &mut HashMap<String, Tensor>,
    rng: &mut Normal,
    prefix: &str,
    w: usize,
    n: usize,
) -> Result<()> {
    for i in 0..n {
        let p = format!("{prefix}.encoder.layers.{i}");
        for ln in ["layer_norm1", "layer_norm2"] {
            t.insert(format!("{p}.{ln}.weight"), rng.tensor(&[w], 0.02, 1.0)?);
            t.insert(format!("{p}.{ln}.bias"), rng.tensor(&[w], 0.02, 0.0)?);
        }
        for (name, o, i) in [
            ("self_attn.q_proj", w, w),
            ("self_attn.k_proj", w, w),
            ("self_attn.v_proj", w, w),
            ("self_attn.out_proj", w, w),
            ("mlp.fc1", 4 * w, w),
            ("mlp.fc2", w, 4 * w),
        ] {
            t.insert(
                format!("{p}.{name}.weight"),
                rng.tensor(&[o, i], 0.02, 0.0)?,
            );
            t.insert(format!("{p}.{name}.bias"), rng.tensor(&[o], 0.02, 0.0)?);
        }
    }
    Ok(())
}

/// SigLIP's extra tensors: the patch conv's bias, the attention-pooling head and the text head.
fn put_siglip_heads(
    put: &mut impl FnMut(&str, &[usize], f64, f64) -> Result<()>,
    w: usize,
    tw: usize,
) -> Result<()> {
    put(
        "vision_model.embeddings.patch_embedding.bias",
        &[w],
        0.02,
        0.0,
    )?;
    let h = "vision_model.head";
    put(&format!("{h}.probe"), &[1, 1, w], 0.02, 0.0)?;
    put(
        &format!("{h}.attention.in_proj_weight"),
        &[3 * w, w],
        0.02,
        0.0,
    )?;
    put(&format!("{h}.attention.in_proj_bias"), &[3 * w], 0.02, 0.0)?;
    for (name, o, i) in [
        ("attention.out_proj", w, w),
        ("mlp.fc1", 4 * w, w),
        ("mlp.fc2", w, 4 * w),
    ] {
        put(&format!("{h}.{name}.weight"), &[o, i], 0.02, 0.0)?;
        put(&format!("{h}.{name}.bias"), &[o], 0.02, 0.0)?;
    }
    put(&format!("{h}.layernorm.weight"), &[w], 0.02, 1.0)?;
    put(&format!("{h}.layernorm.bias"), &[w], 0.02, 0.0)?;
    put("text_model.head.weight", &[w, tw], 0.02, 0.0)?;
    put("text_model.head.bias", &[w], 0.02, 0.0)
}
