//! Backups of a service's data, verified by restoring them: taken on request or before every
//! deploy, restored on request (`ops backup restore`, `ops restore --before-release X`).
//!
//! - Sources ([`BackupConfig`]): host directories and named Docker volumes. Volumes are read
//!   and written with `docker cp` through a never-started container of a local helper image
//!   (an empty `FROM scratch` image built on first use; no registry). A `pre_backup` hook
//!   (a database dump) runs first; `stop_service` stops the release while its data is copied
//!   and starts it again, health-checked, whatever happens (a `kill -9` in between: the next
//!   backup operation starts it).
//! - Every source is copied into a private staging directory while every byte is hashed, so
//!   the [`Manifest`] (size and SHA-256 of every file, links, modes, owners) describes exactly
//!   what is stored; an engine then stores the staging tree.
//! - Engines ([`BackupEngine`]): [`ResticEngine`] (restic, a local repository by default or
//!   any repository by URL and password file — the password only as `RESTIC_PASSWORD_FILE`)
//!   and [`ArchiveEngine`] (built in: a tar file per backup), the default when restic is not
//!   installed.
//! - A verification is a restore: into a scratch directory, compared file by file with the
//!   manifest (restic also runs `check --read-data-subset`); its result and duration (the
//!   restore time) go into the backup's [`BackupRecord`]. A changed byte fails it, naming the
//!   file.
//! - The catalogue ([`Catalog`]): a record per complete backup, written atomically once the
//!   data is stored; a backup killed at any point is never listed and leaves the others
//!   intact; its leftovers go with the next backup. Retention keeps `keep_last` backups and
//!   those younger than `keep_days`, and never the newest verified one.
//! - [`BackupStatus`] is a `/metrics` section ([`ops_core::Exposition`]):
//!   `ops_backup_last_success_timestamp_seconds`, `ops_backup_last_verified_timestamp_seconds`,
//!   the newest verified backup's age against `max_age`, sizes and durations.
//!
//! ```
//! use ops_deploy::{DeployConfig, Deployer, FakeRuntime};
//! use ops_deploy::backup::{BackupKind, EngineKind};
//!
//! let dir = tempfile::tempdir()?;
//! let data = dir.path().join("data");
//! std::fs::create_dir(&data)?;
//! std::fs::write(data.join("orders.csv"), "1,coffee\n")?;
//! let mut config = DeployConfig::from_toml(
//!     &format!("service = \"web\"\nport = 8080\n[backup]\nengine = \"archive\"\npaths = [{:?}]\n", data),
//!     "web.toml".as_ref(),
//! )?;
//! config.state_dir = dir.path().join("state");
//! let deployer = Deployer::new(config, FakeRuntime::new());
//! let backup = deployer.backup(BackupKind::Manual, None, |_| {})?;
//! assert_eq!((backup.id.as_str(), backup.files, backup.bytes), ("web-b1", 1, 9));
//! assert!(backup.verified());
//!
//! std::fs::write(data.join("orders.csv"), "lost")?;
//! let restored = deployer.restore(&ops_deploy::backup::RestoreRequest::backup("web-b1"), None, |_| {})?;
//! assert_eq!(std::fs::read_to_string(data.join("orders.csv"))?, "1,coffee\n");
//! assert_eq!(restored.safety_backup, "web-b2"); // what the restore overwrote
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod config;
mod engine;
mod manifest;
mod record;
mod status;
mod tree;
mod volume;

pub use self::config::{BackupConfig, BackupWhen, EngineKind, ResticConfig};
pub(crate) use self::config::{Source, deserialize_opt};
pub(crate) use self::engine::generate_password_file;
pub use self::engine::{ArchiveEngine, BackupEngine, DirectSource, ResticEngine, Stored};
pub use self::manifest::{EntryKind, MANIFEST_FILE, Manifest, ManifestEntry, Mismatch};
pub(crate) use self::manifest::{describe, scan, sha256_hex};
pub(crate) use self::record::Layout;
pub use self::record::{BackupKind, BackupRecord, Catalog, SourceRecord, Verification};
pub use self::status::BackupStatus;
pub(crate) use self::tree::{apply, mkdir_private, remove_tree, stage_dir};
pub(crate) use self::volume::Volumes;

/// Makes a child program (restic, `docker cp`) die with us: a `kill -9` of ops must not
/// leave it writing a backup or a volume, nor holding a repository lock.
pub(crate) fn die_with_parent(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt as _;
    // SAFETY: prctl(PR_SET_PDEATHSIG) is async-signal-safe and touches no memory of ours.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

/// What [`Deployer::restore`](crate::Deployer::restore) restores.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RestoreRequest {
    /// A backup by id.
    pub backup: Option<String>,
    /// The backup taken before this release was deployed; the release that ran with that
    /// data is brought back with it (unless `keep_release`).
    pub before_release: Option<String>,
    /// Keep the running release instead of the one recorded with the backup.
    pub keep_release: bool,
}

impl RestoreRequest {
    /// Restore backup `id`; the running release is started again on it.
    pub fn backup(id: impl Into<String>) -> RestoreRequest {
        RestoreRequest {
            backup: Some(id.into()),
            before_release: None,
            keep_release: false,
        }
    }

    /// Restore the backup taken before release `release` was deployed, and bring back the
    /// release that ran with that data.
    pub fn before_release(release: impl Into<String>) -> RestoreRequest {
        RestoreRequest {
            backup: None,
            before_release: Some(release.into()),
            keep_release: false,
        }
    }

    /// Keeps the running release (only the data changes).
    #[must_use]
    pub fn keep_release(mut self, yes: bool) -> RestoreRequest {
        self.keep_release = yes;
        self
    }
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct RestoreOutcome {
    /// The backup restored.
    pub backup: String,
    /// The backup of the data the restore overwrote (restore it to undo).
    pub safety_backup: String,
    /// The release running now, health-checked (`None`: nothing was running, or it did not
    /// come back: see `release_error`).
    pub release: Option<String>,
    /// Why the release did not come back, if it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_error: Option<String>,
    /// Files restored, in all sources.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Entries whose owner could not be set (not running as root).
    pub not_owned: u64,
    /// How long it took, safety backup included.
    #[serde(with = "ops_core::duration::serde::any")]
    pub duration: std::time::Duration,
}

impl RestoreOutcome {
    /// `ops backup restore`'s exit code: 0 the data is restored and checked and the release
    /// (if one ran) is healthy; 1 the release did not come back.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        u8::from(self.release_error.is_some())
    }
}

impl Catalog {
    /// A catalogue with no backup.
    pub fn empty(service: impl Into<String>) -> Catalog {
        Catalog {
            service: service.into(),
            records: Vec::new(),
            unreadable: Vec::new(),
        }
    }
}
