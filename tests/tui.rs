//! Whole-app tests of `clipscope explore`: the real app on a fixture store (probe images indexed
//! with the tiny model, a known interpretation), driven by key sequences, drawn into ratatui's
//! TestBackend and compared with insta snapshots. Jobs run inline, so every screen is exact.

mod common;

use std::path::PathBuf;

use candle_core::{DType, Device};
use clipscope::analysis::HeadRef;
use clipscope::analysis::session::{QueryImage, Session};
use clipscope::evidence::PropertyEvidence;
use clipscope::index::{Options as BuildOptions, Plan, build};
use clipscope::interpret::interpretation::{HeadInterp, HeadText, Interpretation, Settings};
use clipscope::interpret::labels::{Basis, Label};
use clipscope::model::{Clip, ModelFiles};
use clipscope::nn::Metric;
use clipscope::store::Store;
use clipscope::store::images::ImageList;
use clipscope::tui::analysis::{Kind, Outcome};
use clipscope::tui::app::{App, View};
use clipscope::tui::config::ImageProtocol;
use clipscope::tui::images::Images;
use clipscope::tui::keymap::{Action, parse_key};
use clipscope::tui::update::Input;
use clipscope::tui::{Options, app};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui_image::picker::Picker;

/// (label, texts) of each head, layer-major: two colour heads (L2H1 and L1H2).
const HEADS: [(&str, [&str; 3]); 12] = [
    ("clothing", ["a wool sweater", "a red dress", "denim jeans"]),
    (
        "texture",
        ["a striped pattern", "a checkerboard", "a dotted fabric"],
    ),
    ("shape", ["a circle", "a triangle", "a square"]),
    (
        "counting",
        ["three objects", "nine dots", "a pair of shoes"],
    ),
    ("body part", ["a hand", "an eye", "a foot"]),
    ("shape", ["a ring", "a cross", "a diamond"]),
    (
        "color",
        ["a bright red object", "something blue", "a yellow color"],
    ),
    ("counting", ["two of them", "five things", "a single item"]),
    (
        "food",
        ["homemade strawberries", "a bowl of soup", "fresh bread"],
    ),
    ("color", ["a crimson sky", "a green field", "vivid colors"]),
    ("letters", ["the letter A", "a digit", "printed text"]),
    ("texture", ["a rough surface", "noise", "a grid pattern"]),
];

