//! Rollback and recovery: after a failed release, keep (blue-green) or bring back the newest
//! release recorded healthy; `ops rollback` on request; and the instances and in-progress
//! records that a killed deploy left behind (interrupted deploys).

use std::sync::Arc;
use std::time::Duration;

use super::{DeployOutcome, Deployer, Event, FailureReason, Run, StepError};
use crate::error::{Error, Result};
use crate::history::{History, Outcome, ReleaseRecord};
use crate::hooks::Phase;
use crate::runtime::{Instance, Runtime};
use crate::state::{Deployment, State};

impl<R: Runtime> Deployer<R> {
    /// After `failed` failed: keep (blue-green) or bring back the newest healthy release.
    #[allow(clippy::too_many_lines)] // each way a recovery can end
    pub(super) fn recover(
        &self,
        history: &mut History,
        failed: &str,
        reason: FailureReason,
        running: Option<&Instance>,
        run: &mut Run<'_>,
    ) -> Result<DeployOutcome> {
        let reason_text = reason.to_string();
        let env = |restored: &str, artifact: &str, port: u16| {
            self.hook_env(
                restored,
                artifact,
                port,
                &[
                    ("OPS_FAILED_RELEASE", failed.to_owned()),
                    ("OPS_REASON", reason_text.clone()),
                ],
            )
        };
        // Blue-green: the old release was never stopped; if it still answers and the proxy
        // routes to it, it is the rollback (its traffic never moved, or was switched back).
        if self.config.strategy.side_by_side()
            && let Some(old) = running.filter(|o| self.still_serving(o))
        {
            run.to(
                State::RollingBack,
                format!(
                    "{failed} failed: {reason}; traffic stays on {}",
                    old.release
                ),
            )?;
            run.to(State::RolledBack, format!("{} is serving", old.release))?;
            let c = self.audit(
                failed,
                "rollback",
                "rolled_back",
                &format!("{} kept (or got back) the traffic", old.release),
            );
            run.changes.push(c);
            let artifact = history
                .get(&old.release)
                .map(|r| r.runnable_artifact().to_owned())
                .unwrap_or_default();
            self.after_rollback(&old.release, &env(&old.release, &artifact, old.port), run);
            return Ok(DeployOutcome::RolledBack {
                failed: failed.to_owned(),
                restored: old.release.clone(),
                reason,
            });
        }
        let Some(target) = history.last_healthy().cloned() else {
            run.to(
                State::Failed,
                format!("{failed} failed: {reason}; no healthy release to roll back to"),
            )?;
            return Ok(DeployOutcome::NothingHealthy {
                reason: FailureReason::NoRollbackTarget {
                    failed: failed.to_owned(),
                    reason: Box::new(reason),
                },
            });
        };
        run.to(
            State::RollingBack,
            format!("{failed} failed: {reason}; bringing back {}", target.id),
        )?;
        let artifact = target.runnable_artifact();
        let restored = if target.pruned {
            Err(StepError::Failed(FailureReason::Pruned {
                release: target.id.clone(),
            }))
        } else {
            run.quiet = true;
            let r = self.bring_up(&target.id, artifact, run);
            run.quiet = false;
            r
        };
        match restored {
            Ok(instance) => {
                run.to(State::RolledBack, format!("{} is healthy again", target.id))?;
                let c = self.audit(
                    failed,
                    "rollback",
                    "rolled_back",
                    &format!("{} brought back", target.id),
                );
                run.changes.push(c);
                self.after_rollback(&target.id, &env(&target.id, artifact, instance.port), run);
                Ok(DeployOutcome::RolledBack {
                    failed: failed.to_owned(),
                    restored: target.id,
                    reason,
                })
            }
            Err(StepError::Engine(e)) => Err(e),
            Err(StepError::Failed(e)) => {
                // The failed release's record says the rollback failed too; the target keeps
                // its outcome (the cause may be the machine, not the release).
                if let Some(mut r) = history.get(failed).cloned() {
                    r.reason = Some(format!("{reason}; rollback to {} failed: {e}", target.id));
                    history.upsert(r);
                    self.save(history, run);
                }
                run.to(
                    State::Failed,
                    format!("rollback to {} failed: {e}", target.id),
                )?;
                let c = self.audit(
                    failed,
                    "rollback",
                    "failed",
                    &format!("bringing back {}: {e}", target.id),
                );
                run.changes.push(c);
                Ok(DeployOutcome::NothingHealthy {
                    reason: FailureReason::RollbackFailed {
                        failed: failed.to_owned(),
                        reason: Box::new(reason),
                        target: target.id.clone(),
                        error: Box::new(e),
                    },
                })
            }
        }
    }

