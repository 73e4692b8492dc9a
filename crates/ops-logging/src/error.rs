//! Errors of `ops-logging`.

use std::io;
use std::path::PathBuf;

/// What went wrong while setting logging up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The log directory could not be created.
    #[error("cannot create the log directory {path}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A log file could not be opened.
    #[error("cannot open the log file {path}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The level filter (from the builder or `RUST_LOG`) could not be parsed.
    #[error("bad level filter {value:?} (from {origin}): {reason}")]
    Filter {
        /// The filter text.
        value: String,
        /// Where it came from: `builder` or `RUST_LOG`.
        origin: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// A setting is out of range.
    #[error("invalid setting {field}: {reason}")]
    Config {
        /// The setting.
        field: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// A global `tracing` subscriber is already installed.
    #[error("a global tracing subscriber is already installed")]
    AlreadyInstalled,
    /// The writer thread could not be started.
    #[error("cannot start the log writer thread")]
    Spawn(#[source] io::Error),
}
