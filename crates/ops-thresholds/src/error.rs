//! Errors of `ops-thresholds`.

use std::path::PathBuf;

/// What is wrong with a rule file, a setting, or a monitor that cannot start. Every variant
/// names the file, and the line and field where they are known.
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
    /// A rule built in code (no file) has a value the rules cannot use.
    #[error("rule {rule:?}: field `{field}`: {reason} (got {value})")]
    Rule {
        /// The rule's name.
        rule: String,
        /// The field.
        field: &'static str,
        /// The offending value.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// A setting of the whole rule set (`interval`, `resend_delay`) is out of bounds.
    #[error("{}field `{field}`: {reason} (got {value})", place(path.as_deref(), *line))]
    Setting {
        /// The file, when the setting came from one.
        path: Option<PathBuf>,
        /// 1-based line (0 when unknown).
        line: usize,
        /// The field.
        field: &'static str,
        /// The offending value, as written.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// The rule file is larger than the loader reads.
    #[error("{path}: larger than {limit} bytes; split the rules into several files")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// The file's format needs a cargo feature of ops-thresholds that is not enabled.
    #[error("{path}: reading this format needs ops-thresholds' feature `{feature}`")]
    FormatDisabled {
        /// The file.
        path: PathBuf,
        /// The feature to enable.
        feature: &'static str,
    },
    /// A sink can never deliver (a malformed URL, `https://` without the `tls` feature).
    #[error("alert sink {sink}: {reason}")]
    Sink {
        /// The sink's name.
        sink: String,
        /// What is wrong (never the URL itself: it may hold a token).
        reason: String,
    },
    /// The system sampler could not start.
    #[error("cannot start sampling")]
    Metrics(#[source] ops_metrics::Error),
    /// A thread could not start.
    #[error("cannot start {what}")]
    Start {
        /// Which thread.
        what: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP endpoint could not listen.
    #[error("cannot listen on {addr}")]
    Listen {
        /// The address asked for.
        addr: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// Reading a replayed recording failed.
    #[error("reading the recording at line {line}")]
    Replay {
        /// The line that could not be read.
        line: u64,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file's extension does not say which format it is.
    #[error("{path}: unknown rule file format (use .toml, .json, .yaml or .yml)")]
    Format {
        /// The file.
        path: PathBuf,
    },
}

fn place(path: Option<&std::path::Path>, line: usize) -> String {
    match path {
        Some(p) if line > 0 => format!("{}:{line}: ", p.display()),
        Some(p) => format!("{}: ", p.display()),
        None => String::new(),
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
