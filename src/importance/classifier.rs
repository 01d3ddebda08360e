//! The zero-shot classifier of clip_text_span's `compute_text_projection.py`: per class, the
//! mean of the unit text embeddings of every template filled with the class name, normalised
//! again.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::interpret::texts::{embed_texts_cached, read_f32, write_f32};
use crate::model::Clip;
use crate::{Error, Result};

/// The 80 prompt templates of the CLIP paper, `{}` where the class name goes.
pub const OPENAI_TEMPLATES: &str = include_str!("../../data/openai-imagenet-templates.txt");

/// A C × E matrix of unit class vectors.
#[derive(Debug, Clone, PartialEq)]
pub struct Classifier {
    /// Class names, by class index.
    pub classes: Vec<String>,
    /// Embedding dimension.
    pub dim: usize,
    /// Row-major C × E.
    pub weights: Vec<f32>,
}

/// Lines of a classes or templates file (blank lines and `#` comments skipped).
pub fn read_lines(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    Ok(lines(&text))
}

/// The non-empty, non-comment lines of `text`, trimmed.
pub fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

impl Classifier {
    /// Builds the classifier with `clip`'s text tower (texts cached in `cache`), or reads it
    /// from `store_dir/derived/zeroshot-<hash>.f32` where an earlier run left it.
    pub fn build(
        clip: &Clip,
        classes: &[String],
        templates: &[String],
        cache: &Path,
        store_dir: Option<&Path>,
    ) -> Result<Self> {
        if let Some(t) = templates.iter().find(|t| !t.contains("{}")) {
            return Err(Error::Invalid(format!(
                "template {t:?} has no {{}} for the class name"
            )));
        }
        if classes.is_empty() {
            return Err(Error::Invalid("no classes to classify".into()));
        }
        let e = clip.config.embed_dim;
        let mut h = Sha256::new();
        h.update(clip.fingerprint.as_bytes());
        for s in classes.iter().chain([&String::new()]).chain(templates) {
            h.update(s.as_bytes());
            h.update(b"\n");
        }
        let hash = crate::digest::hex(&h.finalize());
        let saved = store_dir.map(|d| {
            d.join("derived")
                .join(format!("zeroshot-{}.f32", &hash[..16]))
        });
        if let Some(w) = saved
            .as_deref()
            .and_then(|p| read_f32(p, classes.len() * e))
        {
            return Ok(Self {
                classes: classes.to_vec(),
                dim: e,
                weights: w,
            });
        }
        let mut weights = Vec::with_capacity(classes.len() * e);
        for class in classes {
            let texts: Vec<String> = templates
                .iter()
                .map(|t| t.replacen("{}", class, 1))
                .collect();
            let unit = embed_texts_cached(clip, &texts, cache)?;
            let mut mean = vec![0f64; e];
            for row in unit.chunks_exact(e) {
                mean.iter_mut()
                    .zip(row)
                    .for_each(|(m, &v)| *m += f64::from(v));
            }
            let n = templates.len() as f64;
            let norm = mean
                .iter()
                .map(|m| (m / n) * (m / n))
                .sum::<f64>()
                .sqrt()
                .max(1e-12);
            weights.extend(mean.iter().map(|m| (m / n / norm) as f32));
        }
        if let Some(p) = &saved {
            // A classifier that cannot be saved is only computed again next time.
            let _ = write_f32(p, &weights);
        }
        Ok(Self {
            classes: classes.to_vec(),
            dim: e,
            weights,
        })
    }
}