struct Fixture {
    dir: PathBuf,
    cache: PathBuf,
    config: PathBuf,
    _tmp: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let images = tmp.path().join("probe");
    clipscope::probe::write(&images, 24).unwrap();
    let model = fixture_dir();
    let files = ModelFiles::from_dir(&model, "tiny-clip-hf").unwrap();
    let clip = Clip::load(&files, &Device::Cpu, DType::F32).unwrap();
    let cache = tmp.path().join("cache");
    let list = ImageList::from_source(&images).unwrap();
    // Two classes, alternating, for the ablation view.
    let csv = tmp.path().join("labels.csv");
    let lines: Vec<String> = list
        .entries
        .iter()
        .enumerate()
        .map(|(i, e)| format!("{},{}", e.rel, ["even", "odd"][i % 2]))
        .collect();
    std::fs::write(&csv, lines.join("\n")).unwrap();
    let labels = clipscope::store::labels::Labels::from_csv(&csv, &list).unwrap();
    let plan = Plan::new(
        &clip,
        model.to_str().unwrap(),
        &files,
        DType::F32,
        list,
        vec![0, 1, 2],
        0,
        None,
        Some(labels),
        &cache,
    )
    .unwrap();
    let opts = BuildOptions {
        batch: 8,
        shard: None,
        decoders: 1,
    };
    build(&clip, &plan, &opts, &|_| {}).unwrap();
    let store = Store::open(&plan.dir).unwrap();
    let heads = HEADS
        .iter()
        .enumerate()
        .map(|(i, (label, texts))| HeadInterp {
            layer: i / 4,
            head: i % 4,
            texts: texts
                .iter()
                .enumerate()
                .map(|(k, t)| HeadText {
                    index: i * 3 + k,
                    text: t.to_string(),
                    property: label.to_string(),
                    properties: vec![],
                    std: 1.0,
                    variance_explained: 0.1 * (k + 1) as f64 + 0.01 * i as f64,
                })
                .collect(),
            label: Some(Label {
                property: label.to_string(),
                confidence: 0.6,
                basis: Basis::Texts,
            }),
            // The first head has image evidence: the head pane draws a bar per property.
            evidence: if i == 8 {
                vec![
                    PropertyEvidence {
                        property: "color".into(),
                        eta2: 0.81,
                        chance: 0.01,
                        images: 400,
                        groups: 12,
                        top: Some(("red".into(), 0.75)),
                        fit: Some(0.93),
                    },
                    PropertyEvidence {
                        property: "background".into(),
                        eta2: 0.12,
                        chance: 0.01,
                        images: 400,
                        groups: 5,
                        top: None,
                        fit: Some(0.1),
                    },
                ]
            } else {
                vec![]
            },
            shared: vec![],
            families: vec![],
            llm_label: None,
            ccs: None,
            llm_ccs: None,
            importance: Some(clipscope::interpret::interpretation::Importance {
                top1_delta: -0.5 * i as f64,
                margin_drop: 0.001 * (i + 1) as f64,
            }),
        })
        .collect();
    Interpretation {
        version: clipscope::interpret::interpretation::INTERPRET_VERSION,
        store: store.manifest.hash.clone(),
        slug: store.manifest.slug.clone(),
        pool: "test".into(),
        pool_sha256: "0123456789abcdef0123456789abcdef".into(),
        settings: Settings {
            rank: 8,
            texts_per_head: 3,
            top_k: 3,
        },
        heads,
        pruning: None,
        overrides: Default::default(),
    }
    .save(&plan.dir)
    .unwrap();
    let config = tmp.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    Fixture {
        dir: plan.dir,
        cache,
        config,
        _tmp: tmp,
    }
}

fn fixture_dir() -> PathBuf {
    common::fixture("tiny-clip-hf")
}

struct Ui {
    app: App,
    term: Terminal<TestBackend>,
    fx: Fixture,
}

fn session(fx: &Fixture) -> Session {
    Session::new(
        Store::open(&fx.dir).unwrap(),
        Some(fixture_dir().to_string_lossy().into_owned()),
        Device::Cpu,
        &fx.cache,
    )
}

fn ui_with(w: u16, h: u16, picker: Option<Picker>) -> Ui {
    ui_in(fixture(), w, h, picker)
}

/// The app on `fx` (its config directory as the test left it).
fn ui_in(fx: Fixture, w: u16, h: u16, picker: Option<Picker>) -> Ui {
    let opts = Options {
        theme: None,
        image_protocol: Some(ImageProtocol::None),
        no_mouse: false,
        config_dir: Some(fx.config.clone()),
        heads: vec![],
    };
    let app = app(session(&fx), &opts, Images::new(picker), true).unwrap();
    let term = Terminal::new(TestBackend::new(w, h)).unwrap();
    let mut ui = Ui { app, term, fx };
    ui.draw();
    ui
}

/// The app opened on `heads` (as `explore --head`).
fn ui_heads(heads: Vec<HeadRef>) -> Ui {
    let fx = fixture();
    let opts = Options {
        image_protocol: Some(ImageProtocol::None),
        config_dir: Some(fx.config.clone()),
        heads,
        ..Options::default()
    };
    let app = app(session(&fx), &opts, Images::new(None), true).unwrap();
    let term = Terminal::new(TestBackend::new(120, 30)).unwrap();
    let mut ui = Ui { app, term, fx };
    ui.draw();
    ui
}

fn ui(w: u16, h: u16) -> Ui {
    ui_with(w, h, None)
}

