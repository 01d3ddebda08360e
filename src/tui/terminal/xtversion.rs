//! Which terminal is on the other end, and which version: XTVERSION (`CSI > q`), which kitty,
//! xterm, WezTerm, foot, mlterm and tmux answer with `DCS > | name(version) ST`. The explorer
//! needs it because kitty draws images placed by Unicode placeholders (what ratatui-image sends)
//! only from 0.28 on: an older kitty gets direct placement (kitty_direct.rs). The primary device
//! attributes (DA1) that end the query say whether the terminal draws sixel (attribute 4).

use std::time::{Duration, Instant};

/// A terminal's name and version numbers, as XTVERSION reported them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermVersion {
    /// Name, e.g. `kitty`, `XTerm`, `tmux`.
    pub name: String,
    /// Version numbers, e.g. `[0, 26, 5]`.
    pub version: Vec<u32>,
    /// The whole answer.
    pub text: String,
}

impl TermVersion {
    /// Parses an XTVERSION text: `kitty(0.26.5)`, `XTerm(390)`, `tmux 3.3a`, `foot(1.16.2)`.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let split = text.find(['(', ' ']).unwrap_or(text.len());
        let name = text[..split].trim().to_string();
        if name.is_empty() {
            return None;
        }
        let rest = text[split..].trim_matches(|c: char| c == '(' || c == ')' || c == ' ');
        let version = rest
            .split(['.', '-', ' '])
            .map_while(|p| {
                let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
                digits.parse().ok()
            })
            .collect();
        Some(Self {
            name,
            version,
            text: text.to_string(),
        })
    }

    /// Whether the version is at least `min` (compared number by number).
    pub fn at_least(&self, min: &[u32]) -> bool {
        for (i, &m) in min.iter().enumerate() {
            let v = self.version.get(i).copied().unwrap_or(0);
            if v != m {
                return v > m;
            }
        }
        true
    }

    /// Whether this is kitty.
    pub fn is_kitty(&self) -> bool {
        self.name.eq_ignore_ascii_case("kitty")
    }
}

/// The XTVERSION answer inside a terminal's reply bytes: `ESC P > | text ESC \`.
pub fn parse_reply(bytes: &[u8]) -> Option<TermVersion> {
    let start = bytes.windows(4).position(|w| w == b"\x1bP>|")? + 4;
    let len = bytes[start..].windows(2).position(|w| w == b"\x1b\\")?;
    TermVersion::parse(&String::from_utf8_lossy(&bytes[start..start + len]))
}

/// The attribute lists of the complete DA1 replies in `bytes` (`ESC [ ? 63 ; 4 ; … c`), in the
/// order they came.
fn da1_replies(bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = vec![];
    let mut rest = bytes;
    while let Some(start) = rest.windows(3).position(|w| w == b"\x1b[?") {
        let body = &rest[start + 3..];
        let Some(end) = body.iter().position(|&b| b == b'c') else {
            break;
        };
        out.push(&body[..end]);
        rest = &body[end + 1..];
    }
    out
}

/// Whether a DA1 reply in `bytes` lists sixel graphics (4): any of them, since inside tmux
/// both tmux and the outer terminal answer, in an order no one can rely on.
pub fn sixel_in_reply(bytes: &[u8]) -> bool {
    da1_replies(bytes)
        .iter()
        .any(|r| r.split(|&b| b == b';').any(|p| p == b"4"))
}

/// What the terminal answered: its version, and whether it draws sixel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    /// The XTVERSION answer.
    pub version: Option<TermVersion>,
    /// Whether DA1 lists sixel graphics.
    pub sixel: bool,
    /// Whether the terminal answered (its DA1 came) before the deadline.
    pub answered: bool,
}

/// Why the kitty protocol cannot draw the explorer's images in terminal `v`, when it cannot:
/// kitty older than 0.28 (Unicode placeholders).
pub fn kitty_problem(v: &TermVersion) -> Option<String> {
    (v.is_kitty() && !v.at_least(&[0, 28])).then(|| {
        format!(
            "{}: kitty draws placed images from 0.28 on; half blocks",
            v.text
        )
    })
}

/// The query: XTVERSION, then DA1, so that a terminal that ignores XTVERSION still ends the
/// wait (every terminal answers DA1, in order). Inside tmux, tmux answers both itself (its DA1
/// lists no sixel), so the outer terminal is asked for DA1 too, through tmux's passthrough
/// (`DCS tmux; … ST`, each ESC doubled): whether the outer terminal draws sixel must not depend
/// on which of the two answers comes first.
fn query_text(through_tmux: bool) -> &'static [u8] {
    match through_tmux {
        true => b"\x1bPtmux;\x1b\x1b[c\x1b\\\x1b[>q\x1b[c",
        false => b"\x1b[>q\x1b[c",
    }
}

