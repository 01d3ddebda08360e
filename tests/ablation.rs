//! Zero-shot accuracy, the mean-ablation table, chosen ablations and head importance equal
//! clip_text_span's formulas (`compute_ablations.py`, `compute_use_specific_heads.py`,
//! `utils/misc.py:accuracy`) computed here in f64 on the same arrays: the reference fixture's
//! own decomposition, and a larger seeded set with classes and groups.

mod common;

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

#[test]
fn chosen_heads_and_importance_equal_the_formulas() {
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

    // Importance: each head alone.
    let heads: Vec<(usize, usize)> = (0..a.l)
        .flat_map(|l| (0..a.h).map(move |h| (l, h)))
        .collect();
    let imp = importance(&a, &tg, &sc, &heads).unwrap();
    let margin = |v: &[f64], c: u32| {
        let logits: Vec<f64> = w
            .iter()
            .map(|r| r.iter().zip(v).map(|(a, b)| a * b).sum())
            .collect();
        let other = (0..logits.len())
            .filter(|&i| i != c as usize)
            .map(|i| logits[i])
            .fold(f64::MIN, f64::max);
        logits[c as usize] - other
    };
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

/// The commands end to end on a folder laid out one sub-folder per class.
#[test]
fn zeroshot_and_ablate_on_a_labelled_folder() {
    let t = tempfile::tempdir().unwrap();
    let images = t.path().join("images");
    for (i, class) in ["cat", "cat", "cat", "dog", "dog", "dog"]
        .iter()
        .enumerate()
    {
        std::fs::create_dir_all(images.join(class)).unwrap();
        let f = format!("img{i:02}.png");
        std::fs::copy(
            fixture("tiny-clip-hf").join("images").join(&f),
            images.join(class).join(&f),
        )
        .unwrap();
    }
    let cache = t.path().join("cache");
    let model = fixture("tiny-clip-hf");
    let model_arg = model.to_str().unwrap();
    let run = |args: &[&str]| {
        let with_model: Vec<&str> = args.iter().copied().chain(["--model", model_arg]).collect();
        run_in_cache(&cache, &with_model).into_bytes()
    };
    let mut index = vec![
        "index", "-q", "--json", "--labels", "folders", "--layers", "all", "--images",
    ];
    let images_arg = images.to_str().unwrap().to_string();
    index.push(&images_arg);
    let summary: serde_json::Value = serde_json::from_slice(&run(&index)).unwrap();
    let store = summary["store"].as_str().unwrap().to_string();
    let z: serde_json::Value =
        serde_json::from_slice(&run(&["zeroshot", "--json", "--store", &store])).unwrap();
    assert_eq!(z["images"], 6);
    assert_eq!(z["per_class"].as_array().unwrap().len(), 2);
    let a: serde_json::Value =
        serde_json::from_slice(&run(&["ablate", "--json", "--store", &store])).unwrap();
    assert_eq!(a["baseline"]["top1"], z["top1"]);
    assert_eq!(a["attention_cumulative"].as_array().unwrap().len(), 3);
    let h: serde_json::Value = serde_json::from_slice(&run(&[
        "ablate",
        "--json",
        "--store",
        &store,
        "--heads",
        "L2H1,L1H0",
    ]))
    .unwrap();
    assert_eq!(h["before"]["top1"], z["top1"]);
    assert_eq!(h["heads"], serde_json::json!(["L1H0", "L2H1"]));
    // Without an interpretation to save it with, --importance says so before computing.
    let early = bin()
        .args(["ablate", "--importance", "--store", &store, "--cache"])
        .arg(&cache)
        .args(["--model", model_arg])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&early.stderr);
    assert!(!early.status.success(), "exit 0 without an interpretation");
    assert!(
        err.contains("run `clipscope interpret` first") && err.trim().lines().count() == 1,
        "{err}"
    );
    assert!(
        early.stdout.is_empty(),
        "nothing computed: {:?}",
        early.stdout
    );
    // Importance is saved with the interpretation and searchable.
    run(&[
        "interpret",
        "-q",
        "--texts-per-head",
        "5",
        "--store",
        &store,
    ]);
    let imp: serde_json::Value = serde_json::from_slice(&run(&[
        "ablate",
        "--json",
        "--importance",
        "--store",
        &store,
    ]))
    .unwrap();
    assert_eq!(imp["heads"].as_array().unwrap().len(), 12);
    let interp = clipscope::interpret::Interpretation::load(std::path::Path::new(&store))
        .unwrap()
        .unwrap();
    assert!(interp.heads.iter().all(|h| h.importance.is_some()));
    let top: Vec<&clipscope::interpret::HeadInterp> = interp
        .heads
        .iter()
        .filter(|h| interp.importance(h) == Some(1.0))
        .collect();
    assert_eq!(top.len(), 1, "one head has importance 1");
    let out = run(&["search", "--json", "--store", &store, "importance:>0.999"]);
    let hits = String::from_utf8(out).unwrap();
    let ids: Vec<String> = hits
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["head"]["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids.len(), 1, "{hits}");
    assert!(ids[0].ends_with(&top[0].id()), "{ids:?}");
}

/// A store without classes says how to add them.
#[test]
fn a_store_without_classes_says_how_to_add_them() {
    let v1 = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stores/v1");
    let out = bin()
        .args(["zeroshot", "--store"])
        .arg(&v1)
        .arg("--model")
        .arg(fixture("tiny-clip-hf"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("--labels folders") && err.contains("--labels FILE.csv"),
        "{err}"
    );
}
