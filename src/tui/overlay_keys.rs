//! The keys of an open overlay: line editing, moving the selection, and what Enter does.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::analysis::Kind;
use super::app::{App, View};
use super::commands;
use super::keymap::{Action, Context, Lookup, normalize, show_key};
use super::overlay::{Found, Overlay, Prompt, fuzzy};
use crate::analysis::HeadRef;
use crate::analysis::session::QueryImage;

/// Edits `input` with `k`; returns false for keys that are not editing keys.
fn edit(input: &mut String, k: &KeyEvent) -> bool {
    match k.code {
        KeyCode::Char('u') if k.modifiers.contains(KeyModifiers::CONTROL) => input.clear(),
        KeyCode::Char('w') if k.modifiers.contains(KeyModifiers::CONTROL) => {
            let t = input.trim_end().len();
            let cut = input[..t].rfind(' ').map_or(0, |i| i + 1);
            input.truncate(cut);
        }
        KeyCode::Char(c)
            if !k
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
        {
            input.push(c)
        }
        KeyCode::Backspace => {
            input.pop();
        }
        _ => return false,
    }
    true
}

/// Moves a selection among `n` items by the overlay's bound `down`/`up` (arrows, Tab, Ctrl-n/p
/// unless `keymap.toml` says otherwise).
fn step(sel: &mut usize, n: usize, bound: Option<Action>) -> bool {
    let down = bound == Some(Action::Down);
    let up = bound == Some(Action::Up);
    if down {
        *sel = (*sel + 1).min(n.saturating_sub(1));
    } else if up {
        *sel = sel.saturating_sub(1);
    }
    down || up
}

/// The help entries of the focused context, filtered: (keys, action).
pub fn help_entries(app: &App, filter: &str) -> Vec<(String, Action)> {
    let f = filter.to_lowercase();
    app.keymap
        .effective(app.context())
        .into_iter()
        .map(|b| {
            (
                b.keys.iter().map(show_key).collect::<Vec<_>>().join(" "),
                b.action,
            )
        })
        .filter(|(k, a)| {
            f.is_empty()
                || a.describe().to_lowercase().contains(&f)
                || a.name().contains(&f)
                || k.contains(&f)
        })
        .collect()
}

impl App {
    /// Refilters the picker's matches.
    pub(crate) fn refresh_picker(&mut self) {
        let Some(Overlay::Picker { input, .. }) = &self.state.overlay else {
            return;
        };
        let q = input.clone();
        let mut scored: Vec<(i64, usize, &str)> = self
            .data
            .paths()
            .iter()
            .filter_map(|(i, p)| Some((fuzzy(&q, p)?, *i, p.as_str())))
            .collect();
        scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.truncate(200);
        let matches: Vec<(usize, String)> = scored
            .into_iter()
            .map(|(_, i, p)| (i, p.to_string()))
            .collect();
        if let Some(Overlay::Picker {
            matches: m, sel, ..
        }) = &mut self.state.overlay
        {
            *m = matches;
            *sel = 0;
        }
    }

    /// Handles a key while an overlay is open.
    pub(crate) fn overlay_key(&mut self, k: KeyEvent) {
        let Some(mut ov) = self.state.overlay.take() else {
            return;
        };
        // The overlay's own bindings only: typed letters are text, not the grid's keys.
        let bound = match self.keymap.lookup(Context::Overlay, &[normalize(k)]) {
            Lookup::Action(a) => Some(a),
            _ => None,
        };
        if bound == Some(Action::Back) {
            if let Overlay::Search { before, .. } = ov {
                self.select(before);
            }
            return;
        }
        let enter = bound == Some(Action::Confirm);
        if enter && matches!(ov, Overlay::Search { .. }) && self.state.search_due.take().is_some() {
            // Enter typed before the query rested: search it now, then jump.
            self.state.overlay = Some(ov);
            self.search_now();
            let Some(searched) = self.state.overlay.take() else {
                return;
            };
            ov = searched;
        }
        let key = OverlayKey { k, bound, enter };
        let after = match &mut ov {
            Overlay::Search {
                input, found, sel, ..
            } => self.search_key((input, found, sel), &key),
            Overlay::Palette { input, sel } => self.palette_key(input, sel, &key),
            Overlay::Help { input, sel } => self.help_key(input, sel, &key),
            Overlay::Picker {
                kind,
                input,
                matches,
                sel,
            } => self.picker_key(*kind, (input, matches, sel), &key),
            Overlay::Compare { rows, sel, .. } => match enter {
                true => After::Close,
                false => {
                    step(sel, rows.len(), bound);
                    After::Keep
                }
            },
            Overlay::Bookmarks { sel } => {
                let ids: Vec<String> = self.notes.bookmarks.iter().cloned().collect();
                if enter {
                    if let Some(h) = ids.get(*sel).and_then(|id| id.parse::<HeadRef>().ok()) {
                        self.select(h);
                        self.state.view = View::Main;
                    }
                    After::Close
                } else {
                    step(sel, ids.len(), bound);
                    After::Keep
                }
            }
            Overlay::Prompt { what, input } => {
                if enter {
                    let (what, text) = (*what, input.clone());
                    self.submit(what, &text);
                    After::Close
                } else {
                    edit(input, &k);
                    After::Keep
                }
            }
        };
        match after {
            After::Close => {}
            After::Keep => self.state.overlay = Some(ov),
            After::Then(then) => {
                self.state.overlay = Some(ov);
                then(self);
            }
        }
    }