impl Ui {
    /// Presses keys: words are keymap key names (`j`, `ctrl-d`, `enter`, `esc`); `"text` types
    /// the text after the quote, `_` standing for a space.
    fn keys(&mut self, seq: &str) -> &mut Self {
        for word in seq.split(' ').filter(|w| !w.is_empty()) {
            if let Some(text) = word.strip_prefix('"') {
                for c in text.replace('_', " ").chars() {
                    self.app.update(Input::Key(KeyEvent::new(
                        KeyCode::Char(c),
                        KeyModifiers::NONE,
                    )));
                }
            } else {
                let k = parse_key(word).unwrap_or_else(|| panic!("bad key {word}"));
                self.app.update(Input::Key(k));
            }
            self.draw();
        }
        self
    }

    /// Settles jobs (inline, so already done), fetches images, draws twice.
    fn draw(&mut self) -> &mut Self {
        for _ in 0..3 {
            self.app.update(Input::Finished);
            clipscope::tui::ui::frame(&mut self.term, &mut self.app).unwrap();
            let later = std::time::Instant::now() + std::time::Duration::from_secs(1);
            self.app.update(Input::Tick(later));
        }
        self
    }

    /// Asserts that the status bar holds an error containing `what`.
    fn error_says(&self, what: &str) {
        let (msg, err) = self.app.state().message.clone().unwrap_or_default();
        assert!(
            err && msg.contains(what),
            "{msg:?} is not an error about {what:?}"
        );
    }

    fn screen(&self) -> String {
        self.term.backend().to_string()
    }
}

/// Scores vary in the last digits between CPUs (the store is computed here): hide them.
macro_rules! snap {
    ($name:literal, $ui:expr) => {
        insta::with_settings!({filters => vec![(r"-?\d+\.\d{4}", "[num]"), (r"-?\d\.\de-?\d+", "[num]")]}, {
            insta::assert_snapshot!($name, $ui.screen());
        })
    };
}

#[path = "tui/instrument.rs"]
mod instrument;

#[test]
fn grid_navigation() {
    let mut ui = ui(100, 24);
    snap!("start", ui);
    ui.keys("k k l l");
    assert_eq!(ui.app.state().sel, HeadRef { layer: 0, head: 2 });
    ui.keys("G g g");
    assert_eq!(ui.app.state().sel, HeadRef { layer: 0, head: 2 });
    ui.keys("j right right right right");
    assert_eq!(
        ui.app.state().sel,
        HeadRef { layer: 1, head: 3 },
        "clamped to the last head"
    );
    ui.keys("m");
    snap!("grid_variance", ui);
    ui.keys("m m m");
    let screen = ui.screen();
    assert!(screen.contains("importance"), "{screen}");
    // The selected head L1H3 (index 7 of 12): margin 0.008 of the largest 0.012.
    assert!(screen.contains("importance 0.67"), "{screen}");
    assert!(screen.contains("top-1 -3.50 points"), "{screen}");
    ui.keys("tab j");
    assert_eq!(
        ui.app.state().sel,
        HeadRef { layer: 1, head: 3 },
        "j scrolls the detail pane"
    );
    snap!("detail_focused", ui);
}

#[test]
fn the_app_is_driven_by_actions_alone() {
    // The same session by keys and by actions: the keymap only maps keys to actions.
    let (mut by_keys, mut by_actions) = (ui(100, 24), ui(100, 24));
    by_keys.keys("j l l m 2 esc");
    for a in [
        Action::Down,
        Action::Right,
        Action::Right,
        Action::Metric,
        Action::Segment,
    ] {
        by_actions.app.update(Input::Action(a));
        by_actions.draw();
    }
    assert!(
        matches!(by_actions.app.state().view, View::Analysis(_)),
        "view 2 is open"
    );
    by_actions.app.update(Input::Action(Action::Back));
    by_actions.draw();
    assert_eq!(by_actions.app.state().view, View::Main);
    assert_eq!(by_actions.app.state().sel, by_keys.app.state().sel);
    assert_eq!(by_actions.screen(), by_keys.screen());
    // A palette command is an input too.
    by_actions.app.update(Input::Command("goto L0H1".into()));
    assert_eq!(by_actions.app.state().sel, HeadRef { layer: 0, head: 1 });
    by_actions.app.update(Input::Action(Action::Quit));
    assert!(by_actions.app.state().quit);
}

