//! Terminal answers that arrive after their query stopped waiting. Over a slow link (SSH to a
//! distant server) the answers to the start-up queries can come after the explorer drew its
//! first frame, and crossterm reads them as keys: XTVERSION's `ESC P > | kitty(0.35.2) ESC \`
//! becomes alt-P, `>`, `|`, `k`, `i`, … (`k` moves the selection, `3` opens view 3), kitty's
//! `ESC _ G i=31;OK ESC \` and an `OSC … ST` the same way.
//!
//! crossterm already drops the CSI answers it cannot parse (`CSI 6;20;10 t`, `CSI 0 n`) and
//! keeps DA1's `CSI ? … c` and CPR to itself, so what reaches the explorer as keys is the three
//! string-shaped answers: DCS (`ESC P`), APC (`ESC _`) and OSC (`ESC ]`), plus the rarer SOS
//! (`ESC X`) and PM (`ESC ^`), each ended by ST (`ESC \`, read as alt-\) or BEL (read as
//! ctrl-g). This filter recognises such a string in the event stream and drops it whole. A
//! string arrives in one burst: its opening alt-key is taken for a string only when another
//! event is already waiting behind it, so a user's own alt-P still works.

use std::time::{Duration, Instant};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// Longest pause inside one answer: a longer one means the string was cut short (its ST lost),
/// and what follows is the user's typing again.
const GAP: Duration = Duration::from_millis(500);

/// Most events one answer may hold (the longest real one, an OSC colour report, has ~30).
const LONGEST: usize = 4096;

/// Drops terminal answers from the event stream (see the module docs).
#[derive(Debug, Default)]
pub struct LateReplies {
    open: Option<Open>,
    dropped: usize,
}

#[derive(Debug)]
struct Open {
    last: Instant,
    events: usize,
}

impl LateReplies {
    /// Whether `ev`, read at `now`, is the user's (true) or part of a terminal's answer
    /// (false, dropped). `more` says whether another event is already waiting; it is asked only
    /// when `ev` could open an answer.
    pub fn keep(&mut self, ev: &Event, now: Instant, more: impl FnOnce() -> bool) -> bool {
        if let Some(open) = &mut self.open {
            if now.saturating_duration_since(open.last) <= GAP && open.events < LONGEST {
                open.last = now;
                open.events += 1;
                if ends(ev) {
                    self.open = None;
                    self.dropped += 1;
                }
                return false;
            }
            self.open = None;
        }
        if opens(ev) && more() {
            self.open = Some(Open {
                last: now,
                events: 0,
            });
            return false;
        }
        true
    }

    /// How many whole answers were dropped.
    pub fn dropped(&self) -> usize {
        self.dropped
    }
}

/// A key press, as crossterm reports it.
fn press(ev: &Event) -> Option<&KeyEvent> {
    match ev {
        Event::Key(k) if k.kind == KeyEventKind::Press => Some(k),
        _ => None,
    }
}

/// `ESC P`, `ESC _`, `ESC ]`, `ESC X` or `ESC ^`: alt and the introducer.
fn opens(ev: &Event) -> bool {
    press(ev).is_some_and(|k| {
        k.modifiers.contains(KeyModifiers::ALT)
            && matches!(k.code, KeyCode::Char('P' | '_' | ']' | 'X' | '^'))
    })
}

/// ST (`ESC \`: alt-\) or BEL (ctrl-g).
fn ends(ev: &Event) -> bool {
    press(ev).is_some_and(|k| match k.code {
        KeyCode::Char('\\') => k.modifiers.contains(KeyModifiers::ALT),
        KeyCode::Char('g') => k.modifiers.contains(KeyModifiers::CONTROL),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The events crossterm 0.29 makes of `bytes` read in one burst (its `parse_event`: ESC and
    /// a character is that character with alt, an upper-case letter carries shift, BEL is
    /// ctrl-g; CSI answers never become events).
    fn events(bytes: &str) -> Vec<Event> {
        let key = |c: char, mut m: KeyModifiers| {
            if c.is_uppercase() {
                m |= KeyModifiers::SHIFT;
            }
            Event::Key(KeyEvent::new(KeyCode::Char(c), m))
        };
        let mut out = Vec::new();
        let mut chars = bytes.chars();
        while let Some(c) = chars.next() {
            match c {
                '\x1b' => match chars.next() {
                    Some('[') => {
                        // A CSI answer: crossterm keeps or drops it; no event.
                        for c in chars.by_ref() {
                            if ('@'..='~').contains(&c) {
                                break;
                            }
                        }
                    }
                    Some(c) => out.push(key(c, KeyModifiers::ALT)),
                    None => out.push(Event::Key(KeyEvent::from(KeyCode::Esc))),
                },
                '\x07' => out.push(key('g', KeyModifiers::CONTROL)),
                c => out.push(key(c, KeyModifiers::NONE)),
            }
        }
        out
    }

    /// The characters of the events `filter` keeps, read as one burst at `at`.
    fn kept(filter: &mut LateReplies, bytes: &str, at: Instant) -> String {
        let evs = events(bytes);
        let mut out = String::new();
        for (i, ev) in evs.iter().enumerate() {
            if filter.keep(ev, at, || i + 1 < evs.len())
                && let Event::Key(k) = ev
                && let KeyCode::Char(c) = k.code
            {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn every_answer_shape_is_dropped_whole() {
        let t = Instant::now();
        let mut f = LateReplies::default();
        let answers = [
            "\x1bP>|kitty(0.35.2)\x1b\\",
            "\x1bP>|tmux 3.3a\x1b\\",
            "\x1b_Gi=31;OK\x1b\\",
            "\x1b_Gi=31;ENOTSUPPORTED:no\x1b\\",
            "\x1b]11;rgb:0000/0000/0000\x1b\\",
            "\x1b]11;rgb:ffff/ffff/ffff\x07",
            "\x1b[?62;4c\x1b[6;20;10t\x1b[0n",
        ];
        for a in answers {
            assert_eq!(kept(&mut f, &format!("{a}jl"), t), "jl", "{a:?}");
        }
        assert_eq!(f.dropped(), 6);
        // All of them in one burst, between the user's keys.
        assert_eq!(kept(&mut f, &format!("k{}2", answers.concat()), t), "k2");
    }

    #[test]
    fn the_users_own_keys_pass() {
        let t = Instant::now();
        let mut f = LateReplies::default();
        // Alt-P alone (nothing behind it) is a key.
        assert_eq!(kept(&mut f, "\x1bP", t), "P");
        assert_eq!(kept(&mut f, "3m/q", t), "3m/q");
        assert_eq!(f.dropped(), 0);
    }

    #[test]
    fn a_string_cut_short_gives_the_keyboard_back() {
        let t = Instant::now();
        let mut f = LateReplies::default();
        // The ST is lost: the answer's characters go, and the next key after a pause is kept.
        assert_eq!(kept(&mut f, "\x1bP>|kitty(0.35", t), "");
        assert_eq!(kept(&mut f, "3", t + GAP * 2), "3");
        assert_eq!(f.dropped(), 0);
        // A flood without an end stops being swallowed after LONGEST events.
        let flood = format!("\x1b_{}", "x".repeat(LONGEST + 3));
        assert_eq!(kept(&mut f, &flood, t + GAP * 4), "xxx");
    }
}
