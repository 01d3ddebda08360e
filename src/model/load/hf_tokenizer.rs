//! open_clip's `HFTokenizer`: a Hugging Face `tokenizer.json` that a checkpoint names with
//! `hf_tokenizer_name` instead of CLIP's BPE (CLIPA: bert-base-uncased; MetaCLIP 2: XLM-V).
//!
//! Ports `open_clip/tokenizer.py` `HFTokenizer.__call__`: the text cleaned as `get_clean_fn` says
//! (`whitespace`: whitespace runs as one space; `lower`; `canonicalize`: `canonicalize_text`), then `tokenizer(text, max_length=context, padding="max_length",
//! truncation=True)` (special tokens added, the padding id from `tokenizer_config.json`), and with
//! `strip_sep_token` every separator id becomes 0. `basic_clean`'s ftfy repair and HTML unescaping
//! are not applied, as for CLIP's BPE (transformers' fast CLIP tokenizer applies neither): texts
//! with mojibake or HTML entities may get other ids than open_clip gives them.

use std::path::Path;

use tokenizers::{Tokenizer, TruncationParams};

use super::config::{HfTokenizerSpec, TextClean};
use super::tokenizer_config::Settings;
use crate::{Error, Result};

/// A Hugging Face tokenizer as open_clip calls it: ids padded to the context.
pub struct HfTokenizer {
    inner: Tokenizer,
    pad: u32,
    /// The separator id that `strip_sep_token` turns into 0.
    strip: Option<u32>,
    clean: TextClean,
    context: usize,
}

impl HfTokenizer {
    /// Loads `tokenizer.json` (and `tokenizer_config.json` beside it, when present) for the
    /// checkpoint's `spec`; `context` is the text tower's length.
    pub fn load(
        json: &Path,
        config: Option<&Path>,
        spec: &HfTokenizerSpec,
        context: usize,
    ) -> Result<Self> {
        let settings = Settings::read(config)?;
        let mut inner = Tokenizer::from_file(json)
            .map_err(|e| Error::config(json, format!("not a usable tokenizer.json: {e}")))?;
        inner.with_padding(None);
        inner
            .with_truncation(Some(TruncationParams {
                max_length: context,
                ..Default::default()
            }))
            .map_err(|e| Error::config(json, format!("truncation: {e}")))?;
        // The named token, else the first of the usual names the vocabulary has.
        let find = |key: &str, usual: [&str; 2]| -> Result<u32> {
            let names: Vec<String> = match settings.token(key) {
                Some(t) => vec![t],
                None => usual.iter().map(|s| s.to_string()).collect(),
            };
            names
                .iter()
                .find_map(|n| inner.token_to_id(n))
                .ok_or_else(|| {
                    Error::config(json, format!("the vocabulary lacks the {key} {names:?}"))
                })
        };
        let pad = find("pad_token", ["[PAD]", "<pad>"])?;
        let strip = match spec.strip_sep {
            true => Some(find("sep_token", ["[SEP]", "</s>"])?),
            false => None,
        };
        Ok(Self {
            inner,
            pad,
            strip,
            clean: spec.clean,
            context,
        })
    }

    /// Token ids of `text`: special tokens added, truncated and padded to the context.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode(clean(text, self.clean), true)
            .map_err(|e| Error::failed("tokenizer", e))?;
        let mut ids = enc.get_ids().to_vec();
        ids.truncate(self.context);
        ids.resize(self.context, self.pad);
        if let Some(sep) = self.strip {
            ids.iter_mut()
                .filter(|id| **id == sep)
                .for_each(|id| *id = 0);
        }
        Ok(ids)
    }
}

/// `text` cleaned as open_clip's `get_clean_fn(clean)` does (without `basic_clean`'s ftfy and
/// HTML unescaping, as the module says).
fn clean(text: &str, clean: TextClean) -> String {
    match clean {
        TextClean::Whitespace => whitespace_clean(text),
        TextClean::Lower => whitespace_clean(text).to_lowercase(),
        // canonicalize_text: "_" → " ", string.punctuation removed, lower(), split/join.
        TextClean::Canonicalize => {
            let kept: String = text
                .replace('_', " ")
                .chars()
                .filter(|c| !c.is_ascii_punctuation())
                .collect();
            whitespace_clean(&kept.to_lowercase())
        }
        TextClean::Verbatim => text.to_string(),
    }
}

/// open_clip's `whitespace_clean`: `" ".join(text.split())`, Python's whitespace (Unicode
/// White_Space and \x1c..\x1f).
fn whitespace_clean(text: &str) -> String {
    let space = |c: char| c.is_whitespace() || ('\x1c'..='\x1f').contains(&c);
    text.split(space)
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_runs_become_one_space_as_python_split_does() {
        assert_eq!(whitespace_clean("  a\tred \n\x1c car\u{3000}"), "a red car");
        assert_eq!(whitespace_clean(" \n "), "");
        assert_eq!(whitespace_clean("x"), "x");
    }

    #[test]
    fn texts_are_cleaned_as_open_clips_clean_functions_clean_them() {
        // (text, _clean_canonicalize, _clean_lower) as open_clip 3.3 gives them.
        for (text, canon, lower) in [
            (
                "A RED car_parked, on the street!!",
                "a red car parked on the street",
                "a red car_parked, on the street!!",
            ),
            (
                "  Café DÉJÀ-vu\t(naïve) ",
                "café déjàvu naïve",
                "café déjà-vu (naïve)",
            ),
            ("ΑΣ ΟΔΟΣ", "ας οδος", "ας οδος"),
            ("x_y{}z 3.5%", "x yz 35", "x_y{}z 3.5%"),
        ] {
            assert_eq!(clean(text, TextClean::Canonicalize), canon);
            assert_eq!(clean(text, TextClean::Lower), lower);
        }
    }
}
