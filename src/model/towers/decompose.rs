//! The per-head, per-token and per-MLP direct effects on the normalised image embedding.
//!
//! Ports the convention of clip_text_span's `prs_hook.py` (`_normalize_mlps`,
//! `_normalize_attentions`, `finalize`): ln_post is linearised with the statistics of the
//! image's own final residual r, and each component c with share w is projected as
//! `(γ ⊙ (c − w·μ)/σ + w·β) · P / ‖e‖` (REFERENCE.md §5.3). The shares are 1/K for the pre term and
//! each MLP, 1/(K·T·H) for each (token, head) term, K = 2L + 1; the out_proj bias is split evenly
//! over the T·H terms of its layer.
//!
//! The projection is folded per layer (REFERENCE.md §5.3): `M_l = W_O^l · diag(γ) · P`
//! reshaped (H, d, E), so a head's effect is its CLS-row output (d numbers) times a d × E matrix.

use std::sync::OnceLock;

use candle_core::{D, DType, Tensor};

use super::block::Capture;
use super::dense::Dense;
use super::layers::{LayerNorm, matmul, mean_var};
use super::vision::{Trace, VisionTower};
use crate::Result;
use crate::model::load::config::VisionConfig;

/// What the decomposition reads of a vision tower read at one row: the per-layer map from the
/// merged heads to the residual, and the final LayerNorm and projection.
pub trait Linearised {
    /// Architecture.
    fn cfg(&self) -> &VisionConfig;
    /// Layer `l`'s map from the merged heads (as captured) to the residual, stored (in, out):
    /// out_proj, or EVA-02's sub-LN and projection linearised.
    fn out(&self, l: usize) -> &Dense;
    /// ln_post (γ, β in f32).
    fn ln_post(&self) -> &LayerNorm;
    /// The projection P (D, E) in f32 and its bias (timm's head has one).
    fn proj(&self) -> (&Tensor, Option<&Tensor>);
    /// The unnormalised embedding ln_post(r) · P (+ bias) from the readout residual (B, D).
    fn embed(&self, residual: &Tensor) -> Result<Tensor>;
    /// Layer `l`'s bias part that the readout row gets times the trace's `bias_scale` (a
    /// post-norm block's γ ⊙ C b_P, divided by the row's σ), where it has one.
    fn scaled_bias(&self, _l: usize) -> Option<&Tensor> {
        None
    }
}

impl Linearised for VisionTower {
    fn cfg(&self) -> &VisionConfig {
        &self.cfg
    }
    fn out(&self, l: usize) -> &Dense {
        &self.blocks[l].out
    }
    fn ln_post(&self) -> &LayerNorm {
        &self.ln_post
    }
    fn proj(&self) -> (&Tensor, Option<&Tensor>) {
        (&self.proj, None)
    }
    fn embed(&self, residual: &Tensor) -> Result<Tensor> {
        VisionTower::embed(self, residual)
    }
}

/// Per-image decomposition of a batch.
#[derive(Debug, Clone)]
pub struct Decomposition {
    /// The 0-based layers whose heads are reported, ascending.
    pub layers: Vec<usize>,
    /// Unit image embeddings (B, E).
    pub embedding: Tensor,
    /// Per-head direct effects (B, layers.len(), H, E).
    pub heads: Tensor,
    /// Pre term and MLP direct effects (B, L + 1, E): index 0 the ln_pre CLS row, l + 1 layer l.
    pub mlps: Tensor,
    /// Per-token per-head effects (B, layers.len(), T, H, E), when requested.
    pub tokens: Option<Tensor>,
    /// Every layer's attention total, summed over heads and tokens (B, L, E), when requested
    /// for ablations: Σ_l attn + Σ mlps = embedding.
    pub attn: Option<Tensor>,
    /// Every layer's class-token self term, `compute_ablations.py`'s `cls_attn`: token 0's
    /// effect summed over heads (B, L, E), when requested.
    pub cls: Option<Tensor>,
}

