//! Zero-shot accuracy, the mean-ablation table, chosen ablations and head importance equal
//! clip_text_span's formulas (`compute_ablations.py`, `compute_use_specific_heads.py`,
//! `utils/misc.py:accuracy`) computed here in f64 on the same arrays: the reference fixture's
//! own decomposition, and a larger seeded set with classes and groups.

#[path = "ablation/commands.rs"]
mod commands;
mod common;
#[path = "ablation/importance.rs"]
mod importance;

use candle_core::IndexOp;
use clipscope::importance::{
    Classifier, Replace, Rows, Scorer, Selection, Targets, ablate, importance, table,
};
use clipscope::{Error, Result};
use common::*;

/// Arrays in clip_text_span's layout: heads [N][L][H][E], cls [N][L][E], mlps [N][L+1][E].
struct Arrays {
    n: usize,
    l: usize,
    h: usize,
    e: usize,
    heads: Vec<f32>,
    cls: Vec<f32>,
    mlps: Vec<f32>,
}

impl Arrays {
    fn head(&self, k: usize, l: usize, h: usize) -> &[f32] {
        &self.heads[((k * self.l + l) * self.h + h) * self.e..][..self.e]
    }
    fn attn(&self, k: usize, l: usize) -> Vec<f64> {
        (0..self.e)
            .map(|d| (0..self.h).map(|h| f64::from(self.head(k, l, h)[d])).sum())
            .collect()
    }
    fn cls(&self, k: usize, l: usize) -> &[f32] {
        &self.cls[(k * self.l + l) * self.e..][..self.e]
    }
    fn mlp(&self, k: usize, m: usize) -> &[f32] {
        &self.mlps[(k * (self.l + 1) + m) * self.e..][..self.e]
    }
}

impl Rows for Arrays {
    fn len(&self) -> usize {
        self.n
    }
    fn dim(&self) -> usize {
        self.e
    }
    fn depth(&self) -> Option<usize> {
        Some(self.l)
    }
    fn ablation(&self, k: usize) -> Result<Vec<f32>> {
        let mut v = vec![];
        for l in 0..self.l {
            v.extend(self.attn(k, l).iter().map(|&x| x as f32));
        }
        for l in 0..self.l {
            v.extend_from_slice(self.cls(k, l));
        }
        for m in 0..=self.l {
            v.extend_from_slice(self.mlp(k, m));
        }
        Ok(v)
    }
    fn base(&self, k: usize) -> Result<Vec<f32>> {
        let a = self.ablation(k)?;
        Ok(clipscope::importance::eval::base_of(&a, self.l, self.e))
    }
    fn head(&self, k: usize, layer: usize, head: usize) -> Result<Vec<f32>> {
        if layer >= self.l || head >= self.h {
            return Err(Error::Invalid("no such head".into()));
        }
        Ok(self.head(k, layer, head).to_vec())
    }
}

/// f64 reference: top-1 percent of `x` (per image E vectors) under `w` (C × E).
fn top1(x: &[Vec<f64>], w: &[Vec<f64>], y: &[u32]) -> f64 {
    let ok = x
        .iter()
        .zip(y)
        .filter(|&(v, &c)| {
            let logits: Vec<f64> = w
                .iter()
                .map(|r| r.iter().zip(v.iter()).map(|(a, b)| a * b).sum())
                .collect();
            let best = (0..logits.len())
                .max_by(|&a, &b| logits[a].total_cmp(&logits[b]).then(b.cmp(&a)))
                .unwrap();
            best == c as usize
        })
        .count();
    100.0 * ok as f64 / x.len() as f64
}

fn mean(rows: &[Vec<f64>]) -> Vec<f64> {
    let mut m = vec![0f64; rows[0].len()];
    for r in rows {
        m.iter_mut().zip(r).for_each(|(a, b)| *a += b);
    }
    m.iter().map(|v| v / rows.len() as f64).collect()
}

fn f64s(x: &[f32]) -> Vec<f64> {
    x.iter().map(|&v| f64::from(v)).collect()
}

fn plus(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x + y).collect()
}

fn minus(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x - y).collect()
}

