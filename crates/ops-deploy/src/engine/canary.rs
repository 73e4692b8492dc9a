//! Canary: start beside the stable release, check, then give the new release a growing share
//! of the traffic in steps (nginx weights), analysing its signals at each step; promote it to
//! all the traffic and stop the stable release only when every step passed, or abort: the
//! traffic goes back to the stable release at once and the canary is stopped. Each step's
//! analysis is the loop in `analyse.rs`.

use std::sync::Arc;
use std::time::Instant;

use super::analyse::{Passed, Place, Stop, counts_text, pause, targets};
use super::gate::Gate;
use super::{Deployer, FailureReason, Run, StepError, addr};
use crate::analysis::{AnalysisRun, Decision, Verdict};
use crate::proxy::TrafficSwitch;
use crate::runtime::{Instance, Runtime};
use crate::state::State;

impl<R: Runtime> Deployer<R> {
    /// Canary: start beside the stable release, check, step the weight up with an analysis
    /// at each step, promote (or abort), drain and stop the stable release.
    pub(super) fn canary(
        &self,
        release: &str,
        artifact: &str,
        run: &mut Run<'_>,
    ) -> Result<Instance, StepError> {
        let Some(old) = self.current().filter(|c| self.runtime.is_running(c)) else {
            run.note(
                release,
                "no release is running: the first one takes all the traffic at once, without a canary",
            );
            return self.blue_green(release, artifact, run);
        };
        let port = self.next_port(Some(&old));
        run.step(
            State::Starting,
            format!(
                "{release} on 127.0.0.1:{port}, beside {} on {}, which keeps the traffic",
                old.release, old.port
            ),
        )?;
        self.port_free(port)?;
        let instance = self
            .runtime
            .start(release, artifact, port)
            .map_err(|e| FailureReason::StartFailed(Arc::new(e)))?;
        let ready = run
            .step(State::Checking, format!("GET {}", self.config.health.path))
            .map_err(StepError::from)
            .and_then(|()| self.check(&instance, run).map_err(StepError::from))
            .and_then(|()| {
                self.switch
                    .as_deref()
                    .ok_or(StepError::Failed(FailureReason::NoSwitch))
            });
        let stepped = ready.and_then(|switch| {
            self.canary_steps(release, &instance, &old, switch, run)
                .map(|()| switch)
        });
        let switch = match stepped {
            Ok(switch) => switch,
            Err(e) => {
                // The traffic is back on the stable release (or the reason says it is not).
                let _ = self.runtime.stop(&instance, self.config.stop_grace);
                return Err(e);
            }
        };
        // Promoted: the canary has all the traffic.
        if let Err(e) = self.set_current(Some(&instance)) {
            let back = switch.switch(&old.release, addr(old.port));
            let _ = self.runtime.stop(&instance, self.config.stop_grace);
            return Err(match back {
                Ok(()) => FailureReason::State(Arc::new(e)).into(),
                Err(b) => FailureReason::SwitchBackFailed {
                    reason: Box::new(FailureReason::State(Arc::new(e))),
                    to: old.release.clone(),
                    error: Arc::new(b),
                }
                .into(),
            });
        }
        self.drain(&old, run)?;
        Ok(instance)
    }

