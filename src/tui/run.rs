//! The explorer's event loop on the real terminal: draw when something changed, read events
//! (late terminal answers dropped), hand keys and the mouse to the app, suspend on ctrl-z.

use std::io::stdout;
use std::time::{Duration, Instant};

use crossterm::event::{self, Event, KeyCode, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

use super::app::App;
use super::terminal::guard::Guard;
use super::terminal::late_replies::LateReplies;
use super::terminal::tmux::Passthrough;
use super::update::Input;
use crate::{Error, Result};

fn io(e: std::io::Error) -> Error {
    Error::failed("terminal", e)
}

/// Runs `app` on the terminal until it quits; `passthrough` is tmux's setting detection turned
/// on, given back at the end with the rest of the terminal.
pub fn on_terminal(mut app: App, passthrough: Option<Passthrough>) -> Result<()> {
    let kitty_direct = app.images.direct.is_some();
    let log = super::config::log_file();
    let mut guard = Guard::enter(app.config.mouse, passthrough, kitty_direct, log).map_err(io)?;
    event_loop(&mut app, &mut guard)
}

fn event_loop(app: &mut App, guard: &mut Guard) -> Result<()> {
    let mut term = Terminal::new(CrosstermBackend::new(stdout())).map_err(io)?;
    let mut dirty = true;
    let mut late = LateReplies::default();
    while !app.state.quit {
        dirty |= app.update(Input::Finished);
        if dirty || app.jobs.busy() {
            super::ui::frame(&mut term, app).map_err(io)?;
            if let Some(p) = &mut app.images.direct {
                p.flush_to(&mut stdout()).map_err(io)?;
            }
            dirty = false;
        }
        for text in app.state.clipboard.drain(..) {
            let _ = super::terminal::copy(&mut stdout(), &text);
        }
        guard.set_mouse(app.config.mouse).map_err(io)?;
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
                    if k.code == KeyCode::Char('z')
                        && k.modifiers.contains(KeyModifiers::CONTROL) =>
                {
                    guard.suspend().map_err(io)?;
                    app.images.resumed();
                    term.clear().map_err(io)?;
                }
                Event::Key(k) => {
                    app.update(Input::Key(k));
                }
                Event::Mouse(m) => {
                    app.update(Input::Mouse(m));
                }
                Event::Resize(..) => {
                    term.autoresize().map_err(io)?;
                }
                _ => {}
            }
            dirty = true;
        }
        app.update(Input::Tick(Instant::now()));
    }
    Ok(())
}
