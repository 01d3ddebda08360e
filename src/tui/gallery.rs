//! A head's gallery in the explorer: its top and bottom images (computed off the UI thread by
//! [`crate::analysis::gallery`]), one selected, Enter taking it into the analyses with the head.

use std::sync::Arc;

use super::analysis::Kind;
use super::app::{App, Msg, View};
use crate::analysis::HeadRef;
use crate::analysis::gallery::{Gallery, Shot, gallery};
use crate::analysis::session::QueryImage;

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

impl App {
    /// Opens the gallery of head `h` (selecting it), computing it unless it is the one shown.
    pub fn open_gallery(&mut self, h: HeadRef) {
        self.select(h);
        let h = self.sel;
        self.leave_for(View::Gallery);
        self.overlay = None;
        if self.gallery.as_ref().is_some_and(|g| g.head == h) {
            return;
        }
        let Some(interp) = self.data.interp.clone() else {
            self.gallery = Some(GalleryView {
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
        self.gallery = Some(GalleryView {
            head: h,
            job: Some(id),
            outcome: None,
            sel: 0,
        });
    }

    /// A finished gallery job.
    pub(crate) fn gallery_done(&mut self, h: HeadRef, r: Result<Gallery, String>) {
        if let Some(g) = self.gallery.as_mut()
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
        let Some(g) = &self.gallery else { return };
        let Some(shot) = g.shots().get(g.sel).map(|s| s.index) else {
            return;
        };
        let head = g.head;
        match QueryImage::stored(self.data.store(), shot) {
            Ok(q) => {
                self.carried.image = Some(q);
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
}
