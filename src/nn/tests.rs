//! Exact top-k against brute force in f64, the metrics and the stored-row readers.

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

/// Uniform values in [-shift, 1 - shift) from SplitMix64 seeded with `seed`.
fn uniform(seed: u64, shift: f32) -> impl FnMut() -> f32 {
    let mut rng = crate::model::load::random::SplitMix64(seed);
    move || (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32 - shift
}

#[test]
fn centred_cosine_equals_brute_force_f64() {
    let (n, dim) = (900, 19);
    let mut rnd = uniform(11, 0.2);
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
    let mut rnd = uniform(7, 0.5);
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