/// Asks the terminal on stdin/stdout (a TTY) for its XTVERSION and DA1 ([`query_text`]): the
/// wait ends when every DA1 asked for has come (two inside tmux: tmux's and the outer
/// terminal's), so `timeout` is spent only on a terminal that is slow or mute. What comes later
/// is dropped by [`super::late_replies`].
#[cfg(unix)]
pub fn query(timeout: Duration, through_tmux: bool) -> Reply {
    let answers = if through_tmux { 2 } else { 1 };
    query_bytes(timeout, query_text(through_tmux), answers).map_or_else(Reply::default, |buf| {
        Reply {
            version: parse_reply(&buf),
            sixel: sixel_in_reply(&buf),
            answered: da1_seen(&buf),
        }
    })
}

#[cfg(unix)]
fn query_bytes(timeout: Duration, query: &[u8], answers: usize) -> Option<Vec<u8>> {
    use std::io::Write;
    let was_raw = crossterm::terminal::is_raw_mode_enabled().unwrap_or(false);
    if !was_raw {
        crossterm::terminal::enable_raw_mode().ok()?;
    }
    let answer = (|| {
        let mut out = std::io::stdout();
        out.write_all(query).ok()?;
        out.flush().ok()?;
        let deadline = Instant::now() + timeout;
        let mut buf = Vec::new();
        while da1_replies(&buf).len() < answers {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let mut pfd = libc::pollfd {
                fd: 0,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd; a plain read into a stack buffer of its length.
            let ready = unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(5000) as i32) };
            if ready <= 0 {
                break;
            }
            let mut chunk = [0u8; 512];
            let n = unsafe { libc::read(0, chunk.as_mut_ptr().cast(), chunk.len()) };
            if n <= 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n as usize]);
        }
        Some(buf)
    })();
    if !was_raw {
        let _ = crossterm::terminal::disable_raw_mode();
    }
    answer
}

/// Elsewhere no terminal is asked.
#[cfg(not(unix))]
pub fn query(_timeout: Duration, _through_tmux: bool) -> Reply {
    Reply::default()
}

/// Whether `buf` holds a complete primary device attributes reply, `ESC [ ? … c`.
fn da1_seen(buf: &[u8]) -> bool {
    !da1_replies(buf).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_of_real_terminals() {
        let k = parse_reply(b"\x1bP>|kitty(0.26.5)\x1b\\\x1b[?62;c").unwrap();
        assert_eq!(
            (k.name.as_str(), k.version.as_slice()),
            ("kitty", &[0, 26, 5][..])
        );
        assert!(k.is_kitty() && !k.at_least(&[0, 28]) && k.at_least(&[0, 26, 5]));
        let x = TermVersion::parse("XTerm(390)").unwrap();
        assert_eq!(x.version, [390]);
        let t = TermVersion::parse("tmux 3.3a").unwrap();
        assert_eq!(
            (t.name.as_str(), t.version.as_slice()),
            ("tmux", &[3, 3][..])
        );
        assert!(
            TermVersion::parse("kitty(0.32.2)")
                .unwrap()
                .at_least(&[0, 28])
        );
        assert!(parse_reply(b"\x1b[?62;4c").is_none());
        assert!(sixel_in_reply(
            b"\x1bP>|XTerm(379)\x1b\\\x1b[?63;1;2;4;6;9;15;22c"
        ));
        assert!(!sixel_in_reply(b"\x1b[?62;c") && !sixel_in_reply(b"\x1b[?64;44c"));
        assert!(da1_seen(b"\x1b[?62;4c") && !da1_seen(b"\x1b[?62;4"));
        // Inside tmux: tmux's own DA1 (no sixel) and the outer xterm's, in either order.
        let (tmux, xterm) = (&b"\x1b[?1;2c"[..], &b"\x1b[?63;1;2;4;6;9;15;22c"[..]);
        for both in [[tmux, xterm].concat(), [xterm, tmux].concat()] {
            assert!(sixel_in_reply(&both) && da1_replies(&both).len() == 2);
        }
        assert!(!sixel_in_reply(tmux));
        assert!(query_text(true).starts_with(b"\x1bPtmux;\x1b\x1b[c\x1b\\"));
        let old = TermVersion::parse("kitty(0.26.5)").unwrap();
        let why = kitty_problem(&old).unwrap();
        assert!(why.contains("0.26.5") && why.contains("0.28") && why.contains("half blocks"));
        let new = TermVersion::parse("kitty(0.35.0)").unwrap();
        assert!(kitty_problem(&new).is_none());
    }
}