/// compute_ablations.py, line by line, in f64.
fn reference_table(a: &Arrays, w: &[Vec<f64>], y: &[u32]) -> Vec<f64> {
    let n = a.n;
    let attn: Vec<Vec<Vec<f64>>> = (0..n)
        .map(|k| (0..a.l).map(|l| a.attn(k, l)).collect())
        .collect();
    let mlps: Vec<Vec<Vec<f64>>> = (0..n)
        .map(|k| (0..=a.l).map(|m| f64s(a.mlp(k, m))).collect())
        .collect();
    let cls: Vec<Vec<Vec<f64>>> = (0..n)
        .map(|k| (0..a.l).map(|l| f64s(a.cls(k, l))).collect())
        .collect();
    let sum = |v: &[Vec<f64>]| v.iter().fold(vec![0f64; a.e], |s, x| plus(&s, x));
    let mlp_mean: Vec<Vec<f64>> = (0..=a.l)
        .map(|m| mean(&mlps.iter().map(|r| r[m].clone()).collect::<Vec<_>>()))
        .collect();
    let cls_mean: Vec<Vec<f64>> = (0..a.l)
        .map(|l| mean(&cls.iter().map(|r| r[l].clone()).collect::<Vec<_>>()))
        .collect();
    let attn_mean: Vec<Vec<f64>> = (0..a.l)
        .map(|l| mean(&attn.iter().map(|r| r[l].clone()).collect::<Vec<_>>()))
        .collect();
    let baseline: Vec<Vec<f64>> = (0..n)
        .map(|k| plus(&sum(&attn[k]), &sum(&mlps[k])))
        .collect();
    let mlps_abl: Vec<Vec<f64>> = (0..n)
        .map(|k| plus(&sum(&attn[k]), &sum(&mlp_mean)))
        .collect();
    let no_cls: Vec<Vec<f64>> = (0..n)
        .map(|k| {
            sum(&(0..a.l)
                .map(|l| plus(&minus(&attn[k][l], &cls[k][l]), &cls_mean[l]))
                .collect::<Vec<_>>())
        })
        .collect();
    let cls_abl: Vec<Vec<f64>> = (0..n).map(|k| plus(&no_cls[k], &sum(&mlps[k]))).collect();
    let both: Vec<Vec<f64>> = (0..n).map(|k| plus(&no_cls[k], &sum(&mlp_mean))).collect();
    let mut out = vec![
        top1(&baseline, w, y),
        top1(&mlps_abl, w, y),
        top1(&cls_abl, w, y),
        top1(&both, w, y),
    ];
    for layer in 0..a.l {
        let cur: Vec<Vec<f64>> = (0..n)
            .map(|k| {
                let means = sum(&attn_mean[..=layer]);
                let rest = sum(&attn[k][layer + 1..]);
                plus(&plus(&means, &rest), &sum(&mlps[k]))
            })
            .collect();
        out.push(top1(&cur, w, y));
    }
    out
}

fn targets(y: &[u32], classes: usize, groups: Option<Vec<u32>>, ng: usize) -> Targets {
    Targets {
        index: (0..y.len()).collect(),
        classes: y.to_vec(),
        groups,
        class_names: (0..classes).map(|c| format!("c{c}")).collect(),
        group_names: (0..ng).map(|g| format!("g{g}")).collect(),
    }
}

fn scorer(w: &[Vec<f64>]) -> Scorer {
    let c = Classifier {
        classes: (0..w.len()).map(|i| format!("c{i}")).collect(),
        dim: w[0].len(),
        weights: w.iter().flatten().map(|&v| v as f32).collect(),
    };
    Scorer::new(&c).unwrap()
}

fn fixture_arrays() -> Arrays {
    let r = reference("tiny-clip-hf");
    let (n, l, h, e) = r["heads"].dims4().unwrap();
    let v = |t: &candle_core::Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    Arrays {
        n,
        l,
        h,
        e,
        heads: v(&r["heads"]),
        cls: v(&r["tokens"].i((.., .., 0)).unwrap().sum(2).unwrap()),
        mlps: v(&r["mlps"]),
    }
}

