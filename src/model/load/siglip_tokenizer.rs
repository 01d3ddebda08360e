//! SigLIP's text tokenizers: `spiece.model` (SigLIP, transformers' `SiglipTokenizer`) or
//! `tokenizer.json` (SigLIP 2's Gemma vocabulary), with the settings of `tokenizer_config.json`.
//!
//! Both give the ids transformers gives for `tokenizer(texts, padding="max_length",
//! max_length=64, truncation=True)` as compute_siglip.py calls it, without the padding: the text
//! tower pads to its context itself and masks the padding when the tokenizer returns an
//! `attention_mask` (`model_input_names`).

use std::path::Path;

use serde_json::Value;
use tokenizers::{Tokenizer, TruncationParams};

use super::spiece::{SPACE, SentencePiece};
use crate::model::load::tokenizer_config::Settings;
use crate::{Error, Result};

/// A SigLIP tokenizer.
pub struct SiglipTokenizer {
    kind: Kind,
    /// The padding id.
    pub pad: u32,
    /// Whether the model sees an attention mask over the padding.
    pub mask: bool,
    context: usize,
}

enum Kind {
    Spiece(Box<Spiece>),
    Json(Box<Tokenizer>),
}

/// SigLIP's `spiece.model` as transformers' `SiglipTokenizer` drives it.
struct Spiece {
    model: SentencePiece,
    eos: u32,
    lower: bool,
    /// Pieces of `unk_token` encoded alone: transformers encodes `unk_token + text` and drops
    /// them, so the text is segmented as if it followed the unknown token.
    prefix: String,
    prefix_len: usize,
}

impl Spiece {
    /// `SiglipTokenizer.tokenize`: "▁" + text with ▁ as spaces, canonicalised, then encoded
    /// after the unknown token, whose pieces are dropped; truncated to `context` with EOS.
    fn encode(&self, text: &str, context: usize) -> Vec<u32> {
        let text = format!("{SPACE}{}", text.replace(SPACE, " "));
        let canon = canonicalize(&text, self.lower);
        let all = self.model.encode(&format!("{}{canon}", self.prefix));
        let mut ids = all.get(self.prefix_len..).unwrap_or(&all).to_vec();
        ids.truncate(context.saturating_sub(1));
        ids.push(self.eos);
        ids
    }
}

impl SiglipTokenizer {
    /// From `spiece.model` (preferred when both exist, as `SiglipTokenizer` reads it) or
    /// `tokenizer.json`; `context` is the text tower's length (64).
    pub fn load(
        spiece: Option<&Path>,
        json: Option<&Path>,
        config: Option<&Path>,
        context: usize,
    ) -> Result<Self> {
        let settings = Settings::read(config)?;
        let missing = |path: &Path, tok: &str| {
            Error::config(path, format!("the vocabulary lacks the token {tok:?}"))
        };
        let (kind, pad) = match (spiece, json) {
            (Some(path), _) => {
                let model = SentencePiece::load(path)?;
                let id = |key: &str, default: &str| -> Result<u32> {
                    let tok = settings.token(key).unwrap_or_else(|| default.into());
                    model.id(&tok).ok_or_else(|| missing(path, &tok))
                };
                let (eos, pad) = (id("eos_token", "</s>")?, id("pad_token", "</s>")?);
                let prefix = settings
                    .token("unk_token")
                    .unwrap_or_else(|| "<unk>".into());
                let lower = match settings.0.get("do_lower_case") {
                    Some(Value::Bool(b)) => *b,
                    _ => true,
                };
                let prefix_len = model.encode(&prefix).len();
                let spiece = Spiece {
                    model,
                    eos,
                    lower,
                    prefix,
                    prefix_len,
                };
                (Kind::Spiece(Box::new(spiece)), pad)
            }
            (None, Some(path)) => {
                let mut tok = Tokenizer::from_file(path).map_err(|e| {
                    Error::config(path, format!("not a usable tokenizer.json: {e}"))
                })?;
                tok.with_padding(None);
                tok.with_truncation(Some(TruncationParams {
                    max_length: context,
                    ..Default::default()
                }))
                .map_err(|e| Error::config(path, format!("truncation: {e}")))?;
                let name = settings
                    .token("pad_token")
                    .unwrap_or_else(|| "<pad>".into());
                let pad = tok.token_to_id(&name).ok_or_else(|| missing(path, &name))?;
                (Kind::Json(Box::new(tok)), pad)
            }
            (None, None) => {
                return Err(Error::Model(
                    "no tokenizer: a SigLIP checkpoint needs spiece.model or tokenizer.json".into(),
                ));
            }
        };
        Ok(Self {
            kind,
            pad,
            mask: settings.mask(),
            context,
        })
    }

    /// Token ids of `text`, special tokens included, truncated to the context, unpadded.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        match &self.kind {
            Kind::Json(tok) => Ok(tok
                .encode(text, true)
                .map_err(|e| Error::failed("tokenizer", e))?
                .get_ids()
                .to_vec()),
            Kind::Spiece(spiece) => Ok(spiece.encode(text, self.context)),
        }
    }
}

/// `SiglipTokenizer.canonicalize_text` (big_vision's prompt engineering): lower-case, ASCII
/// punctuation removed, whitespace runs as one space, trimmed.
fn canonicalize(text: &str, lower: bool) -> String {
    // Python's str.isspace, which `\s` and strip() use: Unicode White_Space plus \x1c..\x1f.
    let space = |c: char| c.is_whitespace() || ('\x1c'..='\x1f').contains(&c);
    let text = if lower {
        text.to_lowercase()
    } else {
        text.to_string()
    };
    let mut out = String::with_capacity(text.len());
    let mut in_space = false;
    for c in text.chars().filter(|c| !c.is_ascii_punctuation()) {
        if space(c) {
            in_space = true;
        } else {
            if in_space && !out.is_empty() {
                out.push(' ');
            }
            in_space = false;
            out.push(c);
        }
    }
    out
}
