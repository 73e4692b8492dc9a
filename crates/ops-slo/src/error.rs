//! Errors of `ops-slo`.

use std::path::PathBuf;

/// What is wrong with an SLO definition, a state file or an engine that cannot start. Every
/// variant names the file, the SLO and the field where they are known.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    #[error("{action} {path}")]
    Io {
        /// What was being done (`cannot read`, `cannot rename onto`…).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A definitions file is not valid TOML/YAML, or has an unknown or ill-typed field.
    #[error("{}{message}", place(origin))]
    Syntax {
        /// The file (or `<inline>`).
        origin: PathBuf,
        /// The parser's message (names the field and, where it knows it, the line).
        message: String,
    },
    /// A field of an SLO has a value the engine cannot use.
    #[error(
        "{}SLO {slo:?}: field `{field}`: {reason} (got {value})",
        place(origin)
    )]
    Invalid {
        /// The file, or `<inline>` for definitions built in code.
        origin: PathBuf,
        /// The SLO's id (`service-name`), or its name when the service is not known yet.
        slo: String,
        /// The field, as the file writes it.
        field: &'static str,
        /// The offending value, as written.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// A setting of the whole set or of the engine is out of bounds.
    #[error("{}setting `{field}`: {reason} (got {value})", place(origin))]
    Setting {
        /// The file, or `<inline>`.
        origin: PathBuf,
        /// The setting.
        field: &'static str,
        /// The offending value.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// The definitions file's extension does not say which format it is, or the format needs
    /// a feature that is off.
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong (`unknown format: use .toml, .yaml or .yml`).
        reason: String,
    },
    /// The state file exists and cannot be used: it does not parse, has another version, or
    /// holds figures no engine writes (negative or non-finite counts, inconsistent lengths).
    #[error("SLO state file {path} is unusable: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A thread could not start.
    #[error("cannot start {what}")]
    Start {
        /// Which thread.
        what: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A probe target is not a URL the prober can request.
    #[error("probe target {url:?}: {reason}")]
    ProbeTarget {
        /// The URL as given.
        url: String,
        /// Why it is refused.
        reason: String,
    },
}

fn place(origin: &std::path::Path) -> String {
    if origin.as_os_str().is_empty() || origin == std::path::Path::new("<inline>") {
        String::new()
    } else {
        format!("{}: ", origin.display())
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A closure that wraps an I/O error with what was being done and the path.
pub(crate) fn io(
    action: &'static str,
    path: &std::path::Path,
) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Io {
        action,
        path,
        source,
    }
}

/// An error and its causes, `: `-separated (for logs).
#[cfg_attr(not(feature = "engine"), allow(dead_code))]
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
