//! Key bindings: the shipped defaults, partial overrides from `keymap.toml`, and lookup of key
//! sequences (`g g`). Every binding has a description; the help overlay is generated from them.

use std::collections::BTreeMap;
use std::path::Path;

use crossterm::event::KeyEvent;
use serde::Deserialize;

use super::keys::parse_seq;
pub use super::keys::{normalize, parse_key, show_key};
use crate::{Error, Result};

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Context {
    /// Everywhere (unless a pane binds the same keys).
    Global,
    /// The heads grid.
    Grid,
    /// The head detail pane.
    Detail,
    /// An analysis view.
    Analysis,
    /// A head's gallery.
    Gallery,
    /// Heads side by side.
    Side,
    /// An open overlay (search, palette, help, picker, prompts): these bindings only, so that
    /// typed letters are text.
    Overlay,
}

impl Context {
    /// Its name in `keymap.toml` and the help overlay.
    pub fn name(self) -> &'static str {
        match self {
            Self::Global => "global",
            Self::Grid => "grid",
            Self::Detail => "detail",
            Self::Analysis => "analysis",
            Self::Gallery => "gallery",
            Self::Side => "side",
            Self::Overlay => "overlay",
        }
    }
}

macro_rules! actions {
    ($($variant:ident = $name:literal : $desc:literal,)*) => {
        /// What a key does.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action { $(#[doc = $desc] $variant,)* }

        impl Action {
            /// Every action.
            pub const ALL: &[Action] = &[$(Action::$variant,)*];
            /// Its name in `keymap.toml`.
            pub fn name(self) -> &'static str { match self { $(Action::$variant => $name,)* } }
            /// What it does, for the help overlay.
            pub fn describe(self) -> &'static str { match self { $(Action::$variant => $desc,)* } }
            /// The action named `name`.
            pub fn from_name(name: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|a| a.name() == name)
            }
        }
    };
}

actions! {
    Quit = "quit": "quit clipscope",
    Back = "back": "back out: close the overlay, leave the view",
    Up = "up": "move up",
    Down = "down": "move down",
    Left = "left": "move left (previous head)",
    Right = "right": "move right (next head)",
    Top = "top": "go to the first row",
    Bottom = "bottom": "go to the last row",
    HalfDown = "half_down": "half a page down",
    HalfUp = "half_up": "half a page up",
    FocusNext = "focus_next": "focus the next pane",
    FocusPrev = "focus_prev": "focus the previous pane",
    Search = "search": "search heads by what they do (as you type)",
    SearchNext = "search_next": "next search hit",
    SearchPrev = "search_prev": "previous search hit",
    Palette = "palette": "command palette (:goto L10H3, :theme, :export, :label …)",
    Help = "help": "this help",
    Metric = "metric": "colour the grid by the next metric",
    Yank = "yank": "copy the head's id to the clipboard (OSC 52)",
    Bookmark = "bookmark": "bookmark the head",
    Note = "note": "write a note on the head",
    Label = "label": "edit the head's label",
    PropertyNn = "view_property_nn": "1 · images nearest by the head's property",
    Segment = "view_segment": "2 · topic segmentation through the head",
    Contrast = "view_contrast": "3 · contrastive segmentation of two texts",
    HeadNn = "view_head_nn": "4 · images nearest to an image through the head",
    TextNn = "view_text_nn": "5 · images nearest to a text through the head",
    Ablate = "view_ablate": "6 · zero-shot accuracy with the head (or a property) mean-ablated",
    PickImage = "pick_image": "pick the query image (fuzzy path, or type a file path)",
    EditText = "edit_text": "edit the text",
    EditTextB = "edit_text_b": "edit the second text (contrast)",
    Run = "run": "run the analysis again",
    NextImage = "next_image": "next store image as the query",
    PrevImage = "prev_image": "previous store image as the query",
    UseHit = "use_hit": "make the selected hit the query image",
    Cancel = "cancel": "cancel the running analysis",
    OpenGallery = "gallery": "the head's gallery: its top and bottom images with index, file and score",
    OpenImage = "open_image": "analyse the selected image through its head (2 · segmentation; 1–6 keep the image)",
    Mark = "mark": "mark the head for side by side (up to 4; again unmarks)",
    OpenSide = "side_by_side": "the marked heads (or the search hits) side by side",
    MoreK = "more": "more neighbours (k up)",
    FewerK = "fewer": "fewer neighbours (k down)",
    Score = "score": "the next neighbour score: centred cosine, cosine, dot",
    Confirm = "confirm": "in an overlay: go to the hit, run the command, take the image or text",
}

