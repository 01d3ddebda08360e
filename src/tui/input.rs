//! Keys and mouse: key sequences through the keymap to actions, and what each action does.

use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::Position;

use super::analysis::Kind;
use super::app::{App, Focus, View};
use super::data::Metric;
use super::keymap::{Action, Lookup, normalize};
use super::overlay::{Overlay, Prompt};
use crate::analysis::HeadRef;
use crate::analysis::session::QueryImage;

impl App {
    /// Handles a key press.
    pub(crate) fn key(&mut self, k: KeyEvent) {
        if k.kind == KeyEventKind::Release {
            return;
        }
        if k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('c') {
            self.state.quit = true;
            return;
        }
        if self.state.overlay.is_some() {
            self.overlay_key(k);
            return;
        }
        self.pending.push(normalize(k));
        match self.keymap.lookup(self.context(), &self.pending) {
            Lookup::Prefix => {}
            Lookup::Action(a) => {
                self.pending.clear();
                self.act(a);
            }
            Lookup::None => {
                self.pending.clear();
            }
        }
    }

    fn rows_of_view(&self) -> usize {
        match self.state.view {
            View::Main => self.data.layers.len(),
            View::Analysis(kind) => self.state.analyses.get(&kind).map_or(0, |a| a.rows().len()),
            View::Gallery => self.state.gallery.as_ref().map_or(0, |g| g.shots().len()),
            View::Side => 0,
        }
    }

    /// Moves the selection `dl` rows (layers or hits) and `dh` heads.
    fn nudge(&mut self, dl: isize, dh: isize) {
        match self.state.view {
            View::Gallery => return self.state.gallery.iter_mut().for_each(|g| g.nudge(dl + dh)),
            View::Side => {
                let Some(s) = self.state.side.as_mut() else {
                    return;
                };
                let n = s.heads.len().saturating_sub(1) as isize;
                s.col = (s.col as isize + dh).clamp(0, n) as usize;
                let h = s.heads[s.col];
                return self.select(h);
            }
            _ => {}
        }
        if let View::Analysis(kind) = self.state.view {
            let n = self.rows_of_view();
            if let Some(a) = self.state.analyses.get_mut(&kind) {
                a.sel = (a.sel as isize + dl).clamp(0, n.saturating_sub(1) as isize) as usize;
            }
            return;
        }
        if self.state.focus == Focus::Detail {
            self.state.detail_scroll = (self.state.detail_scroll as isize + dl).max(0) as u16;
            return;
        }
        let layers = &self.data.layers;
        let li = layers
            .iter()
            .position(|&l| l == self.state.sel.layer)
            .unwrap_or(0) as isize;
        let li = (li + dl).clamp(0, layers.len().saturating_sub(1) as isize) as usize;
        let head = (self.state.sel.head as isize + dh)
            .clamp(0, self.data.heads.saturating_sub(1) as isize);
        self.select(HeadRef {
            layer: layers.get(li).copied().unwrap_or(0),
            head: head as usize,
        });
    }

    fn half(&self) -> isize {
        let g = self.state.geometry;
        (g.grid.height.max(g.hits.height) / 2).max(1) as isize
    }

