//! CLIP's byte-pair tokenizer, read from `tokenizer.json` with the `tokenizers` crate, and the
//! choice between it and a checkpoint's own Hugging Face tokenizer.

use std::path::Path;

use tokenizers::Tokenizer;

use super::hf_tokenizer::HfTokenizer;
use crate::{Error, Result};

/// The tokenizer of a CLIP-layout text tower.
pub enum TextTokenizer {
    /// CLIP's BPE, ids unpadded.
    Bpe(ClipTokenizer),
    /// The checkpoint's `hf_tokenizer_name`, ids padded to the context.
    Hf(HfTokenizer),
}

impl TextTokenizer {
    /// Token ids of `text`, as the text tower takes them.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        match self {
            Self::Bpe(t) => t.encode(text),
            Self::Hf(t) => t.encode(text),
        }
    }
}

/// The CLIP BPE tokenizer with its start and end tokens.
pub struct ClipTokenizer {
    inner: Tokenizer,
    start: u32,
    end: u32,
    context: usize,
}

impl ClipTokenizer {
    /// Loads `tokenizer.json`; `context` is the text tower's length (77).
    pub fn load(path: &Path, context: usize) -> Result<Self> {
        let inner = Tokenizer::from_file(path)
            .map_err(|e| Error::config(path, format!("not a usable tokenizer.json: {e}")))?;
        let id = |tok: &str| {
            inner
                .token_to_id(tok)
                .ok_or_else(|| Error::config(path, format!("the vocabulary lacks {tok}")))
        };
        Ok(Self {
            start: id("<|startoftext|>")?,
            end: id("<|endoftext|>")?,
            inner,
            context,
        })
    }

    /// Token ids of `text`: start token, BPE tokens, end token; truncated to the context length
    /// with the end token kept last (open_clip's `tokenize`, transformers' truncation).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| Error::failed("tokenizer", e))?;
        let body = enc.get_ids();
        let keep = body.len().min(self.context.saturating_sub(2));
        let mut ids = Vec::with_capacity(keep + 2);
        ids.push(self.start);
        ids.extend_from_slice(&body[..keep]);
        ids.push(self.end);
        Ok(ids)
    }
}
