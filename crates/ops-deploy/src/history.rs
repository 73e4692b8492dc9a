//! The release history: one versioned JSON document per service, written atomically (temp file,
//! fsync, rename, fsync of the directory) so a crash at any moment leaves either the old or the
//! new document, never a torn one.

use std::path::Path;
use std::time::SystemTime;

use ops_core::time::{rfc3339, rfc3339_opt};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fs::write_atomic;

/// The format version this crate writes and reads.
pub const HISTORY_VERSION: u32 = 1;

/// How a release ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// The deploy is under way (or was killed before it finished).
    InProgress,
    /// It passed its health checks and was left running.
    Healthy,
    /// It failed its health checks (or could not start).
    Failed,
    /// It was healthy once and has since been replaced by a rollback.
    RolledBack,
}

/// One release, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReleaseRecord {
    /// A unique id (`<service>-<unix seconds>-<n>` unless given).
    pub id: String,
    /// What runs: an image reference or a command line.
    pub artifact: String,
    /// The image ID (`sha256:…`) pinned at deploy time, when the runtime has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    /// The strategy used.
    pub strategy: String,
    /// When the deploy started.
    #[serde(with = "rfc3339")]
    pub started_at: SystemTime,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rfc3339_opt")]
    pub finished_at: Option<SystemTime>,
    /// How it ended.
    pub outcome: Outcome,
    /// Why it failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The port it served on (127.0.0.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Its image tag and logs were removed by pruning; it cannot be brought back.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pruned: bool,
    /// The backup taken (and verified) before this release started (`backup =
    /// "before-deploy"`): `ops restore --before-release <id>` restores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    /// The release went out while an SLO's error budget was spent (`--ignore-error-budget`):
    /// which SLOs, and how spent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_budget: Option<String>,
    /// When it first received production traffic (stop-start: its start; blue-green: the
    /// switch; canary: the first step). A failure after this is a change failure (DORA).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rfc3339_opt")]
    pub live_at: Option<SystemTime>,
    /// When a rollback brought another release back in its place (`ops rollback`).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rfc3339_opt")]
    pub restored_at: Option<SystemTime>,
    /// The canary's analysis or the blue-green verification, with every measurement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<crate::analysis::AnalysisRecord>,
    /// Change records: the deploy, promotions, aborts and rollbacks of this release, who did
    /// them and how they ended (the audit trail, also emitted as `tracing` events with target
    /// `audit`). The newest 64 are kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<ChangeRecord>,
}

/// One change to a release, as the audit trail records it: who (user and host), what, when,
/// and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChangeRecord {
    /// When.
    #[serde(with = "rfc3339")]
    pub at: SystemTime,
    /// `deploy`, `promote`, `abort`, `rollback`.
    pub action: String,
    /// Who: the user.
    pub user: String,
    /// Who: the host the command ran on.
    pub host: String,
    /// How it ended: `started`, `healthy`, `rolled_back`, `failed`, `aborted`, `promoted`,
    /// `requested`, …
    pub outcome: String,
    /// What else there is to say (the reason, the step).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// Change records one release keeps.
pub(crate) const KEPT_CHANGES: usize = 64;

impl ReleaseRecord {
    /// A new in-progress release.
    pub fn new(
        id: impl Into<String>,
        artifact: impl Into<String>,
        strategy: impl Into<String>,
    ) -> ReleaseRecord {
        ReleaseRecord {
            id: id.into(),
            artifact: artifact.into(),
            image_id: None,
            strategy: strategy.into(),
            started_at: SystemTime::now(),
            finished_at: None,
            outcome: Outcome::InProgress,
            reason: None,
            port: None,
            pruned: false,
            backup: None,
            error_budget: None,
            live_at: None,
            restored_at: None,
            analysis: None,
            changes: Vec::new(),
        }
    }

    /// Adds a change record, keeping the newest [`KEPT_CHANGES`].
    pub(crate) fn push_change(&mut self, change: ChangeRecord) {
        self.changes.push(change);
        if self.changes.len() > KEPT_CHANGES {
            self.changes.remove(0);
        }
    }

    /// What a rollback runs to bring this release back: the pinned image ID when there is one
    /// (the tag it was deployed from may have moved since), else the artifact as given.
    pub fn runnable_artifact(&self) -> &str {
        self.image_id.as_deref().unwrap_or(&self.artifact)
    }
}

/// Every release of one service, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct History {
    /// [`HISTORY_VERSION`].
    pub version: u32,
    /// The service.
    pub service: String,
    /// The releases, oldest first.
    pub releases: Vec<ReleaseRecord>,
}

impl History {
    /// An empty history.
    pub fn new(service: impl Into<String>) -> History {
        History {
            version: HISTORY_VERSION,
            service: service.into(),
            releases: Vec::new(),
        }
    }

    /// Reads `path`, or an empty history if it does not exist.
    ///
    /// # Errors
    /// The file cannot be read, does not parse, or has another version.
    pub fn load(path: &Path, service: &str) -> Result<History> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(History::new(service)),
            Err(source) => {
                return Err(Error::Io {
                    action: "cannot read",
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let history: History = serde_json::from_str(&text).map_err(|e| Error::History {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        // Release ids become file and container names: one that could leave the state
        // directory (`../x`) or inject arguments is refused here, before any use.
        if let Some(e) = history
            .releases
            .iter()
            .find_map(|r| crate::names::check_id("release id", &r.id).err())
        {
            return Err(Error::History {
                path: path.to_path_buf(),
                reason: e.to_string(),
            });
        }
        if history.version != HISTORY_VERSION {
            return Err(Error::History {
                path: path.to_path_buf(),
                reason: format!(
                    "version {} (this ops-deploy reads version {HISTORY_VERSION})",
                    history.version
                ),
            });
        }
        Ok(history)
    }

    /// Writes the history to `path` atomically and durably: a temporary file in the same
    /// directory (mode 0600) is written and fsynced, renamed over `path`, then the directory is
    /// fsynced. A crash at any step leaves the previous or the new document.
    ///
    /// # Errors
    /// Any step fails (the temporary file is removed).
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(|e| Error::History {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        write_atomic(path, format!("{text}\n").as_bytes())
    }

    /// Adds or replaces (by id) a release.
    pub fn upsert(&mut self, record: ReleaseRecord) {
        match self.releases.iter_mut().find(|r| r.id == record.id) {
            Some(slot) => *slot = record,
            None => self.releases.push(record),
        }
    }

    /// The newest release recorded healthy: the rollback target.
    pub fn last_healthy(&self) -> Option<&ReleaseRecord> {
        self.releases
            .iter()
            .rev()
            .find(|r| r.outcome == Outcome::Healthy)
    }

    /// The newest release recorded healthy that is not pruned and not `except` (the one
    /// running): what `ops rollback` goes back to, and what pruning keeps for it.
    pub fn newest_healthy_except(&self, except: Option<&str>) -> Option<&ReleaseRecord> {
        self.releases
            .iter()
            .rev()
            .find(|r| r.outcome == Outcome::Healthy && !r.pruned && Some(r.id.as_str()) != except)
    }

    /// A release by id.
    pub fn get(&self, id: &str) -> Option<&ReleaseRecord> {
        self.releases.iter().find(|r| r.id == id)
    }
}
