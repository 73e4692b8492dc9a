//! Errors of `ops-metrics`.

use std::io;
use std::path::PathBuf;

/// What went wrong while collecting a sample or running a sampler.
///
/// Every variant names the file (and, for parse errors, the line and field) it is about, so an
/// operator can go and look at the exact place.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file of the proc tree could not be opened or read.
    #[error("cannot read {path}")]
    Read {
        /// The file that could not be read.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A line of a proc file did not have the expected shape.
    #[error("{path}:{line}: bad {field}: {value:?}")]
    Parse {
        /// The file being parsed.
        path: PathBuf,
        /// 1-based line number in that file.
        line: usize,
        /// The field (or line kind) that was expected.
        field: &'static str,
        /// The offending text, as found.
        value: String,
    },
    /// A required field was not found anywhere in a proc file.
    #[error("{path}: missing {field}")]
    Missing {
        /// The file that lacks the field.
        path: PathBuf,
        /// The field that was expected.
        field: &'static str,
    },
    /// The `sysinfo` crate reported a failure.
    #[error("sysinfo: {0}")]
    Sysinfo(String),
    /// The sampler's background thread could not be started.
    #[error("cannot start the sampler thread")]
    Spawn(#[source] io::Error),
    /// A sampler or source setting is out of range.
    #[error("invalid setting {field}: {reason}")]
    Config {
        /// The setting.
        field: &'static str,
        /// Why it was refused.
        reason: String,
    },
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
