//! Nearest-neighbour analyses over a store: per-head NN of an image or a text, and
//! property-based NN (the mean of a property's heads).

use half::f16;

use super::HeadRef;
use crate::nn::{Hit, Metric, Query, Rows, mean_row, top_k};
use crate::store::{Block, Store, mean_block};
use crate::{Error, Result};

/// A head's effect vector for store image `index`, as f32.
pub fn stored_effect(store: &Store, head: HeadRef, index: usize) -> Result<Vec<f32>> {
    let block = store.head(head.layer, head.head)?;
    Ok(block.row(index)?.iter().map(|v| f16::to_f32(*v)).collect())
}

/// What a nearest-neighbour query asks for: the query vector, which is an image's effect (in
/// the rows' own space, so centred with them) or a text's embedding (left as it is), `k`, the
/// metric, and an image to leave out (the query itself).
pub struct Ask<'a> {
    /// The query vector.
    pub vector: &'a [f32],
    /// Whether the vector is an image's effect through the same heads (centred with the rows
    /// under [`Metric::Centred`]) rather than a text's embedding.
    pub image: bool,
    /// How many neighbours.
    pub k: usize,
    /// The score.
    pub metric: Metric,
    /// An image to leave out.
    pub exclude: Option<usize>,
}

/// The `k` store images nearest to the query through the mean of `heads` (one head: that head;
/// several: their mean block, computed once and cached beside the store), best first. Under
/// [`Metric::Centred`] the rows' mean over the store's valid images is taken out of every row
/// and of an image query.
pub fn nearest(store: &Store, heads: &[HeadRef], ask: &Ask) -> Result<Vec<Hit>> {
    let block: Block = match heads {
        [] => return Err(Error::Invalid("no head to search with".into())),
        [one] => store.head(one.layer, one.head)?,
        many => mean_block(
            store,
            &many.iter().map(|h| (h.layer, h.head)).collect::<Vec<_>>(),
        )?,
    };
    let rows = [(&block as &dyn Rows, 1.0)];
    let centre = match ask.metric {
        Metric::Centred => Some(mean_row(&rows, Some(store.valid()))?),
        _ => None,
    };
    let vector: Vec<f32> = match (&centre, ask.image) {
        (Some(c), true) => ask.vector.iter().zip(c).map(|(v, m)| v - m).collect(),
        _ => ask.vector.to_vec(),
    };
    top_k(
        &rows,
        &Query {
            vector: &vector,
            k: ask.k,
            metric: ask.metric,
            valid: Some(store.valid()),
            exclude: ask.exclude,
            centre: centre.as_deref(),
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
