//! The stateful evaluator: Prometheus's alerting-rule semantics, plus hysteresis and flap
//! detection. Time is passed in (no clock inside), so tests are exact.

mod alert;
mod flap;
mod payload;

use std::time::{Duration, SystemTime};

use ops_core::exposition::Exposition as _;
use ops_promql::Store;

pub use self::alert::{AlertState, AlertStatus, Notification, Observation};
use self::flap::FlapHistory;
use self::payload::notification;
pub(crate) use self::payload::{alert_labels, render_annotations};
use crate::metric::{NetworkMemo, for_each_value};
use crate::rule::{Rule, RuleSet};

/// How long a resolved alert is kept (and its resolution re-sent), as Prometheus.
pub const RESOLVED_RETENTION: Duration = Duration::from_mins(15);

#[derive(Debug, Clone)]
struct Instance {
    /// The instance label's value ("" for single-instance metrics); a `PromQL` rule's sample
    /// labels as text.
    key: String,
    /// A `PromQL` rule's sample labels (without the metric name); empty for threshold rules.
    labels: Vec<(String, String)>,
    state: AlertState,
    active_at: SystemTime,
    fired_at: SystemTime,
    resolved_at: Option<SystemTime>,
    keep_firing_since: Option<SystemTime>,
    last_sent: Option<SystemTime>,
    value: f64,
    seen: bool,
    /// Consecutive evaluations spent inactive outside the resolved retention (kept only for flap
    /// history; dropped after 21, so churning instances do not pile up).
    idle: u32,
    flap: FlapHistory,
}
/// Evaluates a [`RuleSet`] sample after sample.
///
/// Semantics, per rule and instance (Prometheus `rules/alerting.go`): a breaching sample makes an
/// inactive instance *pending* (`active_at = now`); a pending instance fires when
/// `now − active_at ≥ for`; the first sample that does not breach drops a pending instance; a
/// firing one stays firing while `now − first_clear < keep_firing_for`, then resolves. Firing
/// alerts are sent when they start and re-sent every `resend_delay`; a resolution is sent at once
/// and re-sent for 15 minutes. With a recovery threshold an active instance keeps breaching until
/// the value is past it (hysteresis). With flap detection, notifications wait while it flaps.
///
/// Evaluating allocates nothing once every instance exists and nothing is sent.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use ops_metrics::SystemMetrics;
/// use ops_thresholds::{Evaluator, Observation, RuleSet};
///
/// let mut eval = Evaluator::new(RuleSet::defaults());
/// let mut sample = SystemMetrics::empty(SystemTime::now());
/// sample.cpu_percent = Some(93.2);
/// let mut out = Vec::new();
/// eval.evaluate(SystemTime::now(), Observation { metrics: &sample, profile: None }, &mut out);
/// assert_eq!(out[0].message(), "High CPU usage: 93.2%");
/// ```
pub struct Evaluator {
    rules: Vec<Rule>,
    /// The value expression of each windowed threshold rule (`None` for the others).
    windowed: Vec<Option<ops_promql::Expr>>,
    instances: Vec<Vec<Instance>>,
    interval: Duration,
    resend_delay: Duration,
    network: NetworkMemo,
    /// The series that windowed and `PromQL` rules read; `None` when no rule needs one.
    store: Option<Store>,
    /// Per rule: whether its last evaluation failed (so the failure is logged once).
    failing: Vec<bool>,
    failures: u64,
    scratch: Vec<(usize, f64)>,
    page: String,
}

impl std::fmt::Debug for Evaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluator")
            .field("rules", &self.rules.len())
            .field("store", &self.store.as_ref().map(Store::series_count))
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

/// A new instance seen this evaluation: key, sample labels, value (NaN when not breaching).
type Fresh = (String, Vec<(String, String)>, f64);

/// The source name of the pages [`Evaluator::evaluate`] ingests itself.
const OBSERVATION: &str = "observation";

