//! The bf16 attention kernel against f64.

use super::super::to_bf16;
use super::*;
use crate::model::kernels::f32_ops::tests::ramp;

fn bf(v: f32) -> f64 {
    half::bf16::from_bits(to_bf16(v)).to_f64()
}

/// The attention in f64 for one image and head: each query's probabilities, and its output
/// from the probabilities and v rounded as the tiles read them (`round`) or not.
fn reference(
    qkv: &[f32],
    s: Shape,
    mask: Option<&[f32]>,
    (bi, hi): (usize, usize),
    round: bool,
) -> Vec<(Vec<f64>, Vec<f64>)> {
    let (t, d, dm) = (s.t, s.d, s.heads * s.d);
    let at = |tok: usize, part: usize, i: usize| {
        let x = qkv[(bi * t + tok) * 3 * dm + part * dm + hi * d + i];
        if round { bf(x) } else { x as f64 }
    };
    (0..t)
        .map(|r| {
            let logits: Vec<f64> = (0..t)
                .map(|j| {
                    (0..d).map(|i| at(r, 0, i) * at(j, 1, i)).sum::<f64>()
                        + mask.map_or(0.0, |m| m[r * t + j] as f64)
                })
                .collect();
            let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
            let sum: f64 = e.iter().sum();
            let p: Vec<f64> = e.iter().map(|e| e / sum).collect();
            let pr = |j: usize| if round { bf(p[j] as f32) } else { p[j] };
            let o = (0..d)
                .map(|i| (0..t).map(|j| pr(j) * at(j, 2, i)).sum())
                .collect();
            (p, o)
        })
        .collect()
}

#[test]
fn tiles_match_the_rounded_reference_and_the_first_query_the_exact_one() {
    if super::super::support().is_err() {
        return;
    }
    for (b, t, heads, d, causal) in [
        (2, 37, 3, 24, false),
        (1, 50, 2, 64, true),
        (2, 5, 1, 72, false),
        (1, 70, 2, 32, true),
    ] {
        let s = Shape { b, t, heads, d };
        let dm = heads * d;
        let qkv = ramp(b * t * 3 * dm, 7919, 211, 60.0, 1.75);
        let mask = crate::model::towers::text::causal_mask_values(t);
        let mask = causal.then_some(&mask[..]);
        for keep in [false, true] {
            let mut merged = vec![MaybeUninit::new(f32::NAN); b * t * dm];
            let mut first = vec![MaybeUninit::new(f32::NAN); b * heads * t];
            attention(&qkv, s, mask, &mut merged, keep.then_some(&mut first[..]));
            // SAFETY: initialised above (and written over).
            let merged: Vec<f32> = merged.iter().map(|v| unsafe { v.assume_init() }).collect();
            for (bi, hi) in (0..b).flat_map(|bi| (0..heads).map(move |hi| (bi, hi))) {
                let rounded = reference(&qkv, s, mask, (bi, hi), true);
                let exact = reference(&qkv, s, mask, (bi, hi), false);
                for r in 0..t {
                    let (p, want) = if r == 0 && keep {
                        &exact[0]
                    } else {
                        &rounded[r]
                    };
                    // A probability whose bf16 rounding flipped moves the output by up to
                    // 2⁻⁸ of its share; the first query in f32 by f32 rounding alone.
                    let scale: f64 = (0..t)
                        .map(|j| {
                            p[j] * (0..d)
                                .map(|i| {
                                    qkv[(bi * t + j) * 3 * dm + 2 * dm + hi * d + i].abs() as f64
                                })
                                .fold(0.0, f64::max)
                        })
                        .sum();
                    let tol = if r == 0 && keep { 1e-5 } else { 4e-3 } * scale + 1e-6;
                    for i in 0..d {
                        let got = merged[(bi * t + r) * dm + hi * d + i] as f64;
                        assert!(
                            (got - want[i]).abs() <= tol,
                            "{t},{d} [{bi},{hi}] row {r} col {i}: {got} vs {}",
                            want[i]
                        );
                    }
                }
                if keep {
                    for j in 0..t {
                        // SAFETY: initialised above (and written over).
                        let got = unsafe { first[(bi * heads + hi) * t + j].assume_init() };
                        assert!((got as f64 - exact[0].0[j]).abs() < 1e-6);
                    }
                }
            }
        }
    }
}
