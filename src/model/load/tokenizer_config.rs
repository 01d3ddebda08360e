//! A tokenizer's `tokenizer_config.json`: the special tokens and settings transformers' tokenizer
//! classes read beside `tokenizer.json`.

use std::path::Path;

use serde_json::Value;

use crate::Result;
use crate::model::load::config::json::read_json;

/// `tokenizer_config.json`, when present.
pub(crate) struct Settings(pub(crate) serde_json::Map<String, Value>);

impl Settings {
    /// Reads `path`; no file is an empty map (transformers' defaults).
    pub(crate) fn read(path: Option<&Path>) -> Result<Self> {
        Ok(Self(path.map(read_json).transpose()?.unwrap_or_default()))
    }

    /// A special token's text: a string, or an `AddedToken` object's `content`.
    pub(crate) fn token(&self, key: &str) -> Option<String> {
        match self.0.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => o.get("content")?.as_str().map(str::to_string),
            _ => None,
        }
    }

    /// Whether `attention_mask` is among the model inputs (transformers' default: yes).
    pub(crate) fn mask(&self) -> bool {
        match self.0.get("model_input_names") {
            Some(Value::Array(names)) => names.iter().any(|n| n == "attention_mask"),
            _ => true,
        }
    }
}
