//! The properties a description expresses, word by word: colour words, numbers, textures and
//! patterns, materials, shapes, positions, sizes, letters, lighting, photographic style and
//! backgrounds, from a lexicon kept as data (`lexicon.tsv`, extendable with the user's own).
//! docs/METRICS.md ("Labels") says how a head's texts are judged by what they share.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::{Error, Result};

/// clipscope's lexicon (`src/interpret/lexicon.tsv`).
pub const BUILTIN: &str = include_str!("lexicon.tsv");

/// Words and phrases by the property they express.
#[derive(Debug, Clone, Default)]
pub struct Lexicon {
    /// Each phrase (lower case, as words) and its properties.
    phrases: BTreeMap<Vec<String>, BTreeSet<String>>,
    /// The longest phrase, in words.
    longest: usize,
}

/// Lower-case words of `text` (letters, digits, `-` and `'`).
fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '\''))
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect()
}

/// `word` without a plural ending, when it has one (`stripes` → `stripe`, `glasses` → `glass`,
/// `berries` → `berry`); the word itself otherwise.
fn singular(word: &str) -> Vec<String> {
    let mut out = vec![word.to_string()];
    if let Some(w) = word.strip_suffix("ies") {
        out.push(format!("{w}y"));
    }
    if let Some(w) = word.strip_suffix("es") {
        out.push(w.to_string());
    }
    if let Some(w) = word.strip_suffix('s')
        && !w.ends_with('s')
    {
        out.push(w.to_string());
    }
    out
}

impl Lexicon {
    /// The built-in lexicon.
    pub fn builtin() -> Self {
        let mut l = Self::default();
        // The built-in file is checked by the tests below.
        let _ = l.add("builtin lexicon", BUILTIN);
        l
    }

    /// Adds the lines of a lexicon file: `property<TAB>word, phrase, …` (blank lines and `#`
    /// comments skipped).
    pub fn add_file(&mut self, path: &Path) -> Result<()> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        self.add(&path.display().to_string(), &text)
            .map_err(|m| Error::config(path, m))
    }

    fn add(&mut self, name: &str, text: &str) -> std::result::Result<(), String> {
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end();
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let Some((property, list)) = line.split_once('\t') else {
                return Err(format!(
                    "{name} line {}: expected `property<TAB>word, word, …`",
                    n + 1
                ));
            };
            let property = property.trim().to_lowercase();
            if property.is_empty() {
                return Err(format!("{name} line {}: no property", n + 1));
            }
            for phrase in list.split(',').map(words).filter(|w| !w.is_empty()) {
                self.longest = self.longest.max(phrase.len());
                self.phrases
                    .entry(phrase)
                    .or_default()
                    .insert(property.clone());
            }
        }
        Ok(())
    }

    /// The properties `text` expresses, sorted.
    pub fn properties_of(&self, text: &str) -> Vec<String> {
        let w = words(text);
        let mut out = BTreeSet::new();
        for start in 0..w.len() {
            for len in 1..=self.longest.min(w.len() - start) {
                let (head, last) = (&w[start..start + len - 1], &w[start + len - 1]);
                for form in singular(last) {
                    let mut phrase = head.to_vec();
                    phrase.push(form);
                    if let Some(p) = self.phrases.get(&phrase) {
                        out.extend(p.iter().cloned());
                    }
                }
            }
        }
        out.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_description_expresses_every_property_its_words_name() {
        let l = Lexicon::builtin();
        assert_eq!(l.properties_of("a red dress"), ["color"]);
        assert_eq!(
            l.properties_of("Three striped wooden boxes on the left"),
            ["counting", "material", "position", "texture"]
        );
        // Plurals and phrases.
        assert_eq!(l.properties_of("stripes"), ["texture"]);
        assert_eq!(
            l.properties_of("a black and white portrait")[..],
            ["color", "photography"]
        );
        assert!(l.properties_of("a calm lake at dawn").is_empty());
        // A word inside another word is not that word.
        assert!(l.properties_of("a redwood forest").is_empty());
    }

    #[test]
    fn users_extend_it_and_bad_lines_are_named() {
        let mut l = Lexicon::builtin();
        l.add("mine", "# mine\nmood\tcalm, serene\ncolor\tvermilion\n")
            .unwrap();
        assert_eq!(l.properties_of("a calm lake"), ["mood"]);
        assert_eq!(l.properties_of("vermilion walls"), ["color"]);
        let e = l.add("mine", "color red\n").unwrap_err();
        assert!(e.contains("mine line 1"), "{e}");
        let e = Lexicon::default().add("x", "\tred\n").unwrap_err();
        assert!(e.contains("no property"), "{e}");
    }

    #[test]
    fn the_builtin_lexicon_parses() {
        Lexicon::default().add("builtin", BUILTIN).unwrap();
    }
}