/// Precomputed folds of ln_post's γ, β and the projection P (all f32).
pub struct Folds {
    /// γ · P (E).
    g: Tensor,
    /// β · P (E), plus the projection's bias where it has one (shared out as β is).
    beta_p: Tensor,
    /// diag(γ) · P (D, E).
    gamma_p: Tensor,
    /// Per layer (γ ⊙ b_O) · P (E).
    bias_p: Vec<Tensor>,
    /// Per layer (γ ⊙ the scaled bias) · P (E), where the layer has one.
    scaled_bias_p: Vec<Option<Tensor>>,
    /// Per layer M_l (H, d, E), built on first use.
    heads: Vec<OnceLock<Tensor>>,
}

impl Folds {
    /// Folds the tower's ln_post and projection.
    pub fn new(tower: &dyn Linearised) -> Result<Self> {
        let gamma = &tower.ln_post().weight;
        let (p, p_bias) = tower.proj();
        let row = |v: &Tensor| -> Result<Tensor> { Ok(v.unsqueeze(0)?.matmul(p)?.squeeze(0)?) };
        let gamma_p = p.broadcast_mul(&gamma.unsqueeze(1)?)?;
        let layers = tower.cfg().tower.layers;
        let bias_p = (0..layers)
            .map(|l| row(&(tower.out(l).bias.to_dtype(DType::F32)? * gamma)?))
            .collect::<Result<Vec<_>>>()?;
        let scaled_bias_p = (0..layers)
            .map(|l| tower.scaled_bias(l).map(|b| row(&(b * gamma)?)).transpose())
            .collect::<Result<Vec<_>>>()?;
        let beta_p = row(&tower.ln_post().bias)?;
        let beta_p = match p_bias {
            Some(b) => (beta_p + b)?,
            None => beta_p,
        };
        Ok(Self {
            g: row(gamma)?,
            beta_p,
            gamma_p,
            bias_p,
            scaled_bias_p,
            heads: (0..layers).map(|_| OnceLock::new()).collect(),
        })
    }

    /// Layer `l`'s bias folded through ln_post and P, per image (B, E): the constant part, plus
    /// the scaled part times the trace's factor where the layer has one.
    fn bias(&self, trace: &Trace, l: usize, b: usize) -> Result<Tensor> {
        let constant = self.bias_p[l].unsqueeze(0)?;
        match (
            &self.scaled_bias_p[l],
            trace.bias_scale.get(l).and_then(Option::as_ref),
        ) {
            (None, _) => Ok(constant.broadcast_as((b, constant.dim(1)?))?.contiguous()?),
            (Some(part), Some(scale)) => Ok(scale
                .reshape((b, 1))?
                .broadcast_mul(&part.unsqueeze(0)?)?
                .broadcast_add(&constant)?),
            (Some(_), None) => Err(crate::Error::Invalid(format!("layer {l} was not captured"))),
        }
    }

    fn head_matrix(&self, tower: &dyn Linearised, layer: usize) -> Result<&Tensor> {
        if let Some(m) = self.heads[layer].get() {
            return Ok(m);
        }
        let cfg = &tower.cfg().tower;
        // out.weight is W_Oᵀ (D_in, D_out); row block h is head h's d × D slice.
        let wo = tower.out(layer).weight.to_dtype(DType::F32)?;
        let m = wo
            .matmul(&self.gamma_p)?
            .reshape((cfg.heads, cfg.head_dim(), self.g.dim(0)?))?;
        Ok(self.heads[layer].get_or_init(|| m))
    }
}

/// Per-image ln_post statistics.
struct Stats {
    mu: Tensor,
    sigma: Tensor,
    norm: Tensor,
}

impl Stats {
    /// ln_post's statistics of the readout residual `r` (B, D), and the unit embedding (B, E).
    fn of(tower: &dyn Linearised, r: &Tensor) -> Result<(Self, Tensor)> {
        let (mu, var) = mean_var(r)?;
        let sigma = (var + tower.cfg().tower.eps)?.sqrt()?;
        let e = tower.embed(r)?;
        let norm = e.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?;
        let embedding = e.broadcast_div(&norm)?;
        let stats = Self {
            mu: mu.squeeze(1)?,
            sigma: sigma.squeeze(1)?,
            norm: norm.squeeze(1)?,
        };
        Ok((stats, embedding))
    }

