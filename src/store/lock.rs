//! Advisory file locks that keep two builds of one store (or one shard) from interleaving.

use std::fs::{File, TryLockError};
use std::path::Path;

use crate::{Error, Result};

/// An exclusive lock, released when dropped (or when the process dies, even by kill -9).
pub struct Lock {
    _file: File,
}

impl Lock {
    /// Takes the lock at `path`, waiting (with a note on stderr) while another process holds it.
    pub fn acquire(path: &Path) -> Result<Self> {
        Self::take(path, true)
    }

    /// Takes the lock at `path`, waiting in silence while another process holds it (a short
    /// wait, such as for a search index another search is building).
    pub fn wait(path: &Path) -> Result<Self> {
        Self::take(path, false)
    }

    fn take(path: &Path, say: bool) -> Result<Self> {
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| Error::write(path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                if say {
                    eprintln!(
                        "clipscope: another process is building {}; waiting for it",
                        crate::untrusted::path(path.parent().unwrap_or(path))
                    );
                }
                file.lock().map_err(|e| Error::write(path, e))?;
            }
            Err(TryLockError::Error(e)) => return Err(Error::write(path, e)),
        }
        Ok(Self { _file: file })
    }
}
