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

/// Like [`embed_texts`], reusing embeddings cached under `cache/texts/<model fingerprint>/`
/// (one little-endian f32 file per text, named by the text's SHA-256) and caching new ones.
pub fn embed_texts_cached(
    clip: &Clip,
    texts: &[String],
    cache: &std::path::Path,
) -> Result<Vec<f32>> {
    use sha2::Digest;
    let e = clip.config.embed_dim;
    let dir = cache.join("texts").join(&clip.fingerprint);
    let path = |t: &str| {
        dir.join(format!(
            "{}.f32",
            &crate::store::format::hex(&sha2::Sha256::digest(t.as_bytes()))[..32]
        ))
    };
    let mut out = vec![0f32; texts.len() * e];
    let mut missing = vec![];
    for (i, t) in texts.iter().enumerate() {
        match read_f32(&path(t), e) {
            Some(v) => out[i * e..(i + 1) * e].copy_from_slice(&v),
            None => missing.push(i),
        }
    }
    if !missing.is_empty() {
        let new: Vec<String> = missing.iter().map(|&i| texts[i].clone()).collect();
        let emb = embed_texts(clip, &new, &|_| {})?;
        for (k, &i) in missing.iter().enumerate() {
            let row = &emb[k * e..(k + 1) * e];
            out[i * e..(i + 1) * e].copy_from_slice(row);
            // A cache that cannot be written is only slower next time.
            let _ = write_f32(&path(&texts[i]), row);
        }
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

/// Where `interpret` keeps the embeddings of the pool with SHA-256 `pool_sha256` for a store.
pub fn pool_embeddings_file(store_dir: &std::path::Path, pool_sha256: &str) -> std::path::PathBuf {
    store_dir.join("interpret").join(format!(
        "texts-{}.f32",
        &pool_sha256[..16.min(pool_sha256.len())]
    ))
}

/// The pool embeddings `interpret` saved beside a store for the pool with SHA-256
/// `pool_sha256`, when the file is there and whole.
pub fn saved_pool_embeddings(store_dir: &std::path::Path, pool_sha256: &str) -> Option<Vec<f32>> {
    let path = pool_embeddings_file(store_dir, pool_sha256);
    let len = std::fs::metadata(&path).ok()?.len() as usize / 4;
    read_f32(&path, len)
}

/// Reads little-endian f32 values; `None` when the file is missing or not `len` values long.
pub fn read_f32(path: &std::path::Path, len: usize) -> Option<Vec<f32>> {
    let bytes = std::fs::read(path).ok()?;
    (bytes.len() == 4 * len).then(|| {
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    })
}

/// Writes f32 values little-endian, atomically.
pub fn write_f32(path: &std::path::Path, values: &[f32]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| crate::Error::write(dir, e))?;
    }
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    crate::store::format::write_atomic(path, &bytes)
}
