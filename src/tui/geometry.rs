//! What drawing a frame produces besides its cells: where it put things (for the mouse and page
//! sizes), the images it wanted that are not encoded yet, and kitty's direct placements. Drawing
//! returns it; [`crate::tui::ui::frame`] gives it to the app as an input.

use std::sync::Arc;

use ratatui::layout::Rect;

use super::images::Want;
use super::kitty_direct::KittyImage;

/// A frame's output.
#[derive(Default, Clone)]
pub struct Drawn {
    /// Where things are.
    pub geometry: Geometry,
    /// Images to encode: not in the cache at the size they were drawn.
    pub wanted: Vec<Want>,
    /// Kitty's direct placements of the frame: (area, image id, image).
    pub placements: Vec<(Rect, String, Arc<KittyImage>)>,
}

impl std::fmt::Debug for Drawn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drawn")
            .field("geometry", &self.geometry)
            .field("wanted", &self.wanted.len())
            .field("placements", &self.placements.len())
            .finish()
    }
}

/// Where things were drawn, for the mouse.
#[derive(Debug, Clone, Copy, Default)]
pub struct Geometry {
    /// The grid's cells area, first visible head, cell width, first visible layer row.
    pub grid: Rect,
    /// First head column shown.
    pub head0: usize,
    /// Width of a cell.
    pub cell: u16,
    /// First layer row shown.
    pub layer0: usize,
    /// The detail pane.
    pub detail: Rect,
    /// The hit list of an analysis view.
    pub hits: Rect,
}