/// A seeded set: N images, class signal planted in some heads, groups, a random classifier.
fn seeded(n: usize) -> (Arrays, Vec<Vec<f64>>, Vec<u32>, Vec<u32>) {
    let (l, h, e, c) = (3, 4, 16, 5);
    let mut s = 0x1234_5678u64;
    let mut rnd = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let w: Vec<Vec<f64>> = (0..c).map(|_| (0..e).map(|_| rnd()).collect()).collect();
    let y: Vec<u32> = (0..n).map(|k| (k % c) as u32).collect();
    let g: Vec<u32> = (0..n).map(|k| ((k / c) % 2) as u32).collect();
    let mut heads = vec![0f32; n * l * h * e];
    for k in 0..n {
        for li in 0..l {
            for hi in 0..h {
                for d in 0..e {
                    let signal = if li == 2 && hi < 2 {
                        0.3 * w[y[k] as usize][d]
                    } else {
                        0.0
                    };
                    heads[((k * l + li) * h + hi) * e + d] = (0.2 * rnd() + signal) as f32;
                }
            }
        }
    }
    let cls = (0..n * l * e).map(|_| (0.05 * rnd()) as f32).collect();
    let mlps = (0..n * (l + 1) * e).map(|_| (0.1 * rnd()) as f32).collect();
    (
        Arrays {
            n,
            l,
            h,
            e,
            heads,
            cls,
            mlps,
        },
        w,
        y,
        g,
    )
}

#[test]
fn the_ablation_table_equals_compute_ablations() {
    let a = fixture_arrays();
    let r = reference("tiny-clip-hf");
    let w: Vec<Vec<f64>> = clipscope::model::l2_normalize(&r["text_embeds"])
        .unwrap()
        .to_vec2::<f32>()
        .unwrap()
        .iter()
        .map(|row| f64s(row))
        .collect();
    // Each image's class: its best text under the baseline, rotated so that some are wrong.
    let y: Vec<u32> = (0..a.n as u32).map(|k| (k * 3) % w.len() as u32).collect();
    let t = table(&a, &targets(&y, w.len(), None, 0), &scorer(&w)).unwrap();
    let got: Vec<f64> = [&t.baseline, &t.mlps, &t.cls, &t.mlps_and_cls]
        .into_iter()
        .chain(&t.layers)
        .map(|x| x.top1_pct())
        .collect();
    assert_eq!(got, reference_table(&a, &w, &y), "fixture arrays");

    let (a, w, y, g) = seeded(400);
    let t = table(&a, &targets(&y, w.len(), Some(g), 2), &scorer(&w)).unwrap();
    let got: Vec<f64> = [&t.baseline, &t.mlps, &t.cls, &t.mlps_and_cls]
        .into_iter()
        .chain(&t.layers)
        .map(|x| x.top1_pct())
        .collect();
    let want = reference_table(&a, &w, &y);
    assert_eq!(got, want, "seeded arrays");
    assert!(want[0] > 40.0, "the planted signal classifies: {want:?}");
}

#[test]
fn zero_ablation_removes_the_heads_direct_effects() {
    let (a, w, y, g) = seeded(300);
    let tg = targets(&y, w.len(), Some(g), 2);
    let sc = scorer(&w);
    let chosen = [(2, 0), (2, 1), (1, 3)];
    let sel = |replace| Selection {
        heads: chosen.to_vec(),
        layers: vec![],
        replace,
    };
    let zero = ablate(&a, &tg, &sc, &sel(Replace::Zero)).unwrap();
    // CCS-CLIP's pruning, on the decomposition: each chosen head's direct effect is removed.
    let after: Vec<Vec<f64>> = (0..a.n)
        .map(|k| {
            chosen.iter().fold(f64s(&a.base(k).unwrap()), |v, &(l, h)| {
                minus(&v, &f64s(a.head(k, l, h)))
            })
        })
        .collect();
    assert_eq!(zero.after.top1_pct(), top1(&after, &w, &y));
    let mean = ablate(&a, &tg, &sc, &sel(Replace::Mean)).unwrap();
    assert_eq!(zero.before, mean.before);
    assert_ne!(
        zero.after.top1_pct(),
        mean.after.top1_pct(),
        "zero and mean differ on planted heads with a non-zero mean"
    );
}
