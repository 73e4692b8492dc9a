//! One analysis run: the measurements, their cumulative counts, and what the limits decide
//! after each one (Argo Rollouts' semantics).

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::config::AnalysisConfig;
use super::measure::{self, Figures, Measurement, MeasurementStatus, Role};
use super::source::{SignalSource, Target, Wanted};

/// Measurements a history record keeps (the oldest go first; [`AnalysisRecord::dropped`]
/// counts them).
const KEPT_MEASUREMENTS: usize = 200;

/// The measurements of an analysis so far, by status; `consecutive_errors` is the current run
/// of source errors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Counts {
    /// Successful measurements.
    pub successful: u32,
    /// Failed measurements.
    pub failed: u32,
    /// Inconclusive measurements (since the last manual promote of a hold).
    pub inconclusive: u32,
    /// Measurements the source could not make.
    pub errors: u32,
    /// Source errors in a row, now.
    pub consecutive_errors: u32,
}

/// How an analysis ended (or why it stopped the deploy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Verdict {
    /// Every step (or the whole verification) passed: promoted.
    Passed,
    /// More failed measurements than `failure_limit`.
    Failed,
    /// More source errors in a row than `consecutive_error_limit`.
    Error,
    /// More inconclusive measurements than `inconclusive_limit`, and the hold ended without a
    /// promote (aborted, or `hold_timeout` ran out).
    Inconclusive,
    /// Aborted by a person (`ops deploy abort`).
    Aborted,
    /// Not ended (the deploy was interrupted).
    InProgress,
}

impl Verdict {
    /// `passed`, `failed`, `error`, `inconclusive`, `aborted`, `in_progress`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed => "failed",
            Verdict::Error => "error",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Aborted => "aborted",
            Verdict::InProgress => "in_progress",
        }
    }
}

/// A decision at a manual gate or a hold (`ops deploy promote`, `ops deploy abort`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Go on: the next step, or the promotion.
    Promote,
    /// Stop: the traffic goes back to the stable release, the new one is stopped.
    Abort,
}

impl Decision {
    /// `promote` or `abort`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Promote => "promote",
            Decision::Abort => "abort",
        }
    }
}

/// An analysis as the history records it with its release: what was measured where, every
/// measurement (the newest 200), and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AnalysisRecord {
    /// `canary` or `verify`.
    pub kind: String,
    /// The source, described (`metrics: GET /metrics of each release`).
    pub source: String,
    /// The conditions, as configured.
    pub conditions: Vec<String>,
    /// The canary's steps (weights in percent); empty for a verification.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<u8>,
    /// How it ended.
    pub verdict: Verdict,
    /// One line: `promoted after 4 steps`, `error ratio 0.21 > 0.01 at step 1, 10 %`.
    pub summary: String,
    /// Measurements by status.
    pub counts: Counts,
    /// The measurements, oldest first.
    pub measurements: Vec<Measurement>,
    /// Older measurements not kept.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropped: u32,
}

// Values are never NaN (a NaN is no data), so equality is an equivalence.
impl Eq for AnalysisRecord {}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What the limits say after a measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Measure again.
    Measure,
    /// The step (or verification) has its decided measurements.
    StepDone,
    /// Abort: too many failed measurements.
    Fail,
    /// Abort: too many source errors in a row.
    Error,
    /// Hold: too many inconclusive measurements.
    Hold,
}

/// An analysis in progress.
#[derive(Debug)]
pub(crate) struct AnalysisRun {
    pub(crate) config: AnalysisConfig,
    pub(crate) wanted: Wanted,
    pub(crate) counts: Counts,
    /// Decided measurements in the current step.
    step_decided: u32,
    pub(crate) record: AnalysisRecord,
    /// The stable release's figures before the analysis, and its latest with enough requests.
    baseline: Option<Figures>,
    last_stable: Option<Figures>,
    number: u32,
    /// When the current measurement's window began.
    window_start: std::time::Instant,
}

impl AnalysisRun {
    pub(crate) fn new(
        config: &AnalysisConfig,
        kind: &str,
        source: &dyn SignalSource,
        steps: Vec<u8>,
    ) -> AnalysisRun {
        AnalysisRun {
            wanted: Wanted::of(&config.conditions),
            config: config.clone(),
            counts: Counts::default(),
            step_decided: 0,
            record: AnalysisRecord {
                kind: kind.to_owned(),
                source: source.describe(),
                conditions: config.conditions.iter().map(ToString::to_string).collect(),
                steps,
                verdict: Verdict::InProgress,
                summary: String::new(),
                counts: Counts::default(),
                measurements: Vec::new(),
                dropped: 0,
            },
            baseline: None,
            last_stable: None,
            number: 0,
            window_start: std::time::Instant::now(),
        }
    }