impl Evaluator {
    /// An evaluator for `rules`. Rules over windows (the `function_*` metrics) and `PromQL`
    /// rules read a series store the evaluator keeps, holding as much history as the longest
    /// window needs (plus Prometheus's 5-minute lookback).
    pub fn new(rules: RuleSet) -> Evaluator {
        let n = rules.rules.len();
        let windowed: Vec<Option<ops_promql::Expr>> = rules
            .rules
            .iter()
            .map(|rule| {
                let t = rule.threshold().filter(|t| t.metric.is_windowed())?;
                let text = crate::metric::promql_value(&t.metric, t.selector.as_deref(), t.window);
                // Built from a validated metric and window: it parses, or the rule never fires
                // (and the failure is counted at evaluation).
                ops_promql::Expr::parse(&text).ok()
            })
            .collect();
        let mut history = Duration::ZERO;
        let mut needs_store = false;
        for (rule, w) in rules.rules.iter().zip(&windowed) {
            if let Some(expr) = w {
                needs_store = true;
                history = history.max(expr.history());
            }
            if let crate::rule::Condition::Promql(p) = &rule.condition {
                needs_store = true;
                history = history.max(p.expr().history());
            }
        }
        let store = needs_store.then(|| {
            // Two intervals more than the longest window (and lookback) need.
            let retention = history.saturating_add(rules.interval.saturating_mul(2));
            Store::builder(retention)
                .min_interval(rules.interval)
                .build()
        });
        Evaluator {
            rules: rules.rules,
            windowed,
            instances: vec![Vec::new(); n],
            interval: rules.interval,
            resend_delay: rules.resend_delay,
            network: NetworkMemo::default(),
            store,
            failing: vec![false; n],
            failures: 0,
            scratch: Vec::new(),
            page: String::new(),
        }
    }

    /// The rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Whether some rule reads the series store (a windowed or `PromQL` rule).
    pub fn uses_store(&self) -> bool {
        self.store.is_some()
    }

    /// Appends a Prometheus text page to the series store at `at` (a registry of application
    /// metrics, a page section): `PromQL` rules can then read its families. `source` names the
    /// page, so a series it stops sending is marked stale, as after a Prometheus scrape. A
    /// no-op when no rule reads the store.
    pub fn ingest(&mut self, source: &str, page: &str, at: SystemTime) {
        if let Some(store) = &mut self.store {
            store.ingest_from(source, page, at);
        }
    }

    /// The series store, when a rule reads one.
    pub fn store(&self) -> Option<&Store> {
        self.store.as_ref()
    }

    /// Evaluations that failed (a `PromQL` error such as many-to-many matching); each is
    /// logged at WARN when a rule starts failing.
    pub fn failures(&self) -> u64 {
        self.failures
    }

    /// Evaluates one observation taken at `now`, appending what must be delivered to `out`.
    /// When a rule reads the series store, the observation (its system sample and profiler
    /// report, as the page shows them) is ingested at `now` first.
    pub fn evaluate(&mut self, now: SystemTime, obs: Observation<'_>, out: &mut Vec<Notification>) {
        if let Some(store) = &mut self.store {
            self.page.clear();
            obs.metrics.encode_prometheus(&mut self.page);
            if let Some(report) = obs.profile {
                report.encode_prometheus(&mut self.page);
            }
            store.ingest_from(OBSERVATION, &self.page, now);
        }
        for r in 0..self.rules.len() {
            self.evaluate_rule(r, now, obs);
            self.collect(r, now, out);
        }
        self.network.remember(obs.metrics);
    }

    /// The current values of rule `r`: `(instance key, labels, value, breaching hint)` through
    /// `f`. Returns `false` when the rule could not be evaluated (its states are left as they
    /// are, as Prometheus leaves a rule whose query failed).
    fn gather(
        &mut self,
        r: usize,
        now: SystemTime,
        obs: Observation<'_>,
        f: &mut dyn FnMut(&str, Option<&ops_promql::Labels>, f64),
    ) -> bool {
        let rule = &self.rules[r];
        let result = match (&rule.condition, &self.windowed[r]) {
            (crate::rule::Condition::Threshold(t), None) => {
                for_each_value(
                    &t.metric,
                    t.selector.as_deref(),
                    obs,
                    &self.network,
                    |k, v| {
                        f(k, None, v);
                    },
                );
                return true;
            }
            (crate::rule::Condition::Threshold(_), Some(expr)) => self
                .store
                .as_ref()
                .map(|store| expr.eval(store, now).map(|v| (v, true))),
            (crate::rule::Condition::Promql(p), _) => self
                .store
                .as_ref()
                .map(|store| p.expr().eval(store, now).map(|v| (v, false))),
        };
        let outcome = match result {
            Some(Ok((ops_promql::Value::Vector(samples), windowed))) => {
                for s in &samples {
                    if windowed {
                        f(s.labels.get("function").unwrap_or(""), None, s.value);
                    } else {
                        f(&s.labels.to_string(), Some(&s.labels), s.value);
                    }
                }
                Ok(())
            }
            Some(Ok((ops_promql::Value::Scalar(_), _))) => {
                Err("the expression returns a scalar; an alert needs a vector".to_owned())
            }
            Some(Err(e)) => Err(e.to_string()),
            None => Err("no series store".to_owned()),
        };
        match outcome {
            Ok(()) => {
                self.failing[r] = false;
                true
            }
            Err(reason) => {
                self.failures += 1;
                if !std::mem::replace(&mut self.failing[r], true) {
                    tracing::warn!(target: "ops_thresholds", rule = %self.rules[r].name, %reason, "rule evaluation failed; its alerts keep their state until it succeeds");
                }
                false
            }
        }
    }

