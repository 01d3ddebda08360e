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
        .map(|(i, (label, texts))| planted(i, label, texts))
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

/// Head `i`'s planted interpretation: label `label` from `texts`; head 8 (the first of layer 2)
/// also has image evidence, so the head pane draws a bar per property.
fn planted(i: usize, label: &str, texts: &[&str]) -> HeadInterp {
    HeadInterp {
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

    /// The image indices of the rows analysis `kind` shows, best first.
    fn hits(&self, kind: Kind) -> Vec<usize> {
        let rows = self.app.state().analyses[&kind].rows();
        rows.iter().map(|r| r.index).collect()
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
#[path = "tui/overlays.rs"]
mod overlays;
#[path = "tui/search.rs"]
mod search;
#[path = "tui/terminal.rs"]
mod terminal;
#[path = "tui/views.rs"]
mod views;

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
