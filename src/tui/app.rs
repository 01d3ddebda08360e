//! The explorer's state and what changes it: messages from jobs, the selection, notes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::analysis::{Analysis, Kind};
use super::carry::Carried;
use super::config::Config;
use super::data::{Data, Metric, head_norms};
use super::gallery::GalleryView;
pub use super::geometry::Geometry;
use super::images::Images;
use super::jobs::Jobs;
use super::keymap::{Context, Keymap};
pub use super::msg::Msg;
use super::notes::Notes;
use super::overlay::Overlay;
use super::side::SideView;
use super::theme::Theme;
pub use super::top::Top;
use crate::analysis::HeadRef;

/// Which screen is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Heads grid and head detail.
    Main,
    /// One of the six analyses (the five of CLIP-InterpreT and the ablation table).
    Analysis(Kind),
    /// A head's gallery: its top and bottom images.
    Gallery,
    /// Heads side by side.
    Side,
}

/// Which pane of the main screen has the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// The heads grid.
    Grid,
    /// The head detail pane.
    Detail,
}

/// What the explorer shows and where the user is: read by drawing and by whoever drives the app
/// (`App::state`), changed only by `App::update`.
pub struct State {
    /// The screen.
    pub view: View,
    /// The focused pane.
    pub focus: Focus,
    /// The selected head.
    pub sel: HeadRef,
    /// Grid colouring.
    pub metric: Metric,
    /// The open overlay.
    pub overlay: Option<Overlay>,
    /// Heads found by the last search, for n/N.
    pub hits: Vec<HeadRef>,
    /// The last status message, and whether it is an error.
    pub message: Option<(String, bool)>,
    /// The analysis views.
    pub analyses: HashMap<Kind, Analysis>,
    /// Set when the user quits.
    pub quit: bool,
    /// Text to copy to the clipboard (OSC 52), written by the terminal loop.
    pub clipboard: Vec<String>,
    /// Scroll of the detail pane.
    pub detail_scroll: u16,
    /// Top images per head.
    pub top: HashMap<HeadRef, Top>,
    /// When the search overlay's query has rested long enough to be searched.
    pub search_due: Option<Instant>,
    /// Layout of the last frame drawn (given back as `Input::Drawn`), for the
    /// mouse and page sizes.
    pub geometry: Geometry,
    /// Frames drawn (spinner).
    pub frame: u64,
    /// The gallery view.
    pub gallery: Option<GalleryView>,
    /// The side-by-side view.
    pub side: Option<SideView>,
    /// Heads marked for side by side.
    pub marked: Vec<HeadRef>,
    /// The image and text carried from view to view.
    pub carried: Carried,
    /// Where Esc goes from the view shown: the gallery or side-by-side view it was opened
    /// from, else the heads.
    pub back_to: View,
}

/// The explorer: its state behind `update` (the one way it changes), and what it runs on.
pub struct App {
    /// What it shows (read it with [`App::state`]).
    pub(crate) state: State,
    /// The store and what was read from it.
    pub(crate) data: Data,
    /// Settings.
    pub(crate) config: Config,
    /// Key bindings.
    pub(crate) keymap: Keymap,
    /// Colours.
    pub(crate) theme: Theme,
    /// The config directory (themes, keymap).
    pub(crate) config_dir: PathBuf,
    /// Jobs off the UI thread.
    pub(crate) jobs: Jobs<Msg>,
    /// Inline images: the protocol and the cache of encoded images (drawing reads it; what a
    /// frame wanted comes back as `Input::Drawn`).
    pub(crate) images: Images,
    /// Bookmarks and notes.
    pub(crate) notes: Notes,
    /// Keys of an unfinished sequence (`g` of `g g`).
    pub(crate) pending: Vec<crossterm::event::KeyEvent>,
    /// Images are drawn once the selection has rested until then.
    pub(crate) images_after: Instant,
    pub(crate) pool: Option<Arc<Vec<f32>>>,
}

impl App {
    /// What the explorer shows, to read.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The store and what was read from it.
    pub fn data(&self) -> &Data {
        &self.data
    }