    /// Does what `a` says.
    // Over 80 lines: one arm per `Action`, the keymap's dispatch table, most of them one line;
    // split, the table would no longer read as one.
    pub(crate) fn act(&mut self, a: Action) {
        let big = 1 << 20;
        match a {
            Action::Quit => self.state.quit = true,
            Action::Back => {
                if self.state.view != View::Main {
                    // To the gallery or side-by-side view this one was opened from, else home.
                    self.state.view = std::mem::replace(&mut self.state.back_to, View::Main);
                } else if self.state.focus == Focus::Detail {
                    self.state.focus = Focus::Grid;
                } else {
                    self.state.message = None;
                }
            }
            Action::Up => self.nudge(-1, 0),
            Action::Down => self.nudge(1, 0),
            Action::Left => self.nudge(0, -1),
            Action::Right => self.nudge(0, 1),
            Action::Top => self.nudge(-big, 0),
            Action::Bottom => self.nudge(big, 0),
            Action::HalfDown => self.nudge(self.half(), 0),
            Action::HalfUp => self.nudge(-self.half(), 0),
            Action::FocusNext | Action::FocusPrev => {
                if self.state.view == View::Main {
                    self.state.focus = match self.state.focus {
                        Focus::Grid => Focus::Detail,
                        Focus::Detail => Focus::Grid,
                    };
                }
            }
            Action::Search => {
                if self.data.index.is_none() {
                    return self
                        .error("search needs an interpreted store: run `clipscope interpret`");
                }
                self.state.overlay = Some(Overlay::Search {
                    input: String::new(),
                    found: vec![],
                    sel: 0,
                    before: self.state.sel,
                });
            }
            Action::SearchNext | Action::SearchPrev => self.next_hit(a == Action::SearchNext),
            Action::Palette => {
                self.state.overlay = Some(Overlay::Palette {
                    input: String::new(),
                    sel: 0,
                })
            }
            Action::Help => {
                self.state.overlay = Some(Overlay::Help {
                    input: String::new(),
                    sel: 0,
                })
            }
            Action::Metric => {
                let i = Metric::ALL
                    .iter()
                    .position(|&m| m == self.state.metric)
                    .unwrap_or(0);
                self.state.metric = Metric::ALL[(i + 1) % Metric::ALL.len()];
                self.info(format!("grid coloured by {}", self.state.metric.name()));
            }
            Action::Yank => self.yank(),
            Action::Bookmark => self.bookmark(),
            Action::Note => self.prompt(Prompt::Note),
            Action::Label => self.prompt(Prompt::Label),
            Action::PropertyNn => self.open(Kind::PropertyNn),
            Action::Segment => self.open(Kind::Segment),
            Action::Contrast => self.open(Kind::Contrast),
            Action::HeadNn => self.open(Kind::HeadNn),
            Action::TextNn => self.open(Kind::TextNn),
            Action::Ablate => self.open(Kind::Ablate),
            Action::PickImage | Action::EditText | Action::EditTextB | Action::Run => {
                self.analysis_action(a)
            }
            Action::NextImage | Action::PrevImage if self.state.view == View::Side => {
                self.side_step_image(a == Action::NextImage)
            }
            Action::NextImage | Action::PrevImage | Action::UseHit | Action::Cancel => {
                self.analysis_action(a)
            }
            Action::MoreK | Action::FewerK | Action::Score => self.analysis_action(a),
            // An overlay's own key: nothing to confirm without one.
            Action::Confirm => {}
            Action::OpenGallery => match (self.state.view, &self.state.side) {
                (View::Side, Some(s)) => {
                    let h = s.heads.get(s.col).copied().unwrap_or(self.state.sel);
                    self.open_gallery(h)
                }
                _ => self.open_gallery(self.state.sel),
            },
            Action::OpenImage => self.open_selected_image(),
            Action::Mark => self.toggle_mark(),
            Action::OpenSide => self.open_side(self.side_heads()),
        }
    }

    fn prompt(&mut self, what: Prompt) {
        let id = self.data.id(self.state.sel);
        let input = match what {
            Prompt::Note => self.notes.notes.get(&id).cloned().unwrap_or_default(),
            Prompt::Label => self.data.label(self.state.sel).unwrap_or_default(),
            Prompt::Text(kind, i) => self
                .state
                .analyses
                .get(&kind)
                .map(|a| a.texts[i].clone())
                .unwrap_or_default(),
        };
        self.state.overlay = Some(Overlay::Prompt { what, input });
    }

    fn next_hit(&mut self, forward: bool) {
        if self.state.hits.is_empty() {
            return self.info("no search hits: / searches");
        }
        let n = self.state.hits.len();
        let at = self.state.hits.iter().position(|&h| h == self.state.sel);
        let i = match (at, forward) {
            (Some(i), true) => (i + 1) % n,
            (Some(i), false) => (i + n - 1) % n,
            (None, _) => 0,
        };
        self.select(self.state.hits[i]);
        self.info(format!("hit {} of {n}", i + 1));
    }

