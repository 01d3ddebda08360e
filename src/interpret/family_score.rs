//! Family scores (docs/METRICS.md, "Family scores"): the share of a head's effect variance on
//! the indexed images that lies in the span of a property family's principal text directions,
//! measured by the model's own text tower, against random families of as many pool texts cut to
//! as many directions. No image annotation is needed: it holds for any model and images.

use serde::{Deserialize, Serialize};

use candle_core::{Device, Tensor};

use super::families::Families;
use super::textspan::Gram;
use crate::Result;
use crate::model::load::random::SplitMix64;

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

    /// The excess that remains one chance spread below the measurement, at least 0: how much
    /// beyond chance the family explains at the least, so that a share measured against a wide
    /// chance spread counts for less than the same share measured against a narrow one.
    pub fn assured(&self) -> f64 {
        let above = self.explained - self.chance - self.spread;
        (above / (1.0 - self.chance).max(1e-9)).max(0.0)
    }
}

/// Share of a family's own variance its principal directions keep.
pub const KEEP: f64 = 0.9;

/// The principal directions of `vectors` about their mean (unit, largest variance first): the
/// first `r` when given, else as many as hold [`KEEP`] of their variance.
fn principal(vectors: &[Vec<f64>], r: Option<usize>) -> Vec<Vec<f64>> {
    let m = vectors.len();
    let Some(e) = vectors.first().map(Vec::len) else {
        return vec![];
    };
    let mean: Vec<f64> = (0..e)
        .map(|k| vectors.iter().map(|v| v[k]).sum::<f64>() / m as f64)
        .collect();
    let c: Vec<Vec<f64>> = vectors
        .iter()
        .map(|v| v.iter().zip(&mean).map(|(a, b)| a - b).collect())
        .collect();
    let gram: Vec<f64> = (0..m * m)
        .map(|k| c[k / m].iter().zip(&c[k % m]).map(|(a, b)| a * b).sum())
        .collect();
    let (values, vecs) = super::symmetric_eigen(&gram, m);
    let total: f64 = values.iter().filter(|&&l| l > 0.0).sum();
    let mut out = vec![];
    let mut kept = 0.0;
    for (k, &l) in values.iter().enumerate() {
        let enough = match r {
            Some(r) => out.len() >= r,
            None => kept >= KEEP * total,
        };
        if enough || l <= 1e-12 * total.max(f64::MIN_POSITIVE) {
            break;
        }
        let mut u = vec![0.0; e];
        for (i, ci) in c.iter().enumerate() {
            let a = vecs[i * m + k];
            u.iter_mut().zip(ci).for_each(|(x, y)| *x += a * y);
        }
        let n = u.iter().map(|x| x * x).sum::<f64>().sqrt();
        out.push(u.into_iter().map(|x| x / n).collect());
        kept += l;
    }
    out
}

