//! Keys as `keymap.toml` spells them: parsing (`ctrl-d`, `g g`), writing back, and the
//! normalisation under which bindings compare.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Parses one key: `q`, `G`, `ctrl-d`, `alt-x`, `esc`, `enter`, `tab`, `backtab`, `space`,
/// arrows, `home`/`end`, `pageup`/`pagedown`, `f1`…`f12`.
pub fn parse_key(s: &str) -> Option<KeyEvent> {
    let mut mods = KeyModifiers::NONE;
    let mut rest = s;
    loop {
        if let Some(r) = rest.strip_prefix("ctrl-") {
            mods |= KeyModifiers::CONTROL;
            rest = r;
        } else if let Some(r) = rest.strip_prefix("alt-") {
            mods |= KeyModifiers::ALT;
            rest = r;
        } else {
            break;
        }
    }
    let code = match rest {
        "esc" => KeyCode::Esc,
        "enter" => KeyCode::Enter,
        "tab" => KeyCode::Tab,
        "backtab" => KeyCode::BackTab,
        "space" => KeyCode::Char(' '),
        "up" => KeyCode::Up,
        "down" => KeyCode::Down,
        "left" => KeyCode::Left,
        "right" => KeyCode::Right,
        "home" => KeyCode::Home,
        "end" => KeyCode::End,
        "pageup" => KeyCode::PageUp,
        "pagedown" => KeyCode::PageDown,
        "backspace" => KeyCode::Backspace,
        f if f.len() > 1 && f.starts_with('f') => KeyCode::F(f[1..].parse().ok()?),
        c if c.chars().count() == 1 => KeyCode::Char(c.chars().next()?),
        _ => return None,
    };
    Some(KeyEvent::new(code, mods))
}

/// Writes a key the way `keymap.toml` spells it.
pub fn show_key(k: &KeyEvent) -> String {
    let mut s = String::new();
    if k.modifiers.contains(KeyModifiers::CONTROL) {
        s.push_str("ctrl-");
    }
    if k.modifiers.contains(KeyModifiers::ALT) {
        s.push_str("alt-");
    }
    match k.code {
        KeyCode::Char(' ') => s.push_str("space"),
        KeyCode::Char(c) => s.push(c),
        KeyCode::F(n) => s.push_str(&format!("f{n}")),
        KeyCode::BackTab => s.push_str("backtab"),
        KeyCode::PageUp => s.push_str("pageup"),
        KeyCode::PageDown => s.push_str("pagedown"),
        other => s.push_str(&format!("{other:?}").to_lowercase()),
    }
    s
}

/// Parses a key sequence (`g g`); `None` when a key is not one.
pub(super) fn parse_seq(s: &str) -> Option<Vec<KeyEvent>> {
    let keys: Option<Vec<_>> = s.split_whitespace().map(parse_key).collect();
    keys.filter(|k| !k.is_empty())
}

/// A key event as bindings compare it: shifted letters carry no SHIFT (crossterm reports
/// `G` with or without it, depending on the terminal).
pub fn normalize(k: KeyEvent) -> KeyEvent {
    let mut mods = k.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT);
    if matches!(k.code, KeyCode::BackTab) {
        mods = KeyModifiers::NONE;
    }
    KeyEvent::new(k.code, mods)
}
