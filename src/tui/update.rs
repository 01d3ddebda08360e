//! The one way into the explorer's state: every change comes as an [`Input`] to
//! [`App::update`] — what the user did (a key, a bound action, the mouse, a palette command) and
//! time passing (finished jobs applied, new jobs started). The terminal loop and the tests drive
//! the app the same way; drawing only reads it.

use std::time::Instant;

use crossterm::event::{KeyEvent, MouseEvent};

use super::app::App;
use super::keymap::Action;

/// Something that changes the explorer.
#[derive(Debug, Clone)]
pub enum Input {
    /// A key: looked up in the keymap (or typed into the open overlay).
    Key(KeyEvent),
    /// What a key is bound to, given directly.
    Action(Action),
    /// A click or the wheel.
    Mouse(MouseEvent),
    /// A palette command line, without the colon (`goto L10H3`).
    Command(String),
    /// Apply what the workers have finished.
    Finished,
    /// Start the work that has waited long enough by `Instant` (images once the selection
    /// rests, a search once its query rests); the spinners' frame advances.
    Tick(Instant),
    /// What the frame just drawn produced (the state `ui::Screen` fills): where things are, the
    /// images it wanted, kitty's placements.
    Drawn(super::images::Drawn),
}

impl App {
    /// Applies `input`; whether anything changed (for [`Input::Finished`]: whether a job had
    /// finished; the user's inputs always count as a change).
    pub fn update(&mut self, input: Input) -> bool {
        match input {
            Input::Key(k) => self.key(k),
            Input::Action(a) => self.act(a),
            Input::Mouse(m) => self.mouse(m),
            Input::Command(line) => super::commands::execute(self, &line),
            Input::Finished => return self.drain(),
            Input::Drawn(d) => {
                self.state.geometry = d.geometry;
                self.images.drawn(d.wanted, d.placements);
                return false;
            }
            Input::Tick(now) => {
                self.state.frame = self.state.frame.wrapping_add(1);
                self.request(now);
                // What a worker decided on the user's behalf (a read-only store's derived
                // files put elsewhere): said once, in the status bar.
                let notices = crate::cachedir::take_notices();
                if notices.is_empty() {
                    return false;
                }
                self.info(notices.join("; "));
            }
        }
        true
    }
}
