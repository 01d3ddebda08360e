//! What the terminal can do, decided once before the explorer starts: the image protocol (the
//! picker), the terminal's version, tmux, and the reason, asked over stdin/stdout before any
//! event is read. Nothing here changes the terminal for longer than a query (raw mode for the
//! wait; tmux passthrough is handed over to the caller).

use std::time::Duration;

use ratatui_image::picker::cap_parser::QueryStdioOptions;
use ratatui_image::picker::{Picker, ProtocolType};

use super::tmux::{Passthrough, in_tmux};
use crate::tui::config::ImageProtocol;
use crate::{Error, Result};

/// What detection found, and the tmux passthrough it turned on (given back when dropped).
#[derive(Debug)]
pub struct Detected {
    /// The picker (`None`: images off).
    pub picker: Option<Picker>,
    /// Why images are drawn as they are.
    pub why: Why,
    /// tmux's passthrough for this pane, on while this lives.
    pub passthrough: Option<Passthrough>,
}

/// Asks the terminal what it draws (see `choose` below), with tmux passthrough turned on first
/// so that the queries reach the outer terminal.
pub fn detect(choice: ImageProtocol, timeout: Duration) -> Result<Detected> {
    // Every choice but none makes a ratatui-image picker, and its constructors turn tmux's
    // passthrough on themselves (`Picker::halfblocks` too: picker.rs,
    // `detect_tmux_and_outer_protocol_from_env`): the old value is taken first, to give back.
    let passthrough = match choice {
        ImageProtocol::None => None,
        _ => Passthrough::enable(),
    };
    let (picker, why) = choose(choice, timeout)?;
    Ok(Detected {
        picker,
        why,
        passthrough,
    })
}

/// Why images are drawn as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Why {
    /// The terminal's version answer, or the explanation.
    pub text: Option<String>,
    /// Whether it explains a fallback or a requirement, which the status bar shows.
    pub caveat: bool,
    /// Whether images go by kitty's direct placement (kitty older than 0.28, outside tmux)
    /// instead of the picker's protocol.
    pub kitty_direct: bool,
}

impl Why {
    fn info(text: impl Into<String>) -> Self {
        Self {
            text: Some(text.into()),
            ..Self::default()
        }
    }

    fn caveat(text: impl Into<String>) -> Self {
        Self {
            text: Some(text.into()),
            caveat: true,
            ..Self::default()
        }
    }
}

/// The picker for `choice` (see [`detect`]) and why it draws as it does: `Auto` asks the terminal (before any
/// event is read) for its XTVERSION first, so that a kitty too old for placed images gets half
/// blocks and says so, then for its graphics; `None` turns images off. Each wait ends when the
/// terminal has answered, or at `timeout`: a terminal that did not answer the first query in
/// time (a mute one, or one behind a link slower than that) gets half blocks at once, and its
/// late answers are dropped from the keys ([`super::late_replies`]).
fn choose(choice: ImageProtocol, timeout: Duration) -> Result<(Option<Picker>, Why)> {
    let forced = match choice {
        ImageProtocol::None => return Ok((None, Why::info("images off"))),
        ImageProtocol::Halfblocks => return Ok((Some(Picker::halfblocks()), Why::default())),
        ImageProtocol::Kitty => Some(ProtocolType::Kitty),
        ImageProtocol::Sixel => Some(ProtocolType::Sixel),
        ImageProtocol::Iterm2 => Some(ProtocolType::Iterm2),
        ImageProtocol::Auto => None,
    };
    let reply = match forced {
        Some(_) => super::xtversion::Reply::default(),
        None => super::xtversion::query(timeout, in_tmux()),
    };
    if forced.is_none() && !reply.answered {
        return Ok((
            Some(Picker::halfblocks()),
            Why::caveat(format!(
                "no answer from the terminal in {} ms (query_timeout_ms)",
                timeout.as_millis()
            )),
        ));
    }
    let options = QueryStdioOptions {
        timeout_ms: i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX),
        ..QueryStdioOptions::default()
    };
    let mut p = Picker::from_query_stdio_with_options(options)
        .map_err(|e| Error::failed("asking the terminal about images", e))?;
    if let Some(f) = forced {
        p.set_protocol_type(f);
        return Ok((
            Some(p),
            Why::info("chosen in the config or on the command line"),
        ));
    }
    if p.protocol_type() == ProtocolType::Halfblocks
        && reply.sixel
        && let Some(cell) = cell_from_window_size()
    {
        // xterm (allowWindowOps off, its default) draws sixel but does not tell its cell size
        // (CSI 16 t), which the picker needs; the window's pixel size over its cells does.
        // The one constructor that takes a known cell size (deprecated upstream in favour of
        // the query, which is what did not answer here).
        #[allow(deprecated)]
        let known = Picker::from_fontsize(cell.into());
        p = known;
        p.set_protocol_type(ProtocolType::Sixel);
        let name = reply.version.map_or("the terminal".into(), |v| v.text);
        return Ok((
            Some(p),
            Why::info(format!("{name}: cell size from the window size")),
        ));
    }
    let why = settle(&mut p, reply.version);
    Ok((Some(p), why))
}

/// What the picker found, settled against the terminal's version (`version`, from XTVERSION):
/// a kitty too old for placed images, or tmux that passes no graphics, gets half blocks; and why.
fn settle(p: &mut Picker, version: Option<super::xtversion::TermVersion>) -> Why {
    // Inside tmux, tmux answers for itself: the outer terminal's version is not visible.
    let outer = version.filter(|v| !v.name.eq_ignore_ascii_case("tmux"));
    match (&outer, p.protocol_type()) {
        (Some(v), ProtocolType::Kitty) => match super::xtversion::kitty_problem(v) {
            // Outside tmux, an old kitty still draws images placed directly.
            Some(_) if !in_tmux() => {
                p.set_protocol_type(ProtocolType::Halfblocks);
                Why {
                    text: Some(format!("{}: direct placement", v.text)),
                    caveat: false,
                    kitty_direct: true,
                }
            }
            Some(problem) => {
                p.set_protocol_type(ProtocolType::Halfblocks);
                Why::caveat(problem)
            }
            None => Why::info(v.text.clone()),
        },
        (None, ProtocolType::Kitty) if in_tmux() => {
            // The outer kitty's version does not pass tmux, and a kitty older than 0.28 draws
            // the placed images as boxes: half blocks, unless the user forces kitty.
            p.set_protocol_type(ProtocolType::Halfblocks);
            Why::caveat(
                "kitty through tmux needs kitty 0.28 or newer, whose version tmux hides: half \
                 blocks (--image-protocol kitty if yours is newer)",
            )
        }
        (_, ProtocolType::Halfblocks) if in_tmux() => {
            Why::caveat("tmux passes no graphics here: half blocks")
        }
        (Some(v), _) => Why::info(v.text.clone()),
        (None, _) => Why::default(),
    }
}

/// The cell size in pixels from the terminal's window size (TIOCGWINSZ), when it reports one.
fn cell_from_window_size() -> Option<(u16, u16)> {
    let w = crossterm::terminal::window_size().ok()?;
    (w.width > 0 && w.height > 0 && w.columns > 0 && w.rows > 0)
        .then(|| (w.width / w.columns, w.height / w.rows))
}
