//! Themes: `themes/*.toml` (dark, light and high-contrast are built in; a file of the same name
//! in the config directory's `themes/` wins), and the colourless look of `NO_COLOR`.

use std::path::Path;
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

use crate::{Error, Result};

/// The shipped themes.
pub const BUILTIN: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    fg: String,
    bg: String,
    dim: String,
    accent: String,
    border: String,
    focus: String,
    selected_fg: String,
    selected_bg: String,
    error: String,
    ok: String,
    bar: String,
    heat_low: String,
    heat_high: String,
    labels: Vec<String>,
}

/// Resolved colours.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    /// Its name.
    pub name: String,
    /// No colours at all (`NO_COLOR`): emphasis by modifiers only.
    pub mono: bool,
    /// Text.
    pub fg: Color,
    /// Background.
    pub bg: Color,
    /// Secondary text.
    pub dim: Color,
    /// Titles and highlights.
    pub accent: Color,
    /// Borders of unfocused panes.
    pub border: Color,
    /// Border of the focused pane.
    pub focus: Color,
    /// Selected item text.
    pub selected_fg: Color,
    /// Selected item background.
    pub selected_bg: Color,
    /// Errors.
    pub error: Color,
    /// Success.
    pub ok: Color,
    /// Bars (variance explained).
    pub bar: Color,
    /// Heat scale, low end.
    pub heat_low: (u8, u8, u8),
    /// Heat scale, high end.
    pub heat_high: (u8, u8, u8),
    /// One colour per property label.
    pub labels: Vec<Color>,
}

fn color(s: &str, path: &str) -> Result<Color> {
    Color::from_str(s).map_err(|_| Error::config(path, format!("{s:?} is not a colour")))
}

fn rgb(c: Color) -> (u8, u8, u8) {
    match c {
        Color::Rgb(r, g, b) => (r, g, b),
        Color::White => (255, 255, 255),
        _ => (0, 0, 0),
    }
}

impl Theme {
    /// Parses a theme file's text.
    pub fn parse(name: &str, text: &str, path: &str) -> Result<Self> {
        let f: File = toml::from_str(text)
            .map_err(|e| Error::config(path, super::config::toml_error(text, &e)))?;
        let c = |s: &str| color(s, path);
        let labels = f.labels.iter().map(|s| c(s)).collect::<Result<Vec<_>>>()?;
        if labels.is_empty() {
            return Err(Error::config(path, "labels: give at least one colour"));
        }
        Ok(Self {
            name: name.into(),
            mono: false,
            fg: c(&f.fg)?,
            bg: c(&f.bg)?,
            dim: c(&f.dim)?,
            accent: c(&f.accent)?,
            border: c(&f.border)?,
            focus: c(&f.focus)?,
            selected_fg: c(&f.selected_fg)?,
            selected_bg: c(&f.selected_bg)?,
            error: c(&f.error)?,
            ok: c(&f.ok)?,
            bar: c(&f.bar)?,
            heat_low: rgb(c(&f.heat_low)?),
            heat_high: rgb(c(&f.heat_high)?),
            labels,
        })
    }

    /// The theme `name`: `<config>/themes/<name>.toml`, else a shipped one.
    pub fn load(name: &str, config_dir: &Path) -> Result<Self> {
        let user = config_dir.join("themes").join(format!("{name}.toml"));
        if user.is_file() {
            let text = std::fs::read_to_string(&user).map_err(|e| Error::io(&user, e))?;
            return Self::parse(name, &text, &user.display().to_string());
        }
        match BUILTIN.iter().find(|(n, _)| *n == name) {
            Some((n, text)) => Self::parse(n, text, &format!("themes/{n}.toml")),
            None => Err(Error::Invalid(format!(
                "no theme {name:?}: shipped are {}, or add {}",
                BUILTIN.iter().map(|t| t.0).collect::<Vec<_>>().join(", "),
                user.display()
            ))),
        }
    }

