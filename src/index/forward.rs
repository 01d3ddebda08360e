//! One batch of decoded images through the model: each image's per-head direct effects, its
//! embedding, and where the store keeps them its per-token effects and ablation rows, written into
//! the chunk being filled.

use candle_core::DType;

use super::Plan;
use crate::Result;
use crate::model::{Clip, Wanted};
use crate::store::chunk::ChunkBuf;
use crate::store::format::ImageRecord;

/// Runs the images of `items` that decoded (their records set either way) and writes their
/// values into `buf`.
pub(super) fn into_chunk(
    clip: &Clip,
    plan: &Plan,
    buf: &mut ChunkBuf,
    items: Vec<(usize, ImageRecord, Option<Vec<f32>>)>,
) -> Result<()> {
    let mut ok = vec![];
    let mut pixels = vec![];
    let mut tokens = false;
    for (i, rec, px) in items {
        if let Some(px) = px {
            tokens |= buf.wants_tokens(i);
            ok.push(i);
            pixels.push(px);
        }
        buf.set_record(i, rec);
    }
    if ok.is_empty() {
        return Ok(());
    }
    let s = plan.key.shape;
    let ablation = s.ablation_rows > 0;
    let d = clip.decompose_with(
        &clip.pixels(&pixels)?,
        Wanted {
            layers: &plan.key.layers,
            tokens,
            ablation,
        },
    )?;
    let f = |t: &candle_core::Tensor| -> Result<Vec<f32>> {
        Ok(t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?)
    };
    let heads = f(&d.heads)?;
    let emb = f(&d.embedding)?;
    let toks = d.tokens.as_ref().map(f).transpose()?;
    // Per image [attn L][cls L][pre + mlps L+1], each E.
    let abl = match (ablation, &d.attn, &d.cls) {
        (true, Some(a), Some(c)) => f(&candle_core::Tensor::cat(&[a, c, &d.mlps], 1)?)?,
        _ => vec![],
    };
    for (j, &i) in ok.iter().enumerate() {
        let t = toks
            .as_ref()
            .map(|t| &t[j * s.token_values()..][..s.token_values()]);
        let a = if abl.is_empty() {
            &[][..]
        } else {
            &abl[j * s.ablation_values()..][..s.ablation_values()]
        };
        buf.set_values(
            i,
            &heads[j * s.head_values()..][..s.head_values()],
            &emb[j * s.dim..][..s.dim],
            a,
            t,
        );
    }
    Ok(())
}