#[test]
fn search_color_lists_the_colour_heads_and_enter_jumps() {
    let mut ui = ui(100, 24);
    ui.keys("/ \"color");
    let s = ui.screen();
    assert!(s.contains("L2H1") && s.contains("L1H2"), "{s}");
    snap!("search_color", ui);
    ui.keys("down enter");
    assert_eq!(ui.app.state().view, View::Main);
    let other = ui.app.state().sel;
    assert!(other == HeadRef { layer: 1, head: 2 } || other == HeadRef { layer: 2, head: 1 });
    ui.keys("n");
    assert_ne!(
        ui.app.state().sel,
        other,
        "n steps to the other colour head"
    );
    ui.keys("N");
    assert_eq!(ui.app.state().sel, other);
    // Esc returns to where the search started.
    ui.keys("g g / \"texture esc");
    assert_eq!(ui.app.state().sel.layer, 0);
    assert!(ui.app.state().overlay.is_none());
}

/// A query nested or long past the search's bounds is refused in the status line: no worker
/// dies of a stack overflow, the explorer goes on.
#[test]
fn a_query_past_the_bounds_is_refused_not_fatal() {
    let mut ui = ui(100, 24);
    ui.keys("/");
    for c in std::iter::repeat_n('(', 800) {
        ui.app.update(Input::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::NONE,
        )));
    }
    ui.keys("enter");
    let s = ui.screen();
    assert!(s.contains("search query refused"), "{s}");
    ui.keys("esc / \"color");
    assert!(ui.screen().contains("L2H1"), "still searching");
}

#[test]
fn compare_lists_the_interpreted_models_of_the_cache() {
    let mut ui = ui(120, 30);
    ui.keys(": \"compare enter");
    let s = ui.screen();
    let Some(clipscope::tui::overlay::Overlay::Compare { rows, .. }) = &ui.app.state().overlay
    else {
        panic!("no compare overlay: {s}");
    };
    assert_eq!(rows.len(), 1, "{s}");
    let r = &rows[0];
    // The fixture store: 12 heads in 3 layers, each with 3 texts, all tagged with its label: 3 of
    // the 5 texts judged agree (moderate), none is high.
    assert_eq!(
        (r.scores.heads, r.consistency.high, r.consistency.moderate),
        (12, 0.0, 1.0)
    );
    assert!(
        s.contains("compare · 1 interpreted model ·") && s.contains("CCS@5"),
        "{s}"
    );
    ui.keys("esc");
    assert!(ui.app.state().overlay.is_none());
    // Layers and k are the user's: with k = 3 every head's 3 texts agree (high).
    ui.app.update(Input::Command("compare all 3".into()));
    ui.draw();
    let s = ui.screen();
    let Some(clipscope::tui::overlay::Overlay::Compare { rows, k, .. }) = &ui.app.state().overlay
    else {
        panic!("no compare overlay: {s}");
    };
    assert_eq!((*k, rows[0].consistency.high), (3, 1.0), "{s}");
    assert!(s.contains("CCS@3"), "{s}");
    ui.keys("esc");
    ui.app.update(Input::Command("compare sideways".into()));
    ui.error_says("expected layers");
}

