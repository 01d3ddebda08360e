//! Family scores (docs/METRICS.md, "Family scores"): the share of a head's effect variance on
//! the indexed images that lies in the span of a property family's centred text directions,
//! measured by the model's own text tower, against random families of pool texts whose spans
//! have as many dimensions. No image annotation is needed: it holds for any model and images.

use serde::{Deserialize, Serialize};

use candle_core::{Device, Tensor};

use super::families::Families;
use super::textspan::Gram;
use crate::Result;
use crate::model::random::SplitMix64;

/// Random families the chance level is measured over.
pub const RANDOM_FAMILIES: usize = 32;

/// What one property's family explains of one head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FamilyScore {
    /// The property.
    pub property: String,
    /// Share of the head's variance in the span of the family's directions.
    pub explained: f64,
    /// Mean share in the spans of random families of pool texts with as many dimensions.
    pub chance: f64,
    /// Their standard deviation.
    pub spread: f64,
    /// Dimensions of the family's span.
    pub dims: usize,
}

impl FamilyScore {
    /// (explained − chance) / spread: how many chance spreads the family lies above chance.
    pub fn z(&self) -> f64 {
        (self.explained - self.chance) / self.spread.max(1e-9)
    }

    /// (explained − chance) / (1 − chance), at least 0: the share of the variance that chance
    /// leaves unexplained which the family explains.
    pub fn excess(&self) -> f64 {
        ((self.explained - self.chance) / (1.0 - self.chance).max(1e-9)).max(0.0)
    }
}

/// Orthonormal directions spanning `vectors − vectors[0]` (modified Gram–Schmidt, twice),
/// in order, so that the first k span the first k + 1 vectors' centred span.
fn span_of(vectors: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let mut out: Vec<Vec<f64>> = vec![];
    let Some(first) = vectors.first() else {
        return out;
    };
    for v in &vectors[1..] {
        let mut d: Vec<f64> = v.iter().zip(first).map(|(a, b)| a - b).collect();
        let norm0 = d.iter().map(|x| x * x).sum::<f64>().sqrt();
        for _ in 0..2 {
            for q in &out {
                let dot: f64 = d.iter().zip(q).map(|(a, b)| a * b).sum();
                d.iter_mut().zip(q).for_each(|(a, b)| *a -= dot * b);
            }
        }
        let norm = d.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm > 1e-6 * norm0.max(f64::MIN_POSITIVE) && norm > 1e-12 {
            out.push(d.into_iter().map(|x| x / norm).collect());
        }
    }
    out
}

/// The families' directions and the random families', ready to score heads.
#[derive(Debug, Clone)]
pub struct FamilyBases {
    /// Per family: its property and its directions.
    families: Vec<(String, Vec<Vec<f64>>)>,
    /// Per random family: nested directions (the first k span a family of k + 1 pool texts).
    random: Vec<Vec<Vec<f64>>>,
}

impl FamilyBases {
    /// The bases of `families`, whose texts ([`Families::texts`], in order) have the unit
    /// embeddings `family_emb`, and random families drawn from the pool's unit embeddings
    /// `pool_emb` (both row-major, dimension `e`).
    pub fn new(families: &Families, family_emb: &[f32], pool_emb: &[f32], e: usize) -> Self {
        let row = |m: &[f32], i: usize| -> Vec<f64> {
            m[i * e..(i + 1) * e].iter().map(|&v| v as f64).collect()
        };
        let mut at = 0;
        let mut out = vec![];
        for f in &families.0 {
            let values: Vec<Vec<f64>> = f
                .values
                .iter()
                .map(|_| {
                    let mut mean = vec![0.0; e];
                    for _ in &f.templates {
                        mean.iter_mut()
                            .zip(row(family_emb, at))
                            .for_each(|(m, v)| *m += v);
                        at += 1;
                    }
                    mean
                })
                .collect();
            out.push((f.property.clone(), span_of(&values)));
        }
        let widest = out.iter().map(|(_, d)| d.len()).max().unwrap_or(0);
        let m = pool_emb.len() / e.max(1);
        let mut rng = SplitMix64(0x0CF5_F4A1);
        let random = (0..RANDOM_FAMILIES)
            .map(|_| {
                let picks: Vec<Vec<f64>> = (0..(widest + 1).min(m))
                    .map(|_| row(pool_emb, (rng.next_u64() % m as u64) as usize))
                    .collect();
                span_of(&picks)
            })
            .collect();
        Self {
            families: out,
            random,
        }
    }

