//! Pruning by concept consistency (Madasu, Lal, Howard, arXiv 2503.11103; avinashsai/CCS-CLIP:
//! `src/association.py` names the high-, low- and random-CCS head sets, `src/load_model.py` zeroes
//! their weights): the high-CCS heads, as many low-CCS heads and as many random heads (outside
//! the high ones) are zero-ablated, and the zero-shot top-1 before and after compared. Where a
//! set has more heads than the smaller one, a seeded sample of that size is taken per seed, as
//! the reference's `high-random`/`low-random` do; random heads are drawn per seed.

use super::ablation::{Replace, Selection, ablate};
use super::eval::{Rows, Scorer, Targets};
use crate::interpret::consistency::{Pruned, Pruning};
use crate::model::load::random::SplitMix64;
use crate::{Error, Result};

/// `n` distinct heads of `from` drawn with `rng` (a partial Fisher–Yates shuffle), sorted.
fn sample(rng: &mut SplitMix64, from: &[(usize, usize)], n: usize) -> Vec<(usize, usize)> {
    let mut v = from.to_vec();
    for i in 0..n.min(v.len()) {
        let j = i + (rng.next_u64() % (v.len() - i) as u64) as usize;
        v.swap(i, j);
    }
    v.truncate(n);
    v.sort_unstable();
    v
}

/// Runs the experiment on `rows`: `high` and `low` are the high- and low-CCS heads, `all` every
/// stored head, `seeds` the draws for sampled sets.
pub fn prune_by_ccs(
    rows: &dyn Rows,
    targets: &Targets,
    scorer: &Scorer,
    high: &[(usize, usize)],
    low: &[(usize, usize)],
    all: &[(usize, usize)],
    seeds: u64,
) -> Result<Pruning> {
    let n = high.len().min(low.len());
    if n == 0 {
        return Err(Error::Invalid(format!(
            "pruning by consistency needs high- and low-CCS heads: this interpretation has {} \
             high and {} low",
            high.len(),
            low.len()
        )));
    }
    let seeds = seeds.max(1);
    let others: Vec<(usize, usize)> = all.iter().copied().filter(|h| !high.contains(h)).collect();
    let runs_of = |set: &[(usize, usize)], salt: u64, always: bool| -> Vec<Vec<(usize, usize)>> {
        if set.len() == n && !always {
            return vec![set.to_vec()];
        }
        (0..seeds)
            .map(|s| {
                sample(
                    &mut SplitMix64(s.wrapping_mul(1000).wrapping_add(salt)),
                    set,
                    n,
                )
            })
            .collect()
    };
    let top1_after = |heads: &[(usize, usize)]| -> Result<(f64, f64)> {
        let sel = Selection {
            heads: heads.to_vec(),
            layers: vec![],
            replace: Replace::Zero,
        };
        let r = ablate(rows, targets, scorer, &sel)?;
        Ok((r.before.top1_pct(), r.after.top1_pct()))
    };
    let mut baseline = None;
    let mut sets = vec![];
    for (name, set, salt, always) in [
        ("high", high, 1, false),
        ("low", low, 2, false),
        ("random", &others[..], 3, true),
    ] {
        let runs = runs_of(set, salt, always);
        let mut top1 = vec![];
        for r in &runs {
            let (before, after) = top1_after(r)?;
            baseline = Some(before);
            top1.push(after);
        }
        sets.push(pruned(name, &runs, top1));
    }
    Ok(Pruning {
        baseline_top1: baseline.unwrap_or_default(),
        heads: n,
        seeds,
        sets,
    })
}

/// Set `name`'s row: its runs' heads and top-1 after pruning, their mean and sample deviation.
fn pruned(name: &str, runs: &[Vec<(usize, usize)>], top1: Vec<f64>) -> Pruned {
    let mean = top1.iter().sum::<f64>() / top1.len() as f64;
    let var = if top1.len() > 1 {
        top1.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / (top1.len() - 1) as f64
    } else {
        0.0
    };
    Pruned {
        set: name.to_string(),
        runs: runs
            .iter()
            .map(|r| {
                r.iter()
                    .map(|&(layer, head)| crate::head::HeadRef { layer, head }.to_string())
                    .collect()
            })
            .collect(),
        top1,
        mean,
        std: var.sqrt(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_seeded_distinct_and_sized() {
        let all: Vec<(usize, usize)> = (0..4).flat_map(|l| (0..6).map(move |h| (l, h))).collect();
        let a = sample(&mut SplitMix64(7), &all, 5);
        assert_eq!(
            a,
            sample(&mut SplitMix64(7), &all, 5),
            "same seed, same sample"
        );
        assert_ne!(a, sample(&mut SplitMix64(8), &all, 5));
        let mut d = a.clone();
        d.dedup();
        assert_eq!((a.len(), d.len()), (5, 5));
        assert_eq!(sample(&mut SplitMix64(1), &all[..3], 9).len(), 3);
    }
}
