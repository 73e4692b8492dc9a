//! Errors of `ops-deploy`.

use std::path::PathBuf;
use std::time::Duration;

use crate::lock::Holder;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    #[error("{action} {path}")]
    Io {
        /// What was being done (`cannot read`, `cannot write`, …).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The history file is not a history this version can read.
    #[error("{path}: not a deploy history: {reason}")]
    History {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The config file is not usable.
    #[error("{path}: {reason}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A release given by id is not in the history.
    #[error("no release {id:?} in the history")]
    UnknownRelease {
        /// The id asked for.
        id: String,
    },
    /// The runtime refused an operation.
    #[error("{action}: {reason}")]
    Runtime {
        /// What was asked (`docker run`, …).
        action: String,
        /// What it answered.
        reason: String,
    },
    /// The traffic switch (reverse proxy) refused a change; the previous routing is in place.
    #[error("{action}: {reason}")]
    Proxy {
        /// What was run (`nginx -t`, …).
        action: String,
        /// What it answered.
        reason: String,
    },
    /// A hook failed.
    #[error("{phase} hook `{command}` failed: {reason}")]
    Hook {
        /// `pre_deploy`, `post_deploy` or `on_rollback`.
        phase: &'static str,
        /// The command line.
        command: String,
        /// Exit status or timeout, and its last output.
        reason: String,
    },
    /// The release asked for was pruned: its image or files are gone.
    #[error("release {id:?} was pruned; it cannot be brought back")]
    Pruned {
        /// The release.
        id: String,
    },
    /// A bug: the deploy engine asked for a transition the state machine does not have.
    #[error(transparent)]
    Transition(#[from] crate::state::InvalidTransition),
    /// Nothing healthy to roll back to.
    #[error("no release recorded healthy to roll back to")]
    NothingToRollBackTo,
    /// A name or value that becomes part of a file name, a proxy configuration or a command
    /// (a release id, an upstream name, a container name, a health-check path) is not safe
    /// there.
    #[error("{field} {value:?}: {expected}")]
    InvalidValue {
        /// The setting or field (`proxy.upstream_name`, `release id`, …).
        field: &'static str,
        /// The offending value.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// A check before anything was stopped failed: the state or log directory is not
    /// writable, or the artifact cannot be started.
    #[error("preflight: {what}")]
    Preflight {
        /// What was checked, and what is wrong.
        what: String,
        /// The file or directory concerned.
        path: Option<PathBuf>,
        /// The operating system's error, when there is one.
        #[source]
        source: Option<std::io::Error>,
    },
    /// Another deploy holds the lock.
    #[error("another deploy holds the lock {path}: {holder}")]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// Who holds it, as it wrote itself down.
        holder: Holder,
    },
    /// A backup, verification or restore step failed.
    #[error("{action}: {reason}")]
    Backup {
        /// What was being done (`restic backup`, `restoring web-b3`, …).
        action: String,
        /// What went wrong.
        reason: String,
    },
    /// A backup's verification failed: restored into a scratch directory, it differs from
    /// the manifest taken when it was made (the message names the files), or the engine's
    /// own check failed. The failure is recorded in the backup's record.
    #[error("verification of backup {id} failed: {reason}")]
    VerifyFailed {
        /// The backup.
        id: String,
        /// What differs (the first files, and how many in all).
        reason: String,
    },
    /// A backup given by id is not in the catalogue.
    #[error("no backup {id:?} in the catalogue")]
    UnknownBackup {
        /// The id asked for.
        id: String,
    },
    /// There is no backup for what was asked.
    #[error("{what}")]
    NoBackup {
        /// What is missing (`no backup was taken before release web-3`).
        what: String,
    },
    /// The config has no `[backup]` section.
    #[error("no [backup] section in the deploy config")]
    BackupsNotConfigured,
    /// `ops deploy promote` or `ops deploy abort` found nothing to decide: no canary or
    /// verification under way, or (promote) one that is not paused.
    #[error("{reason}")]
    Gate {
        /// What was found instead.
        reason: String,
    },
    /// The lock was still held when `--lock-wait` ran out.
    #[error("gave up waiting {waited:?} for the lock {path}: {holder}")]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
        /// How long we waited.
        waited: Duration,
        /// Who holds it.
        holder: Holder,
    },
}

impl From<ops_core::fs::WriteError> for Error {
    /// A step of an atomic write failed: [`Error::Io`] with the step and the file it acted on.
    fn from(e: ops_core::fs::WriteError) -> Error {
        let ops_core::fs::WriteError {
            action,
            path,
            source,
            ..
        } = e;
        Error::Io {
            action,
            path,
            source,
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
