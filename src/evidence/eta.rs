//! The share of a head's effect variance that a known image property explains (η², between-group
//! over total sum of squares, summed over the E dimensions), and how the head's top images agree.

use half::f16;
use half::slice::HalfFloatSliceExt;
use serde::{Deserialize, Serialize};

use super::Attribute;
use crate::Result;
use crate::store::Block;

/// The share of the way from chance to perfect at which the model names a property well enough
/// for the images' evidence of that property to count: a quarter (a model that names a
/// property at all of these images gets there; one that never learned its words, or sees
/// images unlike its own, stays near 0).
pub const FIT_TRUST: f64 = 0.25;

/// What one known image property explains of one head's effects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropertyEvidence {
    /// The property (`color`, `count`, …, `class`, `group`).
    pub property: String,
    /// η²: between-group over total sum of squares of the head's effects (over E dimensions).
    pub eta2: f64,
    /// What η² is expected to be from chance alone with this many groups and images:
    /// (k − 1) / (n − 1).
    pub chance: f64,
    /// Images with a value of the property.
    pub images: usize,
    /// Its distinct values among them.
    pub groups: usize,
    /// The value most common among the head's top images along its first text, and its share
    /// of those top images that have a value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top: Option<(String, f64)>,
    /// How well the model names this property of these images, 0–1 from chance to perfect
    /// zero-shot (docs/METRICS.md); `None` where not measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fit: Option<f64>,
}

impl PropertyEvidence {
    /// η² corrected for chance (ε² = 1 − (1 − η²)(n − 1)/(n − k)), at least 0: what the labels
    /// weigh, so that a property of many small groups is not favoured.
    pub fn adjusted(&self) -> f64 {
        let (n, k) = (self.images as f64, self.groups as f64);
        if n <= k {
            return 0.0;
        }
        (1.0 - (1.0 - self.eta2) * (n - 1.0) / (n - k)).clamp(0.0, 1.0)
    }

    /// Whether the model names this property of these images well enough (a fit of at least
    /// [`FIT_TRUST`], or none measured) for its evidence to speak for the head.
    pub fn trusted(&self) -> bool {
        self.fit.is_none_or(|f| f >= FIT_TRUST)
    }
}

/// Per-group sums of one property, gathered in one pass.
struct Groups {
    sums: Vec<f64>,
    sumsq: Vec<f64>,
    counts: Vec<usize>,
}

/// The evidence of every attribute for the head whose effects are `block` (valid rows only).
/// `direction` (unit text embedding, E) picks the head's `top_k` images for the agreement.
pub fn evidence(
    block: &Block,
    valid: &[u8],
    attrs: &[Attribute],
    direction: Option<&[f32]>,
    top_k: usize,
) -> Result<Vec<PropertyEvidence>> {
    let d = block.dim();
    let mut groups: Vec<Groups> = attrs
        .iter()
        .map(|a| Groups {
            sums: vec![0.0; a.values.len() * d],
            sumsq: vec![0.0; a.values.len()],
            counts: vec![0; a.values.len()],
        })
        .collect();
    let mut along: Vec<(f32, usize)> = vec![];
    let mut buf = vec![0f32; d];
    for p in 0..block.pieces() {
        let piece: &[f16] = block.piece(p)?;
        for (r, row) in piece.chunks_exact(d).enumerate() {
            let i = p * block.piece_rows() + r;
            if valid.get(i) != Some(&1) {
                continue;
            }
            row.convert_to_f32_slice(&mut buf);
            if let Some(dir) = direction {
                along.push((buf.iter().zip(dir).map(|(a, b)| a * b).sum(), i));
            }
            let sq: f64 = buf.iter().map(|&v| v as f64 * v as f64).sum();
            for (a, g) in attrs.iter().zip(&mut groups) {
                let Some(v) = a.of_image.get(i).copied().flatten() else {
                    continue;
                };
                let v = v as usize;
                g.counts[v] += 1;
                g.sumsq[v] += sq;
                g.sums[v * d..(v + 1) * d]
                    .iter_mut()
                    .zip(&buf)
                    .for_each(|(s, &x)| *s += x as f64);
            }
        }
        block.release(p);
    }
    along.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let top: Vec<usize> = along.iter().take(top_k).map(|x| x.1).collect();
    Ok(attrs
        .iter()
        .zip(&groups)
        .filter_map(|(a, g)| {
            let (ss_b, ss_t, n, k) = sums_of_squares(g, d)?;
            let eta2 = if ss_t > 0.0 {
                (ss_b / ss_t).clamp(0.0, 1.0)
            } else {
                0.0
            };
            Some(PropertyEvidence {
                property: a.name.clone(),
                eta2,
                chance: (k as f64 - 1.0) / (n as f64 - 1.0),
                images: n,
                groups: k,
                top: agreement(a, &top),
                fit: None,
            })
        })
        .collect())
}