#[test]
fn a_query_is_searched_once_it_rests_or_on_enter() {
    let mut ui = ui(100, 24);
    let found = |ui: &Ui| match &ui.app.state().overlay {
        Some(clipscope::tui::overlay::Overlay::Search { found, .. }) => found.len(),
        _ => usize::MAX,
    };
    // Typed fast (no frame between the keys): nothing is searched per keystroke.
    ui.app.update(Input::Key(parse_key("/").unwrap()));
    for c in "color".chars() {
        ui.app.update(Input::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::NONE,
        )));
    }
    assert_eq!(found(&ui), 0);
    assert!(ui.app.state().search_due.is_some());
    let now = std::time::Instant::now();
    ui.app.update(Input::Tick(now));
    ui.app.update(Input::Finished);
    assert_eq!(found(&ui), 0, "still within the wait");
    ui.app
        .update(Input::Tick(now + clipscope::tui::search::DEBOUNCE * 2));
    ui.app.update(Input::Finished);
    assert!(found(&ui) >= 2, "searched once it rested");
    // Enter before the query rests searches it first, then jumps.
    ui.app.update(Input::Key(parse_key("esc").unwrap()));
    ui.app.update(Input::Key(parse_key("/").unwrap()));
    for c in "texture".chars() {
        ui.app.update(Input::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::NONE,
        )));
    }
    ui.app.update(Input::Key(parse_key("enter").unwrap()));
    assert!(ui.app.state().overlay.is_none());
    let label = ui
        .app
        .data()
        .head(ui.app.state().sel)
        .and_then(|h| h.label.clone())
        .unwrap()
        .property;
    assert_eq!(label, "texture");
}

#[test]
fn overlay_keys_come_from_the_keymap() {
    let fx = fixture();
    std::fs::create_dir_all(&fx.config).unwrap();
    std::fs::write(
        fx.config.join("keymap.toml"),
        "[overlay]\n\"ctrl-j\" = \"confirm\"\n\"enter\" = \"none\"\n\"ctrl-k\" = \"up\"\n",
    )
    .unwrap();
    let mut ui = ui_in(fx, 100, 24, None);
    ui.keys("/ \"color enter");
    assert!(
        ui.app.state().overlay.is_some(),
        "enter is unbound in overlays"
    );
    ui.keys("down ctrl-k ctrl-j");
    assert!(ui.app.state().overlay.is_none(), "ctrl-j confirms");
    assert_eq!(
        ui.app.state().hits.first(),
        Some(&ui.app.state().sel),
        "ctrl-k went back up"
    );
    // Letters the grid binds (j, k, q) are text in an overlay.
    ui.keys("/ \"jkq");
    match &ui.app.state().overlay {
        Some(clipscope::tui::overlay::Overlay::Search { input, .. }) => assert_eq!(input, "jkq"),
        other => panic!("{other:?}"),
    }
    assert!(!ui.app.state().quit);
}

#[test]
fn help_is_generated_from_the_keymap_and_filterable() {
    let mut ui = ui(100, 30);
    ui.keys("?");
    snap!("help_grid", ui);
    ui.keys("\"metric");
    let s = ui.screen();
    assert!(s.contains("colour the grid by the next metric"), "{s}");
    ui.keys("enter");
    assert!(ui.app.state().overlay.is_none());
    assert_eq!(
        ui.app.state().metric.name(),
        "variance",
        "Enter ran the entry"
    );
}

#[test]
fn palette_goto_label_and_errors() {
    let mut ui = ui(100, 24);
    ui.keys(":");
    snap!("palette", ui);
    ui.keys("\"goto enter \"L2H3 enter");
    assert_eq!(ui.app.state().sel, HeadRef { layer: 2, head: 3 });
    ui.keys(": \"goto_L9H9 enter");
    assert!(ui.screen().contains("L9H9 is not in this store"));
    ui.keys(": \"frobnicate enter");
    assert!(ui.screen().contains("no such command"));
    // A label edit lands in labels.json and in search at once.
    ui.keys(": \"label_colour-ish enter");
    let labels = std::fs::read_to_string(ui.fx.dir.join("labels.json")).unwrap();
    assert!(labels.contains("\"L2H3\": \"colour-ish\""), "{labels}");
    ui.keys("/ \"colour-ish");
    assert!(ui.screen().contains("L2H3   colour-ish"), "{}", ui.screen());
    ui.keys("esc : \"theme_light enter");
    assert_eq!(ui.app.theme().name, "light");
    ui.keys(": \"theme_nope enter");
    assert!(ui.screen().contains("no theme \"nope\""));
}

