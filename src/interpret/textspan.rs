//! TEXTSPAN: the texts that span a head's outputs, as clip_text_span's
//! `replace_with_iterative_removal` (compute_complete_text_set.py) picks them.
//!
//! The reference projects the texts R onto the top-r right singular vectors V_r of the head
//! outputs X (uncentred), centres X, then repeatedly picks the text whose projection has the
//! largest (sample) std over images and removes its direction from data and texts
//! (REFERENCE.md §7.2). Everything it needs is in X's Gram matrix: with C = X − μ,
//! std_j² = r_jᵀ CᵀC r_j / (n − 1), and removing t maps CᵀC to P CᵀC P, P = I − t tᵀ/τ. Texts live
//! in span(V_r), so the whole loop runs on r-dimensional coordinates: one pass over the data,
//! then O(M·r²) per pick. The picks, stds and reconstruction equal the reference's.

use super::eigen::symmetric_eigen;
use crate::{Error, Result};

/// Sufficient statistics of one head's outputs: XᵀX and the column sums (f64).
#[derive(Debug, Clone)]
pub struct Gram {
    /// Number of images.
    pub n: usize,
    /// Dimension.
    pub dim: usize,
    /// XᵀX, row-major dim × dim.
    pub xtx: Vec<f64>,
    /// Σ_i X_i.
    pub sum: Vec<f64>,
}

impl Gram {
    /// Statistics of the row-major `n × dim` matrix `x`.
    pub fn from_rows(x: &[f64], dim: usize) -> Self {
        let mut g = Self::empty(dim);
        for row in x.chunks_exact(dim) {
            g.add(row);
        }
        g
    }

    /// Statistics of no rows.
    pub fn empty(dim: usize) -> Self {
        Self {
            n: 0,
            dim,
            xtx: vec![0.0; dim * dim],
            sum: vec![0.0; dim],
        }
    }

    /// Adds one row.
    pub fn add(&mut self, row: &[f64]) {
        let d = self.dim;
        for (i, &a) in row.iter().enumerate() {
            self.sum[i] += a;
            let out = &mut self.xtx[i * d..(i + 1) * d];
            out.iter_mut().zip(row).for_each(|(o, &b)| *o += a * b);
        }
        self.n += 1;
    }

    /// Combines the statistics of two disjoint row sets.
    pub fn merge(mut self, other: &Gram) -> Self {
        self.n += other.n;
        self.xtx
            .iter_mut()
            .zip(&other.xtx)
            .for_each(|(a, b)| *a += b);
        self.sum
            .iter_mut()
            .zip(&other.sum)
            .for_each(|(a, b)| *a += b);
        self
    }

    /// Column means.
    pub fn mean(&self) -> Vec<f64> {
        self.sum.iter().map(|s| s / self.n.max(1) as f64).collect()
    }
}

/// The result of TEXTSPAN for one head.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TextSpan {
    /// Indices of the chosen texts, in pick order.
    pub chosen: Vec<usize>,
    /// The std over images of each chosen (projected, deflated) text, when it won its round.
    pub std: Vec<f64>,
    /// Variance explained after k picks: 1 − ‖C_k‖²/‖C_0‖².
    pub variance_explained: Vec<f64>,
    /// The removed directions t_k (dim values each, mutually orthogonal).
    #[serde(skip)]
    pub directions: Vec<Vec<f64>>,
    /// Column means of the head outputs.
    #[serde(skip)]
    pub mean: Vec<f64>,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The text (row of `a`, M × r) along which the head's projected statistics `gr` (r × r) have
/// the most variance, and that variance (over `nf − 1`); the first of equals.
fn most_variance(a: &[f64], gr: &[f64], r: usize, nf: f64) -> Option<(usize, f64)> {
    let mut best: Option<(usize, f64)> = None;
    for (j, aj) in a.chunks_exact(r).enumerate() {
        let var: f64 = (0..r)
            .map(|p| aj[p] * dot(&gr[p * r..(p + 1) * r], aj))
            .sum::<f64>()
            / (nf - 1.0);
        if best.is_none_or(|(_, v)| var > v) {
            best = Some((j, var));
        }
    }
    best
}

