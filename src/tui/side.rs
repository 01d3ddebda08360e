//! Heads side by side: two to four heads' labels, evidence, texts, top images, and where each
//! writes its own first text in one shared image (maps computed off the UI thread).

use std::collections::HashMap;
use std::sync::Arc;

use image::RgbImage;

use super::app::{App, Msg, View};
use crate::analysis::session::QueryImage;
use crate::analysis::{HeadRef, Heads, figures};

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

impl App {
    /// Marks the selected head for side by side, or unmarks it.
    pub fn toggle_mark(&mut self) {
        let h = self.sel;
        if let Some(i) = self.marked.iter().position(|&m| m == h) {
            self.marked.remove(i);
            return self.info(format!("{h} unmarked ({} marked)", self.marked.len()));
        }
        if self.marked.len() == MAX_SIDE {
            return self.error(format!(
                "{MAX_SIDE} heads are marked already: c on one unmarks it"
            ));
        }
        self.marked.push(h);
        self.info(format!(
            "{h} marked ({} of {MAX_SIDE}); v shows the marked heads side by side",
            self.marked.len()
        ));
    }

    /// The heads `v` shows: the marked ones when two or more are, else the selected head and
    /// the search hits after it.
    pub fn side_heads(&self) -> Vec<HeadRef> {
        if self.marked.len() >= 2 {
            return self.marked.clone();
        }
        let mut heads = vec![self.sel];
        for &h in self.marked.iter().chain(&self.hits) {
            if heads.len() < MAX_SIDE && !heads.contains(&h) {
                heads.push(h);
            }
        }
        heads
    }

    /// Shows `heads` (two to four) side by side over the carried image (else the first store
    /// image), computing each head's map.
    pub fn open_side(&mut self, mut heads: Vec<HeadRef>) {
        heads.dedup();
        heads.truncate(MAX_SIDE);
        if heads.len() < 2 {
            return self.error(
                "side by side needs two heads: mark them with c, search with /, or :side L1H2 L3H0",
            );
        }
        if let Some(h) = heads.iter().find(|h| self.data.head(**h).is_none()) {
            return self.error(format!("{h} is not an interpreted head of this store"));
        }
        let store = self.data.store();
        let image = self.carried.image.clone().or_else(|| {
            (0..store.len())
                .find(|&i| store.valid()[i] == 1)
                .and_then(|i| QueryImage::stored(store, i).ok())
        });
        for &h in &heads {
            if !self.top.contains_key(&h) {
                self.top_images(h);
            }
        }
        self.leave_for(View::Side);
        self.overlay = None;
        self.side = Some(SideView {
            heads,
            image,
            maps: HashMap::new(),
            col: 0,
        });
        self.side_maps();
    }

    /// Moves the shared image to the next (or previous) readable store image.
    pub(crate) fn side_step_image(&mut self, forward: bool) {
        let store = self.data.store();
        let n = store.len();
        let Some(side) = &self.side else { return };
        let mut i = side.image.as_ref().and_then(|q| q.index).unwrap_or(0);
        let next = (0..n).find_map(|_| {
            i = if forward {
                (i + 1) % n
            } else {
                (i + n - 1) % n
            };
            QueryImage::stored(store, i).ok()
        });
        if let (Some(q), Some(side)) = (next, self.side.as_mut()) {
            self.carried.image = Some(q.clone());
            side.image = Some(q);
            side.maps.clear();
            self.side_maps();
        }
    }

    /// Starts a map job for every head that has none.
    fn side_maps(&mut self) {
        let Some(side) = &self.side else { return };
        let Some(q) = side.image.clone() else { return };
        let todo: Vec<HeadRef> = side
            .heads
            .iter()
            .copied()
            .filter(|h| !side.maps.contains_key(h))
            .collect();
        for h in todo {
            let Some(text) = self
                .data
                .head(h)
                .and_then(|x| x.texts.first())
                .map(|t| t.text.clone())
            else {
                continue;
            };
            let (session, q) = (self.data.session.clone(), q.clone());
            let id = self.jobs.spawn(format!("map of {h}"), true, move |_| {
                let r = session
                    .maps(&q, &Heads::Some(vec![h]), std::slice::from_ref(&text))
                    .and_then(|m| {
                        let what = format!("{h} - {}", q.name());
                        let (lo, hi) = figures::range(&m.maps[0]);
                        let range = format!(
                            "{:?}: patch scores {} .. {}",
                            text,
                            crate::analysis::render::score(lo),
                            crate::analysis::render::score(hi)
                        );
                        let fig = figures::segment(&m.crop, &m.maps[0], m.grid, &text, &what)?;
                        Ok((Arc::new(fig), range))
                    })
                    .map_err(|e| e.to_string());
                Msg::SideMap(h, q.index, r)
            });
            if let Some(side) = self.side.as_mut() {
                side.maps.insert(h, SideMap::Pending(id));
            }
        }
    }

    /// A finished map job, kept when it is for the image still shown.
    pub(crate) fn side_done(
        &mut self,
        h: HeadRef,
        image: Option<usize>,
        r: Result<(Arc<RgbImage>, String), String>,
    ) {
        if let Some(side) = self.side.as_mut()
            && side.image.as_ref().map(|q| q.index) == Some(image)
        {
            side.maps.insert(
                h,
                match r {
                    Ok((f, range)) => SideMap::Ready(f, range),
                    Err(e) => SideMap::Failed(e),
                },
            );
        }
    }
}
