//! Deploy figures for dashboards, computed from the history: deployments by outcome, and
//! DORA's change-failure ratio and time to restore.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ops_core::exposition::{Encoder, Exposition, MetricType};
use serde::Serialize;

use crate::history::{History, Outcome, ReleaseRecord};

/// What the history says about a service's deploys, for `ops history --stats` and a
/// `/metrics` section ([`Exposition`]).
///
/// - **Deployments** by strategy and outcome: `healthy`, `rolled_back` (healthy once, then
///   replaced by `ops rollback`), `failed` (its checks or its analysis failed, or the deploy
///   was interrupted), `aborted` (refused before any change: preflight, a hook, the error
///   budget, a backup), `in_progress`.
/// - **Change failures** (DORA): releases that received production traffic (stop-start: from
///   their start; blue-green: from the switch; canary: from the first step) and then failed or
///   were rolled back. A release that failed its health check before any traffic reached it is
///   a failed deploy, not a change failure. The **change-failure ratio** is change failures
///   over releases that received traffic.
/// - **Time to restore** (DORA): per change failure, from its first production traffic until a
///   healthy release served again (the end of the automatic rollback, or the `ops rollback`);
///   the median over the history.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use ops_core::Exposition as _;
/// use ops_deploy::{DeployStats, History, Outcome, ReleaseRecord};
///
/// let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// let mut history = History::new("web");
/// for (id, outcome, live, took) in [("web-1", Outcome::Healthy, true, 5), ("web-2", Outcome::Failed, true, 40), ("web-3", Outcome::Failed, false, 3)] {
///     let mut r = ReleaseRecord::new(id, "web:x", "canary");
///     r.outcome = outcome;
///     r.started_at = t0;
///     r.live_at = live.then_some(t0 + Duration::from_secs(2));
///     r.finished_at = Some(t0 + Duration::from_secs(took));
///     history.upsert(r);
/// }
/// let stats = DeployStats::from_history(&history);
/// assert_eq!((stats.live, stats.change_failures), (2, 1));
/// assert_eq!(stats.change_failure_ratio, Some(0.5));
/// assert_eq!(stats.time_to_restore, Some(Duration::from_secs(38)));
/// let page = stats.to_prometheus();
/// assert!(page.contains("ops_deploy_deployments_total{service=\"web\",strategy=\"canary\",outcome=\"failed\"} 2\n"));
/// assert!(page.contains("ops_deploy_change_failure_ratio{service=\"web\"} 0.5\n"));
/// assert!(page.contains("ops_deploy_time_to_restore_seconds{service=\"web\"} 38\n"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct DeployStats {
    /// The service.
    pub service: String,
    /// Deploys by `(strategy, outcome)`.
    #[serde(serialize_with = "ser::strategy_outcome")]
    pub deployments: BTreeMap<(String, String), u64>,
    /// Analyses (canary, verification) by `(phase, verdict)`.
    #[serde(serialize_with = "ser::phase_verdict")]
    pub analyses: BTreeMap<(String, String), u64>,
    /// Releases that received production traffic.
    pub live: u64,
    /// Of which failed or were rolled back afterwards.
    pub change_failures: u64,
    /// `change_failures / live`; `None` before any release went live.
    pub change_failure_ratio: Option<f64>,
    /// The median time to restore over the change failures that have one.
    #[serde(serialize_with = "ser::opt_secs")]
    pub time_to_restore: Option<Duration>,
    /// Change failures whose restore time is known.
    pub restores: u64,
    /// When the newest deploy started.
    #[serde(serialize_with = "ser::opt_time")]
    pub last_deployment: Option<SystemTime>,
}

fn outcome_label(r: &ReleaseRecord) -> &'static str {
    match r.outcome {
        Outcome::Healthy => "healthy",
        Outcome::RolledBack => "rolled_back",
        Outcome::InProgress => "in_progress",
        Outcome::Failed
            if r.reason
                .as_deref()
                .is_some_and(|x| x.starts_with("aborted: ")) =>
        {
            "aborted"
        }
        _ => "failed",
    }
}

impl DeployStats {
    /// The figures of `history`.
    #[must_use]
    pub fn from_history(history: &History) -> DeployStats {
        let mut s = DeployStats {
            service: history.service.clone(),
            deployments: BTreeMap::new(),
            analyses: BTreeMap::new(),
            live: 0,
            change_failures: 0,
            change_failure_ratio: None,
            time_to_restore: None,
            restores: 0,
            last_deployment: None,
        };
        let mut restore_times = Vec::new();
        for r in &history.releases {
            *s.deployments
                .entry((r.strategy.clone(), outcome_label(r).to_owned()))
                .or_default() += 1;
            if let Some(a) = &r.analysis {
                *s.analyses
                    .entry((a.kind.clone(), a.verdict.as_str().to_owned()))
                    .or_default() += 1;
            }
            s.last_deployment = s.last_deployment.max(Some(r.started_at));
            // Records from before live_at was kept: a healthy or rolled-back release went live.
            let live =
                r.live_at.is_some() || matches!(r.outcome, Outcome::Healthy | Outcome::RolledBack);
            if !live {
                continue;
            }
            s.live += 1;
            let restored = match r.outcome {
                Outcome::Failed => r.finished_at,
                Outcome::RolledBack => r.restored_at,
                _ => continue,
            };
            s.change_failures += 1;
            let from = r.live_at.or(r.finished_at);
            if let (Some(from), Some(to)) = (from, restored)
                && let Ok(took) = to.duration_since(from)
            {
                restore_times.push(took);
            }
        }
        if s.live > 0 {
            s.change_failure_ratio = Some(s.change_failures as f64 / s.live as f64);
        }
        restore_times.sort_unstable();
        s.restores = restore_times.len() as u64;
        s.time_to_restore = median(&restore_times);
        s
    }
}

