//! Exact top-k nearest neighbours by dot product, cosine or centred cosine over f16 rows (a head
//! block, or a weighted sum of head blocks), f32 arithmetic, multithreaded over the rows.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use half::f16;
use half::slice::HalfFloatSliceExt;
use rayon::prelude::*;

use crate::{Error, Result};

mod rows;

pub use rows::{Matrix, Rows};

/// How a row is scored against the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Metric {
    /// ⟨row, query⟩.
    #[default]
    Dot,
    /// ⟨row, query⟩ / (‖row‖ ‖query‖); rows of zero norm score 0.
    Cosine,
    /// Cosine after removing the rows' mean ([`Query::centre`], from [`mean_row`]) from every
    /// row: a head's outputs share a large common component (plain cosines are all ≈ 0.999),
    /// and TEXTSPAN centres them too (`compute_text_projection`'s mean removal).
    Centred,
}

impl Metric {
    /// How listings and titles name it (`--json`'s `metric`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Dot => "dot",
            Self::Cosine => "cosine",
            Self::Centred => "centred cosine",
        }
    }
}

/// One neighbour.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Hit {
    /// Row (image) index.
    pub index: usize,
    /// Its score.
    pub score: f32,
}

/// A nearest-neighbour query.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    /// The query vector (dim values).
    pub vector: &'a [f32],
    /// How many neighbours.
    pub k: usize,
    /// The score.
    pub metric: Metric,
    /// One byte per row; rows marked 0 are skipped (e.g. images that failed to decode).
    pub valid: Option<&'a [u8]>,
    /// A row to leave out (e.g. the query image itself).
    pub exclude: Option<usize>,
    /// Subtracted from every row before it is scored ([`Metric::Centred`]: the rows' mean).
    pub centre: Option<&'a [f32]>,
}

#[derive(PartialEq)]
struct Ranked(f32, usize);
impl Eq for Ranked {}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ranked {
    /// Better = higher score, then lower index.
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(other.1.cmp(&self.1))
    }
}

#[derive(Default)]
struct TopK {
    k: usize,
    heap: BinaryHeap<Reverse<Ranked>>,
}

impl TopK {
    fn push(&mut self, score: f32, index: usize) {
        let r = Ranked(score, index);
        if self.heap.len() < self.k {
            self.heap.push(Reverse(r));
        } else if self.heap.peek().is_some_and(|w| r > w.0) {
            self.heap.pop();
            self.heap.push(Reverse(r));
        }
    }
    fn merge(mut self, other: TopK) -> TopK {
        for Reverse(Ranked(s, i)) in other.heap {
            self.push(s, i);
        }
        self
    }
}

/// ⟨a, b⟩ with eight independent accumulators (vectorises well).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// The blocks' (rows, width, rows per piece), checked to agree with each other and with `q`.
fn checked(blocks: &[(&dyn Rows, f32)], q: &Query) -> Result<(usize, usize, usize)> {
    let Some((first, _)) = blocks.first() else {
        return Err(Error::Invalid("nearest neighbours over no block".into()));
    };
    let (n, dim, pr) = (first.rows(), first.dim(), first.piece_rows());
    if blocks
        .iter()
        .any(|(b, _)| b.rows() != n || b.dim() != dim || b.piece_rows() != pr)
    {
        return Err(Error::Invalid(
            "blocks of different shapes cannot be summed".into(),
        ));
    }
    if q.vector.len() != dim || q.centre.is_some_and(|c| c.len() != dim) {
        return Err(Error::Invalid(format!(
            "query of {} values for rows of {dim}",
            q.vector.len()
        )));
    }
    if q.metric == Metric::Centred && q.centre.is_none() {
        return Err(Error::Invalid(
            "a centred cosine needs the rows' mean".into(),
        ));
    }
    Ok((n, dim, pr))
}

