//! Text that came from outside (file names, CSV class names, pool texts, terminal answers, LLM
//! labels) made safe to show: what a terminal would execute is shown escaped instead, as `ls`
//! shows a strange name on a terminal — visible, not executed.
//!
//! Escaped: the C0 controls and DEL (`\x1b`, `\x07`, `\x7f`; `\n`, `\r` and `\t` by name where a
//! value must stay on one line), the C1 controls U+0080–U+009F (`\u{9b}` is an 8-bit CSI for
//! some terminals), and the bidirectional formatting characters that reorder what a line shows
//! (U+061C, U+200E–U+200F, U+202A–U+202E, U+2066–U+2069: "Trojan Source"). Everything else,
//! any script and emoji included, is shown as it is.

use std::borrow::Cow;
use std::fmt::Write as _;

/// The bidirectional formatting characters a line must not carry raw.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Whether a terminal could act on `c` rather than draw it.
fn is_unsafe(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

/// How [`escaped`] writes `c`: `\x1b` for ASCII controls, `\u{202e}` above.
fn escape_into(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if c.is_ascii() => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// `s` with every character `unsafe_char` picks escaped; borrowed when there is none.
fn escaped(s: &str, unsafe_char: impl Fn(char) -> bool) -> Cow<'_, str> {
    let Some(first) = s.find(&unsafe_char) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 8);
    out.push_str(&s[..first]);
    for c in s[first..].chars() {
        if unsafe_char(c) {
            escape_into(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// One value (a name, a label, a text) for a line of human-readable output: every control
/// character escaped, the line breaks and tabs too, so the value stays on its line.
pub fn field(s: &str) -> Cow<'_, str> {
    escaped(s, is_unsafe)
}

/// A path as a line of human-readable output shows it: bytes that are not UTF-8 as `\xHH`
/// (`pathname::show`), then every control character escaped, line breaks included.
pub fn path(p: &std::path::Path) -> String {
    field(&crate::pathname::show(p)).into_owned()
}

/// Whole lines of human-readable output: like [`field`], but the line breaks and tabs that
/// lay the output out are kept.
pub fn lines(s: &str) -> Cow<'_, str> {
    escaped(s, |c| c != '\n' && c != '\t' && is_unsafe(c))
}

/// A JSON document from serde_json made safe for a terminal and still the same JSON: serde_json
/// escapes the C0 controls itself; DEL, the C1 controls and the bidirectional controls it writes
/// raw are written as `\uXXXX` escapes here (all are in the Basic Multilingual Plane, and a raw
/// control can only stand inside a JSON string, where the escape means the same character).
pub fn json(s: &str) -> Cow<'_, str> {
    let risky = |c: char| c != '\n' && is_unsafe(c);
    let Some(first) = s.find(risky) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 8);
    out.push_str(&s[..first]);
    for c in s[first..].chars() {
        if risky(c) {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osc_csi_and_bidi_are_shown_not_sent() {
        let name = "x\u{1b}]52;c;SGVsbG8=\u{7}\u{1b}]0;PWNED\u{7}\u{1b}[2J\u{9b}1m\u{202e}gnp.exe";
        let shown = field(name);
        assert!(!shown.contains(|c: char| is_unsafe(c)), "{shown}");
        assert_eq!(
            shown,
            "x\\x1b]52;c;SGVsbG8=\\x07\\x1b]0;PWNED\\x07\\x1b[2J\\u{9b}1m\\u{202e}gnp.exe"
        );
        assert_eq!(field("a\nb\tc\x7f"), "a\\nb\\tc\\x7f");
        assert_eq!(lines("a\nb\tc\x1b"), "a\nb\tc\\x1b");
    }

    #[test]
    fn plain_text_any_script_is_borrowed_unchanged() {
        for s in ["plain.png", "café 東京 😀 ₂", "", "a\u{2069}"[..1].as_ref()] {
            assert!(matches!(field(s), Cow::Borrowed(_)), "{s}");
            assert!(matches!(json(s), Cow::Borrowed(_)), "{s}");
        }
    }

    #[test]
    fn json_stays_the_same_document() {
        let v = serde_json::json!({"name": "a\u{1b}[2J\u{7f}\u{9b}\u{202e}b", "n": 1});
        let text = serde_json::to_string(&v).unwrap();
        let safe = json(&text);
        assert!(!safe.contains(|c: char| is_unsafe(c)), "{safe}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, v);
    }
}