/// One binding.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    /// Key sequence, e.g. `[g, g]`.
    pub keys: Vec<KeyEvent>,
    /// Where it applies.
    pub context: Context,
    /// What it does.
    pub action: Action,
}

/// All bindings.
#[derive(Debug, Clone)]
pub struct Keymap {
    /// In lookup order (the focused context first, then global).
    pub bindings: Vec<Binding>,
}

/// The shipped bindings: `(context, keys, action)`.
const DEFAULTS: &[(Context, &str, Action)] = {
    use Action::*;
    use Context::*;
    &[
        (Global, "q", Quit),
        (Global, "esc", Back),
        (Global, "?", Help),
        (Global, ":", Palette),
        (Global, "/", Search),
        (Global, "n", SearchNext),
        (Global, "N", SearchPrev),
        (Global, "tab", FocusNext),
        (Global, "backtab", FocusPrev),
        (Global, "k", Up),
        (Global, "up", Up),
        (Global, "j", Down),
        (Global, "down", Down),
        (Global, "h", Left),
        (Global, "left", Left),
        (Global, "l", Right),
        (Global, "right", Right),
        (Global, "g g", Top),
        (Global, "home", Top),
        (Global, "G", Bottom),
        (Global, "end", Bottom),
        (Global, "ctrl-d", HalfDown),
        (Global, "pagedown", HalfDown),
        (Global, "ctrl-u", HalfUp),
        (Global, "pageup", HalfUp),
        (Global, "1", PropertyNn),
        (Global, "2", Segment),
        (Global, "3", Contrast),
        (Global, "4", HeadNn),
        (Global, "5", TextNn),
        (Global, "6", Ablate),
        (Global, "y", Yank),
        (Grid, "m", Metric),
        (Grid, "b", Bookmark),
        (Grid, "a", Note),
        (Grid, "L", Label),
        (Detail, "b", Bookmark),
        (Detail, "a", Note),
        (Detail, "L", Label),
        (Analysis, "p", PickImage),
        (Analysis, "t", EditText),
        (Analysis, "T", EditTextB),
        (Analysis, "r", Run),
        (Analysis, "]", NextImage),
        (Analysis, "[", PrevImage),
        (Analysis, "enter", UseHit),
        (Analysis, "x", Cancel),
        (Analysis, "+", MoreK),
        (Analysis, "=", MoreK),
        (Analysis, "-", FewerK),
        (Analysis, "m", Score),
        (Grid, "enter", OpenGallery),
        (Grid, "i", OpenGallery),
        (Detail, "enter", OpenGallery),
        (Detail, "i", OpenGallery),
        (Side, "enter", OpenGallery),
        (Side, "]", NextImage),
        (Side, "[", PrevImage),
        (Gallery, "enter", OpenImage),
        (Grid, "c", Mark),
        (Detail, "c", Mark),
        (Global, "v", OpenSide),
        (Overlay, "esc", Back),
        (Overlay, "enter", Confirm),
        (Overlay, "down", Down),
        (Overlay, "tab", Down),
        (Overlay, "ctrl-n", Down),
        (Overlay, "up", Up),
        (Overlay, "backtab", Up),
        (Overlay, "ctrl-p", Up),
    ]
};

/// What a key sequence means in a context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// A binding's action.
    Action(Action),
    /// The start of a longer binding: wait for the next key.
    Prefix,
    /// Nothing.
    None,
}

impl Default for Keymap {
    fn default() -> Self {
        let bindings = DEFAULTS
            .iter()
            .filter_map(|&(context, keys, action)| {
                Some(Binding {
                    keys: parse_seq(keys)?,
                    context,
                    action,
                })
            })
            .collect();
        Self { bindings }
    }
}