/// The `q.k` best rows of Σ_b w_b · block_b (all blocks of the same shape), best first; ties
/// go to the lower index.
pub fn top_k(blocks: &[(&dyn Rows, f32)], q: &Query) -> Result<Vec<Hit>> {
    let (n, dim, pr) = checked(blocks, q)?;
    let qnorm = dot(q.vector, q.vector).sqrt();
    let pieces = n.div_ceil(pr.max(1));
    let init = || {
        (
            TopK {
                k: q.k,
                ..Default::default()
            },
            vec![0f32; dim],
            vec![0f32; dim],
        )
    };
    let best = (0..pieces)
        .into_par_iter()
        .try_fold(init, |(mut top, mut acc, mut tmp), p| -> Result<_> {
            let data: Vec<&[f16]> = blocks
                .iter()
                .map(|(b, _)| b.piece(p))
                .collect::<Result<_>>()?;
            let rows = data[0].len() / dim;
            for r in 0..rows {
                let i = p * pr + r;
                if q.exclude == Some(i) || q.valid.is_some_and(|v| v.get(i) != Some(&1)) {
                    continue;
                }
                for (j, (d, (_, w))) in data.iter().zip(blocks).enumerate() {
                    let row = &d[r * dim..(r + 1) * dim];
                    if j == 0 && *w == 1.0 {
                        row.convert_to_f32_slice(&mut acc);
                    } else {
                        row.convert_to_f32_slice(&mut tmp);
                        let scale = if j == 0 { 0.0 } else { 1.0 };
                        acc.iter_mut()
                            .zip(&tmp)
                            .for_each(|(a, &t)| *a = *a * scale + w * t);
                    }
                }
                if let Some(c) = q.centre {
                    acc.iter_mut().zip(c).for_each(|(a, m)| *a -= m);
                }
                let mut s = dot(&acc, q.vector);
                if q.metric != Metric::Dot {
                    let norm = dot(&acc, &acc).sqrt() * qnorm;
                    s = if norm > 0.0 { s / norm } else { 0.0 };
                }
                top.push(s, i);
            }
            blocks.iter().for_each(|(b, _)| b.release(p));
            Ok((top, acc, tmp))
        })
        .map(|r| r.map(|t| t.0))
        .try_reduce(
            || TopK {
                k: q.k,
                ..Default::default()
            },
            |a, b| Ok(a.merge(b)),
        )?;
    let mut hits: Vec<Hit> = best
        .heap
        .into_iter()
        .map(|Reverse(Ranked(score, index))| Hit { index, score })
        .collect();
    hits.sort_by_key(|h| Reverse(Ranked(h.score, h.index)));
    Ok(hits)
}

/// The mean of the valid rows of Σ_b w_b · block_b (f64 sums), the centre of
/// [`Metric::Centred`].
pub fn mean_row(blocks: &[(&dyn Rows, f32)], valid: Option<&[u8]>) -> Result<Vec<f32>> {
    let Some((first, _)) = blocks.first() else {
        return Err(Error::Invalid("a mean over no block".into()));
    };
    let (n, dim, pr) = (first.rows(), first.dim(), first.piece_rows());
    let pieces = n.div_ceil(pr.max(1));
    let (sum, count) = (0..pieces)
        .into_par_iter()
        .try_fold(
            || (vec![0f64; dim], 0usize, vec![0f32; dim]),
            |(mut sum, mut count, mut tmp), p| -> Result<_> {
                for (j, (b, w)) in blocks.iter().enumerate() {
                    let data = b.piece(p)?;
                    for (r, row) in data.chunks_exact(dim).enumerate() {
                        if valid.is_some_and(|v| v.get(p * pr + r) != Some(&1)) {
                            continue;
                        }
                        row.convert_to_f32_slice(&mut tmp);
                        sum.iter_mut()
                            .zip(&tmp)
                            .for_each(|(s, &t)| *s += f64::from(w * t));
                        count += usize::from(j == 0);
                    }
                    b.release(p);
                }
                Ok((sum, count, tmp))
            },
        )
        .map(|r| r.map(|(s, c, _)| (s, c)))
        .try_reduce(
            || (vec![0f64; dim], 0),
            |(mut a, x), (b, y)| {
                a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
                Ok((a, x + y))
            },
        )?;
    let n = count.max(1) as f64;
    Ok(sum.iter().map(|s| (s / n) as f32).collect())
}

#[cfg(test)]
mod tests;
