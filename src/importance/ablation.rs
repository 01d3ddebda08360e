//! Mean-ablation: the table of clip_text_span's `compute_ablations.py`, and chosen heads, layers
//! or a property replaced by their means (`compute_use_specific_heads.py`) or by zero (the
//! pruning of CCS-CLIP's `src/load_model.py`, here of the direct effects only).

use rayon::prelude::*;

use super::eval::{Accuracy, Rows, Scorer, Targets};
use crate::{Error, Result};

/// Images per block of logits (bounds memory to block × variants × C floats).
const BLOCK: usize = 512;

/// `compute_ablations.py`'s numbers, top-1 in percent.
#[derive(Debug, Clone, PartialEq)]
pub struct AblationTable {
    /// Σ attention + Σ MLPs, unablated.
    pub baseline: Accuracy,
    /// Every MLP term (and the pre term) replaced by its mean.
    pub mlps: Accuracy,
    /// Every layer's class-token self term replaced by its mean.
    pub cls: Accuracy,
    /// Both.
    pub mlps_and_cls: Accuracy,
    /// Entry l: attention of layers 0..=l replaced by its mean (cumulative from the first).
    pub layers: Vec<Accuracy>,
}

/// What an ablated component's direct effect is replaced by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Replace {
    /// Its mean over the images (clip_text_span's mean-ablation).
    #[default]
    Mean,
    /// Zero: the component is pruned (CCS-CLIP zeroes the head's weights; removing its direct
    /// effect is the part of that which the decomposition holds, docs/METRICS.md).
    Zero,
}

/// What a custom ablation replaces.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Selection {
    /// Stored heads (layer, head).
    pub heads: Vec<(usize, usize)>,
    /// Whole layers' attention (needs the ablation rows).
    pub layers: Vec<usize>,
    /// What they are replaced by.
    pub replace: Replace,
}

/// Accuracy before and after a custom ablation.
#[derive(Debug, Clone, PartialEq)]
pub struct Ablated {
    /// Unablated.
    pub before: Accuracy,
    /// With the selection mean-ablated.
    pub after: Accuracy,
}

/// Mean over the images of each of `rows`' vectors (`width` values each), in f64.
fn means(
    n: usize,
    width: usize,
    row: &(dyn Fn(usize) -> Result<Vec<f32>> + Sync),
) -> Result<Vec<f32>> {
    let sum = (0..n)
        .into_par_iter()
        .try_fold(
            || vec![0f64; width],
            |mut acc, k| -> Result<Vec<f64>> {
                acc.iter_mut()
                    .zip(row(k)?)
                    .for_each(|(a, v)| *a += f64::from(v));
                Ok(acc)
            },
        )
        .try_reduce(
            || vec![0f64; width],
            |mut a, b| {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                Ok(a)
            },
        )?;
    Ok(sum.iter().map(|s| (s / n.max(1) as f64) as f32).collect())
}

/// Scores `variants` vectors per image (built by `build` from image k) into one [`Accuracy`]
/// each.
fn score(
    targets: &Targets,
    scorer: &Scorer,
    variants: usize,
    build: &(dyn Fn(usize) -> Result<Vec<f32>> + Sync),
) -> Result<Vec<Accuracy>> {
    let (nc, ng) = (targets.class_names.len(), targets.group_names.len());
    let n = targets.index.len();
    let mut acc = vec![Accuracy::new(nc, ng); variants];
    for start in (0..n).step_by(BLOCK) {
        let ks: Vec<usize> = (start..(start + BLOCK).min(n)).collect();
        let x: Vec<Vec<f32>> = ks.par_iter().map(|&k| build(k)).collect::<Result<_>>()?;
        let logits = scorer.logits(&x.concat())?;
        for (j, &k) in ks.iter().enumerate() {
            let group = targets.group(k);
            for (v, a) in acc.iter_mut().enumerate() {
                let row = &logits[(j * variants + v) * scorer.classes..][..scorer.classes];
                a.add(row, targets.classes[k], group);
            }
        }
    }
    Ok(acc)
}

fn add(v: &mut [f32], x: &[f32], sign: f32) {
    v.iter_mut().zip(x).for_each(|(a, &b)| *a += sign * b);
}

