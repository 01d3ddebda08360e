//! Logits and accuracies: the evaluated images, their classes and groups, top-1 / top-5 as
//! clip_text_span's `utils/misc.py:accuracy`, and the rows the ablations read.

use super::classifier::Classifier;
use crate::store::{Block, Store};
use crate::{Error, Result};

/// The images evaluated (indexed, with a class) and what they should be classified as.
#[derive(Debug, Clone, PartialEq)]
pub struct Targets {
    /// Store image index of each evaluated image.
    pub index: Vec<usize>,
    /// Its class.
    pub classes: Vec<u32>,
    /// Its group, when the labels have groups (`u32::MAX` when it has none).
    pub groups: Option<Vec<u32>>,
    /// Class names.
    pub class_names: Vec<String>,
    /// Group names.
    pub group_names: Vec<String>,
}

impl Targets {
    /// The labelled, indexed images of `store`; a store without labels says how to add them.
    pub fn from_store(store: &Store) -> Result<Self> {
        let labels = store.labels()?.ok_or_else(|| {
            Error::Invalid(format!(
                "{}: the store has no classes; index again with --labels folders (one sub-folder per class) or --labels FILE.csv (path,class[,group])",
                crate::pathname::show(store.dir())
            ))
        })?;
        let valid = store.valid();
        let mut t = Self {
            index: vec![],
            classes: vec![],
            groups: labels.groups.as_ref().map(|_| vec![]),
            class_names: labels.class_names.clone(),
            group_names: labels.group_names.clone(),
        };
        for (i, c) in labels.classes.iter().enumerate() {
            if let (Some(c), 1) = (c, valid.get(i).copied().unwrap_or(0)) {
                t.index.push(i);
                t.classes.push(*c);
                if let (Some(out), Some(g)) = (t.groups.as_mut(), labels.groups.as_ref()) {
                    out.push(g[i].unwrap_or(u32::MAX));
                }
            }
        }
        if t.index.is_empty() {
            return Err(Error::Invalid("no indexed image has a class".into()));
        }
        Ok(t)
    }

    /// The group of evaluated image `k`, when it has one.
    pub fn group(&self, k: usize) -> Option<u32> {
        self.groups
            .as_ref()
            .and_then(|g| g.get(k).copied())
            .filter(|&g| g != u32::MAX)
    }
}

/// Top-1 / top-5 counts, overall, per class and per group.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Accuracy {
    /// Images counted.
    pub n: usize,
    /// Correct at top 1.
    pub top1: usize,
    /// Correct within the top 5.
    pub top5: usize,
    /// Per class: (images, correct at top 1).
    pub per_class: Vec<(usize, usize)>,
    /// Per group: (images, correct at top 1).
    pub per_group: Vec<(usize, usize)>,
    /// Per counted image, in order: correct at top 1.
    pub hits: Vec<bool>,
}

impl Accuracy {
    /// Empty counts for `classes` classes and `groups` groups.
    pub fn new(classes: usize, groups: usize) -> Self {
        Self {
            per_class: vec![(0, 0); classes],
            per_group: vec![(0, 0); groups],
            ..Self::default()
        }
    }

    /// Counts one image's logits against its class (and group).
    pub fn add(&mut self, logits: &[f32], class: u32, group: Option<u32>) {
        let y = logits[class as usize];
        // Rank of the true class: classes strictly above it (torch.topk breaks ties by index).
        let above = logits
            .iter()
            .enumerate()
            .filter(|&(c, &v)| v > y || (v == y && c < class as usize))
            .count();
        self.n += 1;
        self.hits.push(above == 0);
        self.top1 += usize::from(above == 0);
        self.top5 += usize::from(above < 5);
        if let Some(pc) = self.per_class.get_mut(class as usize) {
            pc.0 += 1;
            pc.1 += usize::from(above == 0);
        }
        if let Some(pg) = group.and_then(|g| self.per_group.get_mut(g as usize)) {
            pg.0 += 1;
            pg.1 += usize::from(above == 0);
        }
    }

    /// Top-1 accuracy in percent.
    pub fn top1_pct(&self) -> f64 {
        pct(self.top1, self.n)
    }

    /// Top-5 accuracy in percent.
    pub fn top5_pct(&self) -> f64 {
        pct(self.top5, self.n)
    }

    /// The lowest accuracy of a group with images, in percent.
    pub fn worst_group_pct(&self) -> Option<f64> {
        self.per_group
            .iter()
            .filter(|g| g.0 > 0)
            .map(|g| pct(g.1, g.0))
            .min_by(f64::total_cmp)
    }
}

/// `100 · k / n` (0 when n = 0).
pub fn pct(k: usize, n: usize) -> f64 {
    if n == 0 {
        0.0
    } else {
        100.0 * k as f64 / n as f64
    }
}

/// The correct class's logit minus the best other class's.
pub fn margin(logits: &[f32], class: u32) -> f32 {
    let y = logits[class as usize];
    let other = logits
        .iter()
        .enumerate()
        .filter(|&(c, _)| c != class as usize)
        .map(|(_, &v)| v)
        .fold(f32::NEG_INFINITY, f32::max);
    y - other
}

