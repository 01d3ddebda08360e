//! Text families: for each property, texts that differ only in that property ("a photo of a
//! red object", "… a blue object", …), kept as data (`families.toml`, extendable). Their
//! embeddings by the model's own text tower give the property's directions
//! (family_score.rs).

use std::path::Path;

use serde::Deserialize;

use crate::{Error, Result};

/// clipscope's families (`src/interpret/families.toml`).
pub const BUILTIN: &str = include_str!("families.toml");

/// One property's family.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Family {
    /// The property (a label: `color`, `counting`, …).
    pub property: String,
    /// Templates with one `{}` each.
    pub templates: Vec<String>,
    /// The values put in the templates.
    pub values: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    family: Vec<Family>,
}

/// The families to measure.
#[derive(Debug, Clone, PartialEq)]
pub struct Families(pub Vec<Family>);

impl Families {
    /// The built-in families.
    pub fn builtin() -> Self {
        // The built-in file is checked by the tests below.
        Self::parse(BUILTIN).unwrap_or(Self(vec![]))
    }

    fn parse(text: &str) -> std::result::Result<Self, String> {
        let f: File = toml::from_str(text).map_err(|e| e.message().to_string())?;
        for fam in &f.family {
            if fam.values.len() < 2 {
                return Err(format!(
                    "family {:?} needs two values or more",
                    fam.property
                ));
            }
            if fam.templates.is_empty()
                || fam.templates.iter().any(|t| t.matches("{}").count() != 1)
            {
                return Err(format!(
                    "family {:?}: each template needs exactly one {{}}",
                    fam.property
                ));
            }
        }
        Ok(Self(f.family))
    }

    /// Adds the families of a file; a property named again replaces the one before.
    pub fn add_file(&mut self, path: &Path) -> Result<()> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let more = Self::parse(&text).map_err(|m| Error::config(path, m))?;
        for f in more.0 {
            self.0.retain(|g| g.property != f.property);
            self.0.push(f);
        }
        Ok(())
    }

    /// Every text to embed: family by family, value by value, template by template.
    pub fn texts(&self) -> Vec<String> {
        self.0
            .iter()
            .flat_map(|f| {
                f.values
                    .iter()
                    .flat_map(move |v| f.templates.iter().map(move |t| t.replacen("{}", v, 1)))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_families_parse_and_name_their_texts() {
        let f = Families::parse(BUILTIN).unwrap();
        assert!(f.0.len() >= 8);
        let texts = f.texts();
        assert_eq!(texts[0], "a photo of a red object");
        assert_eq!(texts[1], "something red");
        let n: usize = f.0.iter().map(|f| f.values.len() * f.templates.len()).sum();
        assert_eq!(texts.len(), n);
    }

    #[test]
    fn a_users_family_replaces_one_and_bad_ones_are_named() {
        let (_dir, p) = crate::testing::written(
            "f.toml",
            "[[family]]\nproperty = \"color\"\ntemplates = [\"{}\"]\nvalues = [\"red\", \"blue\"]\n",
        );
        let mut f = Families::builtin();
        let before = f.0.len();
        f.add_file(&p).unwrap();
        assert_eq!(f.0.len(), before);
        assert_eq!(f.0.last().unwrap().values, ["red", "blue"]);
        std::fs::write(
            &p,
            "[[family]]\nproperty = \"x\"\ntemplates = [\"a\"]\nvalues = [\"a\", \"b\"]\n",
        )
        .unwrap();
        let e = f.add_file(&p).unwrap_err().to_string();
        assert!(e.contains("exactly one {}"), "{e}");
    }
}
