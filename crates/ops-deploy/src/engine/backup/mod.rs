//! Backups of the service's data through the deploy engine: taken on request or before a
//! deploy (under the deploy lock, with the `pre_backup` hook and the optional stop of the
//! release), verified by a restore, pruned by retention, and restored on request — after a
//! backup of what the restore overwrites, with the release brought back health-checked.
//!
//! Here: the commands' entry points, the engine and the stop and start of the release around
//! a copy; taking a backup and retention (`take.rs`), verifying one (`verify.rs`), restoring
//! one (`restore.rs`).

mod restore;
mod take;
mod verify;

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::{Deployer, Event, Run};
use crate::backup::{
    self, ArchiveEngine, BackupConfig, BackupEngine, BackupKind, BackupRecord, BackupStatus,
    Catalog, EngineKind, Layout, ResticEngine, RestoreOutcome, RestoreRequest,
};
use crate::error::{Error, Result};
use crate::fs::write_atomic;
use crate::runtime::{Instance, Runtime};
use crate::state::Deployment;

/// A note for the caller: `(subject, message)`.
type Note<'a> = dyn FnMut(&str, &str) + 'a;

/// What `service-stopped.json` says: the release a backup or restore stopped, to be started
/// again.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stopped {
    release: String,
    port: u16,
}