/// Logits of many vectors against a classifier (one matrix product on the CPU).
pub struct Scorer {
    /// The classifier transposed, E × C row-major.
    wt: Vec<f32>,
    /// Classes.
    pub classes: usize,
    /// Embedding dimension.
    pub dim: usize,
}

impl Scorer {
    /// Prepares `c`'s transpose for products.
    pub fn new(c: &Classifier) -> Result<Self> {
        let n = c.classes.len();
        if c.weights.len() != n * c.dim {
            return Err(Error::Invalid("classifier of the wrong size".into()));
        }
        let mut wt = vec![0f32; n * c.dim];
        for (ci, row) in c.weights.chunks_exact(c.dim).enumerate() {
            for (d, &v) in row.iter().enumerate() {
                wt[d * n + ci] = v;
            }
        }
        Ok(Self {
            wt,
            classes: n,
            dim: c.dim,
        })
    }

    /// Row-major (rows × C) logits of `x` (rows × E).
    pub fn logits(&self, x: &[f32]) -> Result<Vec<f32>> {
        let rows = x.len() / self.dim.max(1);
        let mut out = vec![0f32; rows * self.classes];
        crate::model::gemm_into(&mut out, x, &self.wt, (rows, self.dim, self.classes), false);
        Ok(out)
    }
}

/// Where the evaluated images' vectors come from: a store, or arrays in the tests.
pub trait Rows: Sync {
    /// Images evaluated.
    fn len(&self) -> usize;
    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Embedding dimension.
    fn dim(&self) -> usize;
    /// Model depth L, when the `3L + 1` ablation rows are available.
    fn depth(&self) -> Option<usize>;
    /// Image k's ablation rows `[attn L][cls L][pre + mlps L+1]` × E (needs `depth`).
    fn ablation(&self, k: usize) -> Result<Vec<f32>>;
    /// Image k's vector: Σ attention totals + Σ MLP terms (format 2), else its embedding.
    fn base(&self, k: usize) -> Result<Vec<f32>>;
    /// Image k's direct effect of `layer`, `head` (a stored head).
    fn head(&self, k: usize, layer: usize, head: usize) -> Result<Vec<f32>>;
}

/// [`Rows`] of a store's labelled images.
pub struct StoreRows<'a> {
    store: &'a Store,
    index: &'a [usize],
    ablation: Option<Block>,
    embeddings: Block,
    heads: std::collections::HashMap<(usize, usize), Block>,
}

impl<'a> StoreRows<'a> {
    /// The rows of `targets`' images in `store`.
    pub fn new(store: &'a Store, targets: &'a Targets) -> Result<Self> {
        let mut heads = std::collections::HashMap::new();
        for &l in store.layers() {
            for h in 0..store.manifest.heads {
                heads.insert((l, h), store.head(l, h)?);
            }
        }
        Ok(Self {
            store,
            index: &targets.index,
            ablation: store.ablation()?,
            embeddings: store.embeddings()?,
            heads,
        })
    }
}

fn to_f32(row: &[half::f16]) -> Vec<f32> {
    row.iter().map(|v| v.to_f32()).collect()
}

impl Rows for StoreRows<'_> {
    fn len(&self) -> usize {
        self.index.len()
    }
    fn dim(&self) -> usize {
        self.store.manifest.dim
    }
    fn depth(&self) -> Option<usize> {
        let rows = self.store.manifest.key.shape.ablation_rows;
        self.ablation.as_ref().map(|_| (rows - 1) / 3)
    }
    fn ablation(&self, k: usize) -> Result<Vec<f32>> {
        let b = self.ablation.as_ref().ok_or_else(|| {
            Error::Invalid(
                "this store has no ablation rows (format 1): index it again with this clipscope"
                    .into(),
            )
        })?;
        Ok(to_f32(b.row(self.index[k])?))
    }
    fn base(&self, k: usize) -> Result<Vec<f32>> {
        match self.depth() {
            Some(depth) => Ok(base_of(&self.ablation(k)?, depth, self.dim())),
            None => Ok(to_f32(self.embeddings.row(self.index[k])?)),
        }
    }
    fn head(&self, k: usize, layer: usize, head: usize) -> Result<Vec<f32>> {
        let b = self.heads.get(&(layer, head)).ok_or_else(|| {
            let h = crate::head::HeadRef { layer, head };
            Error::Invalid(format!("{h} is not stored in this store"))
        })?;
        Ok(to_f32(b.row(self.index[k])?))
    }
}

/// Σ attention totals + Σ MLP terms of one image's ablation rows.
pub fn base_of(rows: &[f32], depth: usize, e: usize) -> Vec<f32> {
    let mut v = vec![0f32; e];
    for r in (0..depth).chain(2 * depth..3 * depth + 1) {
        v.iter_mut()
            .zip(&rows[r * e..(r + 1) * e])
            .for_each(|(a, &b)| *a += b);
    }
    v
}
