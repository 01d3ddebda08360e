//! File names that need not be UTF-8 (legal on Linux), kept losslessly and shown escaped.
//!
//! A name that is valid UTF-8 is shown as it is. Otherwise each byte that is not part of valid
//! UTF-8 is shown as `\xHH` (as Python's `surrogateescape` names are usually printed), and the
//! exact bytes are kept beside the shown form as hex, so the file can be opened again.

use std::ffi::{OsStr, OsString};
use std::path::Path;

/// The shown form of a name: unchanged when it is UTF-8, else with `\xHH` for each bad byte.
pub fn escape(name: &OsStr) -> String {
    if let Some(s) = name.to_str() {
        return s.to_string();
    }
    let bytes = name.as_encoded_bytes();
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// [`escape`] of a whole path, for messages and JSON.
pub fn show(path: &Path) -> String {
    escape(path.as_os_str())
}

/// The name's bytes as lower-case hex when it is not UTF-8 (what a store records to reopen it).
pub fn raw_hex(name: &OsStr) -> Option<String> {
    if name.to_str().is_some() {
        return None;
    }
    Some(crate::digest::hex(name.as_encoded_bytes()))
}

/// The name whose bytes [`raw_hex`] wrote, or `None` when `hex` is malformed.
pub fn from_hex(hex: &str) -> Option<OsString> {
    if !hex.len().is_multiple_of(2) || !hex.is_ascii() {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect();
    bytes.map(os_from_bytes)
}

#[cfg(unix)]
fn os_from_bytes(bytes: Vec<u8>) -> OsString {
    use std::os::unix::ffi::OsStringExt;
    OsString::from_vec(bytes)
}

#[cfg(not(unix))]
fn os_from_bytes(bytes: Vec<u8>) -> OsString {
    OsString::from(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn non_utf8_names_round_trip() {
        let name = os_from_bytes(b"dir/bad\xffname\xc3.png".to_vec());
        assert_eq!(escape(&name), "dir/bad\\xffname\\xc3.png");
        let hex = raw_hex(&name).unwrap();
        assert_eq!(from_hex(&hex).unwrap(), name);
        assert_eq!(escape(OsStr::new("caf\u{e9}.jpg")), "caf\u{e9}.jpg");
        assert!(raw_hex(OsStr::new("plain.png")).is_none());
        assert!(from_hex("abc").is_none() && from_hex("zz").is_none());
    }
}