    fn after_rollback(&self, restored: &str, env: &[(&'static str, String)], run: &mut Run<'_>) {
        match self.run_hook(Phase::OnRollback, env) {
            Ok(true) => run.note(restored, "on_rollback hook succeeded"),
            Ok(false) => {}
            Err(e) => run.note(restored, &e.to_string()),
        }
    }

    /// Rolls back to `to`, or to the newest healthy release other than the one running, with
    /// the configured strategy, health-checked. The release it replaces is recorded as rolled
    /// back.
    ///
    /// # Errors
    /// The lock is held, the release is unknown or pruned, or there is nothing to roll back to.
    #[allow(clippy::too_many_lines)] // the rollback, step by step
    pub fn rollback(
        &self,
        to: Option<&str>,
        command_line: &str,
        lock_wait: Option<Duration>,
        mut observe: impl FnMut(&Event<'_>),
    ) -> Result<DeployOutcome> {
        let (_lock, mut history) = self.locked_history(command_line, lock_wait)?;
        let running = self.current().filter(|c| self.runtime.is_running(c));
        let running_id = running.as_ref().map(|c| c.release.clone());
        let target = match to {
            Some(id) => history
                .get(id)
                .cloned()
                .ok_or_else(|| Error::UnknownRelease { id: id.to_owned() })?,
            None => history
                .newest_healthy_except(running_id.as_deref())
                .cloned()
                .ok_or(Error::NothingToRollBackTo)?,
        };
        if target.pruned {
            return Err(Error::Pruned { id: target.id });
        }
        let mut run = Run::new(
            Deployment::begin(&target.id, self.config.strategy),
            &mut observe,
            false,
        );
        // Already running and serving: nothing to do.
        if let Some(r) = running.as_ref().filter(|r| r.release == target.id)
            && self.still_serving(r)
        {
            run.note(&target.id, "already running and healthy; nothing changed");
            return Ok(DeployOutcome::Healthy { release: target.id });
        }
        let artifact = target.runnable_artifact();
        let prepared = self
            .preflight(artifact)
            .map_err(|e| FailureReason::Preflight(Arc::new(e)))
            .and_then(|()| {
                self.route_to_port(&target.id)
                    .map_err(|e| FailureReason::Proxy(Arc::new(e)))
            });
        if let Err(reason) = prepared {
            run.to(
                State::Failed,
                format!("aborted before any change: {reason}"),
            )?;
            return Ok(DeployOutcome::Aborted {
                release: target.id,
                reason,
                running: running.filter(|r| self.still_serving(r)).map(|r| r.release),
            });
        }
        self.stop_orphans(&mut history, "", &mut run);
        if self.config.strategy.side_by_side() {
            self.unsplit(&target.id, running.as_ref(), &mut run);
        }
        match self.bring_up(&target.id, artifact, &mut run) {
            Ok(instance) => {
                // Going back to a release rejects every healthy release recorded after it, so
                // the next automatic rollback does not bring one of them back.
                let newer: Vec<ReleaseRecord> = history
                    .releases
                    .iter()
                    .skip_while(|r| r.id != target.id)
                    .skip(1)
                    .filter(|r| r.outcome == Outcome::Healthy)
                    .cloned()
                    .collect();
                let now = std::time::SystemTime::now();
                for mut r in newer {
                    r.outcome = Outcome::RolledBack;
                    r.restored_at = Some(now);
                    r.push_change(self.audit(
                        &r.id,
                        "rollback",
                        "rolled_back",
                        &format!("replaced by {}", target.id),
                    ));
                    history.upsert(r);
                }
                let mut r = target.clone();
                r.outcome = Outcome::Healthy;
                r.push_change(self.audit(
                    &target.id,
                    "rollback",
                    "healthy",
                    &format!(
                        "brought back{}",
                        running_id
                            .as_deref()
                            .map_or_else(String::new, |p| format!(" in place of {p}"))
                    ),
                ));
                history.upsert(r);
                self.save(&history, &mut run);
                run.to(State::Done, format!("{} is healthy again", target.id))?;
                let env = self.hook_env(
                    &target.id,
                    artifact,
                    instance.port,
                    &[(
                        "OPS_PREVIOUS_RELEASE",
                        running_id.clone().unwrap_or_default(),
                    )],
                );
                self.after_rollback(&target.id, &env, &mut run);
                Ok(DeployOutcome::Healthy { release: target.id })
            }
            Err(StepError::Engine(e)) => Err(e),
            Err(StepError::Failed(reason)) => {
                if let Some(mut r) = history.get(&target.id).cloned() {
                    r.push_change(self.audit(
                        &target.id,
                        "rollback",
                        "failed",
                        &reason.to_string(),
                    ));
                    history.upsert(r);
                    self.save(&history, &mut run);
                }
                self.rollback_failed(
                    &history,
                    target.id.clone(),
                    reason,
                    running.as_ref(),
                    &mut run,
                )
            }
        }
    }

    /// `ops rollback` could not bring `target` up: say what runs instead, restoring the
    /// release stop-start had stopped.
    fn rollback_failed(
        &self,
        history: &History,
        target: String,
        reason: FailureReason,
        running: Option<&Instance>,
        run: &mut Run<'_>,
    ) -> Result<DeployOutcome> {
        // Blue-green and canary: the running release was never touched.
        if self.config.strategy.side_by_side()
            && let Some(o) = running.filter(|o| self.still_serving(o))
        {
            run.to(State::RollingBack, format!("{target}: {reason}"))?;
            run.to(
                State::RolledBack,
                format!("{} keeps the traffic", o.release),
            )?;
            return Ok(DeployOutcome::RolledBack {
                failed: target,
                restored: o.release.clone(),
                reason,
            });
        }
        // Stop-start stopped the running release: bring it back.
        let previous = running
            .and_then(|r| history.get(&r.release).cloned())
            .filter(|r| !r.pruned);
        let Some(previous) = previous else {
            run.to(State::Failed, format!("{target}: {reason}"))?;
            return Ok(DeployOutcome::NothingHealthy {
                reason: FailureReason::NothingBefore {
                    target,
                    reason: Box::new(reason),
                },
            });
        };
        run.to(
            State::RollingBack,
            format!("{}: {reason}; bringing back {}", target, previous.id),
        )?;
        run.quiet = true;
        let back = self.bring_up(&previous.id, previous.runnable_artifact(), run);
        run.quiet = false;
        match back {
            Ok(_) => {
                run.to(
                    State::RolledBack,
                    format!("{} is healthy again", previous.id),
                )?;
                Ok(DeployOutcome::RolledBack {
                    failed: target,
                    restored: previous.id,
                    reason,
                })
            }
            Err(StepError::Engine(e)) => Err(e),
            Err(StepError::Failed(e)) => {
                run.to(State::Failed, format!("bringing back {}: {e}", previous.id))?;
                Ok(DeployOutcome::NothingHealthy {
                    reason: FailureReason::RestoreFailed {
                        target,
                        reason: Box::new(reason),
                        previous: previous.id,
                        error: Box::new(e),
                    },
                })
            }
        }
    }

    /// Stops instances that are running but not the current one (started by a deploy killed
    /// before it recorded them, or an old blue-green release whose deploy was killed while it
    /// drained), and records interrupted deploys as failed. Looks at every in-progress release
    /// and the newest `keep + 2` others, on both ports.
    pub(super) fn stop_orphans(&self, history: &mut History, except: &str, run: &mut Run<'_>) {
        let current = self.current();
        let is_current = |id: &str, port: u16| {
            current
                .as_ref()
                .is_some_and(|c| c.release == id && c.port == port)
        };
        let recent = history
            .releases
            .len()
            .saturating_sub(self.config.keep.saturating_add(2));
        let mut ports = vec![self.config.port];
        ports.extend(self.config.alt_port);
        let mut interrupted = Vec::new();
        for (i, r) in history.releases.iter().enumerate() {
            if r.id == except {
                continue;
            }
            let in_progress = r.outcome == Outcome::InProgress;
            if !in_progress && (i < recent || r.pruned) {
                continue;
            }
            for &port in &ports {
                if is_current(&r.id, port) {
                    continue;
                }
                if let Some(orphan) = self.runtime.find(&r.id, port) {
                    run.note(
                        &r.id,
                        &format!("stopping it on port {port}: running, but not the current release (an interrupted deploy)"),
                    );
                    if let Err(e) = self.runtime.stop(&orphan, self.config.stop_grace) {
                        run.note(&r.id, &format!("cannot stop it: {e}"));
                    }
                }
            }
            // We hold the lock: any other release still in progress belongs to a deploy that
            // was killed, and never passed its checks.
            if in_progress {
                interrupted.push(r.id.clone());
            }
        }
        for id in interrupted {
            if let Some(mut r) = history.get(&id).cloned() {
                r.outcome = Outcome::Failed;
                r.reason = Some(FailureReason::Interrupted.to_string());
                history.upsert(r);
            }
        }
    }
}
