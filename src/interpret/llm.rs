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

const JUDGE: &str = "You check whether descriptions fit a concept. You get a concept and numbered \
descriptions. For each description, in order, answer yes if it fits the concept and no if it does not, one \
answer per line, nothing else.";

/// The chat messages asking whether each of `texts` fits `label`.
pub fn judge_messages(label: &str, texts: &[String]) -> serde_json::Value {
    let list: Vec<String> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| format!("{}. {t}", i + 1))
        .collect();
    serde_json::json!([
        {"role": "system", "content": JUDGE},
        {"role": "user", "content": format!("Concept: {label}\n{}", list.join("\n"))},
    ])
}

/// The `n` yes/no verdicts of an answer, one a line (numbering and punctuation ignored); `None`
/// when it holds fewer.
pub fn verdicts(answer: &str, n: usize) -> Option<Vec<bool>> {
    let v: Vec<bool> = answer
        .lines()
        .map(|l| {
            l.trim()
                .trim_start_matches(|c: char| c.is_ascii_digit() || ".):- ".contains(c))
                .to_lowercase()
        })
        .filter_map(|l| {
            if l.starts_with("yes") {
                Some(true)
            } else if l.starts_with("no") {
                Some(false)
            } else {
                None
            }
        })
        .take(n)
        .collect();
    (v.len() == n).then_some(v)
}

/// One endpoint with its answer cache (keyed by model and prompt, saved after each answer).
struct Asker<'a> {
    cfg: &'a LlmConfig,
    endpoint: String,
    client: reqwest::blocking::Client,
    cache: BTreeMap<String, String>,
    cache_file: &'a Path,
}

impl<'a> Asker<'a> {
    fn new(cfg: &'a LlmConfig, cache_file: &'a Path) -> Result<Self> {
        let cache = std::fs::read(cache_file)
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
        Ok(Self {
            cfg,
            endpoint,
            client,
            cache,
            cache_file,
        })
    }

    /// The answer to `msgs` (the cached one, or the endpoint's), with `what` naming the asker in
    /// errors.
    fn ask(&mut self, msgs: &serde_json::Value, what: &str) -> Result<String> {
        let key = format!(
            "{}|{}",
            self.cfg.model,
            &hex(&Sha256::digest(msgs.to_string().as_bytes()))[..16]
        );
        if let Some(hit) = self.cache.get(&key) {
            return Ok(hit.clone());
        }
        let body = serde_json::json!({"model": self.cfg.model, "messages": msgs, "temperature": 0});
        let mut req = self.client.post(&self.endpoint).json(&body);
        if let Some(k) = &self.cfg.key {
            req = req.bearer_auth(k);
        }
        let endpoint = &self.endpoint;
        let fail = |m: String| Error::Invalid(format!("{what} ({endpoint}): {m}"));
        let resp = req.send().map_err(|e| fail(e.to_string()))?;
        let status = resp.status();
        let v: serde_json::Value = resp.json().map_err(|e| fail(format!("{status}: {e}")))?;
        let text = v["choices"][0]["message"]["content"]
            .as_str()
            .ok_or_else(|| fail(format!("{status}: no choices[0].message.content in {v}")))?
            .to_string();
        self.cache.insert(key, text.clone());
        let json = serde_json::to_vec_pretty(&self.cache)
            .map_err(|e| Error::caused(self.cache_file, "cannot encode JSON", e))?;
        write_atomic(self.cache_file, &json)?;
        Ok(text)
    }
}

/// Labels each `(head id, top texts)` through the endpoint, reusing answers cached in
/// `cache_file` (keyed by model and prompt) and saving new ones.
pub fn label_heads(
    heads: &[(String, Vec<String>)],
    cfg: &LlmConfig,
    cache_file: &Path,
) -> Result<BTreeMap<String, String>> {
    let mut asker = Asker::new(cfg, cache_file)?;
    let mut out = BTreeMap::new();
    for (id, texts) in heads {
        let answer = asker.ask(&messages(texts), "LLM labeler")?;
        out.insert(id.clone(), clean(&answer));
    }
    Ok(out)
}

/// Asks, for each `(head id, label, top texts)`, whether each text fits the label (the
/// concept-consistency judge of arXiv 2503.11103); answers cached as [`label_heads`]'s.
pub fn judge_heads(
    heads: &[(String, String, Vec<String>)],
    cfg: &LlmConfig,
    cache_file: &Path,
) -> Result<BTreeMap<String, Vec<bool>>> {
    let mut asker = Asker::new(cfg, cache_file)?;
    let mut out = BTreeMap::new();
    for (id, label, texts) in heads {
        let answer = asker.ask(&judge_messages(label, texts), "LLM judge")?;
        let v = verdicts(&answer, texts.len()).ok_or_else(|| {
            Error::Invalid(format!(
                "LLM judge: {id}: expected {} yes/no lines, got {answer:?}",
                texts.len()
            ))
        })?;
        out.insert(id.clone(), v);
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

    #[test]
    fn judge_prompts_and_verdicts() {
        let m = judge_messages("color", &["a red car".into(), "a dog".into()]);
        assert_eq!(m[1]["content"], "Concept: color\n1. a red car\n2. a dog");
        assert_eq!(verdicts("1. Yes\n2. no.\n", 2), Some(vec![true, false]));
        assert_eq!(
            verdicts("yes\nNO\nyes, mostly", 3),
            Some(vec![true, false, true])
        );
        assert_eq!(verdicts("Sure! 1) yes", 2), None, "too few verdicts");
    }
}