#[test]
fn bookmarks_notes_and_yank_persist() {
    let mut ui = ui(100, 24);
    ui.keys("b a \"checks enter y");
    assert_eq!(
        ui.app.state().clipboard,
        vec!["tiny-clip-hf/L2H0".to_string()]
    );
    let notes = std::fs::read_to_string(ui.fx.dir.join("tui.json")).unwrap();
    assert!(
        notes.contains("tiny-clip-hf/L2H0") && notes.contains("checks"),
        "{notes}"
    );
    snap!("bookmarked", ui);
    // :bookmarks lists them with label and note; Enter goes back to the head.
    ui.keys("g g l : \"bookmarks enter");
    assert_ne!(ui.app.state().sel, HeadRef { layer: 2, head: 0 });
    let s = ui.screen();
    assert!(
        s.contains("★ tiny-clip-hf/L2H0") && s.contains("checks"),
        "{s}"
    );
    ui.keys("enter");
    assert_eq!(ui.app.state().sel, HeadRef { layer: 2, head: 0 });
    assert!(ui.app.state().overlay.is_none());
}

#[test]
fn each_analysis_view() {
    let mut ui = ui(110, 26);
    ui.keys(": \"goto_L2H1 enter");
    for (key, name) in ["1", "2", "3", "4", "5", "6"].iter().zip([
        "view_property_nn",
        "view_segment",
        "view_contrast",
        "view_head_nn",
        "view_text_nn",
        "view_ablate",
    ]) {
        ui.keys(key);
        let View::Analysis(kind) = ui.app.state().view else {
            panic!("{key} opens a view")
        };
        let a = &ui.app.state().analyses[&kind];
        assert!(a.job.is_none());
        assert!(
            matches!(a.outcome, Some(Ok(_))),
            "{kind:?}: {:?}",
            a.outcome.as_ref().map(|o| o.as_ref().err())
        );
        insta::with_settings!({filters => vec![(r"-?\d+\.\d{4}", "[num]"), (r"-?\d\.\de-?\d+", "[num]")]}, {
            insta::assert_snapshot!(name, ui.screen());
        });
        ui.keys("esc");
        assert_eq!(ui.app.state().view, View::Main);
    }
}

#[test]
fn analyses_equal_the_library_and_inputs_change_them() {
    let mut ui = ui(110, 26);
    ui.keys(": \"goto_L2H1 enter 4");
    let s = session(&ui.fx);
    let h = HeadRef { layer: 2, head: 1 };
    let want = s
        .head_nn(
            &QueryImage::stored(&s.store, 0).unwrap(),
            h,
            8,
            Metric::Centred,
        )
        .unwrap();
    let got: Vec<(usize, f32)> = ui.app.state().analyses[&Kind::HeadNn]
        .rows()
        .iter()
        .map(|r| (r.index, r.score))
        .collect();
    let want: Vec<(usize, f32)> = want.iter().map(|x| (x.index, x.score)).collect();
    assert_eq!(got, want);
    // ] takes the next image, Enter on a hit makes it the query.
    ui.keys("]");
    assert_eq!(
        ui.app.state().analyses[&Kind::HeadNn]
            .query
            .as_ref()
            .unwrap()
            .index,
        Some(1)
    );
    ui.keys("j enter");
    let picked = ui.app.state().analyses[&Kind::HeadNn]
        .rows()
        .first()
        .map(|r| r.index);
    assert!(picked.is_some());
    // The picker finds images by fuzzy path.
    ui.keys("p \"0005glyph");
    assert!(ui.screen().contains("00005-glyph"), "{}", ui.screen());
    ui.keys("enter");
    assert_eq!(
        ui.app.state().analyses[&Kind::HeadNn]
            .query
            .as_ref()
            .unwrap()
            .index,
        Some(5)
    );
    // Text NN with an edited text equals the library's.
    ui.keys("esc 5 t ctrl-u \"a_red_square enter");
    let got: Vec<usize> = ui.app.state().analyses[&Kind::TextNn]
        .rows()
        .iter()
        .map(|r| r.index)
        .collect();
    let want: Vec<usize> = s
        .text_nn("a red square", h, 3, Metric::Centred)
        .unwrap()
        .iter()
        .map(|x| x.index)
        .collect();
    assert_eq!(got, want);
    // Segmentation: an error is shown, not a panic, for a missing file.
    ui.keys("esc 2 p \"/no/such.png enter");
    assert!(
        ui.screen().contains("no such image file"),
        "{}",
        ui.screen()
    );
    ui.keys("esc");
    let a = &ui.app.state().analyses[&Kind::Segment];
    assert!(matches!(a.outcome, Some(Ok(Outcome::Map { .. }))));
}