    /// The colours in use.
    pub fn theme(&self) -> &Theme {
        &self.theme
    }

    /// The explorer over `data`, jobs on threads or inline.
    pub(crate) fn new(
        data: Data,
        config: Config,
        keymap: Keymap,
        theme: Theme,
        config_dir: PathBuf,
        images: Images,
        jobs: Jobs<Msg>,
    ) -> Self {
        let metric = Metric::parse(&config.metric).unwrap_or(Metric::Label);
        let sel = HeadRef {
            layer: data.layers.last().copied().unwrap_or(0),
            head: 0,
        };
        let notes = Notes::load(data.store().dir());
        let mut me = Self {
            state: State {
                view: View::Main,
                focus: Focus::Grid,
                sel,
                metric,
                overlay: None,
                hits: vec![],
                message: None,
                analyses: HashMap::new(),
                quit: false,
                clipboard: vec![],
                detail_scroll: 0,
                top: HashMap::new(),
                search_due: None,
                geometry: Geometry::default(),
                frame: 0,
                gallery: None,
                side: None,
                marked: vec![],
                carried: Carried::default(),
                back_to: View::Main,
            },
            data,
            config,
            keymap,
            theme,
            config_dir,
            jobs,
            images,
            notes,
            pending: vec![],
            images_after: Instant::now(),
            pool: None,
        };
        if me.data.interp.is_none() {
            me.error(
                "this store is not interpreted: run `clipscope interpret` for labels and search",
            );
        }
        let session = me.data.session.clone();
        me.jobs.spawn("head norms", false, move |_| {
            Msg::Norms(head_norms(&session.store).map_err(|e| e.to_string()))
        });
        me
    }

    /// The keymap context of what has the keys.
    pub(crate) fn context(&self) -> Context {
        match (self.state.view, self.state.focus) {
            (View::Analysis(_), _) => Context::Analysis,
            (View::Gallery, _) => Context::Gallery,
            (View::Side, _) => Context::Side,
            (View::Main, Focus::Grid) => Context::Grid,
            (View::Main, Focus::Detail) => Context::Detail,
        }
    }

    /// Shows an error in the status bar.
    pub(crate) fn error(&mut self, e: impl std::fmt::Display) {
        self.state.message = Some((e.to_string(), true));
    }

    /// A job that panicked: its analysis shows the error, anything else the status bar.
    fn job_failed(&mut self, id: u64, e: String) {
        if let Some(a) = self.state.analyses.values_mut().find(|a| a.job == Some(id)) {
            a.job = None;
            a.outcome = Some(Err(e));
        } else if let Some(g) = self.state.gallery.as_mut().filter(|g| g.job == Some(id)) {
            g.job = None;
            g.outcome = Some(Err(e));
        } else if let Some(t) = self
            .state
            .top
            .values_mut()
            .find(|t| matches!(t, Top::Pending(j) if *j == id))
        {
            *t = Top::Failed(e);
        } else {
            self.error(e);
        }
    }

    /// Shows information in the status bar.
    pub(crate) fn info(&mut self, s: impl Into<String>) {
        self.state.message = Some((s.into(), false));
    }

    /// Selects head `h` (clamped to the store), and delays its images.
    pub(crate) fn select(&mut self, h: HeadRef) {
        let layers = &self.data.layers;
        let layer = if layers.contains(&h.layer) {
            h.layer
        } else {
            *layers
                .iter()
                .min_by_key(|l| l.abs_diff(h.layer))
                .unwrap_or(&0)
        };
        self.state.sel = HeadRef {
            layer,
            head: h.head.min(self.data.heads.saturating_sub(1)),
        };
        self.state.detail_scroll = 0;
        self.images_after = Instant::now() + Duration::from_millis(self.config.image_delay_ms);
    }

