//! Temporary files and folders that this process is writing before it publishes them by
//! rename: removed when dropped unpublished, so a write that fails (a full disk, a read-only
//! folder, an error or a panic in between) leaves no debris that keeps the disk full.

use std::path::{Path, PathBuf};

/// A temporary path owned by this process until [`Scratch::publish`] renames it into place.
#[derive(Debug)]
pub struct Scratch {
    path: Option<PathBuf>,
}

impl Scratch {
    /// Takes charge of `path` (a file or a folder, existing or about to be written).
    pub fn new(path: PathBuf) -> Self {
        Self { path: Some(path) }
    }

    /// The temporary path.
    pub fn path(&self) -> &Path {
        self.path.as_deref().unwrap_or(Path::new(""))
    }

    /// Renames the temporary path to `to`; from then on it is no longer removed.
    pub fn publish(mut self, to: &Path) -> std::io::Result<()> {
        let from = self.path.take().unwrap_or_default();
        let moved = std::fs::rename(&from, to);
        if moved.is_err() {
            self.path = Some(from); // still ours: removed on drop
        }
        moved
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            let _ = match p.is_dir() {
                true => std::fs::remove_dir_all(&p),
                false => std::fs::remove_file(&p),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpublished_scratch_is_removed_published_is_kept() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join(".a.tmp"), t.path().join(".b.tmp"));
        std::fs::write(&a, b"x").unwrap();
        std::fs::create_dir_all(b.join("inner")).unwrap();
        drop(Scratch::new(a.clone()));
        drop(Scratch::new(b.clone()));
        assert!(!a.exists() && !b.exists());
        std::fs::write(&a, b"y").unwrap();
        Scratch::new(a.clone())
            .publish(&t.path().join("a"))
            .unwrap();
        assert_eq!(std::fs::read(t.path().join("a")).unwrap(), b"y");
        // A failed publication keeps it ours: removed.
        std::fs::write(&a, b"z").unwrap();
        let s = Scratch::new(a.clone());
        assert!(s.publish(&t.path().join("no/such/dir/a")).is_err());
        assert!(!a.exists());
    }
}
