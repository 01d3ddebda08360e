//! The chosen heads and the importance scores against their formulas in f64.

use super::*;

/// Class `c`'s logit over the best other one, for classifier rows `w` and embedding `v`.
fn margin(w: &[Vec<f64>], v: &[f64], c: u32) -> f64 {
    let logits: Vec<f64> = w
        .iter()
        .map(|r| r.iter().zip(v).map(|(a, b)| a * b).sum())
        .collect();
    let other = (0..logits.len())
        .filter(|&i| i != c as usize)
        .map(|i| logits[i])
        .fold(f64::MIN, f64::max);
    logits[c as usize] - other
}

/// compute_use_specific_heads.py's ablation of chosen heads, and the worst group's accuracy.
#[test]
fn chosen_heads_equal_the_formula() {
    let (a, w, y, g) = seeded(300);
    let tg = targets(&y, w.len(), Some(g.clone()), 2);
    let sc = scorer(&w);
    let base: Vec<Vec<f64>> = (0..a.n).map(|k| f64s(&a.base(k).unwrap())).collect();
    // compute_use_specific_heads.py: the chosen heads replaced by their means.
    let chosen = [(2, 0), (2, 1)];
    let r = ablate(
        &a,
        &tg,
        &sc,
        &Selection {
            heads: chosen.to_vec(),
            layers: vec![],
            ..Selection::default()
        },
    )
    .unwrap();
    let means: Vec<Vec<f64>> = chosen
        .iter()
        .map(|&(l, h)| mean(&(0..a.n).map(|k| f64s(a.head(k, l, h))).collect::<Vec<_>>()))
        .collect();
    let after: Vec<Vec<f64>> = (0..a.n)
        .map(|k| {
            chosen
                .iter()
                .zip(&means)
                .fold(base[k].clone(), |v, (&(l, h), m)| {
                    plus(&minus(&v, &f64s(a.head(k, l, h))), m)
                })
        })
        .collect();
    assert_eq!(r.before.top1_pct(), top1(&base, &w, &y));
    assert_eq!(r.after.top1_pct(), top1(&after, &w, &y));
    assert!(
        r.after.top1_pct() < r.before.top1_pct() - 10.0,
        "the planted heads matter"
    );
    // Worst group: the lower of the two groups' accuracies.
    let group_acc = |x: &[Vec<f64>], gi: u32| {
        let ks: Vec<usize> = (0..a.n).filter(|&k| g[k] == gi).collect();
        top1(
            &ks.iter().map(|&k| x[k].clone()).collect::<Vec<_>>(),
            &w,
            &ks.iter().map(|&k| y[k]).collect::<Vec<_>>(),
        )
    };
    let worst = group_acc(&after, 0).min(group_acc(&after, 1));
    assert!((r.after.worst_group_pct().unwrap() - worst).abs() < 1e-9);
}

/// Each head mean-ablated alone: its top-1 change and mean margin drop, in f64.
#[test]
fn importance_equals_the_formulas() {
    let (a, w, y, g) = seeded(300);
    let tg = targets(&y, w.len(), Some(g), 2);
    let sc = scorer(&w);
    let base: Vec<Vec<f64>> = (0..a.n).map(|k| f64s(&a.base(k).unwrap())).collect();
    let heads: Vec<(usize, usize)> = (0..a.l)
        .flat_map(|l| (0..a.h).map(move |h| (l, h)))
        .collect();
    let imp = importance(&a, &tg, &sc, &heads).unwrap();
    let margin = |v: &[f64], c: u32| margin(&w, v, c);
    for hi in &imp.heads {
        let m = mean(
            &(0..a.n)
                .map(|k| f64s(a.head(k, hi.layer, hi.head)))
                .collect::<Vec<_>>(),
        );
        let ab: Vec<Vec<f64>> = (0..a.n)
            .map(|k| plus(&minus(&base[k], &f64s(a.head(k, hi.layer, hi.head))), &m))
            .collect();
        let want_top1 = top1(&ab, &w, &y) - top1(&base, &w, &y);
        assert!(
            (hi.top1_delta - want_top1).abs() < 1e-9,
            "L{}H{}",
            hi.layer,
            hi.head
        );
        let want_drop: f64 = (0..a.n)
            .map(|k| margin(&base[k], y[k]) - margin(&ab[k], y[k]))
            .sum::<f64>()
            / a.n as f64;
        assert!(
            (hi.margin_drop - want_drop).abs() < 1e-4,
            "L{}H{}: {} vs {want_drop}",
            hi.layer,
            hi.head,
            hi.margin_drop
        );
    }
    let top = imp
        .heads
        .iter()
        .max_by(|a, b| a.margin_drop.total_cmp(&b.margin_drop))
        .unwrap();
    assert!(
        top.layer == 2 && top.head < 2,
        "a planted head is the most important: {top:?}"
    );
}
