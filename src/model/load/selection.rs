//! Layer selections: `all`, `last:N`, `A..B` (both ends included), `A,B,C`.

use crate::{Error, Result};

/// Which layers' heads to decompose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerSelection {
    /// Every layer.
    All,
    /// The last N layers.
    Last(usize),
    /// Explicit 0-based layers.
    List(Vec<usize>),
}

impl std::str::FromStr for LayerSelection {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::Invalid(format!(
                "--layers {s:?}: expected all, last:N, A..B or A,B,C (0-based)"
            ))
        };
        let s = s.trim();
        if s.eq_ignore_ascii_case("all") {
            return Ok(Self::All);
        }
        if let Some(n) = s.strip_prefix("last:") {
            return n
                .trim()
                .parse()
                .ok()
                .filter(|&n| n > 0)
                .map(Self::Last)
                .ok_or_else(bad);
        }
        if let Some((a, b)) = s.split_once("..") {
            let b = b.strip_prefix('=').unwrap_or(b);
            let (a, b): (usize, usize) = (
                a.trim().parse().map_err(|_| bad())?,
                b.trim().parse().map_err(|_| bad())?,
            );
            return if a <= b {
                Ok(Self::List((a..=b).collect()))
            } else {
                Err(bad())
            };
        }
        let mut v = s
            .split(',')
            .map(|x| x.trim().parse::<usize>().map_err(|_| bad()))
            .collect::<Result<Vec<_>>>()?;
        v.sort_unstable();
        v.dedup();
        Ok(Self::List(v))
    }
}

impl LayerSelection {
    /// The selected layers of a model with `n` layers, ascending; an error names any layer
    /// beyond the model.
    pub fn resolve(&self, n: usize) -> Result<Vec<usize>> {
        match self {
            Self::All => Ok((0..n).collect()),
            Self::Last(k) => Ok((n.saturating_sub(*k)..n).collect()),
            Self::List(v) => match v.iter().find(|&&l| l >= n) {
                Some(l) => Err(Error::Invalid(format!(
                    "--layers: layer {l} does not exist; the model has layers 0..={}",
                    n - 1
                ))),
                None => Ok(v.clone()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        let p = |s: &str| s.parse::<LayerSelection>().unwrap().resolve(12).unwrap();
        assert_eq!(p("all").len(), 12);
        assert_eq!(p("last:4"), vec![8, 9, 10, 11]);
        assert_eq!(p("8..11"), vec![8, 9, 10, 11]);
        assert_eq!(p("8..=9"), vec![8, 9]);
        assert_eq!(p("3,1,3"), vec![1, 3]);
        assert!("last:0".parse::<LayerSelection>().is_err());
        assert!("5..2".parse::<LayerSelection>().is_err());
        assert!("x".parse::<LayerSelection>().is_err());
        assert!("12".parse::<LayerSelection>().unwrap().resolve(12).is_err());
    }
}
