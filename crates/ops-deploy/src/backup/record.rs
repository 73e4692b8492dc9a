//! The backup catalogue: one JSON record per complete backup (`<dir>/records/<id>.json`,
//! written atomically: a temporary file, fsync, rename, fsync of the directory). A record is
//! written only once the data is stored, so a backup killed at any point is never listed as
//! complete; its leftovers are removed by the next backup.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fs::io;
use crate::fs::write_atomic;

/// Why a backup was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum BackupKind {
    /// `ops backup run`.
    Manual,
    /// Before a deploy (`when = "before-deploy"`).
    BeforeDeploy,
    /// By a restore, of the data it was about to overwrite.
    PreRestore,
}

impl BackupKind {
    /// `manual`, `before-deploy` or `pre-restore`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            BackupKind::Manual => "manual",
            BackupKind::BeforeDeploy => "before-deploy",
            BackupKind::PreRestore => "pre-restore",
        }
    }
}

/// A source as it was backed up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SourceRecord {
    /// Its name inside the backup.
    pub name: String,
    /// `path` or `volume`.
    pub kind: String,
    /// The host directory, or the volume name.
    pub origin: String,
    /// Regular files.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// The result of a verification: a restore into a scratch directory compared with the
/// manifest, plus the engine's own check (restic `check --read-data-subset`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Verification {
    /// When it finished.
    #[serde(with = "ops_core::time::rfc3339")]
    pub at: SystemTime,
    /// Whether every file came back identical and the engine's check passed.
    pub ok: bool,
    /// How long the restore, the comparison and the engine's check took (evidence of the
    /// restore time; removing the scratch copy afterwards is not counted).
    #[serde(with = "ops_core::duration::serde::any")]
    pub duration: Duration,
    /// Files compared.
    pub files: u64,
    /// Bytes compared.
    pub bytes: u64,
    /// What differed or failed, when it did not pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The engine's own check, when it has one (`restic check --read-data-subset 10%: no
    /// errors were found`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_check: Option<String>,
}

/// One complete backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BackupRecord {
    /// `<service>-b<n>`.
    pub id: String,
    /// The service.
    pub service: String,
    /// `restic` or `archive`.
    pub engine: String,
    /// Why it was taken.
    pub kind: BackupKind,
    /// The release running when it was taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// The release whose deploy it was taken before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_release: Option<String>,
    /// When it started.
    #[serde(with = "ops_core::time::rfc3339")]
    pub started_at: SystemTime,
    /// When the data was stored.
    #[serde(with = "ops_core::time::rfc3339")]
    pub finished_at: SystemTime,
    /// How long taking it took (hook, copy, store).
    #[serde(with = "ops_core::duration::serde::any")]
    pub duration: Duration,
    /// The sources.
    pub sources: Vec<SourceRecord>,
    /// Regular files in all sources.
    pub files: u64,
    /// Their bytes (the data's size).
    pub bytes: u64,
    /// What the engine stored for it (archive size; restic: data added to the repository).
    pub stored_bytes: u64,
    /// Special files (sockets, FIFOs, devices) not backed up.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skipped: u64,
    /// SHA-256 of the manifest file (`<dir>/manifests/<id>.jsonl`): a changed manifest is
    /// detected.
    pub manifest_sha256: String,
    /// restic: the snapshot id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    /// The latest verification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    /// Notes (the service did not come back, files that changed while copied).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl BackupRecord {
    /// Whether its latest verification passed.
    pub fn verified(&self) -> bool {
        self.verification.as_ref().is_some_and(|v| v.ok)
    }

    /// The number in `<service>-b<n>`.
    pub(crate) fn number(&self) -> u64 {
        number_of(&self.id)
    }
}

pub(crate) fn number_of(id: &str) -> u64 {
    id.rsplit_once("-b")
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(0)
}

/// The backup directory's layout, created 0700 (files 0600) whatever the umask.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub(crate) dir: PathBuf,
}

/// Backup directories: owner only.
pub(crate) const BACKUP_DIR_MODE: u32 = 0o700;

impl Layout {
    pub(crate) fn new(dir: PathBuf) -> Layout {
        Layout { dir }
    }

    /// Creates the directories (0700; existing looser ones tightened).
    pub(crate) fn prepare(&self) -> Result<()> {
        for d in [
            self.dir.clone(),
            self.records(),
            self.manifests(),
            self.work(),
        ] {
            crate::fs::create_dirs_mode(&d, BACKUP_DIR_MODE)?;
            crate::fs::tighten_path(&d, BACKUP_DIR_MODE)?;
        }
        Ok(())
    }

