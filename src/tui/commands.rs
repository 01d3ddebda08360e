//! The command palette: `:goto L10H3`, `:theme light`, `:export FILE`, `:label color`, …

use std::path::PathBuf;

use super::analysis::Outcome;
use super::app::{App, View};
use super::data::Metric;
use super::theme::Theme;
use crate::analysis::HeadRef;
use crate::analysis::render::{grid, save_png};

/// Commands: (name, argument, description).
pub const COMMANDS: &[(&str, &str, &str)] = &[
    ("goto", "L10H3", "select a head"),
    (
        "gallery",
        "[L10H3]",
        "the head's gallery: top and bottom images, Enter analyses one",
    ),
    (
        "side",
        "[L1H2 L3H0 …]",
        "heads side by side (default: the marked heads, or the search hits)",
    ),
    (
        "label",
        "TEXT|-",
        "set the head's label (- restores the computed one)",
    ),
    (
        "note",
        "TEXT",
        "write a note on the head (empty removes it)",
    ),
    (
        "layers",
        "all|last:N|A..B|A,B",
        "the layers a property's heads come from (property NN, ablation)",
    ),
    ("bookmark", "", "bookmark the head, or remove its bookmark"),
    (
        "bookmarks",
        "",
        "the bookmarked heads with labels and notes; Enter goes to one",
    ),
    (
        "theme",
        "NAME",
        "switch theme (dark, light, high-contrast, or your own)",
    ),
    (
        "metric",
        "NAME",
        "grid metric: label variance norm association importance ccs",
    ),
    (
        "export",
        "[FILE]",
        "write the view: the head as JSON; an analysis, gallery or side by side as PNG",
    ),
    (
        "compare",
        "[LAYERS] [K]",
        "every interpreted model of the cache side by side: scores, CCS, pruning (report's defaults: last:4, 5)",
    ),
    ("mouse", "on|off", "turn the mouse on or off"),
    ("images", "on|off", "draw images, or scores and ranks only"),
    ("help", "", "show the keys"),
    ("quit", "", "quit clipscope"),
];

/// Whether command `name` needs an argument.
pub fn takes_argument(name: &str) -> bool {
    COMMANDS
        .iter()
        .any(|(n, a, _)| *n == name && !a.is_empty() && !a.starts_with('['))
}

/// Commands whose name starts with the first word of `input`.
pub fn suggestions(input: &str) -> Vec<(&'static str, &'static str, &'static str)> {
    let word = input.split_whitespace().next().unwrap_or("");
    COMMANDS
        .iter()
        .copied()
        .filter(|(n, _, _)| n.starts_with(word))
        .collect()
}

/// Runs a command line.
pub fn execute(app: &mut App, line: &str) {
    let line = line.trim();
    let (name, arg) = line.split_once(' ').unwrap_or((line, ""));
    let arg = arg.trim();
    let matches: Vec<_> = COMMANDS.iter().filter(|c| c.0.starts_with(name)).collect();
    let cmd = match matches.as_slice() {
        _ if name.is_empty() => return,
        [one] => one.0,
        many if many.iter().any(|c| c.0 == name) => name,
        [] => return app.error(format!(":{name}: no such command (`:` lists them)")),
        many => {
            let names: Vec<_> = many.iter().map(|c| c.0).collect();
            return app.error(format!(":{name} is ambiguous: {}", names.join(", ")));
        }
    };
    match cmd {
        "goto" => match parse_heads(app, arg).as_deref() {
            Ok([h]) => {
                app.select(*h);
                app.state.view = View::Main;
                app.info(app.data.id(*h));
            }
            Ok(_) => app.error(":goto takes one head, like L10H3"),
            Err(e) => app.error(e),
        },
        "gallery" if arg.is_empty() => app.open_gallery(app.state.sel),
        "gallery" => match parse_heads(app, arg) {
            Ok(h) => app.open_gallery(h[0]),
            Err(e) => app.error(e),
        },
        "side" if arg.is_empty() => app.open_side(app.side_heads()),
        "side" => match parse_heads(app, arg) {
            Ok(h) => app.open_side(h),
            Err(e) => app.error(e),
        },
        "layers" => layers(app, arg),
        "label" => app.set_label(arg),
        "note" => app.set_note(arg),
        "bookmark" => app.bookmark(),
        "bookmarks" => app.state.overlay = Some(super::overlay::Overlay::Bookmarks { sel: 0 }),
        "theme" => match Theme::load(arg, &app.config_dir) {
            Ok(t) if !app.theme.mono => {
                app.theme = t;
                app.info(format!("theme {arg}"));
            }
            Ok(_) => app.error("NO_COLOR is set: colours stay off"),
            Err(e) => app.error(e),
        },
        "metric" => match Metric::parse(arg) {
            Ok(m) => app.state.metric = m,
            Err(e) => app.error(e),
        },
        "export" => export(app, arg),
        "mouse" | "images" => match arg {
            "on" | "off" => {
                let on = arg == "on";
                let images = &mut app.images;
                if cmd == "mouse" {
                    app.config.mouse = on;
                } else if !on {
                    images.picker = None;
                    images.clear();
                } else if images.picker.is_none() {
                    images.picker = Some(ratatui_image::picker::Picker::halfblocks());
                }
                app.info(format!("{cmd} {arg}"));
            }
            _ => app.error(format!(":{cmd} on|off")),
        },
        "help" => app.act(super::keymap::Action::Help),
        "compare" => compare(app, arg),
        "quit" => app.state.quit = true,
        _ => {}
    }
}

