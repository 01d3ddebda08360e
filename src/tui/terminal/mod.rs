//! The terminal layer, apart from the app: detection (which image protocol, which terminal,
//! tmux, and why: [`detect`], [`xtversion`]), the guard that owns the terminal's modes while the
//! explorer runs ([`guard`], [`tmux`]), and the filter that keeps late terminal answers out of
//! the keys ([`late_replies`]). Nothing here imports the rest of the explorer.

pub mod detect;
pub mod guard;
pub mod late_replies;
pub mod tmux;
pub mod xtversion;

use std::io::Write;

/// Deletes every image kitty shows (and frees their data).
pub const KITTY_DELETE_ALL: &str = "\x1b_Ga=d,d=A,q=2\x1b\\";

/// Standard base64 with padding (OSC 52 and kitty's graphics protocol).
pub fn base64(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Puts `text` on the clipboard of the terminal at the other end (OSC 52; works over SSH).
pub fn copy(out: &mut impl Write, text: &str) -> std::io::Result<()> {
    write!(out, "\x1b]52;c;{}\x07", base64(text.as_bytes()))?;
    out.flush()
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
        let mut out = vec![];
        super::copy(&mut out, "ab").unwrap();
        assert_eq!(out, b"\x1b]52;c;YWI=\x07");
    }
}
