//! Unit CLIP text embeddings of many texts, batched by token length.

use crate::Result;
use crate::model::{Clip, l2_normalize};

/// Unit text embeddings (row-major M × E, f32) of `texts`, computed in batches of similar
/// token lengths (padding is cut to each batch's longest text; the causal mask makes this exact).
pub fn embed_texts(clip: &Clip, texts: &[String], progress: &dyn Fn(usize)) -> Result<Vec<f32>> {
    let ids = texts
        .iter()
        .map(|t| clip.tokenize(t))
        .collect::<Result<Vec<_>>>()?;
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by_key(|&i| (ids[i].len(), i));
    let e = clip.config.embed_dim;
    let mut out = vec![0f32; texts.len() * e];
    for batch in order.chunks(64) {
        let seqs: Vec<Vec<u32>> = batch.iter().map(|&i| ids[i].clone()).collect();
        let emb = l2_normalize(&clip.text_features(&seqs)?)?
            .to_dtype(candle_core::DType::F32)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        for (row, &i) in emb.chunks_exact(e).zip(batch) {
            out[i * e..(i + 1) * e].copy_from_slice(row);
        }
        progress(batch.len());
    }
    Ok(out)
}

/// For each text without a property, the property whose name's embedding is nearest (cosine)
/// in CLIP text space. `names` are the candidate properties and `name_emb` their unit
/// embeddings; `text_emb` are the texts' unit embeddings (both row-major, dim `e`).
pub fn nearest_tags(
    tags: &[Option<String>],
    text_emb: &[f32],
    names: &[String],
    name_emb: &[f32],
    e: usize,
) -> Vec<String> {
    tags.iter()
        .enumerate()
        .map(|(i, t)| {
            t.clone().unwrap_or_else(|| {
                let row = &text_emb[i * e..(i + 1) * e];
                let best = (0..names.len())
                    .map(|j| {
                        let s: f32 = row
                            .iter()
                            .zip(&name_emb[j * e..(j + 1) * e])
                            .map(|(a, b)| a * b)
                            .sum();
                        (j, s)
                    })
                    .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
                best.map_or_else(String::new, |(j, _)| names[j].clone())
            })
        })
        .collect()
}