    /// A measurement window starts now.
    pub(crate) fn start_window(&mut self) {
        self.window_start = std::time::Instant::now();
    }

    /// How long until the current window has lasted `window`.
    pub(crate) fn window_left(&self, window: Duration) -> Duration {
        window.saturating_sub(self.window_start.elapsed())
    }

    /// How long the current window has lasted.
    pub(crate) fn window_elapsed(&self) -> Duration {
        self.window_start.elapsed()
    }

    /// Starts the source on `targets`, and takes the stable release's figures before the
    /// analysis when the source can tell them.
    pub(crate) fn begin(&mut self, source: &mut dyn SignalSource, targets: &[Target]) {
        source.begin(targets, &self.wanted);
        if let Some(stable) = targets.iter().find(|t| t.role == Role::Stable) {
            self.baseline = source.baseline(stable, self.config.interval, &self.wanted);
        }
    }

    /// A new step starts: its decided measurements count from zero.
    pub(crate) fn begin_step(&mut self) {
        self.step_decided = 0;
    }

    /// A person promoted a hold: the inconclusive measurements so far are forgiven.
    pub(crate) fn resume_after_hold(&mut self) {
        self.counts.inconclusive = 0;
    }

    /// Reads the source for the window that just ended and decides the conditions.
    pub(crate) fn measure(
        &mut self,
        source: &mut dyn SignalSource,
        targets: &[Target],
        window: Duration,
        step: Option<u32>,
        weight: u8,
    ) -> Measurement {
        self.number += 1;
        let mut m = Measurement {
            number: self.number,
            at: SystemTime::now(),
            window,
            step,
            weight,
            status: MeasurementStatus::Error,
            requests: None,
            stable_requests: None,
            results: Vec::new(),
            error: None,
            notes: Vec::new(),
        };
        match source.measure(targets, window, &self.wanted) {
            Err(e) => m.error = Some(e.to_string()),
            Ok(figures) => {
                let of = |role: Role| {
                    targets
                        .iter()
                        .position(|t| t.role == role)
                        .and_then(|i| figures.get(i))
                };
                let Some(canary) = of(Role::Canary) else {
                    m.error = Some("the source returned no figures for the new release".into());
                    return m;
                };
                let stable_now = of(Role::Stable);
                let min = self.config.min_requests;
                let enough = |f: &Figures| min == 0 || f.requests.is_some_and(|r| r >= min as f64);
                let mut candidates: Vec<&Figures> = Vec::new();
                candidates.extend(stable_now);
                candidates.extend(self.last_stable.as_ref());
                candidates.extend(self.baseline.as_ref());
                let (status, results) = measure::evaluate(
                    &self.config.conditions,
                    &self.wanted,
                    canary,
                    &candidates,
                    min,
                );
                m.status = status;
                m.results = results;
                m.requests = canary.requests;
                m.stable_requests = stable_now.and_then(|s| s.requests);
                m.notes.extend(canary.notes.iter().cloned());
                if let Some(s) = stable_now {
                    m.notes
                        .extend(s.notes.iter().map(|n| format!("stable: {n}")));
                    if enough(s) {
                        self.last_stable = Some(s.clone());
                    }
                }
            }
        }
        m
    }

    /// Counts `m` and says what comes next.
    pub(crate) fn decide(&mut self, m: &Measurement) -> Next {
        let c = &mut self.counts;
        if m.status == MeasurementStatus::Error {
            c.errors += 1;
            c.consecutive_errors += 1;
        } else {
            c.consecutive_errors = 0;
        }
        match m.status {
            MeasurementStatus::Successful => c.successful += 1,
            MeasurementStatus::Failed => c.failed += 1,
            MeasurementStatus::Inconclusive => c.inconclusive += 1,
            MeasurementStatus::Error => {}
        }
        self.record.measurements.push(m.clone());
        if self.record.measurements.len() > KEPT_MEASUREMENTS {
            self.record.measurements.remove(0);
            self.record.dropped += 1;
        }
        self.record.counts = *c;
        let limits = &self.config;
        if c.failed > limits.failure_limit {
            return Next::Fail;
        }
        if c.consecutive_errors > limits.consecutive_error_limit {
            return Next::Error;
        }
        if c.inconclusive > limits.inconclusive_limit {
            return Next::Hold;
        }
        if matches!(
            m.status,
            MeasurementStatus::Successful | MeasurementStatus::Failed
        ) {
            self.step_decided += 1;
        }
        if self.step_decided >= limits.measurements {
            Next::StepDone
        } else {
            Next::Measure
        }
    }

