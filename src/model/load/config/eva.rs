//! The timm vision towers clipscope decomposes, by the `timm_model_name` an open_clip config gives:
//! what each name fixes that the weights cannot tell (heads, rotary settings, the block's parts).
//!
//! Values read from timm 1.0 `models/eva.py` (the `eva02_*_clip_*` and `vit_pe_core_*` model
//! functions and `Eva.__init__` defaults); a checkpoint's widths, depth and MLP widths are read
//! from its weights.

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

/// How a block's q, k, v projections are stored (timm `EvaAttention`, `AttentionRope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QkvLayout {
    /// One `attn.qkv` with its bias (PE-Core, timm's ViT).
    Fused,
    /// One bias-free `attn.qkv` and the `q_bias`, `v_bias` parameters, k unbiased
    /// (`qkv_fused=True` with `qkv_bias`, EVA-02-E).
    FusedQvBias,
    /// `q_proj`, `k_proj`, `v_proj`, k without a bias (`qkv_fused=False`, EVA-02 B and L).
    Separate,
}

/// How the trunk's tokens become one vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvaPool {
    /// The class token's row (`global_pool` token): decomposed over every layer, as CLIP.
    Token,
    /// An attention-pooling head of this many heads over the normalised tokens (`map`, PE-Core):
    /// decomposed at the pool, as SigLIP.
    Map {
        /// The pool's heads.
        heads: usize,
    },
}

impl EvaPool {
    /// open_clip's `timm_pool` for it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Map { .. } => "map",
        }
    }
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
    /// A class token before the patches.
    pub class_token: bool,
    /// The patch conv has a bias.
    pub patch_bias: bool,
    /// A LayerNorm on the embeddings before the blocks (`use_pre_transformer_norm`).
    pub norm_pre: bool,
    /// How q, k and v are stored.
    pub qkv: QkvLayout,
    /// Residual post-norm blocks (`use_post_norm`, EVA-02-E): x + norm1(attn(x)), then
    /// x + norm2(mlp(x)), no LayerNorm before either.
    pub post_norm: bool,
    /// A LayerNorm on the heads' merged output before the output projection
    /// (`scale_attn_inner`, EVA-02's sub-LN).
    pub sub_ln: bool,
    /// SwiGLU MLP with a LayerNorm on its hidden layer (`swiglu_mlp`, `scale_mlp`).
    pub swiglu: bool,
    /// Rotary embedding, where the tower has one.
    pub rope: Option<RopeSpec>,
    /// LayerNorm epsilon.
    pub eps: f64,
    /// Pooling.
    pub pool: EvaPool,
}

const EVA02_ROPE: RopeSpec = RopeSpec {
    ref_grid: Some((16, 16)),
    offset: 0.0,
    xy: false,
    temperature: 10000.0,
};

/// PE-Core's rotary settings: offset 1, x first, on the grid of `side` it was trained at.
const fn pe_rope(side: usize, offset: f64) -> RopeSpec {
    RopeSpec {
        ref_grid: Some((side, side)),
        offset,
        xy: true,
        temperature: 10000.0,
    }
}

/// `base` at one size: its timm name, width, depth, heads, MLP width and patch side.
const fn sized(
    base: EvaArch,
    name: &'static str,
    (width, depth, heads, mlp_dim): (usize, usize, usize, usize),
    patch: usize,
) -> EvaArch {
    EvaArch {
        name,
        heads,
        width,
        depth,
        mlp_dim,
        patch,
        ..base
    }
}

/// A PE-Core tower (`vit_pe_core_*`): fused qkv, GELU MLP, `norm_pre`, an attention pool of 8
/// heads, ε 1e-5.
const fn pe(
    name: &'static str,
    dims: (usize, usize, usize, usize),
    patch: usize,
    class_token: bool,
    rope: RopeSpec,
) -> EvaArch {
    EvaArch {
        class_token,
        rope: Some(rope),
        pool: EvaPool::Map { heads: 8 },
        // timm's ViT's: no patch bias, norm_pre, one qkv, GELU, ε 1e-5.
        ..sized(VIT_L_CLIP, name, dims, patch)
    }
}

/// An EVA-02 CLIP tower (`eva02_*_clip_*`): q, k, v apart, the sub-LN, SwiGLU with its norm, a
/// biased patch conv, rope on the 16 × 16 grid, ε 1e-6, read at the class token.
const fn eva02(name: &'static str, dims: (usize, usize, usize, usize), patch: usize) -> EvaArch {
    EvaArch {
        patch_bias: true,
        norm_pre: false,
        qkv: QkvLayout::Separate,
        sub_ln: true,
        swiglu: true,
        rope: Some(EVA02_ROPE),
        eps: 1e-6,
        // The class token, pre-norm blocks, read at the class token, as timm's ViT.
        ..sized(VIT_L_CLIP, name, dims, patch)
    }
}

/// MobileCLIP 2's ViT (open_clip MobileCLIP2-L-14: timm's `vit_large_patch14_clip_224`, a plain
/// `VisionTransformer` whose names and forward are Eva's without rope).
const VIT_L_CLIP: EvaArch = EvaArch {
    name: "vit_large_patch14_clip_224",
    heads: 16,
    width: 1024,
    depth: 24,
    mlp_dim: 4096,
    patch: 14,
    class_token: true,
    patch_bias: false,
    norm_pre: true,
    qkv: QkvLayout::Fused,
    post_norm: false,
    sub_ln: false,
    swiglu: false,
    rope: None,
    eps: 1e-5,
    pool: EvaPool::Token,
};

/// The EVA-02 CLIP towers (open_clip EVA02-B-16, EVA02-L-14, EVA02-L-14-336, EVA02-E-14), PE-Core's
/// (PE-Core-T-16-384, -S-16-384, -B-16, -L-14-336, -bigG-14-448) and MobileCLIP 2's ViT
/// (MobileCLIP2-L-14: timm's `VisionTransformer`, whose names and forward are Eva's without rope).
const KNOWN: &[EvaArch] = &[
    VIT_L_CLIP,
    pe(
        "vit_pe_core_tiny_patch16_384",
        (192, 12, 3, 768),
        16,
        true,
        pe_rope(24, 1.0),
    ),
    pe(
        "vit_pe_core_small_patch16_384",
        (384, 12, 6, 1536),
        16,
        true,
        pe_rope(24, 1.0),
    ),
    pe(
        "vit_pe_core_base_patch16_224",
        (768, 12, 12, 3072),
        16,
        true,
        pe_rope(14, 1.0),
    ),
    pe(
        "vit_pe_core_large_patch14_336",
        (1024, 24, 16, 4096),
        14,
        true,
        pe_rope(24, 1.0),
    ),
    pe(
        "vit_pe_core_gigantic_patch14_448",
        (1536, 50, 16, 8960),
        14,
        false,
        pe_rope(32, 0.0),
    ),
    eva02("eva02_base_patch16_clip_224", (768, 12, 12, 2048), 16),
    eva02("eva02_large_patch14_clip_224", (1024, 24, 16, 2730), 14),
    eva02("eva02_large_patch14_clip_336", (1024, 24, 16, 2730), 14),
    // EVA-02-E (open_clip EVA02-E-14, -E-14-plus): post-norm blocks, one bias-free qkv with
    // q and v biases, a GELU MLP, absolute positions only.
    EvaArch {
        name: "eva02_enormous_patch14_clip_224",
        width: 1792,
        depth: 64,
        mlp_dim: 15360,
        patch_bias: true,
        norm_pre: false,
        qkv: QkvLayout::FusedQvBias,
        post_norm: true,
        eps: 1e-6,
        ..VIT_L_CLIP
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
