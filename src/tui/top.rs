//! The head pane's top images: the store images a head's effect carries furthest along its
//! first TEXTSPAN text (searched off the UI thread, see `tui::instrument`).

/// Top images of a head.
pub enum Top {
    /// Being searched by job `id`.
    Pending(u64),
    /// Found: (store index, score).
    Ready(Vec<(usize, f32)>),
    /// Failed.
    Failed(String),
}
