//! Nearest-neighbour analyses over a store: per-head NN of an image or a text, and
//! property-based NN (the mean of a property's heads).

use half::f16;

use super::HeadRef;
use crate::nn::{Hit, Metric, Query, Rows, top_k};
use crate::store::{Block, Store, mean_block};
use crate::{Error, Result};

/// A head's effect vector for store image `index`, as f32.
pub fn stored_effect(store: &Store, head: HeadRef, index: usize) -> Result<Vec<f32>> {
    let block = store.head(head.layer, head.head)?;
    Ok(block.row(index)?.iter().map(|v| f16::to_f32(*v)).collect())
}

/// The `k` store images nearest to `query` through the mean of `heads` (one head: that head;
/// several: their mean block, computed once and cached beside the store), best first;
/// `exclude` leaves one image out (the query itself).
pub fn nearest(
    store: &Store,
    heads: &[HeadRef],
    query: &[f32],
    k: usize,
    metric: Metric,
    exclude: Option<usize>,
) -> Result<Vec<Hit>> {
    let block: Block = match heads {
        [] => return Err(Error::Invalid("no head to search with".into())),
        [one] => store.head(one.layer, one.head)?,
        many => mean_block(
            store,
            &many.iter().map(|h| (h.layer, h.head)).collect::<Vec<_>>(),
        )?,
    };
    top_k(
        &[(&block as &dyn Rows, 1.0)],
        &Query {
            vector: query,
            k,
            metric,
            valid: Some(store.valid()),
            exclude,
        },
    )
}

/// The mean over `heads` of per-head effect vectors given head by head.
pub fn mean_effect(effects: &[Vec<f32>]) -> Result<Vec<f32>> {
    let first = effects
        .first()
        .ok_or_else(|| Error::Invalid("no head to average".into()))?;
    let mut out = vec![0f32; first.len()];
    for e in effects {
        out.iter_mut()
            .zip(e)
            .for_each(|(o, v)| *o += v / effects.len() as f32);
    }
    Ok(out)
}
