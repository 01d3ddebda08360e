//! The library's error type: every failure names the file or input it concerns.

use std::path::PathBuf;

/// Errors raised by clipscope's library code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read {}: {source}", crate::pathname::show(.path))]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A configuration file is malformed or lacks a required key.
    #[error("{}: {message}", crate::pathname::show(.path))]
    Config {
        /// The configuration file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The model weights do not match the configuration.
    #[error("{}: {message}", crate::pathname::show(.path))]
    Weights {
        /// The weights file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// An image could not be decoded.
    #[error("{}: not a readable image: {message}", crate::pathname::show(.path))]
    Image {
        /// The image file.
        path: PathBuf,
        /// The decoder's complaint.
        message: String,
    },
    /// The model argument names nothing that can be loaded.
    #[error("{0}")]
    Model(String),
    /// An argument is out of range or malformed.
    #[error("{0}")]
    Invalid(String),
    /// A store on disk is missing, corrupt, of another version or cannot be written.
    #[error("{}: {message}", crate::pathname::show(.path))]
    Store {
        /// The store directory or file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// A step on a file failed because of another library's error, kept as the source.
    #[error("{}: {context}: {source}", crate::pathname::show(.path))]
    Caused {
        /// The file.
        path: PathBuf,
        /// What was being done.
        context: String,
        /// The underlying error.
        source: BoxError,
    },
    /// A step failed because of another library's error, kept as the source.
    #[error("{context}: {source}")]
    Failed {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: BoxError,
    },
}

/// Another library's error, kept as a source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Shorthand for results carrying [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A [`Error::Config`] for `path`.
    pub fn config(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Config {
            path: path.into(),
            message: message.into(),
        }
    }

    /// A [`Error::Store`] for `path`.
    pub fn store(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Store {
            path: path.into(),
            message: message.into(),
        }
    }

    /// A [`Error::Caused`] for a failed write of `path`: `PATH: cannot write: …`.
    pub fn write(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::caused(path, "cannot write", source)
    }

    /// A [`Error::Caused`]: `context` on `path` failed with `source`.
    pub fn caused(
        path: impl Into<PathBuf>,
        context: impl Into<String>,
        source: impl Into<BoxError>,
    ) -> Self {
        Error::Caused {
            path: path.into(),
            context: context.into(),
            source: source.into(),
        }
    }

    /// A [`Error::Failed`]: `context` failed with `source`.
    pub fn failed(context: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::Failed {
            context: context.into(),
            source: source.into(),
        }
    }

    /// Whether the error is a file system out of space (ENOSPC, or a disk quota exceeded).
    pub fn is_disk_full(&self) -> bool {
        let io = match self {
            Error::Io { source, .. } => Some(source),
            Error::Caused { source, .. } | Error::Failed { source, .. } => {
                source.downcast_ref::<std::io::Error>()
            }
            _ => None,
        };
        io.is_some_and(|e| {
            matches!(
                e.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
            )
        })
    }

    /// A [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
