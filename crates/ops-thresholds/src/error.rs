//! Errors of `ops-thresholds`.

use std::path::PathBuf;

/// What is wrong with a rule file or a setting. Every variant names the file, and the line and
/// field where they are known.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The rule file could not be read.
    #[error("cannot read rule file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML/JSON/YAML, or has an unknown or ill-typed field.
    #[error("{path}:{line}: {message}")]
    Syntax {
        /// The file (or `<inline>`).
        path: PathBuf,
        /// 1-based line (0 when the parser did not say).
        line: usize,
        /// The parser's message (names the field).
        message: String,
    },
    /// A field has a value the rules cannot use.
    #[error("{path}:{line}: rule {rule:?}: field `{field}`: {reason} (got {value})")]
    Invalid {
        /// The file (or `<inline>`).
        path: PathBuf,
        /// 1-based line of the rule (0 when it cannot be located).
        line: usize,
        /// The rule's name.
        rule: String,
        /// The field.
        field: &'static str,
        /// The offending value, as written.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// The file's extension does not say which format it is.
    #[error("{path}: unknown rule file format (use .toml, .json, .yaml or .yml)")]
    Format {
        /// The file.
        path: PathBuf,
    },
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
