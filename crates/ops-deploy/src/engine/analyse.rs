//! The analysis loop of a canary's steps and of blue-green's verification: measure the
//! releases' signals window after window until the step has its decided measurements, the
//! limits stop it, a hold ends or a person decides (`ops deploy promote` / `abort`), with
//! progress for `ops deploy status` and a change record for every decision.

use std::time::{Duration, Instant, SystemTime};

use super::gate::{Gate, Progress};
use super::{Deployer, Event, FailureReason, Run, StepError, addr};
use crate::analysis::{
    AnalysisRun, Counts, Decision, MeasurementStatus, Role, SignalSource, Target, Verdict,
    run::Next,
};
use crate::audit::Actor;
use crate::runtime::{Instance, Runtime};
use crate::state::State;

/// Where in the rollout an analysis stands, for texts and progress.
#[derive(Debug, Clone, Copy)]
pub(super) struct Place {
    /// The canary step (1-based), `None` for a verification.
    pub(super) step: Option<u32>,
    /// Steps in all (0 for a verification).
    pub(super) steps: u32,
    /// The new release's share of the traffic.
    pub(super) weight: u8,
    /// When the verification's switch happened.
    pub(super) since: Instant,
}

impl Place {
    /// `at step 2, 25 %` or `in the verification, 12 s after the switch`.
    fn text(self) -> String {
        match self.step {
            Some(s) => format!("at step {s}, {} %", self.weight),
            None => format!(
                "in the verification, {:.1} s after the switch",
                self.since.elapsed().as_secs_f64()
            ),
        }
    }

    fn phase(self) -> &'static str {
        if self.step.is_some() {
            "canary"
        } else {
            "verify"
        }
    }
}

/// How one step's analysis ended when it did not pass.
pub(super) struct Stop {
    pub(super) verdict: Verdict,
    pub(super) detail: String,
}

/// How one step's analysis ended when the release goes on.
pub(super) enum Passed {
    /// Its measurements passed.
    Measured,
    /// A person promoted it out of a hold.
    Promoted,
}

/// The source one analysis reads from start to end: the deployer's own (held for the
/// analysis), or one made from the config for it.
pub(super) enum SourceHandle<'a> {
    Shared(std::sync::MutexGuard<'a, Box<dyn SignalSource>>),
    Own(Box<dyn SignalSource>),
}

impl SourceHandle<'_> {
    pub(super) fn get(&mut self) -> &mut dyn SignalSource {
        match self {
            SourceHandle::Shared(g) => &mut ***g,
            SourceHandle::Own(b) => &mut **b,
        }
    }
}

impl<R: Runtime> Deployer<R> {
    /// The analyses' source: the one given to the deployer, or a new one from the config.
    pub(super) fn source_handle(&self) -> SourceHandle<'_> {
        match &self.source {
            Some(m) => {
                SourceHandle::Shared(m.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
            }
            None => SourceHandle::Own(self.config.analysis().source()),
        }
    }

    /// Runs `f` with the analyses' source.
    pub(super) fn using_source<T>(&self, f: impl FnOnce(&mut dyn SignalSource) -> T) -> T {
        f(self.source_handle().get())
    }

    /// A decision by `who`, recorded and shown.
    pub(super) fn decided(
        &self,
        release: &str,
        who: &Actor,
        action: &str,
        outcome: &str,
        detail: &str,
        run: &mut Run<'_>,
    ) -> crate::history::ChangeRecord {
        run.note(release, &format!("{action} by {who}: {detail}"));
        crate::audit::record(&self.config.service, release, action, who, outcome, detail)
    }

