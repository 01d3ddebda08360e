//! tmux's `allow-passthrough` for the explorer's pane: turned on so that graphics (and the
//! terminal queries) reach the outer terminal, and given back as it was when the explorer ends,
//! is suspended, or panics (its owner is the explorer's terminal guard, or `doctor`).

use std::sync::Mutex;

/// Whether we run inside tmux.
pub fn in_tmux() -> bool {
    std::env::var_os("TMUX").is_some()
        || std::env::var("TERM").is_ok_and(|t| t.starts_with("tmux"))
        || std::env::var("TERM_PROGRAM").is_ok_and(|t| t == "tmux")
}

/// Runs `tmux ARGS`; its trimmed stdout when it succeeds.
pub fn tmux(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("tmux")
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The pane's passthrough turned on, with the value it had; given back on drop.
#[derive(Debug)]
pub struct Passthrough {
    /// The value before (`""`: unset), until given back.
    old: Mutex<Option<String>>,
}

impl Passthrough {
    /// Turns passthrough on for this pane; `None` outside tmux or when tmux does not answer.
    pub fn enable() -> Option<Self> {
        if !in_tmux() {
            return None;
        }
        Some(Self {
            old: Mutex::new(Some(turn_on()?)),
        })
    }

    /// Gives the old value back (once; later calls do nothing).
    pub fn restore(&self) {
        let old = self.old.lock().ok().and_then(|mut g| g.take());
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

    /// Turns passthrough on again after [`Passthrough::restore`] (after a suspend), keeping the
    /// value to give back.
    pub fn retake(&self) {
        if let Ok(mut g) = self.old.lock()
            && g.is_none()
        {
            *g = turn_on();
        }
    }
}

/// Turns the pane's passthrough on; the value it had, when tmux answers.
fn turn_on() -> Option<String> {
    let old = tmux(&["show", "-pv", "allow-passthrough"])?;
    let _ = tmux(&["set", "-p", "allow-passthrough", "on"]);
    Some(old)
}

impl Drop for Passthrough {
    fn drop(&mut self) {
        self.restore();
    }
}