/// (between-group SS, total SS, images, groups), or `None` under two groups or under two
/// images a group on average (too few to say anything: one image a group gives η² = 1).
fn sums_of_squares(g: &Groups, d: usize) -> Option<(f64, f64, usize, usize)> {
    let n: usize = g.counts.iter().sum();
    let k = g.counts.iter().filter(|&&c| c > 0).count();
    if k < 2 || n < 2 * k {
        return None;
    }
    let mut total = vec![0.0f64; d];
    let mut between = 0.0;
    for (v, &c) in g.counts.iter().enumerate().filter(|x| *x.1 > 0) {
        let s = &g.sums[v * d..(v + 1) * d];
        total.iter_mut().zip(s).for_each(|(t, x)| *t += x);
        between += s.iter().map(|x| x * x).sum::<f64>() / c as f64;
    }
    let grand = total.iter().map(|x| x * x).sum::<f64>() / n as f64;
    let sumsq: f64 = g.sumsq.iter().sum();
    Some((between - grand, sumsq - grand, n, k))
}

/// The most common value of `a` among images `top` (those that have one), and its share.
fn agreement(a: &Attribute, top: &[usize]) -> Option<(String, f64)> {
    let vals: Vec<u32> = top
        .iter()
        .filter_map(|&i| a.of_image.get(i).copied().flatten())
        .collect();
    if vals.len() < 3 {
        return None;
    }
    let mut counts = vec![0usize; a.values.len()];
    vals.iter().for_each(|&v| counts[v as usize] += 1);
    let (best, n) = counts
        .iter()
        .enumerate()
        .max_by_key(|&(v, n)| (*n, std::cmp::Reverse(v)))?;
    Some((a.values[best].clone(), *n as f64 / vals.len() as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// η² by its definition, in f64, on rows given directly.
    fn eta2_direct(rows: &[Vec<f64>], groups: &[usize]) -> f64 {
        let d = rows[0].len();
        let n = rows.len() as f64;
        let mean: Vec<f64> = (0..d)
            .map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / n)
            .collect();
        let total: f64 = rows
            .iter()
            .map(|r| {
                r.iter()
                    .zip(&mean)
                    .map(|(x, m)| (x - m).powi(2))
                    .sum::<f64>()
            })
            .sum();
        let k = groups.iter().max().unwrap() + 1;
        let mut between = 0.0;
        for g in 0..k {
            let mine: Vec<&Vec<f64>> = rows
                .iter()
                .zip(groups)
                .filter(|x| *x.1 == g)
                .map(|x| x.0)
                .collect();
            let m = mine.len() as f64;
            for j in 0..d {
                let gm = mine.iter().map(|r| r[j]).sum::<f64>() / m;
                between += m * (gm - mean[j]).powi(2);
            }
        }
        between / total
    }

    #[test]
    fn sums_of_squares_equal_the_definition() {
        let d = 3;
        let mut s = 7u64;
        let mut next = || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
            (s >> 40) as f64 / (1u64 << 24) as f64 - 0.5
        };
        let groups: Vec<usize> = (0..50).map(|i| i % 4).collect();
        let rows: Vec<Vec<f64>> = groups
            .iter()
            .map(|&g| {
                (0..d)
                    .map(|j| next() + if j == 0 { g as f64 } else { 0.0 })
                    .collect()
            })
            .collect();
        let mut g = Groups {
            sums: vec![0.0; 4 * d],
            sumsq: vec![0.0; 4],
            counts: vec![0; 4],
        };
        for (r, &v) in rows.iter().zip(&groups) {
            g.counts[v] += 1;
            g.sumsq[v] += r.iter().map(|x| x * x).sum::<f64>();
            r.iter()
                .enumerate()
                .for_each(|(j, x)| g.sums[v * d + j] += x);
        }
        let (b, t, n, k) = sums_of_squares(&g, d).unwrap();
        assert_eq!((n, k), (50, 4));
        let want = eta2_direct(&rows, &groups);
        assert!((b / t - want).abs() < 1e-12, "{} vs {want}", b / t);
        assert!(want > 0.8, "the planted group shift dominates: {want}");
        let e = PropertyEvidence {
            property: "x".into(),
            eta2: 0.1,
            chance: 3.0 / 49.0,
            images: 50,
            groups: 4,
            top: None,
            fit: None,
        };
        assert!((e.adjusted() - (1.0 - 0.9 * 49.0 / 46.0)).abs() < 1e-12);
    }
}