    // One function on purpose: it reads top to bottom like Prometheus's `AlertingRule.Eval`.
    #[allow(clippy::too_many_lines)]
    fn evaluate_rule(&mut self, r: usize, now: SystemTime, obs: Observation<'_>) {
        // Gather (instance index or new, value) first: `gather` borrows self.
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let mut fresh: Vec<Fresh> = Vec::new();
        let instances = std::mem::take(&mut self.instances[r]);
        let threshold = self.rules[r].threshold().cloned();
        let promql_rule = threshold.is_none();
        // PromQL rules can have many instances: find them by key through a map.
        let index: Option<std::collections::HashMap<&str, usize>> = promql_rule.then(|| {
            instances
                .iter()
                .enumerate()
                .map(|(i, inst)| (inst.key.as_str(), i))
                .collect()
        });
        let has_flap = self.rules[r].flap.is_some();
        let evaluated = self.gather(r, now, obs, &mut |key, labels, value| {
            let active = match &index {
                Some(map) => map.get(key).copied(),
                None => instances.iter().position(|i| i.key == key),
            };
            let breaching = match &threshold {
                // Every sample of a PromQL condition is an active alert.
                None => true,
                Some(t) => {
                    // Hysteresis applies to a firing alert: it clears only past the recovery
                    // value. A pending one is dropped on the first sample that does not breach.
                    let was_firing =
                        active.is_some_and(|i| instances[i].state == AlertState::Firing);
                    match (was_firing, t.recovery) {
                        (true, Some(rec)) if t.comparison.is_upper() => value >= rec,
                        (true, Some(rec)) => value <= rec,
                        _ => t.comparison.breached(value, t.threshold),
                    }
                }
            };
            if !value.is_finite() && !promql_rule {
                return;
            }
            match active {
                Some(i) => scratch.push((if breaching { i } else { usize::MAX - i }, value)),
                None if breaching || has_flap => {
                    let labels = labels.map_or_else(Vec::new, |l| {
                        l.iter()
                            .filter(|(k, _)| *k != ops_promql::METRIC_NAME)
                            .map(|(k, v)| (k.to_owned(), v.to_owned()))
                            .collect()
                    });
                    fresh.push((
                        key.to_owned(),
                        labels,
                        if breaching { value } else { f64::NAN },
                    ));
                }
                None => {}
            }
        });
        drop(index);
        self.instances[r] = instances;
        if !evaluated {
            // As Prometheus after a failed query: no state changes this round.
            self.scratch = scratch;
            return;
        }
        let rule = &self.rules[r];
        for inst in &mut self.instances[r] {
            inst.seen = false;
        }
        let flap = rule.flap;
        let instances = &mut self.instances[r];
        for (key, labels, value) in fresh {
            let breaching = if promql_rule { true } else { !value.is_nan() };
            let mut inst = Instance {
                key,
                labels,
                state: AlertState::Inactive,
                active_at: now,
                fired_at: now,
                resolved_at: None,
                keep_firing_since: None,
                last_sent: None,
                value,
                seen: false,
                idle: 0,
                flap: FlapHistory::default(),
            };
            if let Some(f) = flap {
                inst.flap.record(breaching, f.low, f.high);
            }
            if breaching {
                inst.state = AlertState::Pending;
                inst.seen = true;
            }
            instances.push(inst);
        }
        for &(code, value) in &scratch {
            let (i, breaching) = if code > usize::MAX / 2 {
                (usize::MAX - code, false)
            } else {
                (code, true)
            };
            let inst = &mut instances[i];
            if let Some(f) = flap {
                inst.flap.record(breaching, f.low, f.high);
            }
            if !breaching {
                // As Prometheus, an alert keeps the value (and so the annotations) of the last
                // evaluation where it was active.
                continue;
            }
            inst.seen = true;
            inst.idle = 0;
            if inst.state == AlertState::Inactive {
                // A resolved instance in retention starts again as a new pending alert.
                inst.state = AlertState::Pending;
                inst.active_at = now;
                inst.resolved_at = None;
                inst.last_sent = None;
            }
            inst.value = value;
            inst.keep_firing_since = None;
        }
        self.scratch = scratch;
        // Absent or no longer breaching.
        let rule = &self.rules[r];
        instances.retain_mut(|inst| {
            if !inst.seen {
                let mut keep_firing = false;
                if inst.state == AlertState::Firing && !rule.keep_firing_for.is_zero() {
                    let since = *inst.keep_firing_since.get_or_insert(now);
                    keep_firing = elapsed(since, now) < rule.keep_firing_for;
                }
                if inst.state == AlertState::Pending {
                    // Dropped at once; keep the entry only for flap history.
                    inst.state = AlertState::Inactive;
                    return rule.flap.is_some();
                }
                if let Some(resolved) = inst.resolved_at
                    && elapsed(resolved, now) > RESOLVED_RETENTION
                {
                    // Retention over: forget the alert; with flap detection keep its history only.
                    inst.resolved_at = None;
                    inst.last_sent = None;
                    return rule.flap.is_some();
                }
                if inst.state != AlertState::Inactive && !keep_firing {
                    inst.state = AlertState::Inactive;
                    inst.resolved_at = Some(now);
                }
                if !keep_firing {
                    if inst.state == AlertState::Inactive && inst.resolved_at.is_none() {
                        inst.idle += 1;
                        return inst.idle <= u32::from(FlapHistory::SIZE);
                    }
                    return true;
                }
            }
            if inst.state == AlertState::Pending
                && elapsed(inst.active_at, now) >= rule.for_duration
            {
                inst.state = AlertState::Firing;
                inst.fired_at = now;
            }
            true
        });
    }

