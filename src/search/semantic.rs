//! Semantic head search: rank heads by how close the query's CLIP text embedding is to the
//! texts that span them.

use crate::interpret::Interpretation;

/// Scores every head of `interp` against the unit query embedding `query`: the mean cosine
/// between the query and the head's TEXTSPAN texts (unit embeddings `pool_emb`, M × dim),
/// weighted by the variance each text explained. Returns (head index, score), best first.
pub fn semantic(
    query: &[f32],
    interp: &Interpretation,
    pool_emb: &[f32],
    limit: usize,
) -> Vec<(usize, f32)> {
    let e = query.len();
    let mut scored: Vec<(usize, f32)> = interp
        .heads
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let (mut prev, mut num, mut den) = (0.0f64, 0.0f64, 0.0f64);
            for t in &h.texts {
                let w = (t.variance_explained - prev).max(0.0);
                prev = t.variance_explained;
                let row = pool_emb.get(t.index * e..(t.index + 1) * e).unwrap_or(&[]);
                let cos: f32 = row.iter().zip(query).map(|(a, b)| a * b).sum();
                num += w * cos as f64;
                den += w;
            }
            (i, if den > 0.0 { (num / den) as f32 } else { 0.0 })
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.truncate(limit);
    scored
}
