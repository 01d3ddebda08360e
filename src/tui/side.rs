//! Heads side by side: two to four heads' labels, evidence, texts, top images, and where each
//! writes its own first text in one shared image (maps computed off the UI thread).

use std::collections::HashMap;
use std::sync::Arc;

use image::RgbImage;

use crate::analysis::HeadRef;
use crate::analysis::session::QueryImage;

/// Most heads shown side by side.
pub const MAX_SIDE: usize = 4;

/// A head's map over the shared image.
#[derive(Debug, Clone)]
pub enum SideMap {
    /// Being computed by job `id`.
    Pending(u64),
    /// The figure, and the patch scores' range in words.
    Ready(Arc<RgbImage>, String),
    /// Failed.
    Failed(String),
}

/// The side-by-side view's state.
#[derive(Debug, Clone)]
pub struct SideView {
    /// The heads, in column order.
    pub heads: Vec<HeadRef>,
    /// The image every head's map is drawn over.
    pub image: Option<QueryImage>,
    /// Each head's map over `image`.
    pub maps: HashMap<HeadRef, SideMap>,
    /// The focused column.
    pub col: usize,
}