/// Projects the chosen text's direction `b` (|b|² = `tau`) out of the statistics and of every
/// text: G_r ← Q G_r Q and A ← A Q with Q = I − b bᵀ/τ. Returns the variance taken out, bᵀG_r b/τ
/// (`gb` is scratch for G_r b).
fn project_out(gr: &mut [f64], a: &mut [f64], (b, gb): (&[f64], &mut [f64]), tau: f64) -> f64 {
    let r = b.len();
    for (p, o) in gb.iter_mut().enumerate() {
        *o = dot(&gr[p * r..(p + 1) * r], b);
    }
    let bgb = dot(b, gb);
    for p in 0..r {
        for q in 0..r {
            gr[p * r + q] += -(gb[p] * b[q] + b[p] * gb[q]) / tau + b[p] * b[q] * bgb / (tau * tau);
        }
    }
    for aj in a.chunks_exact_mut(r) {
        let f = dot(aj, b) / tau;
        aj.iter_mut().zip(b).for_each(|(x, &y)| *x -= f * y);
    }
    bgb / tau
}

/// Runs TEXTSPAN on a head's statistics `g` and the unit text embeddings `texts` (row-major
/// M × dim): at most `iters` picks in the top-`rank` subspace. Picking stops early when the
/// texts have no variance left to explain (the subspace is exhausted; the reference would go on
/// picking among rounding noise of 1e-17).
pub fn textspan(g: &Gram, texts: &[f64], rank: usize, iters: usize) -> Result<TextSpan> {
    let d = g.dim;
    if d == 0 || !texts.len().is_multiple_of(d) {
        return Err(Error::Invalid(format!(
            "text embeddings of {} values are not rows of {d}",
            texts.len()
        )));
    }
    if g.n < 2 {
        return Err(Error::Invalid("TEXTSPAN needs at least two images".into()));
    }
    let m = texts.len() / d;
    let r = rank.min(d).min(g.n).max(1);
    // Right singular vectors of X = eigenvectors of XᵀX.
    let (_, vecs) = symmetric_eigen(&g.xtx, d);
    let vr = |k: usize, c: usize| vecs[k * d + c]; // component k of singular vector c
    // Text coordinates in span(V_r): A = R V_r (M × r).
    let mut a: Vec<f64> = texts
        .chunks_exact(d)
        .flat_map(|t| (0..r).map(move |c| (0..d).map(|k| t[k] * vr(k, c)).sum::<f64>()))
        .collect();
    // G = CᵀC = XᵀX − n μ μᵀ, and G_r = V_rᵀ G V_r.
    let mu = g.mean();
    let nf = g.n as f64;
    let gfull: Vec<f64> = (0..d * d)
        .map(|k| g.xtx[k] - nf * mu[k / d] * mu[k % d])
        .collect();
    let total: f64 = (0..d).map(|i| gfull[i * d + i]).sum();
    let mut gv = vec![0.0; d * r]; // G V_r (d × r)
    for i in 0..d {
        for c in 0..r {
            gv[i * r + c] = (0..d).map(|k| gfull[i * d + k] * vr(k, c)).sum();
        }
    }
    let mut gr: Vec<f64> = (0..r * r)
        .map(|k| (0..d).map(|i| vr(i, k / r) * gv[i * r + k % r]).sum())
        .collect();
    let mut out = TextSpan {
        chosen: vec![],
        std: vec![],
        variance_explained: vec![],
        directions: vec![],
        mean: mu,
    };
    let mut residual = total;
    let mut gb = vec![0.0; r];
    for _ in 0..iters.min(m) {
        let Some((j, var)) = most_variance(&a, &gr, r, nf) else {
            break;
        };
        let b = a[j * r..(j + 1) * r].to_vec();
        let tau = dot(&b, &b);
        if tau == 0.0 || var <= 1e-20 * total / (nf - 1.0) {
            break;
        }
        residual -= project_out(&mut gr, &mut a, (&b, &mut gb), tau);
        out.chosen.push(j);
        out.std.push(var.max(0.0).sqrt());
        out.variance_explained.push(if total > 0.0 {
            1.0 - residual / total
        } else {
            0.0
        });
        out.directions.push(
            (0..d)
                .map(|k| (0..r).map(|c| vr(k, c) * b[c]).sum())
                .collect(),
        );
    }
    Ok(out)
}

impl TextSpan {
    /// The reference's reconstruction of `x` (row-major n × dim): μ plus the centred rows'
    /// components along the chosen directions.
    pub fn reconstruct(&self, x: &[f64]) -> Vec<f64> {
        let d = self.mean.len();
        let mut out = Vec::with_capacity(x.len());
        for row in x.chunks_exact(d) {
            let c: Vec<f64> = row.iter().zip(&self.mean).map(|(a, m)| a - m).collect();
            let mut rec = self.mean.clone();
            for t in &self.directions {
                let f = dot(&c, t) / dot(t, t);
                rec.iter_mut().zip(t).for_each(|(o, &v)| *o += f * v);
            }
            out.extend(rec);
        }
        out
    }
}
