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
    /// A log path is a symbolic link the file policy does not follow: to a regular file, to a
    /// directory, or to nothing. Only links to a character device or FIFO (`/dev/stdout`,
    /// `/dev/null`) are followed, unless the builder's `follow_links(true)` says otherwise.
    #[error(
        "refusing to log through the symbolic link {path} -> {target}: only links to a character device or FIFO are followed (remove the link, or opt in with follow_links(true))"
    )]
    Symlink {
        /// The log path.
        path: PathBuf,
        /// Where the link points.
        target: PathBuf,
    },
    /// A log path is something the file policy refuses to write to: a file with other hard
    /// links, a file or FIFO owned by another user, a FIFO with no reader, a socket, a block
    /// device or a directory.
    #[error("refusing to log to {path}: it {reason}")]
    UnsafeFile {
        /// The log path.
        path: PathBuf,
        /// What it is.
        reason: String,
    },
    /// Text given to [`RawJson::new`](crate::RawJson::new) is not exactly one JSON value on one
    /// line.
    #[error("invalid raw JSON at byte {offset}: {reason}")]
    InvalidJson {
        /// Where in the text.
        offset: usize,
        /// What is wrong there.
        reason: &'static str,
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
