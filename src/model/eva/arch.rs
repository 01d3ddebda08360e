//! The timm vision towers clipscope decomposes, by the `timm_model_name` an open_clip config gives:
//! what each name fixes that the weights cannot tell (heads, rotary settings, the block's parts).
//!
//! Values read from timm 1.0 `models/eva.py` (`eva02_*_clip_*` model functions and `Eva.__init__`
//! defaults); the widths, depth and MLP width of a checkpoint are read from its weights.

/// The 2-D rotary embedding's settings (timm `RotaryEmbeddingCat`, `in_pixels=False`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RopeSpec {
    /// `ref_feat_shape`: grids are rescaled to this pretraining grid.
    pub ref_grid: Option<(usize, usize)>,
    /// `rope_grid_offset`.
    pub offset: f64,
    /// `rope_grid_indexing` `xy` (the x coordinate first) rather than `ij`.
    pub xy: bool,
    /// `rope_temperature`.
    pub temperature: f64,
}

/// One timm Eva-family vision tower.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EvaArch {
    /// The timm model name.
    pub name: &'static str,
    /// Attention heads per block.
    pub heads: usize,
    /// The checkpoint's width, depth and MLP width (checked against the weights).
    pub width: usize,
    /// Blocks.
    pub depth: usize,
    /// Hidden width of the MLP.
    pub mlp_dim: usize,
    /// Patch side.
    pub patch: usize,
    /// q, k, v as three projections, k without a bias (`qkv_fused=False`).
    pub separate_qkv: bool,
    /// A LayerNorm on the heads' merged output before the output projection
    /// (`scale_attn_inner`, EVA-02's sub-LN).
    pub sub_ln: bool,
    /// SwiGLU MLP with a LayerNorm on its hidden layer (`swiglu_mlp`, `scale_mlp`).
    pub swiglu: bool,
    /// Rotary embedding.
    pub rope: RopeSpec,
    /// LayerNorm epsilon.
    pub eps: f64,
}

const EVA02_ROPE: RopeSpec = RopeSpec {
    ref_grid: Some((16, 16)),
    offset: 0.0,
    xy: false,
    temperature: 10000.0,
};

/// The EVA-02 CLIP towers (open_clip EVA02-B-16, EVA02-L-14, EVA02-L-14-336).
const KNOWN: &[EvaArch] = &[
    EvaArch {
        name: "eva02_base_patch16_clip_224",
        heads: 12,
        width: 768,
        depth: 12,
        mlp_dim: 2048,
        patch: 16,
        separate_qkv: true,
        sub_ln: true,
        swiglu: true,
        rope: EVA02_ROPE,
        eps: 1e-6,
    },
    EvaArch {
        name: "eva02_large_patch14_clip_224",
        heads: 16,
        width: 1024,
        depth: 24,
        mlp_dim: 2730,
        patch: 14,
        separate_qkv: true,
        sub_ln: true,
        swiglu: true,
        rope: EVA02_ROPE,
        eps: 1e-6,
    },
    EvaArch {
        name: "eva02_large_patch14_clip_336",
        heads: 16,
        width: 1024,
        depth: 24,
        mlp_dim: 2730,
        patch: 14,
        separate_qkv: true,
        sub_ln: true,
        swiglu: true,
        rope: EVA02_ROPE,
        eps: 1e-6,
    },
];

/// The tower a timm model name stands for, when clipscope knows it.
pub fn find(name: &str) -> Option<&'static EvaArch> {
    KNOWN.iter().find(|a| a.name == name)
}

/// The timm model names clipscope knows, for messages.
pub fn names() -> Vec<&'static str> {
    KNOWN.iter().map(|a| a.name).collect()
}
