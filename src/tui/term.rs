//! The real terminal: image protocol detection, raw mode and the alternate screen, tmux
//! passthrough (restored on exit), a panic hook that restores everything, and the event loop.

use std::io::{Write, stdout};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event};
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui_image::picker::cap_parser::QueryStdioOptions;
use ratatui_image::picker::{Picker, ProtocolType};

use super::app::App;
use super::config::ImageProtocol;
use crate::{Error, Result};

/// The pane's `allow-passthrough` before we changed it (restored on exit).
static TMUX_PASSTHROUGH: Mutex<Option<String>> = Mutex::new(None);

/// Whether we run inside tmux.
pub fn in_tmux() -> bool {
    std::env::var_os("TMUX").is_some()
        || std::env::var("TERM").is_ok_and(|t| t.starts_with("tmux"))
        || std::env::var("TERM_PROGRAM").is_ok_and(|t| t == "tmux")
}

fn tmux(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("tmux")
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Turns tmux passthrough on for this pane, remembering the old value.
fn tmux_passthrough_on() {
    if let Some(old) = tmux(&["show", "-pv", "allow-passthrough"]) {
        if let Ok(mut g) = TMUX_PASSTHROUGH.lock() {
            *g = Some(old);
        }
        let _ = tmux(&["set", "-p", "allow-passthrough", "on"]);
    }
}

/// Restores tmux passthrough only (after a detection outside the TUI).
pub fn restore_tmux_only() {
    tmux_restore();
}

fn tmux_restore() {
    let old = TMUX_PASSTHROUGH.lock().ok().and_then(|mut g| g.take());
    match old.as_deref() {
        Some("") => {
            let _ = tmux(&["set", "-pu", "allow-passthrough"]);
        }
        Some(v) => {
            let _ = tmux(&["set", "-p", "allow-passthrough", v]);
        }
        None => {}
    }
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

/// The picker for `choice` and why it draws as it does: `Auto` asks the terminal (before any
/// event is read) for its XTVERSION first, so that a kitty too old for placed images gets half
/// blocks and says so, then for its graphics; `None` turns images off. Each wait ends when the
/// terminal has answered, or at `timeout`: a terminal that did not answer the first query in
/// time (a mute one, or one behind a link slower than that) gets half blocks at once, and its
/// late answers are dropped from the keys ([`super::late_replies`]).
pub fn picker(choice: ImageProtocol, timeout: Duration) -> Result<(Option<Picker>, Why)> {
    let forced = match choice {
        ImageProtocol::None => return Ok((None, Why::info("images off"))),
        ImageProtocol::Halfblocks => return Ok((Some(Picker::halfblocks()), Why::default())),
        ImageProtocol::Kitty => Some(ProtocolType::Kitty),
        ImageProtocol::Sixel => Some(ProtocolType::Sixel),
        ImageProtocol::Iterm2 => Some(ProtocolType::Iterm2),
        ImageProtocol::Auto => None,
    };
    if in_tmux() {
        tmux_passthrough_on();
    }
    let reply = match forced {
        Some(_) => super::xtversion::Reply::default(),
        None => super::xtversion::query(timeout),
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
    // Inside tmux, tmux answers for itself: the outer terminal's version is not visible.
    let outer = reply
        .version
        .filter(|v| !v.name.eq_ignore_ascii_case("tmux"));
    let why = match (&outer, p.protocol_type()) {
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
    };
    Ok((Some(p), why))
}

/// The cell size in pixels from the terminal's window size (TIOCGWINSZ), when it reports one.
fn cell_from_window_size() -> Option<(u16, u16)> {
    let w = crossterm::terminal::window_size().ok()?;
    (w.width > 0 && w.height > 0 && w.columns > 0 && w.rows > 0)
        .then(|| (w.width / w.columns, w.height / w.rows))
}

/// Puts the terminal back: mouse, alternate screen, raw mode, cursor, tmux.
pub fn restore() {
    if super::kitty_direct::ACTIVE.load(std::sync::atomic::Ordering::Relaxed) {
        let mut out = stdout();
        let _ = out.write_all(super::kitty_direct::DELETE_ALL.as_bytes());
    }
    let _ = execute!(
        stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        cursor::Show
    );
    let _ = disable_raw_mode();
    tmux_restore();
}

/// Standard base64 with padding (OSC 52 and kitty's graphics protocol).
pub(super) fn base64(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Runs the app in the terminal until it quits.
pub fn run(mut app: App) -> Result<()> {
    let io = |e: std::io::Error| Error::Invalid(format!("terminal: {e}"));
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // A job's panic becomes the job's error (super::jobs): the terminal stays as it is.
        if std::thread::current().name() == Some(super::jobs::THREAD) {
            return;
        }
        restore();
        hook(info);
    }));
    enable_raw_mode().map_err(io)?;
    let mut out = stdout();
    let r = execute!(out, EnterAlternateScreen, cursor::Hide).and_then(|()| {
        if app.config.mouse {
            execute!(out, EnableMouseCapture)
        } else {
            Ok(())
        }
    });
    let result = r.map_err(io).and_then(|()| event_loop(&mut app));
    restore();
    result
}

/// Ctrl-z: gives the terminal back to the shell until `fg`, then takes it again.
fn suspend(mouse: bool) -> std::io::Result<()> {
    // restore() gives tmux back its passthrough setting; fg must turn it on again.
    let passthrough = TMUX_PASSTHROUGH.lock().is_ok_and(|g| g.is_some());
    restore();
    #[cfg(unix)]
    // SAFETY: raising a signal at ourselves; the default SIGTSTP action stops the process.
    unsafe {
        libc::raise(libc::SIGTSTP);
    }
    if passthrough {
        tmux_passthrough_on();
    }
    enable_raw_mode()?;
    execute!(stdout(), EnterAlternateScreen, cursor::Hide)?;
    if mouse {
        execute!(stdout(), EnableMouseCapture)?;
    }
    Ok(())
}

fn event_loop(app: &mut App) -> Result<()> {
    let io = |e: std::io::Error| Error::Invalid(format!("terminal: {e}"));
    let mut term = Terminal::new(CrosstermBackend::new(stdout())).map_err(io)?;
    let mut mouse = app.config.mouse;
    let mut dirty = true;
    let mut late = super::late_replies::LateReplies::default();
    while !app.quit {
        dirty |= app.drain();
        if dirty || app.jobs.busy() {
            term.draw(|f| super::ui::draw(f, app)).map_err(io)?;
            if let Some(p) = &mut app.images.direct {
                p.flush_to(&mut stdout()).map_err(io)?;
            }
            dirty = false;
        }
        for text in app.clipboard.drain(..) {
            let mut out = stdout();
            let _ = write!(out, "\x1b]52;c;{}\x07", base64(text.as_bytes()));
            let _ = out.flush();
        }
        if mouse != app.config.mouse {
            mouse = app.config.mouse;
            let _ = if mouse {
                execute!(stdout(), EnableMouseCapture)
            } else {
                execute!(stdout(), DisableMouseCapture)
            };
        }
        let wait = if app.jobs.busy() || !app.images.wanted.is_empty() {
            30
        } else {
            250
        };
        if event::poll(Duration::from_millis(wait)).map_err(io)? {
            let ev = event::read().map_err(io)?;
            let more = || event::poll(Duration::from_millis(50)).unwrap_or(false);
            if !late.keep(&ev, Instant::now(), more) {
                continue;
            }
            match ev {
                Event::Key(k)
                    if k.code == event::KeyCode::Char('z')
                        && k.modifiers.contains(event::KeyModifiers::CONTROL) =>
                {
                    suspend(app.config.mouse).map_err(io)?;
                    app.images.resumed();
                    term.clear().map_err(io)?;
                }
                Event::Key(k) => app.key(k),
                Event::Mouse(m) => app.mouse(m),
                Event::Resize(..) => {
                    term.autoresize().map_err(io)?;
                }
                _ => {}
            }
            dirty = true;
        }
        app.request(Instant::now());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_of_osc52() {
        assert_eq!(
            super::base64(b"vit-b-16/openai/L10H3"),
            "dml0LWItMTYvb3BlbmFpL0wxMEgz"
        );
        assert_eq!(super::base64(b"ab"), "YWI=");
        assert_eq!(super::base64(b"a"), "YQ==");
    }
}