/// `:layers`: the layers a property's heads are taken from, in every view from now on; the
/// open view runs again.
fn layers(app: &mut App, arg: &str) {
    let n = app.data.layers.iter().max().map_or(0, |l| l + 1);
    let chosen = match arg
        .parse::<crate::model::LayerSelection>()
        .and_then(|s| s.resolve(n))
    {
        Ok(l) if l.iter().all(|x| app.data.layers.contains(x)) => l,
        Ok(l) => {
            return app.error(format!(
                "layers {l:?}: this store holds layers {:?}",
                app.data.layers
            ));
        }
        Err(e) => {
            let e = e.to_string();
            return app.error(format!(":layers: {}", e.trim_start_matches("--layers: ")));
        }
    };
    let all = chosen.len() == app.data.layers.len();
    app.state.carried.layers = (!all).then_some(chosen.clone());
    app.info(match all {
        true => "every layer's heads".to_string(),
        false => format!("a property's heads from layers {chosen:?}"),
    });
    if let View::Analysis(kind) = app.state.view
        && let Some(a) = app.state.analyses.get_mut(&kind)
        && app.state.carried.apply(a)
    {
        app.run_analysis(kind);
    }
}

/// The heads named in `arg` (space-separated), each in the store.
fn parse_heads(app: &App, arg: &str) -> Result<Vec<HeadRef>, String> {
    arg.split_whitespace()
        .map(|w| {
            let h: HeadRef = w.parse().map_err(|e: crate::Error| e.to_string())?;
            match app.data.layers.contains(&h.layer) && h.head < app.data.heads {
                true => Ok(h),
                false => Err(format!(
                    "{h} is not in this store: layers {:?}, heads 0..{}",
                    app.data.layers,
                    app.data.heads.saturating_sub(1)
                )),
            }
        })
        .collect()
}

/// `:compare [LAYERS] [K]`: the cross-model rows of every interpreted store in the session's
/// cache over `LAYERS` (default last:4) with `K` top texts (default 5), as `clipscope report`
/// computes them, on a worker.
fn compare(app: &mut App, arg: &str) {
    let mut layers = crate::model::LayerSelection::Last(4);
    let mut k = 5;
    for word in arg.split_whitespace() {
        match (
            word.parse::<usize>(),
            word.parse::<crate::model::LayerSelection>(),
        ) {
            (Ok(n), _) if n > 0 => k = n,
            (_, Ok(l)) => layers = l,
            _ => {
                return app.error(format!(
                    ":compare {word}: expected layers (all, last:N, A..B, A,B) or a count of texts"
                ));
            }
        }
    }
    let cache = app.data.session.cache().to_path_buf();
    app.info("comparing the interpreted models…");
    app.jobs.spawn("compare models", true, move |_| {
        let stores = crate::interpret::compare::interpreted_stores(&cache);
        let rows = stores
            .iter()
            .map(|d| crate::interpret::compare::model_row(d, &layers, k))
            .collect::<crate::Result<Vec<_>>>()
            .map_err(|e| e.to_string());
        super::app::Msg::Compare(k, rows)
    });
}

