//! The stop-start deploy (the playbook's flow, made safe): lock, record, stop the old release,
//! start the new one, health-check it; on failure stop it and bring back the newest release
//! recorded healthy, health-checked too. Every step is a structured `tracing` event.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, SystemTime};

use crate::config::DeployConfig;
use crate::error::{Error, Result};
use crate::health::{self, Attempt};
use crate::history::{History, Outcome, ReleaseRecord, write_atomic};
use crate::lock::DeployLock;
use crate::runtime::{Instance, Runtime};

/// How a deploy or rollback ended. Maps to `ops`'s exit codes 0, 1 and 4.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeployOutcome {
    /// The release asked for is running and healthy.
    Healthy {
        /// Its id.
        release: String,
    },
    /// It failed; the newest healthy release was brought back and is healthy.
    RolledBack {
        /// The release that failed.
        failed: String,
        /// The release running again.
        restored: String,
        /// Why it failed.
        reason: String,
    },
    /// Nothing healthy is running.
    NothingHealthy {
        /// What failed last, and why.
        reason: String,
    },
}

/// Runs deploys and rollbacks for one service.
#[derive(Debug)]
pub struct Deployer<R: Runtime> {
    config: DeployConfig,
    runtime: R,
}

fn step(release: &str, state: &'static str) {
    tracing::info!(target: "ops_deploy", release, state, "deploy state");
}

impl<R: Runtime> Deployer<R> {
    /// A deployer for `config` running releases on `runtime`.
    pub fn new(config: DeployConfig, runtime: R) -> Deployer<R> {
        Deployer { config, runtime }
    }

    /// The configuration.
    pub fn config(&self) -> &DeployConfig {
        &self.config
    }

    /// The recorded history.
    ///
    /// # Errors
    /// The history cannot be read.
    pub fn history(&self) -> Result<History> {
        History::load(&self.config.history_path(), &self.config.service)
    }

