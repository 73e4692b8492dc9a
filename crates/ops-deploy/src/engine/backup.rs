//! Backups of the service's data through the deploy engine: taken on request or before a
//! deploy (under the deploy lock, with the `pre_backup` hook and the optional stop of the
//! release), verified by a restore, pruned by retention, and restored on request — after a
//! backup of what the restore overwrites, with the release brought back health-checked.

use std::path::Path;
use std::time::{Instant, SystemTime};

use serde::{Deserialize, Serialize};

use super::{Deployer, Event, Run};
use crate::backup::{
    self, ArchiveEngine, BackupConfig, BackupEngine, BackupKind, BackupRecord, BackupStatus,
    Catalog, EngineKind, Layout, Manifest, ResticEngine, RestoreOutcome, RestoreRequest, Source,
    SourceRecord, Verification, Volumes,
};
use crate::error::{Error, Result};
use crate::fs::write_atomic;
use crate::history::Outcome;
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

    /// Takes a backup (the lock held). `recover`: start a release an interrupted backup
    /// left stopped, and apply retention afterwards (not inside a restore).
    #[allow(clippy::too_many_lines)] // one backup, step by step
    pub(super) fn take_backup(
        &self,
        kind: BackupKind,
        before_release: Option<&str>,
        verify: bool,
        housekeeping: bool,
        note: &mut Note<'_>,
    ) -> Result<BackupRecord> {
        let cfg = self.backup_config()?;
        let layout = self.layout(cfg);
        layout.prepare()?;
        if housekeeping {
            self.recover_stopped(&layout, note);
        }
        let engine = self.engine(cfg, None)?;
        let catalog = layout.load(&self.config.service)?;
        // What interrupted backups left: work directories, data without a record.
        let leftovers: Vec<String> = std::fs::read_dir(layout.work())
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        for l in &leftovers {
            backup::remove_tree(&layout.work().join(l))?;
        }
        let known: Vec<String> = catalog.records.iter().map(|r| r.id.clone()).collect();
        match engine.cleanup(&self.config.service, &known) {
            Ok(removed) => {
                for r in removed {
                    note(&r, "removed what an interrupted backup left");
                }
            }
            Err(e) => note(
                &self.config.service,
                &format!("cannot clean up: {}", error_text(&e)),
            ),
        }
        let id = catalog.next_id(&leftovers);
        crate::names::check_id("backup id", &id)?;
        let started_at = SystemTime::now();
        let clock = Instant::now();
        let running = self.current().filter(|c| self.runtime.is_running(c));
        let work = layout.work().join(&id);
        let tree = work.join("tree");
        let mut restart_error = None;
        let result = (|| -> Result<BackupRecord> {
            backup::mkdir_private(&work)?;
            backup::mkdir_private(&tree)?;
            if let Some(command) = cfg.pre_backup.as_deref().filter(|c| !c.trim().is_empty()) {
                let env = [
                    ("OPS_SERVICE", self.config.service.clone()),
                    ("OPS_BACKUP_ID", id.clone()),
                    ("OPS_BACKUP_KIND", kind.as_str().to_owned()),
                    (
                        "OPS_RELEASE",
                        running
                            .as_ref()
                            .map(|r| r.release.clone())
                            .unwrap_or_default(),
                    ),
                ];
                crate::hooks::run_command(
                    "pre_backup",
                    command,
                    cfg.hook_timeout,
                    &env,
                    &self.config.log_dir().join("hooks.log"),
                )?;
                note(&id, "pre_backup hook succeeded");
            }
            let mut notes = Vec::new();
            let stopped = match running.as_ref().filter(|_| cfg.stop_service) {
                Some(r) => Some(self.stop_for(&layout, r, &r.release, note)?),
                None => None,
            };
            // The archive reads host directories once, straight into the archive; restic
            // is given a staging copy. Either way the release is stopped only meanwhile.
            let direct = engine.stores_directly();
            let copied = self
                .stage_sources(
                    cfg,
                    &layout,
                    &tree,
                    !direct,
                    kind == BackupKind::PreRestore,
                    &mut notes,
                )
                .and_then(|staged| {
                    if direct {
                        self.store_direct(cfg, engine.as_ref(), &id, &tree, &staged, &mut notes)
                            .map(|(stored, manifest)| (Some(stored), manifest))
                    } else {
                        Ok((None, staged))
                    }
                });
            // Brought back whatever happened to the copy.
            if let Some(s) = &stopped
                && let Err(e) = self.bring_back(&layout, s, note)
            {
                notes.push(format!(
                    "{} did not come back after the copy: {e}",
                    s.release
                ));
                restart_error = Some(format!("{}: {e}", s.release));
            }
            let (stored, manifest) = copied?;
            let bytes = manifest.to_bytes();
            write_atomic(&layout.manifest(&id), &bytes)?;
            let stored = if let Some(s) = stored {
                s
            } else {
                write_atomic(&tree.join(backup::MANIFEST_FILE), &bytes)?;
                engine.store(&id, &self.config.service, &tree, &manifest)?
            };
            let (files, total) = manifest.totals();
            let sources = cfg
                .sources(&self.config.volumes)
                .iter()
                .filter(|s| manifest.source_entries(s.name()).next().is_some())
                .map(|s| {
                    let (f, b) = manifest
                        .source_entries(s.name())
                        .filter(|e| e.kind == backup::EntryKind::File)
                        .fold((0, 0), |(n, b), e| (n + 1, b + e.size));
                    let (kind, origin) = match s {
                        Source::Path { path, .. } => ("path", path.display().to_string()),
                        Source::Volume { name } => ("volume", name.clone()),
                    };
                    SourceRecord {
                        name: s.name().to_owned(),
                        kind: kind.to_owned(),
                        origin,
                        files: f,
                        bytes: b,
                    }
                })
                .collect();
            notes.extend(
                manifest
                    .skipped
                    .iter()
                    .take(20)
                    .map(|s| format!("{s}: not a file, directory or link; not backed up")),
            );
            let record = BackupRecord {
                id: id.clone(),
                service: self.config.service.clone(),
                engine: engine.name().to_owned(),
                kind,
                release: running.as_ref().map(|r| r.release.clone()),
                before_release: before_release.map(str::to_owned),
                started_at,
                finished_at: SystemTime::now(),
                duration: clock.elapsed(),
                sources,
                files,
                bytes: total,
                stored_bytes: stored.bytes,
                skipped: manifest.skipped.len() as u64,
                manifest_sha256: backup::sha256_hex(&bytes),
                snapshot: stored.snapshot,
                verification: None,
                notes,
            };
            layout.save(&record)?;
            Ok(record)
        })();
        let _ = backup::remove_tree(&work);
        let mut record = match result {
            Ok(r) => r,
            Err(e) => {
                let _ = std::fs::remove_file(layout.manifest(&id));
                return Err(e);
            }
        };
        note(
            &id,
            &format!(
                "stored by {}: {} files, {} bytes in {:.1}s",
                record.engine,
                record.files,
                record.bytes,
                record.duration.as_secs_f64()
            ),
        );
        if verify {
            record = self.verify_locked(cfg, record, note)?;
        }
        if let Some(e) = restart_error {
            return Err(Error::Backup {
                action: format!("starting the release again after backup {id}"),
                reason: e,
            });
        }
        if housekeeping && let Err(e) = self.prune_backups_locked(cfg, note) {
            note(&id, &format!("retention failed: {}", error_text(&e)));
        }
        Ok(record)
    }

    /// Copies the sources into the staging tree (`paths`: only if `paths`, else they are
    /// only checked), hashing; returns the manifest of what was staged.
    fn stage_sources(
        &self,
        cfg: &BackupConfig,
        layout: &Layout,
        tree: &Path,
        paths: bool,
        missing_ok: bool,
        notes: &mut Vec<String>,
    ) -> Result<Manifest> {
        let volumes = Volumes {
            helper_image: cfg.helper_image.clone(),
            service: self.config.service.clone(),
        };
        let backup_dir = std::fs::canonicalize(&layout.dir).unwrap_or_else(|_| layout.dir.clone());
        let mut all = Manifest::default();
        for s in cfg.sources(&self.config.volumes) {
            let dst = tree.join(s.name());
            let missing = match &s {
                Source::Path { path, .. } => std::fs::symlink_metadata(path).is_err(),
                Source::Volume { name } => !Volumes::exists(name)?,
            };
            if missing && missing_ok {
                // A restore after the data was lost: there is nothing to keep.
                notes.push(format!("{}: not there, nothing to back up", s.name()));
                continue;
            }
            let m = match &s {
                Source::Path { name, path } => {
                    let real =
                        std::fs::canonicalize(path).map_err(crate::fs::io("cannot read", path))?;
                    if backup_dir.starts_with(&real) {
                        return Err(Error::Backup {
                            action: format!("backing up {}", path.display()),
                            reason: format!(
                                "it holds the backup directory {}",
                                layout.dir.display()
                            ),
                        });
                    }
                    if !paths {
                        continue;
                    }
                    backup::stage_dir(name, &real, &dst, notes)?
                }
                Source::Volume { name } => volumes.export(name, name, &dst)?,
            };
            all.entries.extend(m.entries);
            all.skipped.extend(m.skipped);
        }
        Ok(all)
    }

    /// The one-pass store: host directories read live, volumes from their staging copy, in
    /// the order of the config.
    fn store_direct(
        &self,
        cfg: &BackupConfig,
        engine: &dyn BackupEngine,
        id: &str,
        tree: &Path,
        staged: &Manifest,
        notes: &mut Vec<String>,
    ) -> Result<(backup::Stored, Manifest)> {
        let sources = cfg.sources(&self.config.volumes);
        let parts: Vec<Manifest> = sources
            .iter()
            .map(|s| Manifest {
                entries: staged.source_entries(s.name()).cloned().collect(),
                skipped: staged
                    .skipped
                    .iter()
                    .filter(|p| p.split('/').next() == Some(s.name()))
                    .cloned()
                    .collect(),
            })
            .collect();
        let real: Vec<Option<std::path::PathBuf>> = sources
            .iter()
            .map(|s| match s {
                Source::Path { path, .. } => std::fs::canonicalize(path).ok(),
                Source::Volume { .. } => None,
            })
            .collect();
        let direct: Vec<backup::DirectSource<'_>> = sources
            .iter()
            .zip(&parts)
            .zip(&real)
            .map(|((s, part), real)| match (s, real) {
                (Source::Path { name, .. }, Some(dir)) => backup::DirectSource::Live { name, dir },
                _ => backup::DirectSource::Staged {
                    root: tree,
                    manifest: part,
                },
            })
            .collect();
        engine.store_direct(id, &self.config.service, &direct, notes)
    }

    /// Restores `record` into a scratch directory and compares it with the manifest; the
    /// engine's own check too. Records the result.
    fn verify_locked(
        &self,
        cfg: &BackupConfig,
        mut record: BackupRecord,
        note: &mut Note<'_>,
    ) -> Result<BackupRecord> {
        let layout = self.layout(cfg);
        let engine = self.engine(cfg, Some(&record.engine))?;
        let clock = Instant::now();
        let scratch = layout.work().join(format!("verify-{}", record.id));
        backup::remove_tree(&scratch)?;
        backup::mkdir_private(&scratch)?;
        let checked = Self::restore_and_compare(&layout, engine.as_ref(), &record, &scratch);
        // The restore time is the evidence: removing the scratch copy is not part of it.
        let restore_time = clock.elapsed();
        let _ = backup::remove_tree(&scratch);
        let check_clock = Instant::now();
        let outcome = checked.and_then(|(files, bytes)| {
            engine
                .check(&record)
                .map(|c| (files, bytes, c))
                .map_err(|e| error_text(&e))
        });
        let duration = restore_time + check_clock.elapsed();
        let (ok, files, bytes, error, engine_check) = match outcome {
            Ok((files, bytes, check)) => (true, files, bytes, None, check),
            Err(e) => (false, 0, 0, Some(e), None),
        };
        record.verification = Some(Verification {
            at: SystemTime::now(),
            ok,
            duration,
            files,
            bytes,
            error: error.clone(),
            engine_check,
        });
        layout.save(&record)?;
        match error {
            None => {
                note(
                    &record.id,
                    &format!(
                        "verified: restored and compared {files} files, {bytes} bytes in {:.1}s",
                        duration.as_secs_f64()
                    ),
                );
                Ok(record)
            }
            Some(reason) => {
                note(&record.id, &format!("verification failed: {reason}"));
                Err(Error::VerifyFailed {
                    id: record.id.clone(),
                    reason,
                })
            }
        }
    }

    /// Restores into `scratch` and compares with the manifest: `(files, bytes)` or what
    /// differs.
    fn restore_and_compare(
        layout: &Layout,
        engine: &dyn BackupEngine,
        record: &BackupRecord,
        scratch: &Path,
    ) -> std::result::Result<(u64, u64), String> {
        let manifest = read_manifest(layout, record).map_err(|e| error_text(&e))?;
        let restored = engine.restore(record, scratch);
        let mismatches = manifest.compare(scratch).map_err(|e| error_text(&e))?;
        if !mismatches.is_empty() {
            let mut text = backup::describe(&mismatches, manifest.entries.len());
            if let Err(e) = restored {
                text = format!("{text} (the engine said: {})", error_text(&e));
            }
            return Err(text);
        }
        restored.map_err(|e| error_text(&e))?;
        Ok(manifest.totals())
    }

    pub(super) fn prune_backups_locked(
        &self,
        cfg: &BackupConfig,
        note: &mut Note<'_>,
    ) -> Result<Vec<String>> {
        let layout = self.layout(cfg);
        let catalog = layout.load(&self.config.service)?;
        let expired: Vec<BackupRecord> = catalog
            .expired(cfg.keep_last, cfg.keep_days, SystemTime::now())
            .into_iter()
            .cloned()
            .collect();
        let mut deleted = Vec::new();
        for r in expired {
            // The record first: from here the backup is not listed; its data is removed next
            // (or, if that fails, by the next backup's clean-up).
            layout.remove(&r.id)?;
            match self.engine(cfg, Some(&r.engine)).and_then(|e| e.delete(&r)) {
                Ok(()) => note(&r.id, "deleted by retention"),
                Err(e) => note(
                    &r.id,
                    &format!(
                        "deleted from the catalogue; its data stays until the next clean-up: {}",
                        error_text(&e)
                    ),
                ),
            }
            deleted.push(r.id);
        }
        Ok(deleted)
    }

    #[allow(clippy::too_many_lines)] // one restore, step by step
    pub(super) fn restore_locked(
        &self,
        request: &RestoreRequest,
        note: &mut Note<'_>,
    ) -> Result<RestoreOutcome> {
        let cfg = self.backup_config()?;
        let layout = self.layout(cfg);
        layout.prepare()?;
        self.recover_stopped(&layout, note);
        let clock = Instant::now();
        let catalog = layout.load(&self.config.service)?;
        let history = self.history()?;
        let record = match (&request.backup, &request.before_release) {
            (Some(id), _) => catalog
                .get(id)
                .cloned()
                .ok_or_else(|| Error::UnknownBackup { id: id.clone() })?,
            (None, Some(release)) => {
                let r = history.get(release).ok_or_else(|| Error::UnknownRelease {
                    id: release.clone(),
                })?;
                let Some(b) = &r.backup else {
                    return Err(Error::NoBackup {
                        what: format!("no backup was taken before release {release}"),
                    });
                };
                catalog.get(b).cloned().ok_or_else(|| Error::NoBackup {
                    what: format!(
                        "backup {b}, taken before release {release}, is no longer in the catalogue"
                    ),
                })?
            }
            (None, None) => return Err(Error::UnknownBackup { id: String::new() }),
        };
        if let Some(v) = record.verification.as_ref().filter(|v| !v.ok) {
            return Err(Error::Backup {
                action: format!("restoring {}", record.id),
                reason: format!(
                    "its latest verification failed ({}); nothing was changed",
                    v.error.as_deref().unwrap_or("")
                ),
            });
        }
        if record.verification.is_none() {
            note(
                &record.id,
                "restoring a backup that was never verified; it is compared with its manifest first",
            );
        }
        let running = self.current().filter(|c| self.runtime.is_running(c));
        let bring = if request.before_release.is_some() && !request.keep_release {
            record
                .release
                .clone()
                .or_else(|| running.as_ref().map(|r| r.release.clone()))
        } else {
            running.as_ref().map(|r| r.release.clone())
        };
        let port = running.as_ref().map_or(self.config.port, |r| r.port);
        // 1. Stop what runs; 2. back up what will be overwritten.
        let stopped = match &running {
            Some(r) => {
                Some(self.stop_for(&layout, r, bring.as_deref().unwrap_or(&r.release), note)?)
            }
            None => None,
        };
        let restart = |this: &Self, note: &mut Note<'_>| -> (Option<String>, Option<String>) {
            match (&stopped, &bring) {
                (Some(s), _) => match this.bring_back(&layout, s, note) {
                    Ok(i) => (Some(i.release), None),
                    Err(e) => (None, Some(e)),
                },
                (None, Some(b)) => match this.start_again(b, port, note) {
                    Ok(i) => (Some(i.release), None),
                    Err(e) => (None, Some(e)),
                },
                (None, None) => (None, None),
            }
        };
        let safety = match self.take_backup(BackupKind::PreRestore, None, cfg.verify, false, note) {
            Ok(s) => s,
            Err(e) => {
                let _ = restart(self, note);
                return Err(Error::Backup {
                    action: format!("restoring {}", record.id),
                    reason: format!(
                        "the backup of the current data failed, nothing was changed: {}",
                        error_text(&e)
                    ),
                });
            }
        };
        note(&safety.id, "the data the restore overwrites is backed up");
        // 3. Into a scratch directory, compared; 4. onto the sources, compared again.
        let scratch = layout.work().join(format!("restore-{}", record.id));
        let applied = (|| -> std::result::Result<(u64, u64, u64), (bool, String)> {
            backup::remove_tree(&scratch).map_err(|e| (false, error_text(&e)))?;
            backup::mkdir_private(&scratch).map_err(|e| (false, error_text(&e)))?;
            let engine = self
                .engine(cfg, Some(&record.engine))
                .map_err(|e| (false, error_text(&e)))?;
            let (files, bytes) =
                Self::restore_and_compare(&layout, engine.as_ref(), &record, &scratch).map_err(
                    |e| {
                        (
                            false,
                            format!("the backup does not restore as recorded: {e}"),
                        )
                    },
                )?;
            let manifest = read_manifest(&layout, &record).map_err(|e| (false, error_text(&e)))?;
            let volumes = Volumes {
                helper_image: cfg.helper_image.clone(),
                service: self.config.service.clone(),
            };
            let mut not_owned = 0;
            for s in &record.sources {
                let part = Manifest {
                    entries: manifest.source_entries(&s.name).cloned().collect(),
                    skipped: Vec::new(),
                };
                let found = if s.kind == "volume" {
                    {
                        volumes
                            .import(&s.origin, &s.name, &manifest, &scratch)
                            .map_err(|e| (true, error_text(&e)))?;
                        let check = layout.work().join(format!("check-{}", record.id));
                        let _ = backup::remove_tree(&check);
                        let m = volumes.export(&s.origin, &s.name, &check);
                        let _ = backup::remove_tree(&check);
                        m.map_err(|e| (true, error_text(&e)))?
                    }
                } else {
                    {
                        let target = Path::new(&s.origin);
                        not_owned +=
                            backup::apply(&manifest, &s.name, &scratch.join(&s.name), target)
                                .map_err(|e| (true, error_text(&e)))?;
                        backup::scan(&s.name, target).map_err(|e| (true, error_text(&e)))?
                    }
                };
                let diff = part.diff(
                    found
                        .entries
                        .into_iter()
                        .map(|e| (e.path.clone(), e))
                        .collect(),
                );
                if !diff.is_empty() {
                    return Err((
                        true,
                        format!(
                            "{} differs after the restore: {}",
                            s.origin,
                            backup::describe(&diff, part.entries.len())
                        ),
                    ));
                }
                note(&record.id, &format!("{} restored and compared", s.origin));
            }
            Ok((files, bytes, not_owned))
        })();
        let _ = backup::remove_tree(&scratch);
        let (release, release_error) = restart(self, note);
        let (files, bytes, not_owned) = match applied {
            Ok(x) => x,
            Err((changed, reason)) => {
                return Err(Error::Backup {
                    action: format!("restoring {}", record.id),
                    reason: if changed {
                        format!(
                            "{reason}; the data as it was before is backup {} (ops backup restore {})",
                            safety.id, safety.id
                        )
                    } else {
                        format!("{reason}; nothing was changed")
                    },
                });
            }
        };
        // Bringing back another release than the one running is a rollback in the history.
        if let (Some(now), Some(before)) = (&release, running.as_ref().map(|r| &r.release))
            && now != before
        {
            let mut history = self.history()?;
            let newer: Vec<_> = history
                .releases
                .iter()
                .skip_while(|r| &r.id != now)
                .skip(1)
                .filter(|r| r.outcome == Outcome::Healthy)
                .cloned()
                .collect();
            for mut r in newer {
                r.outcome = Outcome::RolledBack;
                history.upsert(r);
            }
            if let Some(mut r) = history.get(now).cloned() {
                r.outcome = Outcome::Healthy;
                history.upsert(r);
            }
            history.save(&self.config.history_path())?;
        }
        Ok(RestoreOutcome {
            backup: record.id,
            safety_backup: safety.id,
            release,
            release_error,
            files,
            bytes,
            not_owned,
            duration: clock.elapsed(),
        })
    }
}

/// The manifest of `record`, checked against the hash in the record.
fn read_manifest(layout: &Layout, record: &BackupRecord) -> Result<Manifest> {
    let path = layout.manifest(&record.id);
    let bytes = std::fs::read(&path).map_err(crate::fs::io("cannot read", &path))?;
    if backup::sha256_hex(&bytes) != record.manifest_sha256 {
        return Err(Error::Backup {
            action: format!("reading the manifest of {}", record.id),
            reason: format!(
                "{} changed since the backup (SHA-256 differs)",
                path.display()
            ),
        });
    }
    Manifest::read(&path)
}