    /// Ends the analysis with `verdict` and its one-line summary.
    pub(crate) fn finish(
        &mut self,
        verdict: Verdict,
        summary: impl Into<String>,
    ) -> AnalysisRecord {
        self.record.verdict = verdict;
        self.record.summary = summary.into();
        self.record.counts = self.counts;
        self.record.clone()
    }

    /// Why a `Next` other than `Measure`/`StepDone` stops the analysis, in words:
    /// `1 failed measurement > failure limit 0`.
    pub(crate) fn limit_text(&self, next: Next) -> String {
        let c = &self.counts;
        let l = &self.config;
        let plural = |n: u32, what: &str| {
            if n == 1 {
                format!("1 {what} measurement")
            } else {
                format!("{n} {what} measurements")
            }
        };
        match next {
            Next::Fail => format!(
                "{} > failure limit {}",
                plural(c.failed, "failed"),
                l.failure_limit
            ),
            Next::Error => format!(
                "{} source errors in a row > limit {}",
                c.consecutive_errors, l.consecutive_error_limit
            ),
            Next::Hold => format!(
                "{} > inconclusive limit {}",
                plural(c.inconclusive, "inconclusive"),
                l.inconclusive_limit
            ),
            Next::Measure | Next::StepDone => String::new(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod test {
    use super::*;
    use crate::analysis::Condition;

    fn run(limits: (u32, u32, u32), measurements: u32) -> AnalysisRun {
        let config = AnalysisConfig {
            failure_limit: limits.0,
            inconclusive_limit: limits.1,
            consecutive_error_limit: limits.2,
            measurements,
            conditions: vec![Condition::error_ratio(0.01)],
            ..AnalysisConfig::default()
        };
        AnalysisRun::new(&config, "canary", &crate::FakeSource::new(), vec![10, 100])
    }

    fn m(status: MeasurementStatus) -> Measurement {
        Measurement {
            number: 1,
            at: SystemTime::UNIX_EPOCH,
            window: Duration::from_secs(1),
            step: Some(1),
            weight: 10,
            status,
            requests: None,
            stable_requests: None,
            results: Vec::new(),
            error: None,
            notes: Vec::new(),
        }
    }

    #[test]
    fn argo_defaults_abort_on_the_first_failure_and_hold_on_the_first_inconclusive() {
        use MeasurementStatus::{Error, Failed, Inconclusive, Successful};
        let mut r = run((0, 0, 4), 1);
        assert_eq!(r.decide(&m(Successful)), Next::StepDone);
        r.begin_step();
        assert_eq!(r.decide(&m(Failed)), Next::Fail);
        assert_eq!(
            r.limit_text(Next::Fail),
            "1 failed measurement > failure limit 0"
        );
        let mut r = run((0, 0, 4), 1);
        assert_eq!(r.decide(&m(Inconclusive)), Next::Hold);
        r.resume_after_hold();
        // Four errors in a row are tolerated, the fifth is not; a success in between resets.
        let mut r = run((0, 0, 4), 2);
        for _ in 0..4 {
            assert_eq!(r.decide(&m(Error)), Next::Measure);
        }
        assert_eq!(r.decide(&m(Successful)), Next::Measure);
        for _ in 0..4 {
            assert_eq!(r.decide(&m(Error)), Next::Measure);
        }
        assert_eq!(r.decide(&m(Error)), Next::Error);
        assert_eq!(
            r.limit_text(Next::Error),
            "5 source errors in a row > limit 4"
        );
    }

    #[test]
    fn limits_count_cumulatively_across_steps_and_undecided_measurements_do_not_advance() {
        use MeasurementStatus::{Error, Failed, Inconclusive, Successful};
        let mut r = run((1, 1, 4), 2);
        assert_eq!(r.decide(&m(Failed)), Next::Measure);
        assert_eq!(r.decide(&m(Inconclusive)), Next::Measure);
        assert_eq!(r.decide(&m(Error)), Next::Measure);
        // Only the failed one counts toward the step's two.
        assert_eq!(r.decide(&m(Successful)), Next::StepDone);
        r.begin_step();
        assert_eq!(r.decide(&m(Successful)), Next::Measure);
        assert_eq!(
            r.decide(&m(Failed)),
            Next::Fail,
            "the second failure overall"
        );
        let mut r = run((1, 1, 4), 1);
        assert_eq!(r.decide(&m(Inconclusive)), Next::Measure);
        r.begin_step();
        assert_eq!(r.decide(&m(Inconclusive)), Next::Hold);
        assert_eq!(
            r.limit_text(Next::Hold),
            "2 inconclusive measurements > inconclusive limit 1"
        );
    }
}