impl Keymap {
    /// The defaults with `keymap.toml` applied: `[grid] "ctrl-n" = "down"` adds or replaces a
    /// binding, `"x" = "none"` removes one.
    pub fn load(path: &Path) -> Result<Self> {
        let mut me = Self::default();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(me),
            Err(e) => return Err(Error::io(path, e)),
        };
        let table: BTreeMap<Context, BTreeMap<String, String>> = toml::from_str(&text)
            .map_err(|e| Error::config(path, super::config::toml_error(&text, &e)))?;
        for (context, keys) in table {
            for (seq, action) in keys {
                let keys = parse_seq(&seq).ok_or_else(|| {
                    Error::config(path, format!("[{}] {seq:?} is not a key", context.name()))
                })?;
                me.bindings
                    .retain(|b| !(b.context == context && b.keys == keys));
                if action == "none" {
                    continue;
                }
                let action = Action::from_name(&action).ok_or_else(|| {
                    let names: Vec<_> = Action::ALL.iter().map(|a| a.name()).collect();
                    Error::config(
                        path,
                        format!(
                            "[{}] {seq:?} = {action:?}: no such action (one of: none, {})",
                            context.name(),
                            names.join(", ")
                        ),
                    )
                })?;
                me.bindings.push(Binding {
                    keys,
                    context,
                    action,
                });
            }
        }
        Ok(me)
    }

    /// What `keys` (the pending prefix plus the new key) mean in `context`: its own bindings,
    /// then the global ones (but for an overlay, whose other keys are text).
    pub fn lookup(&self, context: Context, keys: &[KeyEvent]) -> Lookup {
        let fallback = (context != Context::Overlay).then_some(Context::Global);
        for ctx in std::iter::once(context).chain(fallback) {
            let mine = self.bindings.iter().filter(|b| b.context == ctx);
            let mut prefix = false;
            for b in mine {
                if b.keys == keys {
                    return Lookup::Action(b.action);
                }
                prefix |= b.keys.len() > keys.len() && b.keys[..keys.len()] == *keys;
            }
            if prefix {
                return Lookup::Prefix;
            }
        }
        Lookup::None
    }

    /// The bindings in effect in `context`, for the help overlay: the context's own, then the
    /// global ones it does not shadow.
    pub fn effective(&self, context: Context) -> Vec<&Binding> {
        let own: Vec<&Binding> = self
            .bindings
            .iter()
            .filter(|b| b.context == context && context != Context::Global)
            .collect();
        let global = self.bindings.iter().filter(|b| {
            b.context == Context::Global
                && context != Context::Overlay
                && !own.iter().any(|o| o.keys == b.keys)
        });
        own.iter().copied().chain(global).collect()
    }

    /// The first key sequence bound to `action` in `context` or globally, for hints.
    pub fn key_for(&self, context: Context, action: Action) -> Option<String> {
        self.effective(context)
            .into_iter()
            .find(|b| b.action == action)
            .map(|b| b.keys.iter().map(show_key).collect::<Vec<_>>().join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_prefixes_and_overrides() {
        let km = Keymap::default();
        let g = parse_key("g").unwrap();
        assert_eq!(km.lookup(Context::Grid, &[g]), Lookup::Prefix);
        assert_eq!(
            km.lookup(Context::Grid, &[g, g]),
            Lookup::Action(Action::Top)
        );
        let m = parse_key("m").unwrap();
        assert_eq!(
            km.lookup(Context::Grid, &[m]),
            Lookup::Action(Action::Metric)
        );
        // The same key means what its context says: m cycles the neighbour score in a view.
        assert_eq!(
            km.lookup(Context::Analysis, &[m]),
            Lookup::Action(Action::Score)
        );
        let b = parse_key("b").unwrap();
        assert_eq!(km.lookup(Context::Analysis, &[b]), Lookup::None);

        let (_dir, p) = crate::testing::written(
            "keymap.toml",
            "[grid]\n\"ctrl-n\" = \"down\"\n[global]\n\"q\" = \"none\"\n",
        );
        let km = Keymap::load(&p).unwrap();
        let cn = parse_key("ctrl-n").unwrap();
        assert_eq!(
            km.lookup(Context::Grid, &[cn]),
            Lookup::Action(Action::Down)
        );
        assert_eq!(
            km.lookup(Context::Grid, &[parse_key("q").unwrap()]),
            Lookup::None
        );
        assert_eq!(
            km.lookup(Context::Grid, &[parse_key("j").unwrap()]),
            Lookup::Action(Action::Down)
        );

        std::fs::write(&p, "[grid]\n\"j\" = \"fly\"\n").unwrap();
        let e = Keymap::load(&p).unwrap_err().to_string();
        assert!(
            e.contains("keymap.toml") && e.contains("no such action"),
            "{e}"
        );
        std::fs::write(&p, "[grid\n").unwrap();
        assert!(Keymap::load(&p).is_err());
    }
}
