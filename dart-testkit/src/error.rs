//! The test kit's error: a failed tool or file operation, or an error of
//! the library under test.

use std::path::{Path, PathBuf};

/// What went wrong while making a fixture, booting a machine or setting up
/// the lab network.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input file or directory does not exist.
    #[error("{what} {path} does not exist")]
    NotFound {
        /// What the path was supposed to be.
        what: &'static str,
        /// The path that was given.
        path: PathBuf,
    },

    /// A file operation or an external tool failed.
    #[error("{action} {path} failed: {source}; {untouched}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file, directory or command.
        path: PathBuf,
        /// The operating system's error or the tool's message.
        source: std::io::Error,
        /// What the failure left behind.
        untouched: &'static str,
    },

    /// The library under test failed.
    #[error(transparent)]
    Core(#[from] dart_core::Error),
}

impl Error {
    /// An [`Error::Io`] for a read.
    pub(crate) fn read(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            action: "reading",
            path: path.to_path_buf(),
            source,
            untouched: "nothing was written",
        }
    }

    /// An [`Error::Io`] for a write.
    pub(crate) fn write(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            action: "writing",
            path: path.to_path_buf(),
            source,
            untouched: "the output is incomplete",
        }
    }
}

/// A result with the test kit's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