    fn current(&self) -> Option<Instance> {
        let text = std::fs::read_to_string(self.config.current_path()).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn set_current(&self, instance: Option<&Instance>) -> Result<()> {
        let path = self.config.current_path();
        match instance {
            Some(i) => write_atomic(
                &path,
                serde_json::to_string(i).unwrap_or_default().as_bytes(),
            ),
            None => match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Io {
                    action: "cannot remove",
                    path,
                    source: e,
                }),
                _ => Ok(()),
            },
        }
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.config.port))
    }

    /// Stops releases that a killed deploy started but never recorded as running.
    fn stop_orphans(&self, history: &History, except: &str) {
        for r in history
            .releases
            .iter()
            .filter(|r| r.outcome == Outcome::InProgress && r.id != except)
        {
            if let Some(orphan) = self.runtime.find(&r.id, self.config.port) {
                tracing::warn!(target: "ops_deploy", release = %r.id, "stopping a release left running by an interrupted deploy");
                let _ = self.runtime.stop(&orphan, self.config.stop_grace);
            }
        }
    }

    /// Stops whatever runs now, starts `artifact` as `release` and waits for it to be healthy.
    fn replace_with(
        &self,
        release: &str,
        artifact: &str,
        on_attempt: &mut dyn FnMut(&str, &Attempt),
    ) -> std::result::Result<Instance, String> {
        if let Ok(history) = self.history() {
            self.stop_orphans(&history, release);
        }
        if let Some(old) = self.current() {
            step(&old.release, "stopping");
            self.runtime
                .stop(&old, self.config.stop_grace)
                .map_err(|e| e.to_string())?;
            self.set_current(None).map_err(|e| e.to_string())?;
        }
        step(release, "starting");
        let instance = self
            .runtime
            .start(release, artifact, self.config.port)
            .map_err(|e| e.to_string())?;
        self.set_current(Some(&instance))
            .map_err(|e| e.to_string())?;
        step(release, "checking");
        match health::wait_healthy(self.addr(), &self.config.health, |a| on_attempt(release, a)) {
            Ok(_) if self.runtime.is_running(&instance) => Ok(instance),
            Ok(_) => Err("the release exited after answering its health check".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    fn stop_quietly(&self, release: &str) {
        if let Some(current) = self.current().filter(|c| c.release == release) {
            let _ = self.runtime.stop(&current, self.config.stop_grace);
            let _ = self.set_current(None);
        }
    }

    /// Brings back `target` (health-checked). Returns the outcome for a failed `failed`.
    fn restore(
        &self,
        history: &mut History,
        target: &ReleaseRecord,
        failed: &str,
        reason: String,
        on_attempt: &mut dyn FnMut(&str, &Attempt),
    ) -> Result<DeployOutcome> {
        step(&target.id, "rolling_back");
        let artifact = target.image_id.as_deref().unwrap_or(&target.artifact);
        match self.replace_with(&target.id, artifact, on_attempt) {
            Ok(_) => {
                step(&target.id, "rolled_back");
                Ok(DeployOutcome::RolledBack {
                    failed: failed.to_owned(),
                    restored: target.id.clone(),
                    reason,
                })
            }
            Err(e) => {
                self.stop_quietly(&target.id);
                if let Some(mut r) = history.get(&target.id).cloned() {
                    r.outcome = Outcome::Failed;
                    r.reason = Some(format!("rollback failed: {e}"));
                    history.upsert(r);
                    history.save(&self.config.history_path())?;
                }
                step(&target.id, "failed");
                Ok(DeployOutcome::NothingHealthy {
                    reason: format!("{failed}: {reason}; rollback to {}: {e}", target.id),
                })
            }
        }
    }

    /// Deploys `artifact` (a command line for the process runtime) with the stop-start strategy,
    /// under the deploy lock. `on_attempt` sees every health-check attempt (progress displays).
    ///
    /// # Errors
    /// The lock is held, or the state directory cannot be used. A failed release is not an
    /// error: it is a [`DeployOutcome`].
    pub fn deploy(
        &self,
        artifact: &str,
        command_line: &str,
        lock_wait: Option<Duration>,
        mut on_attempt: impl FnMut(&str, &Attempt),
    ) -> Result<DeployOutcome> {
        let _lock = DeployLock::acquire(self.config.lock_path(), command_line, lock_wait)?;
        let mut history = self.history()?;
        let id = format!("{}-{}", self.config.service, history.releases.len() + 1);
        step(&id, "locked");
        history.upsert(ReleaseRecord::new(&id, artifact, "stop-start"));
        history.save(&self.config.history_path())?;
        let result = self.replace_with(&id, artifact, &mut on_attempt);
        let mut record = history
            .get(&id)
            .cloned()
            .unwrap_or_else(|| ReleaseRecord::new(&id, artifact, "stop-start"));
        record.finished_at = Some(SystemTime::now());
        match result {
            Ok(instance) => {
                record.image_id = self.runtime.pin(&instance);
                record.outcome = Outcome::Healthy;
                history.upsert(record);
                history.save(&self.config.history_path())?;
                step(&id, "done");
                Ok(DeployOutcome::Healthy { release: id })
            }
            Err(reason) => {
                record.outcome = Outcome::Failed;
                record.reason = Some(reason.clone());
                history.upsert(record);
                history.save(&self.config.history_path())?;
                self.stop_quietly(&id);
                if let Some(target) = history.last_healthy().cloned() {
                    self.restore(&mut history, &target, &id, reason, &mut on_attempt)
                } else {
                    step(&id, "failed");
                    Ok(DeployOutcome::NothingHealthy {
                        reason: format!("{id}: {reason}; no healthy release to roll back to"),
                    })
                }
            }
        }
    }

    /// Rolls back to `to`, or to the newest healthy release other than the one running, and
    /// health-checks it. The release it replaces is recorded as rolled back.
    ///
    /// # Errors
    /// The lock is held, the release is unknown, or there is nothing to roll back to.
    pub fn rollback(
        &self,
        to: Option<&str>,
        command_line: &str,
        lock_wait: Option<Duration>,
        mut on_attempt: impl FnMut(&str, &Attempt),
    ) -> Result<DeployOutcome> {
        let _lock = DeployLock::acquire(self.config.lock_path(), command_line, lock_wait)?;
        let mut history = self.history()?;
        let running = self.current().map(|c| c.release);
        let target = match to {
            Some(id) => history
                .get(id)
                .cloned()
                .ok_or_else(|| Error::UnknownRelease { id: id.to_owned() })?,
            None => history
                .releases
                .iter()
                .rev()
                .find(|r| r.outcome == Outcome::Healthy && Some(&r.id) != running.as_ref())
                .cloned()
                .ok_or(Error::NothingToRollBackTo)?,
        };
        if let Some(mut current) = running.as_deref().and_then(|id| history.get(id).cloned())
            && current.id != target.id
            && current.outcome == Outcome::Healthy
        {
            current.outcome = Outcome::RolledBack;
            history.upsert(current);
            history.save(&self.config.history_path())?;
        }
        let from = running.unwrap_or_default();
        let artifact = target.image_id.as_deref().unwrap_or(&target.artifact);
        match self.replace_with(&target.id, artifact, &mut on_attempt) {
            Ok(_) => {
                let mut r = target.clone();
                r.outcome = Outcome::Healthy;
                history.upsert(r);
                history.save(&self.config.history_path())?;
                step(&target.id, "rolled_back");
                Ok(DeployOutcome::Healthy { release: target.id })
            }
            Err(reason) => {
                self.stop_quietly(&target.id);
                step(&target.id, "failed");
                Ok(DeployOutcome::NothingHealthy {
                    reason: format!("rollback from {from:?} to {}: {reason}", target.id),
                })
            }
        }
    }
}