    /// The look under `NO_COLOR`: terminal defaults, selection in reverse video.
    pub fn mono() -> Self {
        Self {
            name: "no-color".into(),
            mono: true,
            fg: Color::Reset,
            bg: Color::Reset,
            dim: Color::Reset,
            accent: Color::Reset,
            border: Color::Reset,
            focus: Color::Reset,
            selected_fg: Color::Reset,
            selected_bg: Color::Reset,
            error: Color::Reset,
            ok: Color::Reset,
            bar: Color::Reset,
            heat_low: (0, 0, 0),
            heat_high: (255, 255, 255),
            labels: vec![Color::Reset],
        }
    }

    /// Plain text.
    pub fn text(&self) -> Style {
        Style::new().fg(self.fg).bg(self.bg)
    }

    /// Secondary text.
    pub fn dimmed(&self) -> Style {
        if self.mono {
            Style::new().add_modifier(Modifier::DIM)
        } else {
            Style::new().fg(self.dim)
        }
    }

    /// Titles.
    pub fn title(&self) -> Style {
        Style::new().fg(self.accent).add_modifier(Modifier::BOLD)
    }

    /// The selected item.
    pub fn selected(&self) -> Style {
        if self.mono {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        } else {
            Style::new()
                .fg(self.selected_fg)
                .bg(self.selected_bg)
                .add_modifier(Modifier::BOLD)
        }
    }

    /// A pane border.
    pub fn border(&self, focused: bool) -> Style {
        match (self.mono, focused) {
            (true, true) => Style::new().add_modifier(Modifier::BOLD),
            (true, false) => Style::new(),
            (false, true) => Style::new().fg(self.focus),
            (false, false) => Style::new().fg(self.border),
        }
    }

    /// Error text.
    pub fn error(&self) -> Style {
        Style::new().fg(self.error).add_modifier(Modifier::BOLD)
    }

    /// The colour of label `label` (stable across runs).
    pub fn label_color(&self, label: &str) -> Color {
        let h = label
            .bytes()
            .fold(2166136261u32, |h, b| (h ^ b as u32).wrapping_mul(16777619));
        self.labels[h as usize % self.labels.len()]
    }

    /// The heat colour of `t` in [0, 1].
    pub fn heat(&self, t: f32) -> Color {
        if self.mono {
            return Color::Reset;
        }
        let t = t.clamp(0.0, 1.0);
        let mix = |a: u8, b: u8| (a as f32 + (b as f32 - a as f32) * t).round() as u8;
        let (l, h) = (self.heat_low, self.heat_high);
        Color::Rgb(mix(l.0, h.0), mix(l.1, h.1), mix(l.2, h.2))
    }

    /// Text that reads on `bg`: black on light colours, white on dark ones.
    pub fn on(&self, bg: Color) -> Color {
        match bg {
            Color::Rgb(r, g, b) if 299 * r as u32 + 587 * g as u32 + 114 * b as u32 > 128_000 => {
                Color::Black
            }
            Color::Rgb(..) => Color::White,
            _ => self.fg,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_themes_parse_and_user_themes_win() {
        for (name, _) in BUILTIN {
            Theme::load(name, Path::new("/nonexistent")).unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("themes")).unwrap();
        let text = BUILTIN[0]
            .1
            .replace("accent = \"cyan\"", "accent = \"#102030\"");
        std::fs::write(dir.path().join("themes/dark.toml"), text).unwrap();
        let t = Theme::load("dark", dir.path()).unwrap();
        assert_eq!(t.accent, Color::Rgb(16, 32, 48));
        std::fs::write(dir.path().join("themes/bad.toml"), "fg = 1").unwrap();
        assert!(Theme::load("bad", dir.path()).is_err());
        let e = Theme::load("nope", dir.path()).unwrap_err().to_string();
        assert!(e.contains("dark, light, high-contrast"), "{e}");
    }
}
