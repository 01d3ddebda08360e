//! Optional head labels from a language model behind any OpenAI-compatible chat endpoint, with
//! a few-shot prompt in the spirit of CLIP-InterpreT's ChatGPT labelling; answers are cached per
//! head and prompt, and nothing else depends on them.

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::store::format::{hex, write_atomic};
use crate::{Error, Result};

/// Where and how to ask.
#[derive(Debug, Clone)]
pub struct LlmConfig {
    /// Base URL, e.g. `https://api.openai.com/v1` (`/chat/completions` is appended).
    pub url: String,
    /// Model name.
    pub model: String,
    /// The API key, when the endpoint needs one.
    pub key: Option<String>,
}

const SYSTEM: &str = "You label attention heads of a CLIP vision model. You get the descriptions that best \
span what one head writes into the image embedding. Answer with the single property they share, in one or \
two lowercase words (for example: color, texture, counting, location, animal, art style). If they share \
nothing, answer: mixed.";

const SHOTS: [(&str, &str); 3] = [
    (
        "a bright red door\nvivid yellow and blue stripes\nan image dominated by green\na pale pink background\npurple tones everywhere",
        "color",
    ),
    (
        "three apples on a table\na pair of dogs\nexactly five coins in a row\nmany balloons\na group of seven birds",
        "counting",
    ),
    (
        "a street in Tokyo\na market in Morocco\ntraditional houses in Peru\na postcard from Paris\nthe Alps",
        "location",
    ),
];

/// The chat messages for one head's top texts.
pub fn messages(texts: &[String]) -> serde_json::Value {
    let mut m = vec![serde_json::json!({"role": "system", "content": SYSTEM})];
    for (q, a) in SHOTS {
        m.push(serde_json::json!({"role": "user", "content": q}));
        m.push(serde_json::json!({"role": "assistant", "content": a}));
    }
    m.push(serde_json::json!({"role": "user", "content": texts.join("\n")}));
    serde_json::Value::Array(m)
}

/// The first line of an answer, lower-cased, without surrounding punctuation.
pub fn clean(answer: &str) -> String {
    answer
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_lowercase()
}

/// Labels each `(head id, top texts)` through the endpoint, reusing answers cached in
/// `cache_file` (keyed by model and prompt) and saving new ones.
pub fn label_heads(
    heads: &[(String, Vec<String>)],
    cfg: &LlmConfig,
    cache_file: &Path,
) -> Result<BTreeMap<String, String>> {
    let mut cache: BTreeMap<String, String> = std::fs::read(cache_file)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let endpoint = format!("{}/chat/completions", cfg.url.trim_end_matches('/'));
    let mut client =
        reqwest::blocking::Client::builder().timeout(std::time::Duration::from_secs(120));
    if endpoint.contains("://127.0.0.1") || endpoint.contains("://localhost") {
        client = client.no_proxy();
    }
    let client = client.build().map_err(|e| Error::failed("LLM client", e))?;
    let mut out = BTreeMap::new();
    for (id, texts) in heads {
        let msgs = messages(texts);
        let key = format!(
            "{}|{}",
            cfg.model,
            &hex(&Sha256::digest(msgs.to_string().as_bytes()))[..16]
        );
        if let Some(hit) = cache.get(&key) {
            out.insert(id.clone(), hit.clone());
            continue;
        }
        let body = serde_json::json!({"model": cfg.model, "messages": msgs, "temperature": 0});
        let mut req = client.post(&endpoint).json(&body);
        if let Some(k) = &cfg.key {
            req = req.bearer_auth(k);
        }
        let fail = |m: String| Error::Invalid(format!("LLM labeler ({endpoint}): {m}"));
        let resp = req.send().map_err(|e| fail(e.to_string()))?;
        let status = resp.status();
        let v: serde_json::Value = resp.json().map_err(|e| fail(format!("{status}: {e}")))?;
        let text = v["choices"][0]["message"]["content"]
            .as_str()
            .ok_or_else(|| fail(format!("{status}: no choices[0].message.content in {v}")))?;
        let label = clean(text);
        cache.insert(key, label.clone());
        out.insert(id.clone(), label);
        let json = serde_json::to_vec_pretty(&cache)
            .map_err(|e| Error::caused(cache_file, "cannot encode JSON", e))?;
        write_atomic(cache_file, &json)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_answers_and_builds_few_shot_prompts() {
        assert_eq!(clean("  Colour.\nbecause…"), "colour");
        assert_eq!(clean("\"Art style\""), "art style");
        let m = messages(&["a".into(), "b".into()]);
        assert_eq!(m.as_array().unwrap().len(), 8);
        assert_eq!(m[7]["content"], "a\nb");
    }
}
