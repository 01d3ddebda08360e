//! SigLIP's multihead attention-pooling head (MAP) and its exact decomposition.
//!
//! Ports transformers' `SiglipMultiheadAttentionPoolingHead.forward` (modeling_siglip.py): a
//! learned probe attends over the post-LayerNorm tokens x through `nn.MultiheadAttention`, and an
//! MLP adds to the result: p = a + MLP(LN(a)), a = Σ_h Σ_j A[h,j] v_hj W_O,h + b_O. The
//! decomposition is that of clip_text_span's `compute_siglip.py` (hooks on
//! `pooling_head.attention.out.post` and `pooling_head.mlp_output`), with the out_proj bias split
//! evenly over the T·H (token, head) terms as the CLIP path does, and every term divided by ‖p‖
//! so that Σ heads + MLP = p / ‖p‖. SigLIP has no projection after the head.

use candle_core::{D, Tensor};

use crate::Result;
use crate::model::config::{Activation, TowerConfig};
use crate::model::layers::{Dense, LayerNorm, matmul, softmax};
use crate::model::weights::Weights;

/// The pooling head's weights (all f32).
pub struct PoolingHead {
    /// The probe's query q = (probe · W_q + b_q) · d^-1/2, as (1, H, 1, d).
    query: Tensor,
    /// Keys and values, one projection (D → 2D).
    kv: Dense,
    /// out_proj stored (in, out).
    out: Dense,
    layernorm: LayerNorm,
    fc1: Dense,
    fc2: Dense,
    heads: usize,
    activation: Activation,
}

/// The pooling head's output and its parts for a batch.
pub struct Pooled {
    /// pooler_output p (B, E).
    pub output: Tensor,
    /// ‖p‖ (B, 1).
    pub norm: Tensor,
    /// Per-head outputs before out_proj, z_h = Σ_j A[h,j] v_hj (B, H, d).
    pub z: Tensor,
    /// The probe's attention (B, H, T).
    pub attention: Tensor,
    /// Values (B, H, T, d).
    pub values: Tensor,
    /// The MLP term MLP(LN(a)) (B, E), fc2's bias included.
    pub mlp: Tensor,
}

impl PoolingHead {
    /// Loads `{prefix}.probe`, `.attention.*`, `.layernorm`, `.mlp.*`.
    pub fn load(w: &Weights, prefix: &str, cfg: &TowerConfig) -> Result<Self> {
        let f32 = candle_core::DType::F32;
        let (dm, d) = (cfg.width, cfg.head_dim());
        let p = |s: &str| format!("{prefix}.{s}");
        let in_w = w.get_as(&p("attention.in_proj_weight"), &[3 * dm, dm], f32)?;
        let in_b = w.get_as(&p("attention.in_proj_bias"), &[3 * dm], f32)?;
        let probe = w.get_as(&p("probe"), &[1, 1, dm], f32)?.reshape((1, dm))?;
        let q = Dense::from_torch(&in_w.narrow(0, 0, dm)?, in_b.narrow(0, 0, dm)?)?;
        let scale = (d as f64).powf(-0.5);
        let query = (q.forward(&probe)? * scale)?.reshape((1, cfg.heads, 1, d))?;
        let kv = Dense::from_torch(&in_w.narrow(0, dm, 2 * dm)?, in_b.narrow(0, dm, 2 * dm)?)?;
        let dense = |name: &str, i: usize, o: usize| -> Result<Dense> {
            Dense::from_torch(
                &w.get_as(&p(&format!("{name}.weight")), &[o, i], f32)?,
                w.get_as(&p(&format!("{name}.bias")), &[o], f32)?,
            )
        };
        Ok(Self {
            query,
            kv,
            out: dense("attention.out_proj", dm, dm)?,
            layernorm: LayerNorm::load(w, &p("layernorm"), dm, cfg.eps)?,
            fc1: dense("mlp.fc1", dm, cfg.mlp_dim)?,
            fc2: dense("mlp.fc2", cfg.mlp_dim, dm)?,
            heads: cfg.heads,
            activation: cfg.activation,
        })
    }

    /// Runs the head on x (B, T, D), f32.
    pub fn forward(&self, x: &Tensor) -> Result<Pooled> {
        let (b, t, dm) = x.dims3()?;
        let (h, d) = (self.heads, dm / self.heads);
        let kv = self
            .kv
            .forward(&x.reshape((b * t, dm))?)?
            .reshape((b, t, 2, h, d))?
            .permute((2, 0, 3, 1, 4))?
            .contiguous()?; // (2, B, H, T, d)
        let (k, values) = (kv.get(0)?, kv.get(1)?);
        // q_h · k_hj for every image, head and token → (B, H, T).
        let logits = k.broadcast_mul(&self.query)?.sum(D::Minus1)?;
        let attention = softmax(&logits)?;
        let z = matmul(&attention.unsqueeze(2)?.contiguous()?, &values)?.squeeze(2)?; // (B, H, d)
        let a = self.out.forward(&z.reshape((b, dm))?)?;
        let hidden = self.layernorm.forward(&a)?;
        let mlp = self.fc2.forward(&self.fc1.forward_with(
            &hidden,
            Some(self.activation),
            None,
        )?)?;
        let output = (&a + &mlp)?;
        let norm = output.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?;
        Ok(Pooled {
            output,
            norm,
            z,
            attention,
            values,
            mlp,
        })
    }

    /// W_O reshaped (H, d, E): head h's d × E slice of out_proj.
    fn head_matrix(&self) -> Result<Tensor> {
        let (dm, e) = self.out.weight.dims2()?;
        Ok(self.out.weight.reshape((self.heads, dm / self.heads, e))?)
    }

    /// Per-head direct effects on the unit embedding (B, H, E): (z_h W_O,h + b_O / H) / ‖p‖.
    pub fn heads(&self, p: &Pooled) -> Result<Tensor> {
        let h = self.heads;
        let m = self.head_matrix()?;
        // (H, B, d) · (H, d, E) → (B, H, E)
        let per = matmul(&p.z.transpose(0, 1)?.contiguous()?, &m)?.transpose(0, 1)?;
        Ok(per
            .broadcast_add(&(&self.out.bias / h as f64)?)?
            .broadcast_div(&p.norm.unsqueeze(2)?)?)
    }

    /// Per-token per-head direct effects (B, T, H, E):
    /// (A[h,j] v_hj W_O,h + b_O / (T·H)) / ‖p‖.
    pub fn tokens(&self, p: &Pooled) -> Result<Tensor> {
        let (b, h, t, d) = p.values.dims4()?;
        let m = self.head_matrix()?;
        let vm = matmul(
            &p.values
                .transpose(0, 1)?
                .contiguous()?
                .reshape((h, b * t, d))?,
            &m,
        )?
        .reshape((h, b, t, ()))?
        .transpose(0, 1)?; // (B, H, T, E)
        let per = vm
            .broadcast_mul(&p.attention.unsqueeze(3)?)?
            .broadcast_add(&(&self.out.bias / (t * h) as f64)?)?
            .broadcast_div(&p.norm.unsqueeze(2)?.unsqueeze(3)?)?;
        Ok(per.transpose(1, 2)?.contiguous()?)
    }
}
