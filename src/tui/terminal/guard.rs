//! The terminal while the explorer runs: raw mode, the alternate screen, the mouse, tmux
//! passthrough and kitty's directly placed images, owned by one value and undone when it is
//! dropped, when the UI thread panics (before the panic message is printed, so that it is
//! readable), and around a suspend (ctrl-z … fg). No global state: the panic hook holds its own
//! handle on what to undo.

use std::io::{Write, stdout};
use std::sync::Arc;
use std::thread::ThreadId;

use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute};

use super::KITTY_DELETE_ALL;
use super::tmux::Passthrough;

type Hook = Box<dyn Fn(&std::panic::PanicHookInfo<'_>) + Sync + Send + 'static>;

/// What to undo, shared with the panic hook.
#[derive(Debug)]
struct Undo {
    passthrough: Option<Passthrough>,
    kitty_direct: bool,
    /// The thread that drew: a panic elsewhere (a background job's) leaves the screen alone.
    ui: ThreadId,
}

impl Undo {
    /// Puts the terminal back: kitty's images, mouse, alternate screen, raw mode, cursor, tmux.
    fn restore(&self) {
        if self.kitty_direct {
            let mut out = stdout();
            let _ = out.write_all(KITTY_DELETE_ALL.as_bytes());
            let _ = out.flush();
        }
        let _ = execute!(
            stdout(),
            DisableMouseCapture,
            LeaveAlternateScreen,
            cursor::Show
        );
        let _ = disable_raw_mode();
        if let Some(p) = &self.passthrough {
            p.restore();
        }
    }
}

/// The terminal in the explorer's modes until dropped.
pub struct Guard {
    undo: Arc<Undo>,
    previous_hook: Arc<Hook>,
    mouse: bool,
}

impl Guard {
    /// Enters raw mode and the alternate screen (and mouse capture when `mouse`), taking over
    /// `passthrough` (given back on drop); `kitty_direct` says that images are placed directly,
    /// so that leaving deletes them.
    pub fn enter(
        mouse: bool,
        passthrough: Option<Passthrough>,
        kitty_direct: bool,
    ) -> std::io::Result<Self> {
        let undo = Arc::new(Undo {
            passthrough,
            kitty_direct,
            ui: std::thread::current().id(),
        });
        let previous_hook: Arc<Hook> = Arc::new(std::panic::take_hook());
        let (u, prev) = (undo.clone(), previous_hook.clone());
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().id() == u.ui {
                u.restore();
            }
            prev(info);
        }));
        let me = Self {
            undo,
            previous_hook,
            mouse,
        };
        me.take()?;
        Ok(me)
    }

    fn take(&self) -> std::io::Result<()> {
        enable_raw_mode()?;
        execute!(stdout(), EnterAlternateScreen, cursor::Hide)?;
        if self.mouse {
            execute!(stdout(), EnableMouseCapture)?;
        }
        Ok(())
    }

    /// Turns mouse capture on or off.
    pub fn set_mouse(&mut self, on: bool) -> std::io::Result<()> {
        if on != self.mouse {
            self.mouse = on;
            if on {
                execute!(stdout(), EnableMouseCapture)?;
            } else {
                execute!(stdout(), DisableMouseCapture)?;
            }
        }
        Ok(())
    }

    /// Ctrl-z: gives the terminal (and tmux's setting) back to the shell until `fg`, then takes
    /// them again. The caller redraws everything, images included.
    pub fn suspend(&self) -> std::io::Result<()> {
        self.undo.restore();
        #[cfg(unix)]
        // SAFETY: raising a signal at ourselves; the default SIGTSTP action stops the process.
        unsafe {
            libc::raise(libc::SIGTSTP);
        }
        if let Some(p) = &self.undo.passthrough {
            p.retake();
        }
        self.take()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.undo.restore();
        let prev = self.previous_hook.clone();
        std::panic::set_hook(Box::new(move |info| prev(info)));
    }
}