    fn analysis_action(&mut self, a: Action) {
        let View::Analysis(kind) = self.state.view else {
            return;
        };
        match a {
            Action::PickImage if kind.needs_image() => {
                self.state.overlay = Some(Overlay::Picker {
                    kind,
                    input: String::new(),
                    matches: vec![],
                    sel: 0,
                });
                self.refresh_picker();
            }
            Action::EditText if kind.texts() >= 1 => self.prompt(Prompt::Text(kind, 0)),
            Action::EditTextB if kind.texts() >= 2 => self.prompt(Prompt::Text(kind, 1)),
            Action::Run => self.run_analysis(kind),
            Action::MoreK | Action::FewerK | Action::Score => self.tune(kind, a),
            Action::Cancel => {
                if let Some(id) = self
                    .state
                    .analyses
                    .get_mut(&kind)
                    .and_then(|a| a.job.take())
                {
                    self.jobs.cancel(id);
                    self.info("cancelled");
                }
            }
            Action::NextImage | Action::PrevImage if kind.needs_image() => {
                let cur = self
                    .state
                    .analyses
                    .get(&kind)
                    .and_then(|a| a.query.as_ref())
                    .and_then(|q| q.index);
                let next = QueryImage::step_stored(self.data.store(), cur, a == Action::NextImage);
                if let (Some(q), Some(an)) = (next, self.state.analyses.get_mut(&kind)) {
                    an.query = Some(q);
                    self.run_analysis(kind);
                }
            }
            Action::UseHit if kind.needs_image() => {
                let store = self.data.store();
                let pick = self
                    .state
                    .analyses
                    .get(&kind)
                    .and_then(|a| a.rows().get(a.sel).cloned());
                if let Some(row) = pick {
                    match QueryImage::stored(store, row.index) {
                        Ok(q) => {
                            if let Some(an) = self.state.analyses.get_mut(&kind) {
                                an.query = Some(q);
                            }
                            self.run_analysis(kind);
                        }
                        Err(e) => self.error(e),
                    }
                }
            }
            _ => {}
        }
    }

    /// `+`/`-` change how many neighbours an analysis finds, `m` its score; it runs again.
    fn tune(&mut self, kind: Kind, a: Action) {
        if !matches!(kind, Kind::PropertyNn | Kind::HeadNn | Kind::TextNn) {
            return self.info("k and the score are the neighbour views' (1, 4, 5)");
        }
        let Some(an) = self.state.analyses.get_mut(&kind) else {
            return;
        };
        match a {
            Action::MoreK => an.k = (an.k + (an.k / 4).max(1)).min(1000),
            Action::FewerK => an.k = (an.k - (an.k / 5).max(1)).max(1),
            _ => {
                let scores = super::analysis::SCORES;
                let i = scores.iter().position(|&m| m == an.metric).unwrap_or(0);
                an.metric = scores[(i + 1) % scores.len()];
            }
        }
        self.run_analysis(kind);
    }

    /// Handles a mouse event: click selects a cell or focuses a pane, the wheel scrolls.
    pub(crate) fn mouse(&mut self, m: MouseEvent) {
        if !self.config.mouse || self.state.overlay.is_some() {
            return;
        }
        let at = Position::new(m.column, m.row);
        match m.kind {
            MouseEventKind::ScrollDown => self.nudge(1, 0),
            MouseEventKind::ScrollUp => self.nudge(-1, 0),
            MouseEventKind::Down(MouseButton::Left) => {
                let g = self.state.geometry;
                if self.state.view == View::Main && g.grid.contains(at) && g.cell > 0 {
                    self.state.focus = Focus::Grid;
                    let row = g.layer0 + (m.row - g.grid.y) as usize;
                    let col = g.head0 + ((m.column - g.grid.x) / g.cell) as usize;
                    if let Some(&layer) = self.data.layers.get(row)
                        && col < self.data.heads
                    {
                        self.select(HeadRef { layer, head: col });
                    }
                } else if self.state.view == View::Main && g.detail.contains(at) {
                    self.state.focus = Focus::Detail;
                } else if self.state.view == View::Gallery && g.hits.contains(at) {
                    // The list: a "top" header, its rows, a "bottom" header, its rows.
                    let row = (m.row - g.hits.y) as usize;
                    if let Some(gv) = self.state.gallery.as_mut() {
                        let top = match &gv.outcome {
                            Some(Ok(out)) => out.top.len(),
                            _ => 0,
                        };
                        let n = gv.shots().len();
                        let i = match row {
                            0 => None,
                            r if r <= top => Some(r - 1),
                            r if r == top + 1 => None,
                            r => Some(r - 2),
                        };
                        if let Some(i) = i.filter(|&i| i < n) {
                            gv.sel = i;
                        }
                    }
                } else if let View::Analysis(kind) = self.state.view
                    && g.hits.contains(at)
                {
                    let n = self.rows_of_view();
                    if let Some(a) = self.state.analyses.get_mut(&kind) {
                        let i = (m.row - g.hits.y) as usize;
                        if i < n {
                            a.sel = i;
                        }
                    }
                }
            }
            _ => {}
        }
    }
}
