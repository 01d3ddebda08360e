//! The multihead attention-pooling head (MAP) of SigLIP and PE-Core, and its exact decomposition.
//!
//! Ports transformers' `SiglipMultiheadAttentionPoolingHead.forward` (modeling_siglip.py) and
//! timm's `AttentionPoolLatent.forward` (`layers/attention_pool.py`, one latent, `pool` token),
//! the same computation under other names: a
//! learned probe attends over the post-LayerNorm tokens x through `nn.MultiheadAttention`, and an
//! MLP adds to the result: p = a + MLP(LN(a)), a = Σ_h Σ_j A[h,j] v_hj W_O,h + b_O. The
//! decomposition is that of clip_text_span's `compute_siglip.py` (hooks on
//! `pooling_head.attention.out.post` and `pooling_head.mlp_output`), with the out_proj bias split
//! evenly over the T·H (token, head) terms as the CLIP path does, and every term divided by ‖p‖
//! so that Σ heads + MLP = p / ‖p‖. SigLIP has no projection after the head; PE-Core's timm
//! trunk has one with a bias (`head`), e = p · P + b: every term goes through P, the bias is a
//! term of its own (the decomposition's row 0, which SigLIP leaves empty), and ‖e‖ divides all.

use candle_core::{D, Tensor};

use crate::model::load::config::{Activation, TowerConfig};
use crate::model::load::weights::Weights;
use crate::model::towers::decompose::{Decomposition, Wanted};
use crate::model::towers::dense::Dense;
use crate::model::towers::layers::{LayerNorm, matmul, softmax};
use crate::{Error, Result};

/// A Linear at `name` (weight (out, in), bias) in f32.
fn dense(w: &Weights, name: &str, i: usize, o: usize) -> Result<Dense> {
    let f32 = candle_core::DType::F32;
    Dense::from_torch(
        &w.get_as(&format!("{name}.weight"), &[o, i], f32)?,
        w.get_as(&format!("{name}.bias"), &[o], f32)?,
    )
}

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
    /// The projection after the head, x · P + b (PE-Core's `head`), when there is one.
    proj: Option<Dense>,
}

/// The pooling head's output and its parts for a batch.
pub struct Pooled {
    /// The embedding: pooler_output p (B, E), or p · P + b with a projection.
    pub output: Tensor,
    /// ‖output‖ (B, 1).
    pub norm: Tensor,
    /// Per-head outputs before out_proj, z_h = Σ_j A[h,j] v_hj (B, H, d).
    pub z: Tensor,
    /// The probe's attention (B, H, T).
    pub attention: Tensor,
    /// Values (B, H, T, d).
    pub values: Tensor,
    /// The MLP term MLP(LN(a)) (B, E), fc2's bias included (through P with a projection).
    pub mlp: Tensor,
    /// The projection's bias b (B, E), zeros without one.
    pub constant: Tensor,
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
        let query = (q.forward(&probe, None, None)? * scale)?.reshape((1, cfg.heads, 1, d))?;
        let kv = Dense::from_torch(&in_w.narrow(0, dm, 2 * dm)?, in_b.narrow(0, dm, 2 * dm)?)?;
        Self::assemble(
            w,
            (prefix, cfg),
            (query, kv),
            ("attention.out_proj", "layernorm"),
            None,
        )
    }

    /// Loads timm's `AttentionPoolLatent` at `{prefix}` (`latent`, `q`, `kv`, `proj`, `norm`,
    /// `mlp.fc1`, `mlp.fc2`) of `cfg`'s width and heads, and the projection `proj` after it.
    pub fn load_timm(w: &Weights, prefix: &str, cfg: &TowerConfig, proj: Dense) -> Result<Self> {
        let f32 = candle_core::DType::F32;
        let (dm, d) = (cfg.width, cfg.head_dim());
        let p = |s: &str| format!("{prefix}.{s}");
        let dense = |name: &str, i: usize, o: usize| dense(w, &p(name), i, o);
        let latent = w.get_as(&p("latent"), &[1, 1, dm], f32)?.reshape((1, dm))?;
        let scale = (d as f64).powf(-0.5);
        let query = (dense("q", dm, dm)?.forward(&latent, None, None)? * scale)?
            .reshape((1, cfg.heads, 1, d))?;
        let kv = dense("kv", dm, 2 * dm)?;
        Self::assemble(w, (prefix, cfg), (query, kv), ("proj", "norm"), Some(proj))
    }

    /// The head from its query and key-value projection, and the parts both layouts share at
    /// `{prefix}`: the output projection and LayerNorm named `(out, norm)`, `mlp.fc1`, `mlp.fc2`.
    fn assemble(
        w: &Weights,
        (prefix, cfg): (&str, &TowerConfig),
        (query, kv): (Tensor, Dense),
        (out, norm): (&str, &str),
        proj: Option<Dense>,
    ) -> Result<Self> {
        let dm = cfg.width;
        let dense = |name: &str, i: usize, o: usize| dense(w, &format!("{prefix}.{name}"), i, o);
        Ok(Self {
            query,
            kv,
            out: dense(out, dm, dm)?,
            layernorm: LayerNorm::load(w, &format!("{prefix}.{norm}"), dm, cfg.eps)?,
            fc1: dense("mlp.fc1", dm, cfg.mlp_dim)?,
            fc2: dense("mlp.fc2", cfg.mlp_dim, dm)?,
            heads: cfg.heads,
            activation: cfg.activation,
            proj,
        })
    }

    /// Runs the head on x (B, T, D), f32.
    pub fn forward(&self, x: &Tensor) -> Result<Pooled> {
        let (b, t, dm) = x.dims3()?;
        let (h, d) = (self.heads, dm / self.heads);
        let kv = self
            .kv
            .forward(&x.reshape((b * t, dm))?, None, None)?
            .reshape((b, t, 2, h, d))?
            .permute((2, 0, 3, 1, 4))?
            .contiguous()?; // (2, B, H, T, d)
        let (k, values) = (kv.get(0)?, kv.get(1)?);
        // q_h · k_hj for every image, head and token → (B, H, T).
        let logits = k.broadcast_mul(&self.query)?.sum(D::Minus1)?;
        let attention = softmax(&logits)?;
        let z = matmul(&attention.unsqueeze(2)?.contiguous()?, &values)?.squeeze(2)?; // (B, H, d)
        let a = self.out.forward(&z.reshape((b, dm))?, None, None)?;
        let hidden = self.layernorm.forward(&a)?;
        let mlp = self.fc1.forward(&hidden, Some(self.activation), None)?;
        let mlp = self.fc2.forward(&mlp, None, None)?;
        let (output, mlp, constant) = match &self.proj {
            Some(pr) => (
                pr.forward(&(&a + &mlp)?, None, None)?,
                matmul(&mlp, &pr.weight)?,
                pr.bias
                    .unsqueeze(0)?
                    .broadcast_as((b, pr.bias.dim(0)?))?
                    .contiguous()?,
            ),
            None => {
                let output = (&a + &mlp)?;
                let zeros = output.zeros_like()?;
                (output, mlp, zeros)
            }
        };
        let norm = output.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?;
        Ok(Pooled {
            output,
            norm,
            z,
            attention,
            values,
            mlp,
            constant,
        })
    }

    /// W_O (· P) reshaped (H, d, E): head h's d × E slice of out_proj (through the projection).
    fn head_matrix(&self) -> Result<Tensor> {
        let wo = match &self.proj {
            Some(pr) => self.out.weight.matmul(&pr.weight)?,
            None => self.out.weight.clone(),
        };
        let (dm, e) = wo.dims2()?;
        Ok(wo.reshape((self.heads, dm / self.heads, e))?)
    }

    /// out_proj's bias (· P) (E).
    fn out_bias(&self) -> Result<Tensor> {
        Ok(match &self.proj {
            Some(pr) => matmul(&self.out.bias.unsqueeze(0)?, &pr.weight)?.squeeze(0)?,
            None => self.out.bias.clone(),
        })
    }

    /// Per-head direct effects on the unit embedding (B, H, E): (z_h W_O,h + b_O / H) / ‖p‖.
    pub fn heads(&self, p: &Pooled) -> Result<Tensor> {
        let h = self.heads;
        let m = self.head_matrix()?;
        // (H, B, d) · (H, d, E) → (B, H, E)
        let per = matmul(&p.z.transpose(0, 1)?.contiguous()?, &m)?.transpose(0, 1)?;
        Ok(per
            .broadcast_add(&(self.out_bias()? / h as f64)?)?
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
            .broadcast_add(&(self.out_bias()? / (t * h) as f64)?)?
            .broadcast_div(&p.norm.unsqueeze(2)?.unsqueeze(3)?)?;
        Ok(per.transpose(1, 2)?.contiguous()?)
    }
}