    fn collect(&mut self, r: usize, now: SystemTime, out: &mut Vec<Notification>) {
        let rule = &self.rules[r];
        let valid_for = self.interval.max(self.resend_delay).saturating_mul(4);
        let resend = self.resend_delay;
        let resend_due = move |sent: SystemTime| sent.checked_add(resend).is_some_and(|t| t < now);
        for inst in &mut self.instances[r] {
            if inst.state == AlertState::Pending || inst.flap.flapping {
                continue;
            }
            // Prometheus's `needsSending`: a resolution not sent yet, or the resend delay passed
            // (a never-sent alert counts as sent at the epoch).
            let due = match (inst.resolved_at, inst.last_sent) {
                (Some(res), Some(sent)) => res > sent || resend_due(sent),
                (Some(_), None) => true,
                (None, Some(sent)) => resend_due(sent),
                (None, None) => inst.state == AlertState::Firing,
            };
            if !due {
                continue;
            }
            inst.last_sent = Some(now);
            out.push(notification(rule, inst, now, valid_for));
        }
    }

    /// Every instance that is pending or firing (or flapping), for status pages.
    pub fn statuses(&self) -> Vec<AlertStatus> {
        let mut out = Vec::new();
        for (rule, instances) in self.rules.iter().zip(&self.instances) {
            for inst in instances {
                if inst.state == AlertState::Inactive && !inst.flap.flapping {
                    continue;
                }
                let instance = rule
                    .instance_label()
                    .filter(|_| !inst.key.is_empty())
                    .map(|l| (l, inst.key.clone()));
                let labels = match &instance {
                    Some((l, v)) => vec![((*l).to_owned(), v.clone())],
                    None => inst.labels.clone(),
                };
                out.push(AlertStatus {
                    alertname: rule.name.clone(),
                    instance,
                    labels,
                    state: inst.state,
                    value: inst.value,
                    flapping: inst.flap.flapping,
                });
            }
        }
        out
    }
}

fn elapsed(since: SystemTime, now: SystemTime) -> Duration {
    now.duration_since(since).unwrap_or_default()
}
