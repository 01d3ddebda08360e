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

/// The `q.k` best rows of Σ_b w_b · block_b (all blocks of the same shape), best first; ties
/// go to the lower index.
pub fn top_k(blocks: &[(&dyn Rows, f32)], q: &Query) -> Result<Vec<Hit>> {
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
mod tests {
    use super::*;

    fn brute(rows: &[Vec<f64>], w: &[f64], q: &[f64], k: usize, cosine: bool) -> Vec<usize> {
        let n = rows.len() / w.len();
        let mut s: Vec<(f64, usize)> = (0..n)
            .map(|i| {
                let v: Vec<f64> = (0..q.len())
                    .map(|d| {
                        w.iter()
                            .enumerate()
                            .map(|(b, wb)| wb * rows[b * n + i][d])
                            .sum()
                    })
                    .collect();
                let dotp: f64 = v.iter().zip(q).map(|(a, b)| a * b).sum();
                let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt()
                    * q.iter().map(|a| a * a).sum::<f64>().sqrt();
                (if cosine { dotp / norm } else { dotp }, i)
            })
            .collect();
        s.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        s.into_iter().take(k).map(|x| x.1).collect()
    }

    /// Uniform values in [-shift, 1 - shift) from a 64-bit LCG seeded with `seed`.
    fn lcg(seed: u64, shift: f32) -> impl FnMut() -> f32 {
        let mut state = seed;
        move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) as f32 / (1u64 << 31) as f32) - shift
        }
    }

    #[test]
    fn centred_cosine_equals_brute_force_f64() {
        let (n, dim) = (900, 19);
        let mut rnd = lcg(11, 0.2);
        let data: Vec<f16> = (0..n * dim).map(|_| f16::from_f32(rnd())).collect();
        let q: Vec<f32> = (0..dim).map(|_| rnd()).collect();
        let rows: Vec<Vec<f64>> = data
            .chunks(dim)
            .map(|r| r.iter().map(|x| x.to_f64()).collect())
            .collect();
        let mut valid = vec![1u8; n];
        valid[3] = 0;
        let kept: Vec<&Vec<f64>> = rows
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 3)
            .map(|x| x.1)
            .collect();
        let mean: Vec<f64> = (0..dim)
            .map(|d| kept.iter().map(|r| r[d]).sum::<f64>() / kept.len() as f64)
            .collect();
        let m = Matrix::new(&data, dim).unwrap();
        let got_mean = mean_row(&[(&m, 1.0)], Some(&valid)).unwrap();
        for (a, b) in got_mean.iter().zip(&mean) {
            assert!((f64::from(*a) - b).abs() < 1e-6, "{a} vs {b}");
        }
        let qc: Vec<f64> = q
            .iter()
            .zip(&mean)
            .map(|(&x, m)| f64::from(x) - m)
            .collect();
        let mut want: Vec<(f64, usize)> = rows
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 3)
            .map(|(i, r)| {
                let c: Vec<f64> = r.iter().zip(&mean).map(|(x, m)| x - m).collect();
                let d: f64 = c.iter().zip(&qc).map(|(a, b)| a * b).sum();
                let norm = c.iter().map(|a| a * a).sum::<f64>().sqrt()
                    * qc.iter().map(|a| a * a).sum::<f64>().sqrt();
                (d / norm, i)
            })
            .collect();
        want.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let qc32: Vec<f32> = qc.iter().map(|&x| x as f32).collect();
        let got = top_k(
            &[(&m, 1.0)],
            &Query {
                vector: &qc32,
                k: 10,
                metric: Metric::Centred,
                valid: Some(&valid),
                exclude: None,
                centre: Some(&got_mean),
            },
        )
        .unwrap();
        let want: Vec<usize> = want.iter().take(10).map(|x| x.1).collect();
        assert_eq!(got.iter().map(|h| h.index).collect::<Vec<_>>(), want);
        // Without its centre, a centred cosine is refused rather than computed as another.
        let bare = Query {
            vector: &qc32,
            k: 3,
            metric: Metric::Centred,
            valid: None,
            exclude: None,
            centre: None,
        };
        assert!(top_k(&[(&m, 1.0)], &bare).is_err());
    }

    #[test]
    fn equals_brute_force_f64() {
        let (n, dim) = (2500, 37);
        let mut rnd = lcg(7, 0.5);
        let blocks: Vec<Vec<f16>> = (0..2)
            .map(|_| (0..n * dim).map(|_| f16::from_f32(rnd())).collect())
            .collect();
        let q: Vec<f32> = (0..dim).map(|_| rnd()).collect();
        let rows64: Vec<Vec<f64>> = blocks
            .iter()
            .flat_map(|b| {
                b.chunks(dim)
                    .map(|r| r.iter().map(|x| x.to_f64()).collect::<Vec<_>>())
                    .collect::<Vec<_>>()
            })
            .collect();
        let q64: Vec<f64> = q.iter().map(|&x| x as f64).collect();
        let m: Vec<Matrix> = blocks
            .iter()
            .map(|b| Matrix::new(b, dim).unwrap())
            .collect();
        for (metric, cosine) in [(Metric::Dot, false), (Metric::Cosine, true)] {
            let query = Query {
                vector: &q,
                k: 10,
                metric,
                valid: None,
                exclude: None,
                centre: None,
            };
            let one = top_k(&[(&m[0], 1.0)], &query).unwrap();
            let want: Vec<usize> = brute(&rows64[..n], &[1.0], &q64, 10, cosine);
            assert_eq!(one.iter().map(|h| h.index).collect::<Vec<_>>(), want);
            let two = top_k(&[(&m[0], 0.5), (&m[1], 0.5)], &query).unwrap();
            let want = brute(&rows64, &[0.5, 0.5], &q64, 10, cosine);
            assert_eq!(two.iter().map(|h| h.index).collect::<Vec<_>>(), want);
        }
        let mut valid = vec![1u8; n];
        let best = top_k(
            &[(&m[0], 1.0)],
            &Query {
                vector: &q,
                k: 1,
                metric: Metric::Dot,
                valid: None,
                exclude: None,
                centre: None,
            },
        )
        .unwrap()[0]
            .index;
        valid[best] = 0;
        let q2 = Query {
            vector: &q,
            k: 3,
            metric: Metric::Dot,
            valid: Some(&valid),
            exclude: None,
            centre: None,
        };
        assert!(
            top_k(&[(&m[0], 1.0)], &q2)
                .unwrap()
                .iter()
                .all(|h| h.index != best)
        );
    }
}