/// The pooling head's decomposition over `hidden` (B, T, D), the tokens it attends to, in the
/// layout of a CLIP decomposition with one layer: `heads` (B, 1, H, E), `tokens` (B, 1, T, H, E),
/// `mlps` (B, 2, E) with row 0 the projection's bias (empty for SigLIP, which has no term before
/// the head) and row 1 the pooling MLP; with `ablation`, `attn` (B, 1, E) the heads' sum and
/// `cls` (B, 1, E) token 0's share where `class_token` (empty for SigLIP, which has none).
pub fn decompose(
    head: &PoolingHead,
    hidden: &Tensor,
    class_token: bool,
    wanted: Wanted,
) -> Result<Decomposition> {
    let Wanted {
        layers,
        tokens,
        ablation,
    } = wanted;
    if layers != [0] {
        return Err(Error::Invalid(
            "the model decomposes one layer, its attention-pooling head: select layer 0".into(),
        ));
    }
    let pooled = head.forward(hidden)?;
    let embedding = pooled.output.broadcast_div(&pooled.norm)?;
    let heads = head.heads(&pooled)?;
    let mlp = pooled.mlp.broadcast_div(&pooled.norm)?;
    let constant = pooled.constant.broadcast_div(&pooled.norm)?;
    let mlps = Tensor::stack(&[&constant, &mlp], 1)?;
    let per_token = (tokens || ablation)
        .then(|| head.tokens(&pooled))
        .transpose()?;
    let (attn, cls) = match (&per_token, ablation, class_token) {
        (Some(t), true, true) => (
            Some(heads.sum(1)?.unsqueeze(1)?),
            Some(t.narrow(1, 0, 1)?.sum(2)?),
        ),
        (_, true, _) => {
            let total = heads.sum(1)?.unsqueeze(1)?;
            (Some(total.clone()), Some(total.zeros_like()?))
        }
        _ => (None, None),
    };
    let tokens = match tokens {
        true => per_token.map(|t| t.unsqueeze(1)).transpose()?,
        false => None,
    };
    Ok(Decomposition {
        layers: vec![0],
        embedding,
        heads: heads.unsqueeze(1)?.contiguous()?,
        mlps,
        tokens,
        attn,
        cls,
    })
}