    /// Measures one step (or a verification) until it has its decided measurements, the
    /// limits stop it, a hold ends, or a person aborts. `Ok(Err(stop))`: the analysis stops
    /// the release.
    #[allow(clippy::too_many_arguments, clippy::too_many_lines)] // the analysis loop
    pub(super) fn analyse_step(
        &self,
        a: &mut AnalysisRun,
        src: &mut dyn SignalSource,
        targets: &[Target],
        gate: &Gate,
        place: Place,
        window: Duration,
        run: &mut Run<'_>,
    ) -> Result<Result<Passed, Stop>, StepError> {
        let release = targets
            .iter()
            .find(|t| t.role == Role::Canary)
            .map(|t| t.release.clone())
            .unwrap_or_default();
        let wanted = if place.step.is_some() {
            a.config.measurements
        } else {
            // A verification's measurements are all decided in one "step".
            a.config.measurements.max(1)
        };
        run.to(
            State::Analysing,
            match place.step {
                Some(s) => format!(
                    "step {s}/{}: {} % to {release}: {wanted} measurement{} of {}",
                    place.steps,
                    place.weight,
                    if wanted == 1 { "" } else { "s" },
                    ops_core::duration::format(window)
                ),
                None => format!(
                    "verifying {release}: {wanted} measurement{} of {}; the old release keeps running",
                    if wanted == 1 { "" } else { "s" },
                    ops_core::duration::format(window)
                ),
            },
        )?;
        a.begin_step();
        let mut last: Option<String> = None;
        loop {
            gate.progress(&Progress {
                release: release.clone(),
                phase: place.phase().into(),
                pid: std::process::id(),
                state: "analysing".into(),
                step: place.step,
                steps: place.steps,
                weight: place.weight,
                paused: None,
                since: SystemTime::now(),
                last: last.clone(),
            });
            if let Some(who) = gate.sleep(a.window_left(window)) {
                let detail = format!("aborted by {who} {}", place.text());
                let c = self.decided(&release, &who, "abort", "aborted", &detail, run);
                run.changes.push(c);
                return Ok(Err(Stop {
                    verdict: Verdict::Aborted,
                    detail,
                }));
            }
            // The window as it was: from its start (the traffic change, or the previous
            // measurement) to now.
            let elapsed = a.window_elapsed();
            a.start_window();
            let m = a.measure(src, targets, elapsed, place.step, place.weight);
            let next = a.decide(&m);
            (run.observe)(&Event::Analysis {
                release: &release,
                phase: place.phase(),
                steps: place.steps,
                measurement: &m,
                counts: &a.counts,
                analysis: &a.config,
            });
            tracing::info!(
                target: "ops_deploy",
                release = %release,
                phase = place.phase(),
                step = place.step,
                weight = place.weight,
                status = m.status.as_str(),
                summary = %m.summary(),
                "analysis measurement"
            );
            last = Some(m.summary());
            let deciding = m.deciding().map_or_else(|| m.summary(), |r| r.text.clone());
            match next {
                Next::Measure => {}
                Next::StepDone => return Ok(Ok(Passed::Measured)),
                Next::Fail => {
                    return Ok(Err(Stop {
                        verdict: Verdict::Failed,
                        detail: format!("{deciding} {} ({})", place.text(), a.limit_text(next)),
                    }));
                }
                Next::Error => {
                    return Ok(Err(Stop {
                        verdict: Verdict::Error,
                        detail: format!(
                            "the analysis could not measure {}: {}; last: {}",
                            place.text(),
                            a.limit_text(next),
                            m.error.as_deref().unwrap_or("the source failed")
                        ),
                    }));
                }
                Next::Hold => {
                    let why = format!(
                        "held: {deciding} ({}); nothing is promoted on no data",
                        a.limit_text(next)
                    );
                    let timeout = a.config.hold_timeout;
                    match pause(gate, a, place, &why, timeout, run)? {
                        Some((Decision::Promote, who)) => {
                            a.resume_after_hold();
                            a.start_window();
                            let c = self.decided(
                                &release,
                                &who,
                                "promote",
                                "promoted",
                                &format!("out of a hold {}: {deciding}", place.text()),
                                run,
                            );
                            run.changes.push(c);
                            return Ok(Ok(Passed::Promoted));
                        }
                        Some((Decision::Abort, who)) => {
                            let detail = format!(
                                "inconclusive {}: {deciding} ({}); aborted by {who} during the hold",
                                place.text(),
                                a.limit_text(next)
                            );
                            let c = self.decided(&release, &who, "abort", "aborted", &detail, run);
                            run.changes.push(c);
                            return Ok(Err(Stop {
                                verdict: Verdict::Inconclusive,
                                detail,
                            }));
                        }
                        None => {
                            return Ok(Err(Stop {
                                verdict: Verdict::Inconclusive,
                                detail: format!(
                                    "inconclusive {}: {deciding} ({}); no decision within the hold_timeout of {}: aborted, as nothing is promoted on no data",
                                    place.text(),
                                    a.limit_text(next),
                                    ops_core::duration::format(timeout.unwrap_or_default())
                                ),
                            }));
                        }
                    }
                }
            }
            if m.status == MeasurementStatus::Error {
                tracing::warn!(target: "ops_deploy", release = %release, error = ?m.error, "analysis source error");
            }
        }
    }