    /// A key in the search overlay: Enter jumps to the selected hit, a step selects one, text
    /// searches again once typing rests.
    fn search_key(
        &mut self,
        (input, found, sel): (&mut String, &mut Vec<Found>, &mut usize),
        key: &OverlayKey,
    ) -> After {
        if key.enter {
            self.state.hits = found.iter().map(|f| f.head).collect();
            if let Some(f) = found.get(*sel) {
                self.select(f.head);
                self.state.view = View::Main;
            }
            return After::Close;
        }
        if step(sel, found.len(), key.bound) {
            if let Some(f) = found.get(*sel) {
                self.select(f.head);
            }
        } else if edit(input, &key.k) {
            return After::Then(App::search_soon);
        }
        After::Keep
    }

    /// A key in the palette: Enter runs the command line (or completes the chosen command and
    /// waits for its argument).
    fn palette_key(&mut self, input: &mut String, sel: &mut usize, key: &OverlayKey) -> After {
        let sugg = commands::suggestions(input);
        if key.enter {
            let line = if input.trim().contains(' ') || sugg.is_empty() {
                input.clone()
            } else {
                let chosen = sugg[(*sel).min(sugg.len() - 1)].0;
                if input.trim() == chosen || commands::takes_argument(chosen) {
                    format!("{} ", chosen)
                } else {
                    chosen.to_string()
                }
            };
            if commands::takes_argument(line.trim()) && !line.trim().contains(' ') {
                // `:goto` alone: wait for its argument.
                *input = line;
                return After::Keep;
            }
            commands::execute(self, &line);
            return After::Close;
        }
        if !step(sel, sugg.len(), key.bound) && edit(input, &key.k) {
            *sel = 0;
        }
        After::Keep
    }

    /// A key in the help: Enter does the selected action; text filters the entries.
    fn help_key(&mut self, input: &mut String, sel: &mut usize, key: &OverlayKey) -> After {
        let entries = help_entries(self, input);
        if key.enter {
            if let Some((_, a)) = entries.get(*sel) {
                self.act(*a);
            }
            return After::Close;
        }
        if !step(sel, entries.len(), key.bound) && edit(input, &key.k) {
            *sel = 0;
        }
        After::Keep
    }

    /// A key in the image picker: Enter takes the selected stored image or the typed path as
    /// the analysis' query (an unreadable one keeps the picker open with the error).
    fn picker_key(
        &mut self,
        kind: Kind,
        (input, matches, sel): (&mut String, &mut Vec<(usize, String)>, &mut usize),
        key: &OverlayKey,
    ) -> After {
        if !key.enter {
            if !step(sel, matches.len(), key.bound) && edit(input, &key.k) {
                return After::Then(App::refresh_picker);
            }
            return After::Keep;
        }
        let typed = input.trim();
        let path_like = ["/", "./", "../", "~", "#"]
            .iter()
            .any(|p| typed.starts_with(p));
        let r = match matches.get(*sel) {
            Some((i, _)) if !path_like => QueryImage::stored(self.data.store(), *i),
            _ => {
                let home = std::env::var("HOME").unwrap_or_default();
                let typed = match typed.strip_prefix('~') {
                    Some(rest) => format!("{home}{rest}"),
                    None => typed.to_string(),
                };
                QueryImage::resolve(&typed, Some(self.data.store()))
            }
        };
        match r {
            Ok(q) => {
                if let Some(a) = self.state.analyses.get_mut(&kind) {
                    a.query = Some(q);
                }
                self.run_analysis(kind);
                After::Close
            }
            Err(e) => {
                self.error(e);
                After::Keep
            }
        }
    }

    fn submit(&mut self, what: Prompt, text: &str) {
        match what {
            Prompt::Note => self.set_note(text),
            Prompt::Label => self.set_label(text),
            Prompt::Text(kind, i) => {
                if text.trim().is_empty() {
                    self.error("the text is empty");
                    return;
                }
                if let Some(a) = self.state.analyses.get_mut(&kind) {
                    a.texts[i] = text.trim().to_string();
                }
                self.run_analysis(kind);
            }
        }
    }
}

/// A key as an overlay reads it: the key, the overlay binding it is (if any), and whether that
/// is Confirm.
struct OverlayKey {
    k: KeyEvent,
    bound: Option<Action>,
    enter: bool,
}

/// What becomes of the overlay after a key: closed, kept open, or kept open and then `App`'s
/// follow-up run (searching again, refreshing the picker), which reads the overlay.
enum After {
    Close,
    Keep,
    Then(fn(&mut App)),
}
