//! Description pools: the texts TEXTSPAN chooses from, each optionally tagged with a property.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::store::format::hex;
use crate::{Error, Result};

/// clipscope's built-in pool: 3,501 short image descriptions in 30 properties
/// (`tools/make_pool.py` writes it).
pub const BUILTIN: &str = include_str!("pool.tsv");

/// A pool of descriptions.
#[derive(Debug, Clone)]
pub struct Pool {
    /// Where it came from (`builtin` or the file).
    pub name: String,
    /// SHA-256 of its text.
    pub sha256: String,
    /// The descriptions.
    pub texts: Vec<String>,
    /// Each description's property, when the pool is tagged.
    pub tags: Vec<Option<String>>,
}

impl Pool {
    /// The built-in pool.
    pub fn builtin() -> Self {
        Self::parse("builtin", BUILTIN)
    }

    /// A user pool: plain lines, or TSV `description<TAB>property` (blank lines and `#`
    /// comments skipped, duplicates kept once).
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let pool = Self::parse(&path.display().to_string(), &text);
        if pool.texts.is_empty() {
            return Err(Error::config(path, "no descriptions in the pool"));
        }
        Ok(pool)
    }

    fn parse(name: &str, text: &str) -> Self {
        let mut seen = std::collections::HashSet::new();
        let (mut texts, mut tags) = (vec![], vec![]);
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let (t, tag) = match line.split_once('\t') {
                Some((t, tag)) => (
                    t.trim(),
                    Some(tag.trim().to_lowercase()).filter(|s| !s.is_empty()),
                ),
                None => (line, None),
            };
            if seen.insert(t.to_lowercase()) {
                texts.push(t.to_string());
                tags.push(tag);
            }
        }
        Self {
            name: name.to_string(),
            sha256: hex(&Sha256::digest(text.as_bytes())),
            texts,
            tags,
        }
    }

    /// Whether every description carries a property.
    pub fn is_tagged(&self) -> bool {
        self.tags.iter().all(Option::is_some)
    }

    /// The distinct properties, sorted.
    pub fn properties(&self) -> Vec<String> {
        let mut p: Vec<String> = self.tags.iter().flatten().cloned().collect();
        p.sort();
        p.dedup();
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_pool_is_large_tagged_and_varied() {
        let p = Pool::builtin();
        assert!(p.texts.len() >= 3000, "{}", p.texts.len());
        assert!(p.is_tagged());
        let props = p.properties();
        assert!(props.len() >= 25);
        for want in [
            "color",
            "texture",
            "counting",
            "location",
            "animal",
            "art style",
            "photography",
        ] {
            assert!(props.iter().any(|x| x == want), "{want}");
        }
        let user = Pool::parse("x", "a red car\tcolor\n# note\n\na dog\nA dog\n");
        assert_eq!(user.texts, ["a red car", "a dog"]);
        assert_eq!(user.tags, [Some("color".to_string()), None]);
        assert!(!user.is_tagged());
    }

    /// Why a composed description reads badly, when it does: an article that disagrees with
    /// the sound after it ("a underexposed room"), or an adjective a template put before an
    /// article ("homemade a burger", "calm the ocean").
    fn slip(desc: &str) -> Option<String> {
        const AN_BY_SOUND: [&str; 4] = ["hdr", "hour", "honest", "heir"];
        const A_BY_SOUND: [&str; 6] = ["one", "uni", "use", "usu", "eu", "ufo"];
        let words: Vec<&str> = desc.split_whitespace().collect();
        if let [_, "a" | "an" | "the", ..] = words.as_slice() {
            return Some(format!("a word before the article: {desc:?}"));
        }
        for (i, pair) in words.windows(2).enumerate() {
            // "a"/"an" is an article; "A" only where a sentence starts ("the letter A on").
            let art = if i == 0 {
                pair[0].to_lowercase()
            } else {
                pair[0].to_string()
            };
            let next = pair[1].to_lowercase();
            if art != "a" && art != "an" {
                continue;
            }
            let vowel = (next.starts_with(['a', 'e', 'i', 'o', 'u'])
                && !A_BY_SOUND.iter().any(|p| next.starts_with(p)))
                || AN_BY_SOUND.iter().any(|p| next.starts_with(p));
            if (art == "an") != vowel {
                return Some(format!("{art:?} before {next:?}: {desc:?}"));
            }
        }
        None
    }

    #[test]
    fn the_builtin_pool_reads_well() {
        for bad in [
            "homemade a burger",
            "a underexposed room",
            "calm the ocean",
            "an car",
        ] {
            assert!(slip(bad).is_some(), "{bad}");
        }
        for good in [
            "an HDR photo",
            "a uniform",
            "an underexposed room",
            "a calm lake",
        ] {
            assert_eq!(slip(good), None);
        }
        let slips: Vec<String> = Pool::builtin()
            .texts
            .iter()
            .filter_map(|t| slip(t))
            .collect();
        assert!(slips.is_empty(), "{} slips: {slips:#?}", slips.len());
    }
}
