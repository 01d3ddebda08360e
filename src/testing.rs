//! Helpers the unit tests share.

use std::path::PathBuf;

/// A file `name` holding `contents` in a new temporary folder (removed when the folder is
/// dropped).
pub fn written(name: &str, contents: impl AsRef<[u8]>) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, contents).unwrap();
    (dir, path)
}