/// `:export`: the head as JSON in the main view, the analysis figure as PNG in a view.
fn export(app: &mut App, arg: &str) {
    let r = match app.state.view {
        View::Main => {
            let h = app.state.sel;
            let path = PathBuf::from(if arg.is_empty() {
                format!("clipscope-{h}.json")
            } else {
                arg.to_string()
            });
            let head = app.data.head(h);
            let json = serde_json::json!({
                "id": app.data.id(h),
                "label": app.data.label(h),
                "texts": head.map(|x| &x.texts),
                "note": app.notes.notes.get(&app.data.id(h)),
            });
            std::fs::write(&path, format!("{json:#}\n"))
                .map(|()| path)
                .map_err(|e| crate::Error::write(PathBuf::from(arg), e))
        }
        View::Analysis(kind) => {
            let path = PathBuf::from(if arg.is_empty() {
                format!("clipscope-{}.png", kind.title().replace(' ', "-"))
            } else {
                arg.to_string()
            });
            let a = app.state.analyses.get(&kind);
            let fig = match a.and_then(|a| a.outcome.as_ref()) {
                Some(Ok(Outcome::Map { figure, .. })) => Ok((**figure).clone()),
                Some(Ok(Outcome::Hits { title, rows, .. })) => {
                    let store = app.data.store();
                    rows.iter()
                        .map(|r| {
                            let img = crate::image::load_rgb(&store.image_path(r.index)?)?;
                            let score = format!("#{} {:.4}", r.index, r.score);
                            Ok((img, vec![score, r.path.clone()]))
                        })
                        .collect::<crate::Result<Vec<_>>>()
                        .map(|items| grid(title, &items, 5))
                }
                _ => Err(crate::Error::Invalid("nothing to export yet".into())),
            };
            fig.and_then(|f| save_png(&f, &path)).map(|()| path)
        }
        View::Gallery => export_gallery(app, arg),
        View::Side => export_side(app, arg),
    };
    match r {
        Ok(p) => app.info(format!("wrote {}", p.display())),
        Err(e) => app.error(e),
    }
}

/// `:export` in a gallery: its figure (as `top-images --out` draws it).
fn export_gallery(app: &App, arg: &str) -> crate::Result<PathBuf> {
    let Some(Some(Ok(g))) = app.state.gallery.as_ref().map(|g| g.outcome.as_ref()) else {
        return Err(crate::Error::Invalid("nothing to export yet".into()));
    };
    let path = PathBuf::from(match arg {
        "" => format!("clipscope-gallery-{}.png", g.head),
        a => a.to_string(),
    });
    let model = &app.data.store().manifest.key.model.id;
    let fig = crate::analysis::gallery::figure(&app.data.session, model, g)?;
    save_png(&fig, &path).map(|()| path)
}

/// `:export` side by side: every head's map over the shared image, in column order.
fn export_side(app: &App, arg: &str) -> crate::Result<PathBuf> {
    let Some(side) = &app.state.side else {
        return Err(crate::Error::Invalid("nothing to export yet".into()));
    };
    let items: Vec<_> = side
        .heads
        .iter()
        .filter_map(|h| match side.maps.get(h) {
            Some(super::side::SideMap::Ready(f, _)) => Some((
                (**f).clone(),
                vec![app.data.id(*h), app.data.label(*h).unwrap_or_default()],
            )),
            _ => None,
        })
        .collect();
    if items.len() < side.heads.len() {
        return Err(crate::Error::Invalid(
            "the maps are not all drawn yet".into(),
        ));
    }
    let names: Vec<String> = side.heads.iter().map(ToString::to_string).collect();
    let path = PathBuf::from(match arg {
        "" => format!("clipscope-side-{}.png", names.join("-")),
        a => a.to_string(),
    });
    let title = format!("{} side by side", names.join(", "));
    save_png(&grid(&title, &items, items.len()), &path).map(|()| path)
}
