//! A deploy: lock, record the release in progress, check what can be checked before any
//! change (preflight, the pre-deploy hook, the proxy), stop what interrupted deploys left,
//! bring the release up with the strategy, record the outcome, prune; on failure, recover.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::{DeployOutcome, Deployer, Event, FailureReason, Run, StepError};
use crate::backup::{BackupKind, BackupWhen, RestoreRequest};
use crate::error::Result;
use crate::history::{Outcome, ReleaseRecord};
use crate::hooks::Phase;
use crate::runtime::Runtime;
use crate::state::{Deployment, State};

impl<R: Runtime> Deployer<R> {
    /// Deploys `artifact` (a command line for the process runtime, an image for Docker) with
    /// the configured strategy, under the deploy lock. `observe` sees every transition,
    /// health-check attempt and note (progress displays).
    ///
    /// # Errors
    /// The lock is held, the state directory cannot be used, or the engine asked for a state
    /// transition its machine does not have (a bug: [`Error::Transition`](crate::Error::Transition)). A failed release is
    /// not an error: it is a [`DeployOutcome`].
    #[allow(clippy::too_many_lines)] // the deploy, step by step
    pub fn deploy(
        &self,
        artifact: &str,
        command_line: &str,
        lock_wait: Option<Duration>,
        mut observe: impl FnMut(&Event<'_>),
    ) -> Result<DeployOutcome> {
        let (_lock, mut history) = self.locked_history(command_line, lock_wait)?;
        let id = format!("{}-{}", self.config.service, history.releases.len() + 1);
        crate::names::check_id("release id", &id)?;
        let strategy = self.config.strategy;
        let mut run = Run::new(Deployment::begin(&id, strategy), &mut observe, true);
        let running = self.current().filter(|c| self.runtime.is_running(c));
        let port = self.next_port(running.as_ref());
        let mut record = ReleaseRecord::new(&id, artifact, strategy.as_str());
        record.port = Some(port);
        record.push_change(self.audit(
            &id,
            "deploy",
            "started",
            &format!("{artifact} ({strategy})"),
        ));
        history.upsert(record.clone());
        history.save(&self.config.history_path())?;

        let previous = running.as_ref().map(|r| r.release.clone());
        let env = self.hook_env(
            &id,
            artifact,
            port,
            &[("OPS_PREVIOUS_RELEASE", previous.clone().unwrap_or_default())],
        );
        let prepared = self
            .error_budget_check(SystemTime::now())
            .and_then(|overridden| {
                // Deployed anyway: the history says while which budgets were spent.
                if let Some(note) = overridden {
                    run.note(&id, &note);
                    record.error_budget = Some(note);
                    history.upsert(record.clone());
                    history
                        .save(&self.config.history_path())
                        .map_err(|e| FailureReason::State(Arc::new(e)))?;
                }
                self.preflight(artifact)
                    .map_err(|e| FailureReason::Preflight(Arc::new(e)))
            })
            .and_then(|()| {
                // Before the pre_deploy hook, which may migrate the data.
                if self
                    .config
                    .backup
                    .as_ref()
                    .is_some_and(|b| b.when == BackupWhen::BeforeDeploy)
                {
                    let taken = self
                        .take_backup(
                            BackupKind::BeforeDeploy,
                            Some(&id),
                            true,
                            true,
                            &mut |r, m| {
                                run.note(r, m);
                            },
                        )
                        .map_err(|e| FailureReason::Backup(Arc::new(e)))?;
                    run.note(
                        &id,
                        &format!("backup {} taken and verified before the deploy", taken.id),
                    );
                    record.backup = Some(taken.id);
                    history.upsert(record.clone());
                    history
                        .save(&self.config.history_path())
                        .map_err(|e| FailureReason::State(Arc::new(e)))?;
                }
                let ran = self
                    .run_hook(Phase::PreDeploy, &env)
                    .map_err(|e| FailureReason::Hook(Arc::new(e)))?;
                if ran {
                    run.note(&id, "pre_deploy hook succeeded");
                }
                self.route_to_port(&id)
                    .map_err(|e| FailureReason::Proxy(Arc::new(e)))
            });
        if let Err(reason) = prepared {
            record.outcome = Outcome::Failed;
            record.finished_at = Some(SystemTime::now());
            record.reason = Some(format!("aborted: {reason}"));
            record.push_change(self.audit(&id, "deploy", "aborted", &reason.to_string()));
            history.upsert(record);
            history.save(&self.config.history_path())?;
            run.to(
                State::Failed,
                format!("aborted before any change: {reason}"),
            )?;
            return Ok(DeployOutcome::Aborted {
                release: id,
                reason,
                running: running.filter(|r| self.still_serving(r)).map(|r| r.release),
            });
        }
        self.stop_orphans(&mut history, &id, &mut run);
        if strategy.side_by_side() {
            self.unsplit(&id, running.as_ref(), &mut run);
        }

        let result = self.bring_up(&id, artifact, &mut run);
        record.finished_at = Some(SystemTime::now());
        record.live_at = run.live_at;
        record.analysis = run.analysis.take();
        for c in std::mem::take(&mut run.changes) {
            record.push_change(c);
        }
        match result {
            Ok(instance) => {
                record.image_id = self.runtime.pin(&instance);
                record.outcome = Outcome::Healthy;
                record.push_change(self.audit(&id, "deploy", "healthy", "running and serving"));
                history.upsert(record);
                self.save(&history, &mut run);
                run.to(State::Done, format!("{id} is healthy and serving"))?;
                match self.run_hook(Phase::PostDeploy, &env) {
                    Ok(true) => run.note(&id, "post_deploy hook succeeded"),
                    Ok(false) => {}
                    Err(e) => run.note(&id, &e.to_string()),
                }
                self.prune_history(&mut history, &mut |r, m| run.note(r, m))?;
                Ok(DeployOutcome::Healthy { release: id })
            }
            Err(StepError::Failed(reason)) => {
                record.outcome = Outcome::Failed;
                record.reason = Some(reason.to_string());
                history.upsert(record.clone());
                self.save(&history, &mut run);
                let outcome =
                    self.recover(&mut history, &id, reason, running.as_ref(), &mut run)?;
                // The deploy's own end, after the rollback's: how it ended for the service.
                if let Some(mut r) = history.get(&id).cloned() {
                    for c in std::mem::take(&mut run.changes) {
                        r.push_change(c);
                    }
                    let (ended, what) = match &outcome {
                        DeployOutcome::RolledBack { restored, .. } => {
                            ("rolled_back", format!("{restored} serves again"))
                        }
                        _ => ("failed", "nothing healthy runs".to_owned()),
                    };
                    let why = outcome
                        .reason()
                        .map(ToString::to_string)
                        .unwrap_or_default();
                    r.push_change(self.audit(&id, "deploy", ended, &format!("{what}; {why}")));
                    record = r.clone();
                    history.upsert(r);
                    self.save(&history, &mut run);
                }
                // Data is restored on a rollback only when configured.
                if let (DeployOutcome::RolledBack { .. }, Some(backup)) = (&outcome, &record.backup)
                    && self
                        .config
                        .backup
                        .as_ref()
                        .is_some_and(|b| b.restore_on_rollback)
                {
                    let request = RestoreRequest::backup(backup.clone()).keep_release(true);
                    match self.restore_locked(&request, &mut |r, m| run.note(r, m)) {
                        Ok(r) => run.note(&id, &format!("restore_on_rollback: backup {} restored (the data it replaced is backup {})", r.backup, r.safety_backup)),
                        Err(e) => run.note(&id, &format!("restore_on_rollback failed: {}", super::backup::error_text(&e))),
                    }
                }
                Ok(outcome)
            }
            Err(StepError::Engine(e)) => {
                // A bug in the engine, not the release's fault: recorded, and returned.
                record.outcome = Outcome::Failed;
                record.reason = Some(format!("deploy engine error: {e}"));
                record.push_change(self.audit(
                    &id,
                    "deploy",
                    "failed",
                    &format!("deploy engine error: {e}"),
                ));
                history.upsert(record);
                self.save(&history, &mut run);
                Err(e)
            }
        }
    }
}
