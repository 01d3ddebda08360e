//! What the instrument views do: a head's top images and gallery, marked heads and heads side
//! by side; the jobs that fill them (off the UI thread) and the moves between them. Their state
//! lives in [`super::top`], [`super::gallery`] and [`super::side`].

use std::collections::HashMap;
use std::sync::Arc;

use image::RgbImage;

use super::analysis::Kind;
use super::app::{App, Msg, View};
use super::gallery::{GalleryView, PER_END};
use super::side::{MAX_SIDE, SideMap, SideView};
use super::top::Top;
use crate::analysis::gallery::{Gallery, direction, gallery, ranked};
use crate::analysis::session::QueryImage;
use crate::analysis::{HeadRef, Heads, figures};

impl App {
    /// Searches head `h`'s top images: the store images whose effect through `h` lies furthest
    /// along its first TEXTSPAN text.
    pub(crate) fn top_images(&mut self, h: HeadRef) {
        let Some(first) = self.data.head(h).and_then(|x| x.texts.first()).cloned() else {
            return;
        };
        let (session, pool, k) = (
            self.data.session.clone(),
            self.pool(),
            self.config.top_images,
        );
        let id = self
            .jobs
            .spawn(format!("top images of {h}"), false, move |_| {
                let r = direction(&session, pool.as_deref().map(|p| &p[..]), &first)
                    .and_then(|d| ranked(&session, h, &d, k))
                    .map(|shots| shots.iter().map(|x| (x.index, x.score)).collect())
                    .map_err(|e| e.to_string());
                Msg::Top(h, r)
            });
        self.state.top.insert(h, Top::Pending(id));
    }

    /// Opens the gallery of head `h` (selecting it), computing it unless it is the one shown.
    pub(crate) fn open_gallery(&mut self, h: HeadRef) {
        self.select(h);
        let h = self.state.sel;
        self.leave_for(View::Gallery);
        self.state.overlay = None;
        if self.state.gallery.as_ref().is_some_and(|g| g.head == h) {
            return;
        }
        let Some(interp) = self.data.interp.clone() else {
            self.state.gallery = Some(GalleryView {
                head: h,
                job: None,
                outcome: Some(Err(
                    "a gallery needs TEXTSPAN texts: run `clipscope interpret`".into(),
                )),
                sel: 0,
            });
            return;
        };
        let (session, pool) = (self.data.session.clone(), self.pool());
        let id = self.jobs.spawn(format!("gallery of {h}"), true, move |_| {
            let r = gallery(
                &session,
                &interp,
                pool.as_deref().map(|p| &p[..]),
                h,
                PER_END,
            );
            Msg::Gallery(h, r.map_err(|e| e.to_string()))
        });
        self.state.gallery = Some(GalleryView {
            head: h,
            job: Some(id),
            outcome: None,
            sel: 0,
        });
    }

    /// A finished gallery job.
    pub(crate) fn gallery_done(&mut self, h: HeadRef, r: Result<Gallery, String>) {
        if let Some(g) = self.state.gallery.as_mut()
            && g.head == h
        {
            g.job = None;
            g.outcome = Some(r);
            g.sel = 0;
        }
    }

    /// Takes the selected image into topic segmentation through the gallery's head; the other
    /// analyses (1–6) open on the same image and head.
    pub(crate) fn open_selected_image(&mut self) {
        let Some(g) = &self.state.gallery else { return };
        let Some(shot) = g.shots().get(g.sel).map(|s| s.index) else {
            return;
        };
        let head = g.head;
        match QueryImage::stored(self.data.store(), shot) {
            Ok(q) => {
                self.state.carried.image = Some(q);
                self.select(head);
                self.open(Kind::Segment);
            }
            Err(e) => self.error(e),
        }
    }

    /// The saved pool embeddings (read once), for the top images' directions.
    pub(crate) fn pool(&mut self) -> Option<Arc<Vec<f32>>> {
        if self.pool.is_none()
            && let Some(interp) = &self.data.interp
        {
            self.pool = crate::interpret::texts::saved_pool_embeddings(
                self.data.store().dir(),
                &interp.pool_sha256,
            )
            .map(Arc::new);
        }
        self.pool.clone()
    }

    /// Marks the selected head for side by side, or unmarks it.
    pub(crate) fn toggle_mark(&mut self) {
        let h = self.state.sel;
        if let Some(i) = self.state.marked.iter().position(|&m| m == h) {
            self.state.marked.remove(i);
            return self.info(format!("{h} unmarked ({} marked)", self.state.marked.len()));
        }
        if self.state.marked.len() == MAX_SIDE {
            return self.error(format!(
                "{MAX_SIDE} heads are marked already: c on one unmarks it"
            ));
        }
        self.state.marked.push(h);
        self.info(format!(
            "{h} marked ({} of {MAX_SIDE}); v shows the marked heads side by side",
            self.state.marked.len()
        ));
    }

    /// The heads `v` shows: the marked ones when two or more are, else the selected head and
    /// the search hits after it.
    pub(crate) fn side_heads(&self) -> Vec<HeadRef> {
        if self.state.marked.len() >= 2 {
            return self.state.marked.clone();
        }
        let mut heads = vec![self.state.sel];
        for &h in self.state.marked.iter().chain(&self.state.hits) {
            if heads.len() < MAX_SIDE && !heads.contains(&h) {
                heads.push(h);
            }
        }
        heads
    }

    /// Shows `heads` (two to four) side by side over the carried image (else the first store
    /// image), computing each head's map.
    pub(crate) fn open_side(&mut self, mut heads: Vec<HeadRef>) {
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
        let image = self
            .state
            .carried
            .image
            .clone()
            .or_else(|| QueryImage::first_stored(self.data.store()));
        for &h in &heads {
            if !self.state.top.contains_key(&h) {
                self.top_images(h);
            }
        }
        self.leave_for(View::Side);
        self.state.overlay = None;
        // The focused column's head is the selected one.
        self.select(heads[0]);
        self.state.side = Some(SideView {
            heads,
            image,
            maps: HashMap::new(),
            col: 0,
        });
        self.side_maps();
    }

    /// Moves the shared image to the next (or previous) readable store image.
    pub(crate) fn side_step_image(&mut self, forward: bool) {
        let Some(side) = &self.state.side else { return };
        let from = side.image.as_ref().and_then(|q| q.index);
        let next = QueryImage::step_stored(self.data.store(), from, forward);
        if let (Some(q), Some(side)) = (next, self.state.side.as_mut()) {
            self.state.carried.image = Some(q.clone());
            side.image = Some(q);
            side.maps.clear();
            self.side_maps();
        }
    }

    /// Starts a map job for every head that has none.
    fn side_maps(&mut self) {
        let Some(side) = &self.state.side else { return };
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
                        let range = format!("{text:?}: {}", figures::score_span(&m.maps[0]));
                        let fig = figures::segment(&m.crop, &m.maps[0], m.grid, &text, &what)?;
                        Ok((Arc::new(fig), range))
                    })
                    .map_err(|e| e.to_string());
                Msg::SideMap(h, q.index, r)
            });
            if let Some(side) = self.state.side.as_mut() {
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
        if let Some(side) = self.state.side.as_mut()
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