    /// `((x − w·μ·g)/σ + w·βP)/‖e‖` for x of shape (B, …, E).
    fn finish(&self, folds: &Folds, x: &Tensor, w: f64) -> Result<Tensor> {
        let rank = x.rank();
        let per_image = |t: &Tensor| -> Result<Tensor> {
            let mut shape = vec![t.dim(0)?];
            shape.resize(rank, 1);
            Ok(t.reshape(shape)?)
        };
        let (mu, sigma, norm) = (
            per_image(&self.mu)?,
            per_image(&self.sigma)?,
            per_image(&self.norm)?,
        );
        let centred = x.broadcast_sub(&mu.broadcast_mul(&(&folds.g * w)?)?)?;
        Ok(centred
            .broadcast_div(&sigma)?
            .broadcast_add(&(&folds.beta_p * w)?)?
            .broadcast_div(&norm)?)
    }
}

/// The pre term and the MLPs' terms (B, L + 1, E), each with share 1/K.
fn mlp_terms(folds: &Folds, stats: &Stats, trace: &Trace, k: f64) -> Result<Tensor> {
    let raw: Vec<&Tensor> = std::iter::once(&trace.pre)
        .chain(trace.mlp_cls.iter())
        .collect();
    let raw = Tensor::stack(&raw, 1)?.contiguous()?; // (B, L+1, D)
    let (b, l1, dm) = raw.dims3()?;
    let proj = raw
        .reshape((b * l1, dm))?
        .matmul(&folds.gamma_p)?
        .reshape((b, l1, ()))?;
    stats.finish(folds, &proj, 1.0 / k)
}

/// A layer's per-(token, head) terms (B, T, H, E) from its class-row attention `a0` (B, H, T)
/// and values `v` (B, H, T, d) through the head matrices `m` (H, d, E), the layer's `bias` (B, E)
/// shared over the T·H terms, each with share 1/(K·T·H).
fn token_terms(
    folds: &Folds,
    stats: &Stats,
    m: &Tensor,
    (a0, v): &(Tensor, Tensor),
    bias: &Tensor,
    k: f64,
) -> Result<Tensor> {
    let (b, h, t, d) = v.dims4()?;
    // (B, H, T, d) → (H, B·T, d) · (H, d, E) → (B, H, T, E), weighted by the CLS attention.
    let vm = v
        .transpose(0, 1)?
        .contiguous()?
        .reshape((h, b * t, d))?
        .matmul(m)?;
    let vm = vm.reshape((h, b, t, ()))?.transpose(0, 1)?;
    let proj = vm
        .broadcast_mul(&a0.unsqueeze(3)?)?
        .broadcast_add(&(bias / (t * h) as f64)?.unsqueeze(1)?.unsqueeze(1)?)?;
    let per_token = stats.finish(folds, &proj, 1.0 / (k * (t * h) as f64))?;
    Ok(per_token.transpose(1, 2)?) // (B, T, H, E)
}

/// What a decomposition is asked for: the layers whose heads it splits, their per-token terms,
/// and every layer's totals for ablations.
#[derive(Debug, Clone, Copy)]
pub struct Wanted<'a> {
    /// The 0-based layers whose heads are reported.
    pub layers: &'a [usize],
    /// Per-token per-head terms of those layers.
    pub tokens: bool,
    /// Every layer's attention total and class-token self term (`Decomposition::attn`,
    /// `Decomposition::cls`).
    pub ablation: bool,
}

/// Which of `n_layers` layers to capture for `wanted`; an ablation captures every layer's heads.
pub fn captures(wanted: Wanted, n_layers: usize) -> Vec<Capture> {
    let Wanted {
        layers,
        tokens,
        ablation,
    } = wanted;
    let kind = if tokens {
        Capture::Tokens
    } else {
        Capture::Heads
    };
    (0..n_layers)
        .map(|l| {
            if layers.contains(&l) {
                kind
            } else if ablation {
                Capture::Heads
            } else {
                Capture::None
            }
        })
        .collect()
}

