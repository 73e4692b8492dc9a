//! Restoring a backup (the lock held): the running release stopped, what the restore
//! overwrites backed up, the backup restored into a scratch directory and compared, then
//! written over each source and compared again, the release started again, health-checked.

use std::path::Path;
use std::time::Instant;

use super::verify::read_manifest;
use super::{Deployer, Note, error_text};
use crate::backup::{self, BackupKind, Manifest, RestoreOutcome, RestoreRequest, Volumes};
use crate::error::{Error, Result};
use crate::history::Outcome;
use crate::runtime::Runtime;

impl<R: Runtime> Deployer<R> {
    #[allow(clippy::too_many_lines)] // one restore, step by step
    pub(in crate::engine) fn restore_locked(
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
