//! One attention head of a vision tower: its layer and its index in the layer, named as every
//! listing names it (`L10H3`), from the store up to the explorer.

use crate::{Error, Result};

/// One attention head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct HeadRef {
    /// Layer (0-based).
    pub layer: usize,
    /// Head (0-based).
    pub head: usize,
}

impl std::fmt::Display for HeadRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "L{}H{}", self.layer, self.head)
    }
}

impl std::str::FromStr for HeadRef {
    type Err = Error;

    /// Parses `L10H3` (case-insensitive; also `10.3` and `10:3`), and the ids clipscope prints
    /// with the store before them (`probe-clip/L1H2`, as `search` lists and `y` copies them).
    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::Invalid(format!("{s:?} is not a head: write it like L10H3"));
        let head = s.trim().rsplit('/').next().unwrap_or_default();
        let t = head.to_ascii_uppercase();
        let (l, h) = if let Some(rest) = t.strip_prefix('L') {
            rest.split_once('H').ok_or_else(bad)?
        } else {
            t.split_once(['.', ':']).ok_or_else(bad)?
        };
        Ok(Self {
            layer: l.parse().map_err(|_| bad())?,
            head: h.parse().map_err(|_| bad())?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_heads() {
        assert_eq!(
            "l10h3".parse::<HeadRef>().unwrap(),
            HeadRef { layer: 10, head: 3 }
        );
        assert_eq!("11.0".parse::<HeadRef>().unwrap().to_string(), "L11H0");
        assert!("L10".parse::<HeadRef>().is_err());
        // The ids `search` prints and the explorer copies.
        for id in ["probe-clip/L1H2", "vit-b-16-openai@0123abcd/l1h2"] {
            assert_eq!(
                id.parse::<HeadRef>().unwrap(),
                HeadRef { layer: 1, head: 2 }
            );
        }
        assert!("probe-clip/".parse::<HeadRef>().is_err());
    }
}
