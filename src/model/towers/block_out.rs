//! What a residual block is asked for and what it gives back: which query rows it computes,
//! what of its attention it keeps, and its output with the decomposition's captures.

use candle_core::Tensor;

/// What to keep from a block's attention besides its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capture {
    /// Nothing.
    None,
    /// The per-head CLS-row output `A[h,0,:] · V_h` (B, H, d).
    Heads,
    /// Also the CLS attention row (B, H, T) and the values (B, H, T, d).
    Tokens,
}

/// The query rows a block computes and the readout row its per-token captures describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rows {
    /// Every query; the readout is row 0 (the class token, or a text tower's first).
    All,
    /// The class token's query alone: the last layer of a tower read at its class token needs
    /// nothing else.
    ClassOnly,
    /// Every query; the readout is the mean of rows 1.. (the patches of a CLIPA, whose image
    /// embedding is ln_post of their mean).
    PatchMean,
}

/// What a block returns.
pub struct BlockOut {
    /// The residual stream after the block: (B, T, D), or (B, 1, D) with [`Rows::ClassOnly`].
    pub x: Tensor,
    /// The MLP output at the readout row, bias included (B, D).
    pub mlp_cls: Tensor,
    /// Per-head readout-row outputs before W_O (B, H, d), when captured.
    pub head_cls: Option<Tensor>,
    /// The readout row of the attention (B, H, T) and the values (B, H, T, d), when captured.
    pub tokens: Option<(Tensor, Tensor)>,
    /// Per-head term of the readout row attending to the class token, `A[h,r,0] · V_h[0]`
    /// (B, H, d), whenever the layer is captured (the class-token ablation of
    /// `compute_ablations.py`).
    pub cls_self: Option<Tensor>,
    /// The per-image factor (B) of the part of the layer's bias that the readout row gets
    /// scaled (a post-norm block's 1/σ), when captured; `None` for a constant bias.
    pub bias_scale: Option<Tensor>,
}
