//! Each stored head's importance: what mean-ablating that head alone does to the zero-shot
//! classification of a labelled store.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::eval::{Accuracy, Rows, Scorer, Targets, margin};
use crate::Result;

/// Images per block (bounds memory to block × C floats per thread).
const BLOCK: usize = 1024;

/// One head's importance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadImportance {
    /// Model layer.
    pub layer: usize,
    /// Head.
    pub head: usize,
    /// Top-1 accuracy after ablating the head minus before, in points (negative: it helped).
    pub top1_delta: f64,
    /// Mean drop of the correct class's logit margin over the best other class (positive: the
    /// head supported the right answer), in cosine units.
    pub margin_drop: f64,
}

/// Baseline accuracy and every stored head's importance.
#[derive(Debug, Clone, PartialEq)]
pub struct Importance {
    /// Unablated.
    pub baseline: Accuracy,
    /// Per head, in the order asked.
    pub heads: Vec<HeadImportance>,
}

/// Each head's mean over the images, accumulated in f64.
fn head_means(rows: &dyn Rows, heads: &[(usize, usize)]) -> Result<Vec<Vec<f32>>> {
    let n = rows.len();
    let mut means = vec![vec![0f64; rows.dim()]; heads.len()];
    for k in 0..n {
        for (m, &(l, h)) in means.iter_mut().zip(heads) {
            m.iter_mut()
                .zip(rows.head(k, l, h)?)
                .for_each(|(a, v)| *a += f64::from(v));
        }
    }
    Ok(means
        .iter()
        .map(|m| m.iter().map(|s| (s / n.max(1) as f64) as f32).collect())
        .collect())
}

/// Whether class `y` still wins with logits `base + delta`, and its margin over the best other
/// class, in one pass (ties to the lower index, as torch's argmax).
fn ablated(base: &[f32], delta: &[f32], y: usize) -> (bool, f32) {
    let ly = base[y] + delta[y];
    let (mut above, mut other) = (0usize, f32::NEG_INFINITY);
    for (i, (a, b)) in base.iter().zip(delta).enumerate() {
        let v = a + b;
        if i != y {
            above += usize::from(v > ly || (v == ly && i < y));
            other = other.max(v);
        }
    }
    (above == 0, ly - other)
}

/// Mean-ablates each of `heads` alone: logits + (mean(c_h) − c_h) · W, per image.
pub fn importance(
    rows: &dyn Rows,
    targets: &Targets,
    scorer: &Scorer,
    heads: &[(usize, usize)],
) -> Result<Importance> {
    let (n, e, c) = (rows.len(), rows.dim(), scorer.classes);
    let means = head_means(rows, heads)?;
    let (nc, ng) = (targets.class_names.len(), targets.group_names.len());
    let mut baseline = Accuracy::new(nc, ng);
    let mut correct = vec![0usize; heads.len()];
    let mut drop = vec![0f64; heads.len()];
    for start in (0..n).step_by(BLOCK) {
        let ks: Vec<usize> = (start..(start + BLOCK).min(n)).collect();
        let base: Vec<Vec<f32>> = ks.iter().map(|&k| rows.base(k)).collect::<Result<_>>()?;
        let logits = scorer.logits(&base.concat())?;
        let base_margin: Vec<f32> = ks
            .iter()
            .enumerate()
            .map(|(j, &k)| margin(&logits[j * c..][..c], targets.classes[k]))
            .collect();
        for (j, &k) in ks.iter().enumerate() {
            let group = targets.group(k);
            baseline.add(&logits[j * c..][..c], targets.classes[k], group);
        }
        let per_head: Vec<(usize, f64)> = heads
            .par_iter()
            .zip(&means)
            .map(|(&(l, h), mean)| -> Result<(usize, f64)> {
                let mut delta = Vec::with_capacity(ks.len() * e);
                for &k in &ks {
                    let v = rows.head(k, l, h)?;
                    delta.extend(mean.iter().zip(&v).map(|(m, x)| m - x));
                }
                let d = scorer.logits(&delta)?;
                let (mut ok, mut dm) = (0usize, 0f64);
                for (j, &k) in ks.iter().enumerate() {
                    let (base, delta) = (&logits[j * c..][..c], &d[j * c..][..c]);
                    let (right, m) = ablated(base, delta, targets.classes[k] as usize);
                    ok += usize::from(right);
                    dm += f64::from(base_margin[j] - m);
                }
                Ok((ok, dm))
            })
            .collect::<Result<_>>()?;
        for (i, (ok, dm)) in per_head.into_iter().enumerate() {
            correct[i] += ok;
            drop[i] += dm;
        }
    }
    let base_pct = baseline.top1_pct();
    let heads = heads
        .iter()
        .enumerate()
        .map(|(i, &(layer, head))| HeadImportance {
            layer,
            head,
            top1_delta: super::eval::pct(correct[i], n) - base_pct,
            margin_drop: drop[i] / n.max(1) as f64,
        })
        .collect();
    Ok(Importance { baseline, heads })
}