/// Turns a forward trace into direct effects for the wanted layers (which must have been
/// captured), and for an ablation every layer's attention total and class-token term (all layers
/// captured).
pub fn decompose(
    tower: &dyn Linearised,
    folds: &Folds,
    trace: &Trace,
    wanted: Wanted,
) -> Result<Decomposition> {
    let Wanted {
        layers, ablation, ..
    } = wanted;
    let cfg = tower.cfg();
    let (n_layers, h) = (cfg.tower.layers, cfg.tower.heads);
    let k = (2 * n_layers + 1) as f64;
    let (stats, embedding) = Stats::of(tower, &trace.residual)?;
    let mlps = mlp_terms(folds, &stats, trace, k)?;
    let mut heads = Vec::with_capacity(layers.len());
    let mut tokens = Vec::with_capacity(layers.len());
    for &l in layers {
        let m = folds.head_matrix(tower, l)?;
        let z = trace.head_cls[l]
            .as_ref()
            .ok_or_else(|| crate::Error::Invalid(format!("layer {l} was not captured")))?;
        // (B, H, d) → (H, B, d) · (H, d, E) → (B, H, E)
        let proj = matmul(&z.transpose(0, 1)?.contiguous()?, m)?.transpose(0, 1)?;
        let bias = folds.bias(trace, l, z.dim(0)?)?; // (B, E)
        let proj = proj.broadcast_add(&(&bias / h as f64)?.unsqueeze(1)?)?;
        heads.push(stats.finish(folds, &proj, 1.0 / (k * h as f64))?);
        if let Some(captured) = &trace.tokens[l] {
            tokens.push(token_terms(folds, &stats, m, captured, &bias, k)?);
        }
    }
    let (attn, cls) = if ablation {
        let (a, c) = ablation_terms(tower, folds, trace, &stats)?;
        (Some(a), Some(c))
    } else {
        (None, None)
    };
    let heads = Tensor::stack(&heads, 1)?.contiguous()?;
    let tokens = if tokens.is_empty() {
        None
    } else {
        Some(Tensor::stack(&tokens, 1)?.contiguous()?)
    };
    Ok(Decomposition {
        layers: layers.to_vec(),
        embedding,
        heads,
        mlps,
        tokens,
        attn,
        cls,
    })
}

/// Per layer: the attention total Σ_h (z_h · M_h) + b_O·γP with share 1/K (the sum of the
/// layer's head effects), and the class-token self term Σ_h A[h,0,0]·v_h[0] · M_h + b_O·γP/T
/// with share 1/(K·T) (the sum over heads of token 0's effects), each (B, L, E).
fn ablation_terms(
    tower: &dyn Linearised,
    folds: &Folds,
    trace: &Trace,
    stats: &Stats,
) -> Result<(Tensor, Tensor)> {
    let cfg = tower.cfg();
    let (n_layers, t) = (cfg.tower.layers, cfg.tokens());
    let k = (2 * n_layers + 1) as f64;
    let (mut attn, mut cls) = (Vec::with_capacity(n_layers), Vec::with_capacity(n_layers));
    let missing = |l: usize| crate::Error::Invalid(format!("layer {l} was not captured"));
    for l in 0..n_layers {
        let m = folds.head_matrix(tower, l)?;
        let (h, d, e) = m.dims3()?;
        let flat = m.reshape((h * d, e))?;
        let z = trace.head_cls[l].as_ref().ok_or_else(|| missing(l))?;
        let b = z.dim(0)?;
        let bias = folds.bias(trace, l, b)?;
        let total = matmul(&z.reshape((b, h * d))?, &flat)?.broadcast_add(&bias)?;
        attn.push(stats.finish(folds, &total, 1.0 / k)?);
        let c = trace.cls_self[l].as_ref().ok_or_else(|| missing(l))?;
        let own = matmul(&c.reshape((b, h * d))?, &flat)?.broadcast_add(&(&bias / t as f64)?)?;
        cls.push(stats.finish(folds, &own, 1.0 / (k * t as f64))?);
    }
    Ok((
        Tensor::stack(&attn, 1)?.contiguous()?,
        Tensor::stack(&cls, 1)?.contiguous()?,
    ))
}