/// An error and its causes on one line.
pub(crate) fn error_text(e: &Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl<R: Runtime> Deployer<R> {
    fn backup_config(&self) -> Result<&BackupConfig> {
        self.config
            .backup
            .as_ref()
            .ok_or(Error::BackupsNotConfigured)
    }

    fn layout(&self, cfg: &BackupConfig) -> Layout {
        Layout::new(cfg.dir_for(&self.config.state_dir))
    }

    /// The engine of `name` (`restic`, `archive`), or the configured one.
    fn engine(&self, cfg: &BackupConfig, name: Option<&str>) -> Result<Box<dyn BackupEngine>> {
        let layout = self.layout(cfg);
        let kind = match name {
            Some("restic") => EngineKind::Restic,
            Some("archive") => EngineKind::Archive,
            Some(other) => {
                return Err(Error::Backup {
                    action: "choosing the engine".into(),
                    reason: format!("unknown engine {other:?} in a record"),
                });
            }
            None => match cfg.engine {
                EngineKind::Auto if ResticEngine::available(&cfg.restic.binary) => {
                    EngineKind::Restic
                }
                EngineKind::Auto => EngineKind::Archive,
                k => k,
            },
        };
        Ok(match kind {
            EngineKind::Restic => {
                let (repo, password, local) = if let Some(r) = &cfg.restic.repository {
                    (
                        r.clone(),
                        cfg.restic.password_file.clone().unwrap_or_default(),
                        false,
                    )
                } else {
                    let password = cfg
                        .restic
                        .password_file
                        .clone()
                        .unwrap_or_else(|| layout.dir.join("restic.password"));
                    if cfg.restic.password_file.is_none() {
                        backup::generate_password_file(&password)?;
                    }
                    (
                        layout.dir.join("restic").to_string_lossy().into_owned(),
                        password,
                        true,
                    )
                };
                Box::new(
                    ResticEngine::new(&cfg.restic.binary, repo, password)
                        .cache_dir(layout.dir.join("restic-cache"))
                        .check_subset(&cfg.restic.check_subset)
                        .init_local(local),
                )
            }
            _ => Box::new(ArchiveEngine::new(layout.dir.join("archives"))),
        })
    }

    /// The catalogue of complete backups.
    ///
    /// # Errors
    /// No `[backup]` section; the catalogue cannot be read.
    pub fn backups(&self) -> Result<Catalog> {
        let cfg = self.backup_config()?;
        self.layout(cfg).load(&self.config.service)
    }

    /// The backup figures at `now` (a `/metrics` section, the age check).
    ///
    /// # Errors
    /// As [`backups`](Self::backups).
    pub fn backup_status(&self, now: SystemTime) -> Result<BackupStatus> {
        let cfg = self.backup_config()?;
        Ok(BackupStatus::new(&self.backups()?, cfg.max_age, now))
    }

    /// Takes a backup now, under the deploy lock: the `pre_backup` hook, the copy (the
    /// release stopped meanwhile if `stop_service`), the store, then — if `verify` is set —
    /// a verification, then retention. Returns the record.
    ///
    /// # Errors
    /// No `[backup]` section, the lock is held, the hook, the copy or the engine failed
    /// (nothing is listed), or the verification failed ([`Error::VerifyFailed`]: the backup
    /// is listed with its failed verification).
    pub fn backup(
        &self,
        kind: BackupKind,
        lock_wait: Option<std::time::Duration>,
        observe: impl FnMut(&Event<'_>),
    ) -> Result<BackupRecord> {
        let cfg = self.backup_config()?;
        self.under_lock("ops backup run", lock_wait, observe, |note| {
            self.take_backup(kind, None, cfg.verify, true, note)
        })
    }

    /// Verifies a backup (default: the newest) under the deploy lock, and records the result.
    ///
    /// # Errors
    /// The backup is unknown; [`Error::VerifyFailed`] naming what differs (recorded too).
    pub fn verify_backup(
        &self,
        id: Option<&str>,
        lock_wait: Option<std::time::Duration>,
        observe: impl FnMut(&Event<'_>),
    ) -> Result<BackupRecord> {
        let cfg = self.backup_config()?;
        self.under_lock("ops backup verify", lock_wait, observe, |note| {
            let layout = self.layout(cfg);
            layout.prepare()?;
            let catalog = layout.load(&self.config.service)?;
            let record = match id {
                Some(id) => catalog.get(id),
                None => catalog.newest(),
            }
            .cloned()
            .ok_or_else(|| Error::UnknownBackup {
                id: id.unwrap_or("(newest)").to_owned(),
            })?;
            self.verify_locked(cfg, record, note)
        })
    }

    /// Applies retention now, under the deploy lock. Returns the backups deleted.
    ///
    /// # Errors
    /// The lock is held; the catalogue cannot be written.
    pub fn prune_backups(
        &self,
        lock_wait: Option<std::time::Duration>,
        observe: impl FnMut(&Event<'_>),
    ) -> Result<Vec<String>> {
        let cfg = self.backup_config()?;
        self.under_lock("ops backup prune", lock_wait, observe, |note| {
            self.prune_backups_locked(cfg, note)
        })
    }

    /// Restores a backup, under the deploy lock: the running release is stopped, what the
    /// restore overwrites is backed up, the backup is restored into a scratch directory and
    /// compared with its manifest, then written over each source and compared again; the
    /// release is started again (for `before_release`: the release that ran with that data),
    /// health-checked, whatever happened.
    ///
    /// # Errors
    /// The backup is unknown or failed its last verification (nothing changed); the safety
    /// backup or the scratch restore failed (nothing changed, the release runs again); the
    /// data could not be written or differs afterwards ([`Error::Backup`] naming the safety
    /// backup to restore).
    pub fn restore(
        &self,
        request: &RestoreRequest,
        lock_wait: Option<std::time::Duration>,
        observe: impl FnMut(&Event<'_>),
    ) -> Result<RestoreOutcome> {
        self.backup_config()?;
        self.under_lock("ops backup restore", lock_wait, observe, |note| {
            self.restore_locked(request, note)
        })
    }

    /// Runs `f` under the deploy lock, taken for `holder`; its notes go to `observe`.
    fn under_lock<T>(
        &self,
        holder: &str,
        lock_wait: Option<std::time::Duration>,
        mut observe: impl FnMut(&Event<'_>),
        f: impl FnOnce(&mut Note<'_>) -> Result<T>,
    ) -> Result<T> {
        let _lock = self.lock(holder, lock_wait)?;
        f(&mut |release: &str, message: &str| observe(&Event::Note { release, message }))
    }

    /// Starts again the release a killed backup or restore left stopped.
    fn recover_stopped(&self, layout: &Layout, note: &mut Note<'_>) {
        let marker = layout.stopped_marker();
        let Ok(text) = std::fs::read_to_string(&marker) else {
            return;
        };
        if let Ok(s) = serde_json::from_str::<Stopped>(&text)
            && crate::names::check_id("release id", &s.release).is_ok()
            && self.current().is_none_or(|c| !self.runtime.is_running(&c))
        {
            note(
                &s.release,
                "starting it again: an interrupted backup or restore had stopped it",
            );
            if let Err(e) = self.start_again(&s.release, s.port, note) {
                note(&s.release, &format!("cannot start it again: {e}"));
            }
        }
        let _ = std::fs::remove_file(&marker);
    }

    /// Stops `running` for a backup or restore, leaving a marker that says what to start
    /// again.
    fn stop_for(
        &self,
        layout: &Layout,
        running: &Instance,
        bring: &str,
        note: &mut Note<'_>,
    ) -> Result<Stopped> {
        let stopped = Stopped {
            release: bring.to_owned(),
            port: running.port,
        };
        let json = serde_json::to_string(&stopped).map_err(|e| Error::Backup {
            action: "recording the stop".into(),
            reason: e.to_string(),
        })?;
        write_atomic(&layout.stopped_marker(), json.as_bytes())?;
        note(&running.release, "stopping it while its data is copied");
        self.runtime.stop(running, self.config.stop_grace)?;
        self.set_current(None)?;
        Ok(stopped)
    }

    /// Starts `release` on `port` and health-checks it; the error is a reason's text.
    fn start_again(
        &self,
        release: &str,
        port: u16,
        note: &mut Note<'_>,
    ) -> std::result::Result<Instance, String> {
        let history = self.history().map_err(|e| error_text(&e))?;
        let record = history
            .get(release)
            .ok_or_else(|| format!("no release {release:?} in the history"))?;
        if record.pruned {
            return Err(format!("release {release:?} was pruned"));
        }
        let artifact = record.runnable_artifact().to_owned();
        if self.runtime.port_in_use(port) {
            return Err(format!("127.0.0.1:{port} is taken"));
        }
        let instance = self
            .runtime
            .start(release, &artifact, port)
            .map_err(|e| error_text(&e))?;
        self.set_current(Some(&instance))
            .map_err(|e| error_text(&e))?;
        let mut observe = |e: &Event<'_>| {
            if let Event::Note { release, message } = e {
                note(release, message);
            }
        };
        let mut run = Run::new(
            Deployment::begin(release, self.config.strategy),
            &mut observe,
            false,
        );
        run.quiet = true;
        match self.check(&instance, &mut run) {
            Ok(()) => {
                note(release, "running and healthy again");
                Ok(instance)
            }
            Err(reason) => {
                let _ = self.runtime.stop(&instance, self.config.stop_grace);
                let _ = self.set_current(None);
                Err(reason.to_string())
            }
        }
    }

    fn bring_back(
        &self,
        layout: &Layout,
        stopped: &Stopped,
        note: &mut Note<'_>,
    ) -> std::result::Result<Instance, String> {
        let r = self.start_again(&stopped.release, stopped.port, note);
        let _ = std::fs::remove_file(layout.stopped_marker());
        r
    }
}
