//! The one error type. Each variant is a failure a user can meet, worded so the
//! message alone tells them what was wrong; front ends decide how to show it
//! (status line, HTTP status, one stderr line) and nothing below them prints.

use std::path::PathBuf;

/// Everything that can go wrong between a front end and the data folder.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The submitted label is not a digit 0–9.
    #[error("label must be a digit from 0 to 9, got {0}")]
    BadLabel(String),

    /// The strokes are malformed, empty, not finite, far outside the canvas
    /// or too many.
    #[error("{0}")]
    BadSketch(String),

    /// The pixels sent instead of strokes cannot be used (not a PNG, too big,
    /// blank, undecodable).
    #[error("{0}")]
    BadImage(String),

    /// The session id is not a short run of letters, digits, `-` or `_`.
    #[error("session must be 1 to 64 letters, digits, '-' or '_'")]
    BadSession,

    /// A submission with neither strokes nor an image.
    #[error("nothing drawn: send strokes or an image")]
    NothingDrawn,

    /// Another process holds the data folder.
    #[error("data folder `{folder}` is in use by another digit-kiosk ({holder}); stop it first")]
    FolderInUse {
        /// The folder asked for.
        folder: PathBuf,
        /// What the other process wrote into the lock file (its pid).
        holder: String,
    },

    /// A file or folder operation failed.
    #[error("cannot {action} `{path}`: {source}")]
    Io {
        /// What was being done, as a verb phrase ("create", "write", ...).
        action: &'static str,
        /// The file or folder it was done to.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },

    /// The SQLite database refused an operation.
    #[error("database `{path}`: {source}")]
    Database {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },

    /// The data folder's contents are not what this program can read.
    #[error("data folder `{folder}`: {message}")]
    Corrupt {
        /// The data folder.
        folder: PathBuf,
        /// What is wrong with it.
        message: String,
    },

    /// Storing a batch failed (disk full, folder read-only); every sample of
    /// the batch is told so and none of them was stored.
    #[error("{0}")]
    StorageFailed(String),

    /// A sample asked to be deleted is not in the database (removed already,
    /// or never stored).
    #[error("there is no sample {0} (it may have been removed already)")]
    NoSuchSample(i64),

    /// The storage writer thread has stopped (after an earlier failure or at
    /// shutdown); nothing more can be stored by this process.
    #[error("the storage writer has stopped; restart digit-kiosk")]
    WriterStopped,

    /// A command-line value that parsed but cannot be used.
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// True when the caller sent something unusable (HTTP 400), false when
    /// the station itself is failing (HTTP 503).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            Error::BadLabel(_)
                | Error::BadSketch(_)
                | Error::BadImage(_)
                | Error::BadSession
                | Error::NothingDrawn
        )
    }

    /// Wraps an I/O error with the action and path a person needs to act on it.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