fn median(sorted: &[Duration]) -> Option<Duration> {
    match sorted.len() {
        0 => None,
        n if n % 2 == 1 => Some(sorted[n / 2]),
        n => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2),
    }
}

impl Exposition for DeployStats {
    fn encode_prometheus(&self, out: &mut String) {
        let service = self.service.as_str();
        let mut e = Encoder::new(out);
        e.family(
            "ops_deploy_deployments_total",
            "Deploys recorded in the history, by strategy and outcome (healthy, rolled_back, failed, aborted, in_progress).",
            MetricType::Counter,
        );
        for ((strategy, outcome), n) in &self.deployments {
            e.sample(
                "ops_deploy_deployments_total",
                &[
                    ("service", service),
                    ("strategy", strategy),
                    ("outcome", outcome),
                ],
                *n,
            );
        }
        e.family(
            "ops_deploy_analyses_total",
            "Canary analyses and blue-green verifications, by phase (canary, verify) and verdict (passed, failed, error, inconclusive, aborted, in_progress).",
            MetricType::Counter,
        );
        for ((phase, verdict), n) in &self.analyses {
            e.sample(
                "ops_deploy_analyses_total",
                &[("service", service), ("phase", phase), ("verdict", verdict)],
                *n,
            );
        }
        e.single_labelled(
            "ops_deploy_live_releases_total",
            "Releases that received production traffic.",
            MetricType::Counter,
            service,
            self.live,
        );
        e.single_labelled(
            "ops_deploy_change_failures_total",
            "Releases that failed or were rolled back after receiving production traffic (DORA change failures).",
            MetricType::Counter,
            service,
            self.change_failures,
        );
        if let Some(ratio) = self.change_failure_ratio {
            e.single_labelled(
                "ops_deploy_change_failure_ratio",
                "Change failures over releases that received production traffic (DORA).",
                MetricType::Gauge,
                service,
                ratio,
            );
        }
        if let Some(t) = self.time_to_restore {
            e.single_labelled(
                "ops_deploy_time_to_restore_seconds",
                "Median time from a change failure's first production traffic until a healthy release served again (DORA).",
                MetricType::Gauge,
                service,
                t.as_secs_f64(),
            );
        }
        if let Some(t) = self.last_deployment {
            e.single_labelled(
                "ops_deploy_last_deployment_timestamp_seconds",
                "When the newest deploy started, in seconds since the Unix epoch.",
                MetricType::Gauge,
                service,
                t.duration_since(UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64()),
            );
        }
    }
}

/// A family with one series labelled by `service`.
trait SingleLabelled {
    fn single_labelled(
        &mut self,
        name: &str,
        help: &str,
        kind: MetricType,
        service: &str,
        value: impl ops_core::exposition::ExpositionValue,
    );
}

impl SingleLabelled for Encoder<'_> {
    fn single_labelled(
        &mut self,
        name: &str,
        help: &str,
        kind: MetricType,
        service: &str,
        value: impl ops_core::exposition::ExpositionValue,
    ) {
        self.family(name, help, kind);
        self.sample(name, &[("service", service)], value);
    }
}

/// How [`DeployStats`] serializes (`ops history --stats --json`).
mod ser {
    use std::collections::BTreeMap;
    use std::time::{Duration, SystemTime};

    use serde::{Serialize as _, Serializer};

    /// Counts by a pair of labels.
    type Pairs = BTreeMap<(String, String), u64>;

    /// `[{"<first>": …, "<second>": …, "count": n}, …]`.
    fn pairs<S: Serializer>(m: &Pairs, keys: (&str, &str), s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            m.iter()
                .map(|((a, b), n)| serde_json::json!({ keys.0: a, keys.1: b, "count": n })),
        )
    }

    pub(super) fn strategy_outcome<S: Serializer>(m: &Pairs, s: S) -> Result<S::Ok, S::Error> {
        pairs(m, ("strategy", "outcome"), s)
    }

    pub(super) fn phase_verdict<S: Serializer>(m: &Pairs, s: S) -> Result<S::Ok, S::Error> {
        pairs(m, ("phase", "verdict"), s)
    }

    /// Seconds (fractional), or `null`.
    #[allow(clippy::ref_option)]
    pub(super) fn opt_secs<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        d.map(|d| d.as_secs_f64()).serialize(s)
    }

    /// RFC 3339 to the second, or `null`.
    #[allow(clippy::ref_option)]
    pub(super) fn opt_time<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
        t.map(|t| humantime::format_rfc3339_seconds(t).to_string())
            .serialize(s)
    }
}