#[test]
fn tiny_terminals_and_resizes_never_panic() {
    let mut ui = ui(20, 5);
    snap!("tiny_20x5", ui);
    for (w, h) in [(1, 1), (0, 0), (44, 12), (43, 30), (200, 60), (60, 13)] {
        ui.term.backend_mut().resize(w, h);
        ui.keys("j l ? esc / \"c esc 2 esc");
    }
    ui.term.backend_mut().resize(44, 12);
    ui.keys(": \"goto_L1H1 enter 4");
    assert!(ui.screen().contains("head-nn") || ui.screen().contains("head NN"));
}

#[test]
fn mouse_click_selects_and_wheel_scrolls() {
    let mut ui = ui(100, 24);
    let g = ui.app.state().geometry;
    let click = MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: g.grid.x + g.cell * 3,
        row: g.grid.y + 1,
        modifiers: KeyModifiers::NONE,
    };
    ui.app.update(Input::Mouse(click));
    assert_eq!(ui.app.state().sel, HeadRef { layer: 1, head: 3 });
    ui.app.update(Input::Mouse(MouseEvent {
        kind: MouseEventKind::ScrollUp,
        ..click
    }));
    assert_eq!(ui.app.state().sel.layer, 0);
    ui.keys(": \"mouse_off enter");
    ui.app.update(Input::Mouse(click));
    assert_eq!(ui.app.state().sel.layer, 0, "mouse off: clicks ignored");
}

#[test]
fn halfblock_images_are_drawn_in_the_head_pane_and_views() {
    let mut ui = ui_with(110, 30, Some(Picker::halfblocks()));
    let s = ui.screen();
    assert!(s.contains("top images along"), "{s}");
    let blocks = s.chars().filter(|c| matches!(c, '▀' | '▄' | '█')).count();
    assert!(blocks > 50, "thumbnails drawn: {s}");
    ui.keys("2");
    let s = ui.screen();
    assert!(
        s.chars().filter(|c| matches!(c, '▀' | '▄')).count() > 100,
        "{s}"
    );
}

#[test]
fn bad_config_is_one_clear_error() {
    let fx = fixture();
    std::fs::write(fx.config.join("config.toml"), "mouse = true\ntheme = 3\n").unwrap();
    let opts = Options {
        config_dir: Some(fx.config.clone()),
        ..Default::default()
    };
    let e = app(session(&fx), &opts, Images::new(None), true)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("config.toml") && e.contains("line 2, column 9"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1, "{e}");
    std::fs::write(fx.config.join("config.toml"), "").unwrap();
    std::fs::write(fx.config.join("keymap.toml"), "[grid]\n\"j\" = \"jump\"\n").unwrap();
    let e = app(session(&fx), &opts, Images::new(None), true)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("keymap.toml") && e.contains("no such action"),
        "{e}"
    );
}

/// The status bar names the device the session runs on, not the config file's.
#[test]
fn the_status_bar_shows_the_session_s_device() {
    let fx = fixture();
    std::fs::create_dir_all(&fx.config).unwrap();
    std::fs::write(fx.config.join("config.toml"), "device = \"cuda:3\"\n").unwrap();
    let ui = ui_in(fx, 120, 30, None);
    let screen = ui.screen();
    let status = screen.lines().last().unwrap();
    assert!(status.contains(" · cpu · "), "{status}");
    assert!(!screen.contains("cuda:3"), "{status}");
}
