//! What a job sends back to the explorer: one message per finished piece of work, applied by
//! `App::drain` at the next `Input::Finished`.

use std::sync::Arc;

use super::analysis::{Kind, Outcome};
use crate::analysis::HeadRef;

/// A message from a job.
pub enum Msg {
    /// An analysis finished.
    Analysis(Kind, Result<Outcome, String>),
    /// A head's top images: (store index, score).
    Top(HeadRef, Result<Vec<(usize, f32)>, String>),
    /// RMS norms of every head.
    Norms(Result<Vec<f32>, String>),
    /// An encoded image.
    Image((String, u16, u16), Result<super::images::Encoded, String>),
    /// The search overlay's results for a query.
    Search(String, Result<Vec<super::overlay::Found>, String>),
    /// `:compare`'s rows, with the number of top texts CCS counts.
    Compare(
        usize,
        Result<Vec<crate::interpret::compare::ModelRow>, String>,
    ),
    /// A head's gallery.
    Gallery(HeadRef, Result<crate::analysis::gallery::Gallery, String>),
    /// A head's map over the side-by-side view's image (store index).
    SideMap(
        HeadRef,
        Option<usize>,
        Result<(Arc<image::RgbImage>, String), String>,
    ),
}
