//! Taking a backup (the lock held): the `pre_backup` hook, the copy of every source (the
//! release stopped meanwhile if `stop_service`), the store by the engine, the record; and
//! retention, which a backup applies afterwards.

use std::path::Path;
use std::time::{Instant, SystemTime};

use super::{Deployer, Note, error_text};
use crate::backup::{
    self, BackupConfig, BackupEngine, BackupKind, BackupRecord, Layout, Manifest, Source,
    SourceRecord, Volumes,
};
use crate::error::{Error, Result};
use crate::fs::write_atomic;
use crate::runtime::Runtime;

impl<R: Runtime> Deployer<R> {
    /// Takes a backup (the lock held). `housekeeping`: start a release an interrupted backup
    /// left stopped, and apply retention afterwards (not inside a restore).
    #[allow(clippy::too_many_lines)] // one backup, step by step
    pub(in crate::engine) fn take_backup(
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
}