    pub(crate) fn records(&self) -> PathBuf {
        self.dir.join("records")
    }
    pub(crate) fn manifests(&self) -> PathBuf {
        self.dir.join("manifests")
    }
    pub(crate) fn work(&self) -> PathBuf {
        self.dir.join("work")
    }
    pub(crate) fn record(&self, id: &str) -> PathBuf {
        self.records().join(format!("{id}.json"))
    }
    pub(crate) fn manifest(&self, id: &str) -> PathBuf {
        self.manifests().join(format!("{id}.jsonl"))
    }
    /// `<dir>/service-stopped.json`: a backup stopped the service and has not started it
    /// again yet (a `kill -9` in between: the next backup operation starts it).
    pub(crate) fn stopped_marker(&self) -> PathBuf {
        self.dir.join("service-stopped.json")
    }

    pub(crate) fn save(&self, record: &BackupRecord) -> Result<()> {
        crate::names::check_id("backup id", &record.id)?;
        let text = serde_json::to_string_pretty(record).map_err(|e| Error::Backup {
            action: format!("recording {}", record.id),
            reason: e.to_string(),
        })?;
        write_atomic(&self.record(&record.id), format!("{text}\n").as_bytes())
    }

    /// Every complete backup of `service`, oldest first. Records that do not parse are
    /// reported in `unreadable`, never dropped silently.
    pub(crate) fn load(&self, service: &str) -> Result<Catalog> {
        let mut records = Vec::new();
        let mut unreadable = Vec::new();
        let dir = self.records();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Catalog {
                    service: service.to_owned(),
                    records,
                    unreadable,
                });
            }
            Err(source) => return Err(io("cannot read", &dir)(source)),
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(id) = name.strip_suffix(".json") else {
                continue;
            };
            if name.starts_with('.') {
                continue; // a temporary file of an interrupted write
            }
            let path = entry.path();
            let parsed = std::fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|t| serde_json::from_str::<BackupRecord>(&t).map_err(|e| e.to_string()))
                .and_then(|r| {
                    if r.id == id && crate::names::check_id("backup id", &r.id).is_ok() {
                        Ok(r)
                    } else {
                        Err(format!("the record names {:?}", r.id))
                    }
                });
            match parsed {
                Ok(r) if r.service == service => records.push(r),
                Ok(_) => {}
                Err(e) => unreadable.push(format!("{}: {e}", path.display())),
            }
        }
        records.sort_by_key(|r| (r.started_at, r.number()));
        Ok(Catalog {
            service: service.to_owned(),
            records,
            unreadable,
        })
    }

    pub(crate) fn remove(&self, id: &str) -> Result<()> {
        for path in [self.record(id), self.manifest(id)] {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(io("cannot remove", &path)(source)),
            }
        }
        // Best effort: the removal stands whether or not it is durable yet.
        let _ = ops_core::fs::sync_dir(&self.records());
        Ok(())
    }
}

/// The complete backups of a service, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Catalog {
    /// The service.
    pub service: String,
    /// Its complete backups, oldest first.
    pub records: Vec<BackupRecord>,
    /// Records that could not be read (file and reason).
    pub unreadable: Vec<String>,
}

impl Catalog {
    /// A backup by id.
    pub fn get(&self, id: &str) -> Option<&BackupRecord> {
        self.records.iter().find(|r| r.id == id)
    }

    /// The newest backup.
    pub fn newest(&self) -> Option<&BackupRecord> {
        self.records.last()
    }

    /// The newest backup whose latest verification passed.
    pub fn newest_verified(&self) -> Option<&BackupRecord> {
        self.records.iter().rev().find(|r| r.verified())
    }

    /// The next id: `<service>-b<n>`, one above every id recorded or left in the work
    /// directory.
    pub(crate) fn next_id(&self, leftovers: &[String]) -> String {
        let n = self
            .records
            .iter()
            .map(BackupRecord::number)
            .chain(leftovers.iter().map(|l| number_of(l)))
            .max()
            .unwrap_or(0);
        format!("{}-b{}", self.service, n + 1)
    }

    /// The backups retention deletes: all but the newest `keep_last`, those younger than
    /// `keep_days` days and the newest verified one.
    pub fn expired(&self, keep_last: usize, keep_days: u32, now: SystemTime) -> Vec<&BackupRecord> {
        let newest_verified = self.newest_verified().map(|r| r.id.clone());
        let young = Duration::from_secs(u64::from(keep_days) * 86_400);
        let n = self.records.len();
        self.records
            .iter()
            .enumerate()
            .filter(|(i, r)| {
                let among_newest = n - i <= keep_last.max(1);
                let recent = keep_days > 0
                    && now.duration_since(r.started_at).unwrap_or(Duration::ZERO) < young;
                let protected = newest_verified.as_deref() == Some(r.id.as_str());
                !(among_newest || recent || protected)
            })
            .map(|(_, r)| r)
            .collect()
    }
}
