//! The analyses: the five of CLIP-InterpreT, done right (REFERENCE.md §10): property-based nearest
//! neighbours, per-head topic segmentation, contrastive segmentation, per-head nearest
//! neighbours of an image and of a text; and a head's gallery. The sixth view, mean-ablation,
//! is computed in `importance`.

pub mod bars;
pub mod chart;
pub mod figures;
pub mod gallery;
pub mod maps;
pub mod neighbours;
pub mod render;
pub mod session;

pub use crate::head::HeadRef;

/// Which heads a map sums over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heads {
    /// Every head of every layer given.
    All,
    /// Every head of one layer.
    Layer(usize),
    /// These heads.
    Some(Vec<HeadRef>),
}

impl Heads {
    /// Whether head `h` of layer `l` is included.
    pub fn contains(&self, l: usize, h: usize) -> bool {
        match self {
            Heads::All => true,
            Heads::Layer(x) => *x == l,
            Heads::Some(v) => v.iter().any(|r| r.layer == l && r.head == h),
        }
    }

    /// The layers needed to compute the map, of a model with `n` layers.
    pub fn layers(&self, n: usize) -> Vec<usize> {
        match self {
            Heads::All => (0..n).collect(),
            Heads::Layer(l) => vec![*l],
            Heads::Some(v) => {
                let mut l: Vec<usize> = v.iter().map(|r| r.layer).collect();
                l.sort();
                l.dedup();
                l
            }
        }
    }

    /// A short description: `all heads`, `layer 10`, `L10H3`.
    pub fn describe(&self) -> String {
        match self {
            Heads::All => "all heads".into(),
            Heads::Layer(l) => format!("layer {l}"),
            Heads::Some(v) => v
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("+"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_contain_what_they_name() {
        assert!(Heads::Layer(3).contains(3, 7) && !Heads::Layer(3).contains(2, 7));
        let two = Heads::Some(vec![HeadRef { layer: 1, head: 2 }]);
        assert!(two.contains(1, 2) && !two.contains(2, 1));
        assert_eq!(two.describe(), "L1H2");
    }
}