    /// Every family's score for the head whose effects have the Gram `g`.
    pub fn score(&self, g: &Gram) -> Result<Vec<FamilyScore>> {
        let e = g.sum.len();
        let n = g.n.max(1) as f64;
        let mean: Vec<f64> = g.sum.iter().map(|s| s / n).collect();
        // The covariance C = XᵀX/n − μμᵀ.
        let cov: Vec<f64> = (0..e * e)
            .map(|k| g.xtx[k] / n - mean[k / e] * mean[k % e])
            .collect();
        let trace: f64 = (0..e).map(|i| cov[i * e + i]).sum::<f64>();
        let trace = trace.max(f64::MIN_POSITIVE);
        // Every direction's variance qᵀCq, in one product.
        let dirs: Vec<&Vec<f64>> = self
            .families
            .iter()
            .flat_map(|(_, d)| d)
            .chain(self.random.iter().flatten())
            .collect();
        let q: Vec<f64> = dirs.iter().flat_map(|d| d.iter().copied()).collect();
        let k = dirs.len();
        let qt = Tensor::from_vec(q.clone(), (k, e), &Device::Cpu)?;
        let c = Tensor::from_vec(cov, (e, e), &Device::Cpu)?;
        let qc: Vec<f64> = qt.matmul(&c)?.flatten_all()?.to_vec1()?;
        let mut var = qc
            .chunks_exact(e)
            .zip(q.chunks_exact(e))
            .map(|(a, b)| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>() / trace);
        let family_var: Vec<Vec<f64>> = self
            .families
            .iter()
            .map(|(_, d)| var.by_ref().take(d.len()).collect())
            .collect();
        // The random families' shares, cumulative: the first k directions of one span a random
        // family of k + 1 texts.
        let random: Vec<Vec<f64>> = self
            .random
            .iter()
            .map(|d| {
                let mut acc = 0.0;
                var.by_ref()
                    .take(d.len())
                    .map(|v| {
                        acc += v;
                        acc
                    })
                    .collect()
            })
            .collect();
        Ok(self
            .families
            .iter()
            .zip(&family_var)
            .filter(|((_, dirs), _)| !dirs.is_empty())
            .map(|((property, dirs), v)| {
                let explained = v.iter().sum::<f64>();
                let k = dirs.len();
                let at: Vec<f64> = random
                    .iter()
                    .filter_map(|r| r.get(k - 1).copied())
                    .collect();
                let chance = at.iter().sum::<f64>() / at.len().max(1) as f64;
                let var = at.iter().map(|x| (x - chance).powi(2)).sum::<f64>()
                    / (at.len().max(2) - 1) as f64;
                FamilyScore {
                    property: property.clone(),
                    explained,
                    chance,
                    spread: var.sqrt(),
                    dims: k,
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interpret::families::Family;

    fn lcg(seed: u64) -> impl FnMut() -> f64 {
        let mut r = SplitMix64(seed);
        move || (r.next_u64() >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    }

    #[test]
    fn spans_are_orthonormal_and_nested() {
        let mut rnd = lcg(1);
        let v: Vec<Vec<f64>> = (0..5).map(|_| (0..8).map(|_| rnd()).collect()).collect();
        let q = span_of(&v);
        assert_eq!(q.len(), 4);
        for (i, a) in q.iter().enumerate() {
            for (j, b) in q.iter().enumerate() {
                let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
                assert!((dot - f64::from(u8::from(i == j))).abs() < 1e-12);
            }
        }
        // The first two directions span v1 − v0 and v2 − v0.
        let d: Vec<f64> = v[2].iter().zip(&v[0]).map(|(a, b)| a - b).collect();
        let rest: f64 = {
            let mut r = d.clone();
            for b in &q[..2] {
                let dot: f64 = r.iter().zip(b).map(|(x, y)| x * y).sum();
                r.iter_mut().zip(b).for_each(|(x, y)| *x -= dot * y);
            }
            r.iter().map(|x| x * x).sum()
        };
        assert!(rest < 1e-20, "{rest}");
        // Repeated values add no direction.
        assert_eq!(
            span_of(&[v[0].clone(), v[0].clone(), v[1].clone()]).len(),
            1
        );
    }

    /// Unit vector of `e` numbers with `x` at `dims`.
    fn at(e: usize, dims: &[(usize, f64)]) -> Vec<f32> {
        let mut v = vec![0f32; e];
        for &(d, x) in dims {
            v[d] = x as f32;
        }
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    #[test]
    fn a_head_that_writes_a_familys_directions_scores_high_on_it_alone() {
        let e = 24;
        let fam = |p: &str, n: usize| Family {
            property: p.into(),
            templates: vec!["{}".into()],
            values: (0..n).map(|i| i.to_string()).collect(),
        };
        let families = Families(vec![fam("color", 4), fam("shape", 4)]);
        // Colour values differ in dims 0..3, shape values in dims 8..11 (one shared dim 20).
        let mut emb = vec![];
        for i in 0..4 {
            emb.extend(at(e, &[(20, 1.0), (i, 0.8)]));
        }
        for i in 0..4 {
            emb.extend(at(e, &[(20, 1.0), (8 + i, 0.8)]));
        }
        let mut rnd = lcg(7);
        let pool: Vec<f32> = (0..200 * e).map(|_| rnd() as f32).collect();
        let bases = FamilyBases::new(&families, &emb, &pool, e);
        // A head whose effects vary as the colours differ (dims 0 − 1 and 2 − 3), with a little
        // noise everywhere.
        let rows: Vec<f64> = (0..500)
            .flat_map(|_| {
                let mut r: Vec<f64> = (0..e).map(|_| 0.05 * rnd()).collect();
                let (a, b) = (rnd(), rnd());
                r[0] += a;
                r[1] -= a;
                r[2] += b;
                r[3] -= b;
                r
            })
            .collect();
        let g = Gram::from_rows(&rows, e);
        let s = bases.score(&g).unwrap();
        let (c, sh) = (&s[0], &s[1]);
        assert_eq!((c.property.as_str(), c.dims, sh.dims), ("color", 3, 3));
        assert!(c.explained > 0.95, "{c:?}");
        assert!(sh.explained < 0.05, "{sh:?}");
        assert!(c.z() > 10.0 && c.excess() > 0.9, "{c:?}");
        assert_eq!(sh.excess(), 0.0);
        // The same by brute force: Σ qᵀCq / tr C over the colour directions.
        let mean: Vec<f64> = (0..e)
            .map(|j| rows.chunks(e).map(|r| r[j]).sum::<f64>() / 500.0)
            .collect();
        let var = |q: &[f64]| -> f64 {
            rows.chunks(e)
                .map(|r| {
                    r.iter()
                        .zip(&mean)
                        .zip(q)
                        .map(|((x, m), q)| (x - m) * q)
                        .sum::<f64>()
                })
                .map(|p| p * p)
                .sum::<f64>()
                / 500.0
        };
        let total: f64 = (0..e)
            .map(|j| {
                let mut u = vec![0.0; e];
                u[j] = 1.0;
                var(&u)
            })
            .sum();
        let want: f64 = bases.families[0].1.iter().map(|q| var(q)).sum::<f64>() / total;
        assert!(
            (c.explained - want).abs() < 1e-9,
            "{} vs {want}",
            c.explained
        );
    }
}