/// The families' directions and the random families', ready to score heads.
#[derive(Debug, Clone)]
pub struct FamilyBases {
    /// Per family: its property and its directions.
    families: Vec<(String, Vec<Vec<f64>>)>,
    /// Per family: random families of as many pool texts, with as many principal directions.
    random: Vec<Vec<Vec<Vec<f64>>>>,
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
            out.push((f.property.clone(), principal(&values, None)));
        }
        let m = pool_emb.len() / e.max(1);
        let mut rng = SplitMix64(0x0CF5_F4A1);
        let random = families
            .0
            .iter()
            .zip(&out)
            .map(|(f, (_, dirs))| {
                (0..RANDOM_FAMILIES)
                    .map(|_| {
                        // Distinct texts: a repeated one would narrow the span.
                        let mut at: Vec<usize> = vec![];
                        while at.len() < f.values.len().min(m) {
                            let i = (rng.next_u64() % m as u64) as usize;
                            if !at.contains(&i) {
                                at.push(i);
                            }
                        }
                        let picks: Vec<Vec<f64>> = at.iter().map(|&i| row(pool_emb, i)).collect();
                        principal(&picks, Some(dirs.len()))
                    })
                    .collect()
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
            .chain(self.random.iter().flatten().flatten())
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
        // Each random family's share.
        let random: Vec<Vec<f64>> = self
            .random
            .iter()
            .map(|fams| {
                fams.iter()
                    .map(|d| var.by_ref().take(d.len()).sum::<f64>())
                    .collect()
            })
            .collect();
        Ok(self
            .families
            .iter()
            .zip(&family_var)
            .zip(&random)
            .filter(|(((_, dirs), _), _)| !dirs.is_empty())
            .map(|(((property, dirs), v), at)| {
                let explained = v.iter().sum::<f64>();
                let k = dirs.len();
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

    fn centred_uniform(seed: u64) -> impl FnMut() -> f64 {
        let mut r = SplitMix64(seed);
        move || (r.next_u64() >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    }

    #[test]
    fn the_assured_excess_discounts_a_wide_chance_spread() {
        let score = |explained, chance, spread| FamilyScore {
            property: "counting".into(),
            explained,
            chance,
            spread,
            dims: 3,
        };
        // The same share over the same chance: against a narrow spread it is assured almost
        // whole, against a wide one much less.
        let narrow = score(0.6, 0.2, 0.05);
        let wide = score(0.6, 0.2, 0.3);
        assert!((narrow.excess() - 0.5).abs() < 1e-12 && (wide.excess() - 0.5).abs() < 1e-12);
        assert!(
            (narrow.assured() - 0.4375).abs() < 1e-12,
            "{}",
            narrow.assured()
        );
        assert!((wide.assured() - 0.125).abs() < 1e-12, "{}", wide.assured());
        // Within one spread of chance nothing is assured.
        assert_eq!(score(0.25, 0.2, 0.1).assured(), 0.0);
    }

    #[test]
    fn principal_directions_are_orthonormal_and_keep_the_familys_variance() {
        let mut rnd = centred_uniform(1);
        // Five vectors that vary along dim 0 (variance 2) and dim 1 (0.4), barely elsewhere.
        let v: Vec<Vec<f64>> = [
            (2.0, 0.0),
            (-2.0, 0.0),
            (1.0, 1.0),
            (-1.0, -1.0),
            (0.0, 0.0),
        ]
        .iter()
        .map(|&(a, b)| {
            let mut x: Vec<f64> = (0..8).map(|_| 0.001 * rnd()).collect();
            x[0] += a;
            x[1] += b;
            x
        })
        .collect();
        let q = principal(&v, None);
        assert_eq!(q.len(), 2, "two directions hold 90%");
        for (i, a) in q.iter().enumerate() {
            for (j, b) in q.iter().enumerate() {
                let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
                assert!((dot - f64::from(u8::from(i == j))).abs() < 1e-9);
            }
        }
        assert!(q[0][0].abs() > 0.9, "the largest first: {:?}", q[0]);
        assert_eq!(principal(&v, Some(3)).len(), 3);
        // Repeated values add no direction.
        assert_eq!(
            principal(&[v[0].clone(), v[0].clone(), v[1].clone()], Some(4)).len(),
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

    /// The (biased) variance of `rows` (n × e) along `q`, by brute force.
    fn variance_along(rows: &[f64], e: usize, q: &[f64]) -> f64 {
        let n = (rows.len() / e) as f64;
        let mean: Vec<f64> = (0..e)
            .map(|j| rows.chunks(e).map(|r| r[j]).sum::<f64>() / n)
            .collect();
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
            / n
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
        let mut rnd = centred_uniform(7);
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
        let var = |q: &[f64]| variance_along(&rows, e, q);
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
        // Chance: the mean share of this family's own random families, as wide as it.
        let shares: Vec<f64> = bases.random[0]
            .iter()
            .map(|r| {
                assert_eq!(r.len(), c.dims);
                r.iter().map(|q| var(q)).sum::<f64>() / total
            })
            .collect();
        let want = shares.iter().sum::<f64>() / shares.len() as f64;
        assert!((c.chance - want).abs() < 1e-9, "{} vs {want}", c.chance);
    }
}