    /// The analysis stopped the release: its record for the history, the change record, and
    /// the failure reason.
    pub(super) fn analysis_stopped(
        &self,
        a: &mut AnalysisRun,
        place: Place,
        stop: Stop,
        run: &mut Run<'_>,
    ) -> FailureReason {
        let release = run.d.release().to_owned();
        run.analysis = Some(a.finish(stop.verdict, stop.detail.clone()));
        if stop.verdict != Verdict::Aborted {
            let c = self.audit(
                &release,
                "abort",
                &format!("analysis {}", stop.verdict.as_str()),
                &stop.detail,
            );
            run.changes.push(c);
        }
        run.note(&release, &stop.detail);
        FailureReason::Analysis {
            phase: place.phase().into(),
            verdict: stop.verdict,
            step: place.step,
            weight: place.weight,
            detail: stop.detail,
        }
    }

    /// Blue-green's verification: after the switch, `verify` long, the analysis watches the
    /// new release while the old one keeps running. `Err`: the analysis stopped it (the
    /// caller switches back).
    pub(super) fn verify(
        &self,
        release: &str,
        instance: &Instance,
        old: &Instance,
        verify: Duration,
        run: &mut Run<'_>,
    ) -> Result<(), StepError> {
        let mut analysis = self.config.analysis();
        let (n, window) = analysis.verify_plan(verify);
        analysis.measurements = n;
        let targets = targets(release, instance, old);
        let gate = Gate::new(self, release);
        let mut handle = self.source_handle();
        let src = handle.get();
        let mut a = AnalysisRun::new(&analysis, "verify", src, Vec::new());
        a.begin(src, &targets);
        let place = Place {
            step: None,
            steps: 0,
            weight: 100,
            since: Instant::now(),
        };
        match self.analyse_step(&mut a, src, &targets, &gate, place, window, run)? {
            Ok(_) => {
                let summary = format!(
                    "verified for {}: {}",
                    ops_core::duration::format(verify),
                    counts_text(&a.counts)
                );
                run.analysis = Some(a.finish(Verdict::Passed, summary));
                Ok(())
            }
            Err(stop) => Err(self.analysis_stopped(&mut a, place, stop, run).into()),
        }
    }
}

/// The two releases an analysis measures: the new one (`release` on `instance`) and the
/// stable one.
pub(super) fn targets(release: &str, instance: &Instance, old: &Instance) -> [Target; 2] {
    [
        Target::new(release, addr(instance.port), Role::Canary),
        Target::new(&old.release, addr(old.port), Role::Stable),
    ]
}

/// `12 measurements, 1 failed, 0 inconclusive, 0 errors`.
pub(super) fn counts_text(c: &Counts) -> String {
    format!(
        "{} measurements, {} failed, {} inconclusive, {} errors",
        c.successful + c.failed + c.inconclusive + c.errors,
        c.failed,
        c.inconclusive,
        c.errors
    )
}

/// Waits at a gate or a hold for `promote` or `abort` (at most `timeout`).
pub(super) fn pause(
    gate: &Gate,
    a: &AnalysisRun,
    place: Place,
    why: &str,
    timeout: Option<Duration>,
    run: &mut Run<'_>,
) -> Result<Option<(Decision, Actor)>, StepError> {
    let release = run.d.release().to_owned();
    run.to(
        State::Paused,
        format!(
            "{why}: waiting for `ops deploy promote` or `ops deploy abort`{}",
            timeout.map_or_else(String::new, |t| format!(
                " (at most {})",
                ops_core::duration::format(t)
            ))
        ),
    )?;
    gate.progress(&Progress {
        release,
        phase: place.phase().into(),
        pid: std::process::id(),
        state: "paused".into(),
        step: place.step,
        steps: place.steps,
        weight: place.weight,
        paused: Some(why.to_owned()),
        since: SystemTime::now(),
        last: a
            .record
            .measurements
            .last()
            .map(crate::analysis::Measurement::summary),
    });
    Ok(gate.wait(timeout))
}
