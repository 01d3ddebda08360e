//! The terminal while the explorer runs: raw mode, the alternate screen, the mouse, tmux
//! passthrough and kitty's directly placed images, owned by one value and undone when it is
//! dropped, when the UI thread panics (before the panic message is printed, so that it is
//! readable), and around a suspend (ctrl-z … fg). A panic on another thread (a background job)
//! leaves the screen alone and is written, with its backtrace, to a log file instead of over the
//! screen (the job reports it in the status bar). No global state: the panic hook holds its own
//! handle on what to undo.

use std::io::{Write, stdout};
use std::path::{Path, PathBuf};
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
    /// so that leaving deletes them; other threads' panics go to `panic_log`.
    pub fn enter(
        mouse: bool,
        passthrough: Option<Passthrough>,
        kitty_direct: bool,
        panic_log: PathBuf,
    ) -> std::io::Result<Self> {
        let undo = Arc::new(Undo {
            passthrough,
            kitty_direct,
            ui: std::thread::current().id(),
        });
        let previous_hook: Arc<Hook> = Arc::new(std::panic::take_hook());
        std::panic::set_hook(panic_hook(undo.clone(), previous_hook.clone(), panic_log));
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

/// The explorer's panic hook: on the UI thread, the terminal put back, then `previous` (the
/// message, readable on the restored screen); on any other thread, the message and a backtrace
/// appended to `log`, nothing printed over the explorer's screen.
fn panic_hook(undo: Arc<Undo>, previous: Arc<Hook>, log: PathBuf) -> Hook {
    Box::new(move |info| {
        if std::thread::current().id() == undo.ui {
            undo.restore();
            previous(info);
        } else {
            log_panic(&log, info);
        }
    })
}

/// Appends a panic's thread, message, place and backtrace to `log` (best effort: a log that
/// cannot be written loses the backtrace, never the screen).
fn log_panic(log: &Path, info: &std::panic::PanicHookInfo<'_>) {
    let thread = std::thread::current();
    let backtrace = std::backtrace::Backtrace::force_capture();
    let text = format!(
        "thread '{}' {info}\n{backtrace}\n",
        thread.name().unwrap_or("unnamed")
    );
    if let Some(dir) = log.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log);
    if let Ok(mut f) = file {
        let _ = f.write_all(text.as_bytes());
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.undo.restore();
        let prev = self.previous_hook.clone();
        std::panic::set_hook(Box::new(move |info| prev(info)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn a_worker_panic_goes_to_the_log_not_over_the_screen() {
        let t = tempfile::tempdir().unwrap();
        let log = t.path().join("state/explorer.log");
        let printed = Arc::new(AtomicBool::new(false));
        let p = printed.clone();
        let previous: Arc<Hook> = Arc::new(Box::new(move |_| p.store(true, Ordering::SeqCst)));
        // Another thread stands for the UI, so that nothing here touches the test's terminal.
        let ui = std::thread::spawn(|| std::thread::current().id())
            .join()
            .unwrap();
        let undo = Arc::new(Undo {
            passthrough: None,
            kitty_direct: false,
            ui,
        });
        let hook = panic_hook(undo, previous, log.clone());
        // The hook is the process's for a moment (a panic of another test meanwhile is logged
        // to this temporary file too, harmlessly).
        let old = std::panic::take_hook();
        std::panic::set_hook(hook);
        let worker = std::thread::Builder::new().name("clipscope-job".into());
        let joined = worker
            .spawn(|| panic!("index out of bounds in a job"))
            .unwrap()
            .join();
        std::panic::set_hook(old);
        assert!(joined.is_err());
        assert!(!printed.load(Ordering::SeqCst), "printed over the screen");
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.contains("thread 'clipscope-job'"), "{text}");
        assert!(text.contains("index out of bounds in a job"), "{text}");
    }
}