    /// Every step: weights, analysis, gates; then the promotion to 100 %. On error the
    /// traffic was sent back to `old` (or the reason says it could not be).
    #[allow(clippy::too_many_lines)] // the steps, one after the other
    fn canary_steps(
        &self,
        release: &str,
        instance: &Instance,
        old: &Instance,
        switch: &dyn TrafficSwitch,
        run: &mut Run<'_>,
    ) -> Result<(), StepError> {
        let steps = self.config.canary().steps;
        let pauses = self.config.canary().pause;
        let analysis = self.config.analysis();
        let n = u32::try_from(steps.len()).unwrap_or(u32::MAX);
        let targets = targets(release, instance, old);
        let gate = Gate::new(self, release);
        let mut handle = self.source_handle();
        let src = handle.get();
        let mut a = AnalysisRun::new(&analysis, "canary", src, steps.clone());
        a.begin(src, &targets);
        let back = |reason: FailureReason, run: &mut Run<'_>| -> StepError {
            match switch.switch(&old.release, addr(old.port)) {
                Ok(()) => {
                    run.note(
                        release,
                        &format!(
                            "all the traffic is back on {} (weight 0 for {release})",
                            old.release
                        ),
                    );
                    reason.into()
                }
                Err(e) => {
                    run.note(
                        release,
                        &format!("cannot send the traffic back to {}: {e}", old.release),
                    );
                    FailureReason::SwitchBackFailed {
                        reason: Box::new(reason),
                        to: old.release.clone(),
                        error: Arc::new(e),
                    }
                    .into()
                }
            }
        };
        let mut last_weight = 0u8;
        for (i, &weight) in steps.iter().enumerate() {
            let step = u32::try_from(i).unwrap_or(u32::MAX) + 1;
            let place = Place {
                step: Some(step),
                steps: n,
                weight,
                since: Instant::now(),
            };
            run.to(
                State::Switching,
                format!("step {step}/{n}: {weight} % of the traffic to {release}"),
            )?;
            // The step's first measurement covers its traffic change (the reload) too: a
            // canary is judged one analysis period after its weight was asked for.
            a.start_window();
            let routed = if weight >= 100 {
                switch.switch(release, addr(instance.port))
            } else {
                switch.split(
                    (&old.release, addr(old.port)),
                    (release, addr(instance.port)),
                    weight,
                )
            };
            if let Err(e) = routed {
                a.finish(
                    Verdict::Aborted,
                    format!("the traffic switch refused step {step} ({weight} %): {e}"),
                );
                run.analysis = Some(a.record.clone());
                return Err(back(FailureReason::SwitchRefused(Arc::new(e)), run));
            }
            run.live();
            last_weight = weight;
            match self.analyse_step(&mut a, src, &targets, &gate, place, analysis.interval, run)? {
                Err(stop) => {
                    let reason = self.analysis_stopped(&mut a, place, stop, run);
                    return Err(back(reason, run));
                }
                Ok(Passed::Measured) if pauses.contains(&weight) => {
                    let why =
                        format!("step {step}/{n} ({weight} %) passed its analysis: a manual gate");
                    match pause(&gate, &a, place, &why, None, run)? {
                        Some((Decision::Promote, who)) => {
                            let c = self.decided(
                                release,
                                &who,
                                "promote",
                                "promoted",
                                &format!("the gate after step {step}/{n} ({weight} %)"),
                                run,
                            );
                            run.changes.push(c);
                        }
                        Some((Decision::Abort, who)) => {
                            let stop = Stop {
                                verdict: Verdict::Aborted,
                                detail: format!(
                                    "aborted by {who} at the gate after step {step}, {weight} %"
                                ),
                            };
                            let c =
                                self.decided(release, &who, "abort", "aborted", &stop.detail, run);
                            run.changes.push(c);
                            let reason = self.analysis_stopped(&mut a, place, stop, run);
                            return Err(back(reason, run));
                        }
                        None => {}
                    }
                }
                Ok(Passed::Measured | Passed::Promoted) => {}
            }
        }
        if last_weight < 100 {
            run.to(
                State::Switching,
                format!("promotion: all the traffic to {release}"),
            )?;
            if let Err(e) = switch.switch(release, addr(instance.port)) {
                a.finish(
                    Verdict::Aborted,
                    format!("the traffic switch refused the promotion: {e}"),
                );
                run.analysis = Some(a.record.clone());
                return Err(back(FailureReason::SwitchRefused(Arc::new(e)), run));
            }
        }
        let summary = format!(
            "promoted after {n} step{} ({}): {}",
            if n == 1 { "" } else { "s" },
            steps
                .iter()
                .map(|w| format!("{w} %"))
                .collect::<Vec<_>>()
                .join(", "),
            counts_text(&a.counts)
        );
        run.analysis = Some(a.finish(Verdict::Passed, summary.clone()));
        let c = self.audit(release, "promote", "promoted", &summary);
        run.changes.push(c);
        Ok(())
    }
}