    /// Applies finished jobs' messages; returns whether anything changed.
    pub(crate) fn drain(&mut self) -> bool {
        let done = self.jobs.finished();
        let changed = !done.is_empty();
        for (id, msg) in done {
            let msg = match msg {
                Ok(m) => m,
                Err(e) => {
                    self.job_failed(id, e);
                    continue;
                }
            };
            match msg {
                Msg::Analysis(kind, r) => {
                    if let Some(a) = self.state.analyses.get_mut(&kind)
                        && a.job == Some(id)
                    {
                        a.job = None;
                        a.sel = 0;
                        a.outcome = Some(r);
                    }
                }
                Msg::Top(h, r) => {
                    let t = match r {
                        Ok(v) => Top::Ready(v),
                        Err(e) => Top::Failed(e),
                    };
                    self.state.top.insert(h, t);
                }
                Msg::Norms(Ok(v)) => self.data.norms = Some(v),
                Msg::Norms(Err(e)) => self.error(format!("head norms: {e}")),
                Msg::Image(key, r) => self.images.put(key, r),
                Msg::Search(query, r) => self.searched(&query, r),
                Msg::Compare(k, Ok(rows)) => {
                    self.state.overlay = Some(Overlay::Compare { rows, k, sel: 0 })
                }
                Msg::Compare(_, Err(e)) => self.error(format!(":compare: {e}")),
                Msg::Gallery(h, r) => self.gallery_done(h, r),
                Msg::SideMap(h, image, r) => self.side_done(h, image, r),
            }
        }
        changed
    }

    /// Starts the jobs the last frame asked for: images (once the selection has rested) and the
    /// selected head's top images.
    pub(crate) fn request(&mut self, now: Instant) {
        if self.state.search_due.is_some_and(|due| now >= due) {
            self.state.search_due = None;
            self.start_search();
        }
        if now < self.images_after {
            return;
        }
        let images = &mut self.images;
        if let Some(picker) = images.picker.clone() {
            let direct = images.direct.is_some();
            for w in images.take_wanted() {
                let picker = picker.clone();
                self.jobs.spawn("image", false, move |_| {
                    let size = ratatui::layout::Size::new(w.key.1, w.key.2);
                    let r = super::images::encode(&picker, &w.src, size, direct);
                    Msg::Image(w.key.clone(), r)
                });
            }
        }
        if self.state.view == View::Main
            && self.images.picker.is_some()
            && !self.state.top.contains_key(&self.state.sel)
        {
            self.top_images(self.state.sel);
        }
    }

    /// Opens analysis view `kind` for the selected head, running it when its inputs changed.
    pub(crate) fn open(&mut self, kind: Kind) {
        self.leave_for(View::Analysis(kind));
        self.state.overlay = None;
        let fresh = Analysis::new(kind, &self.data, self.state.sel);
        let a = self
            .state
            .analyses
            .entry(kind)
            .or_insert_with(|| fresh.clone());
        let mut stale = a.head != fresh.head || a.outcome.is_none();
        if a.head != fresh.head {
            a.head = fresh.head;
            a.property = fresh.property;
            a.texts = fresh.texts;
        }
        stale |= self.state.carried.apply(a);
        if stale && a.job.is_none() {
            self.run_analysis(kind);
        }
    }

    /// Shows `view`, remembering a gallery or side-by-side view left for it (Esc returns).
    pub(crate) fn leave_for(&mut self, view: View) {
        if matches!(self.state.view, View::Gallery | View::Side) && self.state.view != view {
            self.state.back_to = self.state.view;
        } else if self.state.view == View::Main {
            self.state.back_to = View::Main;
        }
        self.state.view = view;
    }

    /// Runs (again) analysis `kind`, cancelling its running job.
    pub(crate) fn run_analysis(&mut self, kind: Kind) {
        let Some(a) = self.state.analyses.get_mut(&kind) else {
            return;
        };
        if let Some(id) = a.job.take() {
            self.jobs.cancel(id);
        }
        self.state.carried.remember(a);
        let work = a.work(&self.data);
        let what = format!("{} {}", kind.title(), a.head);
        let id = self
            .jobs
            .spawn(what, true, move |_| Msg::Analysis(kind, work()));
        if let Some(a) = self.state.analyses.get_mut(&kind) {
            a.job = Some(id);
        }
    }
}
