//! A head's gallery in the explorer: its top and bottom images (computed off the UI thread by
//! [`crate::analysis::gallery`], see `tui::instrument`), one of them selected.

use crate::analysis::HeadRef;
use crate::analysis::gallery::{Gallery, Shot};

/// Images at each end of a gallery.
pub const PER_END: usize = 8;

/// The gallery view's state.
#[derive(Debug, Clone)]
pub struct GalleryView {
    /// Whose gallery.
    pub head: HeadRef,
    /// The job computing it.
    pub job: Option<u64>,
    /// What it found.
    pub outcome: Option<Result<Gallery, String>>,
    /// The selected image, counted over the top images then the bottom ones.
    pub sel: usize,
}

impl GalleryView {
    /// The images in selection order: top (highest first), then bottom (lowest first).
    pub fn shots(&self) -> Vec<&Shot> {
        match &self.outcome {
            Some(Ok(g)) => g.top.iter().chain(&g.bottom).collect(),
            _ => vec![],
        }
    }

    /// Moves the selection by `d`, kept on the images.
    pub fn nudge(&mut self, d: isize) {
        let n = self.shots().len();
        self.sel = (self.sel as isize + d).clamp(0, n.saturating_sub(1) as isize) as usize;
    }
}