/// The table of `compute_ablations.py` on `rows` (which need their ablation rows).
pub fn table(rows: &dyn Rows, targets: &Targets, scorer: &Scorer) -> Result<AblationTable> {
    let depth = rows.depth().ok_or_else(|| {
        Error::Invalid("the layer, MLP and class-token ablations need a format-2 store: index it again with this clipscope".into())
    })?;
    let e = rows.dim();
    let width = (3 * depth + 1) * e;
    let mean = means(rows.len(), width, &|k| rows.ablation(k))?;
    let r = |i: usize| i * e..(i + 1) * e;
    let build = |k: usize| -> Result<Vec<f32>> {
        let a = rows.ablation(k)?;
        let (mut attn, mut no_cls) = (vec![0f32; e], vec![0f32; e]);
        let (mut mlps, mut mlps_mean) = (vec![0f32; e], vec![0f32; e]);
        for l in 0..depth {
            add(&mut attn, &a[r(l)], 1.0);
            add(&mut no_cls, &a[r(l)], 1.0);
            add(&mut no_cls, &a[r(depth + l)], -1.0);
            add(&mut no_cls, &mean[r(depth + l)], 1.0);
        }
        for m in 0..=depth {
            add(&mut mlps, &a[r(2 * depth + m)], 1.0);
            add(&mut mlps_mean, &mean[r(2 * depth + m)], 1.0);
        }
        let sum = |x: &[f32], y: &[f32]| x.iter().zip(y).map(|(a, b)| a + b).collect::<Vec<f32>>();
        let mut out = [
            sum(&attn, &mlps),
            sum(&attn, &mlps_mean),
            sum(&no_cls, &mlps),
            sum(&no_cls, &mlps_mean),
        ]
        .concat();
        // Cumulative: layers 0..=l at their means, the rest as they are.
        let mut cur = attn.clone();
        for l in 0..depth {
            add(&mut cur, &a[r(l)], -1.0);
            add(&mut cur, &mean[r(l)], 1.0);
            out.extend(sum(&cur, &mlps));
        }
        Ok(out)
    };
    let mut acc = score(targets, scorer, 4 + depth, &build)?.into_iter();
    let mut next = || acc.next().unwrap_or_default();
    Ok(AblationTable {
        baseline: next(),
        mlps: next(),
        cls: next(),
        mlps_and_cls: next(),
        layers: (0..depth).map(|_| next()).collect(),
    })
}

/// Accuracy before and after ablating `sel` (heads need to be stored; layers need the ablation
/// rows). A head of a selected layer counts once, with its layer.
pub fn ablate(
    rows: &dyn Rows,
    targets: &Targets,
    scorer: &Scorer,
    sel: &Selection,
) -> Result<Ablated> {
    let e = rows.dim();
    if !sel.layers.is_empty() {
        let depth = rows.depth().ok_or_else(|| {
            Error::Invalid("ablating whole layers needs a format-2 store: index it again with this clipscope, or name heads with --heads".into())
        })?;
        if let Some(&l) = sel.layers.iter().find(|&&l| l >= depth) {
            return Err(Error::Invalid(format!(
                "layer {l} does not exist: the model has layers 0..{}",
                depth - 1
            )));
        }
    }
    let heads: Vec<(usize, usize)> = sel
        .heads
        .iter()
        .copied()
        .filter(|(l, _)| !sel.layers.contains(l))
        .collect();
    let selected = |k: usize| -> Result<Vec<f32>> {
        let mut s = vec![0f32; e];
        for &(l, h) in &heads {
            add(&mut s, &rows.head(k, l, h)?, 1.0);
        }
        if !sel.layers.is_empty() {
            let a = rows.ablation(k)?;
            for &l in &sel.layers {
                add(&mut s, &a[l * e..(l + 1) * e], 1.0);
            }
        }
        Ok(s)
    };
    let mean = match sel.replace {
        Replace::Mean => means(rows.len(), e, &selected)?,
        Replace::Zero => vec![0f32; e],
    };
    let build = |k: usize| -> Result<Vec<f32>> {
        let base = rows.base(k)?;
        let mut after = base.clone();
        add(&mut after, &selected(k)?, -1.0);
        add(&mut after, &mean, 1.0);
        Ok([base, after].concat())
    };
    let mut acc = score(targets, scorer, 2, &build)?.into_iter();
    let before = acc.next().unwrap_or_default();
    Ok(Ablated {
        before,
        after: acc.next().unwrap_or_default(),
    })
}
