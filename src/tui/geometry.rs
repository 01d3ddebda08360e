//! Where a frame put things, for the mouse and page sizes (part of what drawing returns,
//! `images::Drawn`).

use ratatui::layout::Rect;

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
