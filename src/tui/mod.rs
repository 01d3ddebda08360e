//! `clipscope explore`: a keyboard explorer of a store's heads, its search index and the six
//! analyses, with images drawn in the terminal (ratatui + crossterm + ratatui-image).

pub mod analysis;
pub mod app;
pub mod carry;
pub mod commands;
pub mod config;
pub mod data;
pub mod doctor;
pub mod gallery;
pub mod geometry;
pub mod hints;
pub mod images;
pub mod input;
pub mod instrument;
pub mod jobs;
pub mod keymap;
pub mod keys;
pub mod kind;
pub mod kitty_direct;
pub mod marks;
pub mod msg;
pub mod notes;
pub mod overlay;
pub mod overlay_keys;
pub mod run;
pub mod search;
pub mod side;
pub mod terminal;
pub mod theme;
pub mod top;
pub mod ui;
pub mod update;

use std::path::PathBuf;

use app::App;
use config::{Config, ImageProtocol, config_dir};
use data::Data;
use images::Images;
use jobs::Jobs;
use keymap::Keymap;
use theme::Theme;

use crate::Result;
use crate::analysis::session::Session;

/// How the explorer starts.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Theme name (overrides the config).
    pub theme: Option<String>,
    /// Image protocol (overrides the config).
    pub image_protocol: Option<ImageProtocol>,
    /// Mouse off (overrides the config).
    pub no_mouse: bool,
    /// The config directory [default: [`config_dir`]].
    pub config_dir: Option<PathBuf>,
    /// Heads to open on: one opens its gallery, two to four side by side.
    pub heads: Vec<crate::analysis::HeadRef>,
}

/// Settings, keymap and theme as the options, the config directory and `NO_COLOR` say.
pub fn settings(opts: &Options) -> Result<(Config, Keymap, Theme, PathBuf)> {
    let dir = opts.config_dir.clone().unwrap_or_else(config_dir);
    let mut config = Config::load(&dir.join("config.toml"))?;
    if let Some(t) = &opts.theme {
        config.theme = t.clone();
    }
    if let Some(p) = opts.image_protocol {
        config.image_protocol = p;
    }
    if opts.no_mouse {
        config.mouse = false;
    }
    data::Metric::parse(&config.metric)
        .map_err(|e| crate::Error::config(dir.join("config.toml"), format!("metric: {e}")))?;
    let keymap = Keymap::load(&dir.join("keymap.toml"))?;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let theme = if no_color {
        Theme::mono()
    } else {
        Theme::load(&config.theme, &dir)?
    };
    Ok((config, keymap, theme, dir))
}

/// Builds the app for `session` with `images`, jobs threaded or inline.
pub fn app(session: Session, opts: &Options, images: Images, inline: bool) -> Result<App> {
    let (config, keymap, theme, dir) = settings(opts)?;
    // The device the session runs on (`--device`, else the config's), as the status bar says.
    let device = crate::device::device_name(session.device());
    let data = Data::new(session, &device)?;
    let jobs = if inline {
        Jobs::inline()
    } else {
        Jobs::threaded()
    };
    let mut app = App::new(data, config, keymap, theme, dir, images, jobs);
    match opts.heads.as_slice() {
        [] => {}
        [one] => app.open_gallery(*one),
        many => app.open_side(many.to_vec()),
    }
    Ok(app)
}

/// Runs the explorer on the terminal.
pub fn explore(session: Session, opts: &Options) -> Result<()> {
    let (config, ..) = settings(opts)?;
    let timeout = std::time::Duration::from_millis(config.query_timeout_ms);
    let found = terminal::detect::detect(config.image_protocol, timeout)?;
    let mut images = Images::new(found.picker);
    if found.why.kitty_direct {
        images.use_kitty_direct();
    }
    images.why = found.why;
    let app = app(session, opts, images, false)?;
    run::on_terminal(app, found.passthrough)
}
