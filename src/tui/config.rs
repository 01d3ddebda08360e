//! `config.toml`: a partial override of the shipped settings, in clipscope's config directory.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cachedir::env_path;
use crate::{Error, Result};

/// How images are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ImageProtocol {
    /// Ask the terminal (kitty, sixel, iTerm2), else half blocks.
    Auto,
    /// The kitty graphics protocol.
    Kitty,
    /// DEC sixel.
    Sixel,
    /// iTerm2 inline images.
    Iterm2,
    /// Unicode half blocks in 24-bit colour (works everywhere).
    Halfblocks,
    /// No images: scores and ranks only.
    None,
}

impl ImageProtocol {
    /// Its name as the config and `--image-protocol` spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Kitty => "kitty",
            Self::Sixel => "sixel",
            Self::Iterm2 => "iterm2",
            Self::Halfblocks => "halfblocks",
            Self::None => "none",
        }
    }
}

/// The settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Theme name: a file `themes/<name>.toml` of the config directory or a shipped theme.
    pub theme: String,
    /// Mouse: click selects, wheel scrolls.
    pub mouse: bool,
    /// Image protocol.
    pub image_protocol: ImageProtocol,
    /// Milliseconds the selection must rest before its images are drawn.
    pub image_delay_ms: u64,
    /// Grid metric at start: label, variance, norm, association or importance.
    pub metric: String,
    /// Top images shown in the head pane.
    pub top_images: usize,
    /// Where the model runs for analyses of new images: cpu, cuda, cuda:N, metal.
    pub device: String,
    /// Longest wait, in milliseconds, for the terminal's answers at start (its version, its
    /// graphics). A terminal that answers ends the wait at once; raise it behind a link whose
    /// round trip is longer, or images fall back to half blocks.
    pub query_timeout_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            theme: "dark".into(),
            mouse: true,
            image_protocol: ImageProtocol::Auto,
            image_delay_ms: 30,
            metric: "label".into(),
            top_images: 6,
            device: "cpu".into(),
            query_timeout_ms: 1500,
        }
    }
}

/// Where the explorer writes what it cannot show: a background job's panic with its backtrace,
/// `$XDG_STATE_HOME/clipscope/explorer.log`, else `~/.local/state/clipscope/explorer.log`.
pub fn log_file() -> PathBuf {
    env_path("XDG_STATE_HOME")
        .or_else(|| env_path("HOME").map(|h| h.join(".local/state")))
        .unwrap_or_else(std::env::temp_dir)
        .join("clipscope/explorer.log")
}

/// clipscope's config directory: `$CLIPSCOPE_CONFIG_HOME`, else `$XDG_CONFIG_HOME/clipscope`,
/// else `~/.config/clipscope` (on every system).
pub fn config_dir() -> PathBuf {
    if let Some(d) = env_path("CLIPSCOPE_CONFIG_HOME") {
        return d;
    }
    if let Some(d) = env_path("XDG_CONFIG_HOME") {
        return d.join("clipscope");
    }
    env_path("HOME")
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".config/clipscope")
}

/// A TOML error on one line, with where it is: `line L, column C: message`.
pub(super) fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let Some(span) = e.span() else {
        return e.message().to_string();
    };
    let before = text.get(..span.start).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {column}: {}", e.message())
}

impl Config {
    /// The shipped settings overridden by `path`, when it exists.
    pub fn load(path: &Path) -> Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(t) => toml::from_str(&t).map_err(|e| Error::config(path, toml_error(&t, &e))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(Error::io(path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_overrides_and_clear_errors() {
        let (_dir, p) = crate::testing::written("config.toml", "");
        assert_eq!(
            Config::load(&p).unwrap(),
            Config::default(),
            "an empty file"
        );
        std::fs::remove_file(&p).unwrap();
        assert_eq!(Config::load(&p).unwrap(), Config::default(), "no file");
        std::fs::write(&p, "theme = \"light\"\nimage_protocol = \"halfblocks\"\n").unwrap();
        let c = Config::load(&p).unwrap();
        assert_eq!(c.theme, "light");
        assert_eq!(c.image_protocol, ImageProtocol::Halfblocks);
        assert!(c.mouse);
        std::fs::write(&p, "colour = 3\n").unwrap();
        let e = Config::load(&p).unwrap_err().to_string();
        assert!(e.contains("config.toml") && e.contains("colour"), "{e}");
    }
}
