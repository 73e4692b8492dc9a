//! The stateful evaluator: Prometheus's alerting-rule semantics, plus hysteresis and flap
//! detection. Time is passed in (no clock inside), so tests are exact.

use std::time::{Duration, SystemTime};

use ops_metrics::SystemMetrics;
use ops_profiler::Report;

use crate::metric::{NetworkMemo, for_each_value};
use crate::rule::{Rule, RuleSet};
use crate::template;

/// How long a resolved alert is kept (and its resolution re-sent), as Prometheus.
pub const RESOLVED_RETENTION: Duration = Duration::from_mins(15);

/// Where an alert instance is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertState {
    /// Not breaching (or resolved).
    Inactive,
    /// Breaching for less than `for`.
    Pending,
    /// Firing.
    Firing,
}

impl AlertState {
    /// `inactive`, `pending`, `firing`.
    pub fn name(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// What an evaluation observes: a system sample and, optionally, a profiler report.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    /// The system sample.
    pub metrics: &'a SystemMetrics,
    /// Per-function figures, for `function_*` metrics.
    pub profile: Option<&'a Report>,
}

/// One alert to deliver: firing (again) or resolved, with the payload Prometheus sends.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The rule's name.
    pub alertname: String,
    /// Labels: `alertname`, `severity`, the instance label if any, and the rule's labels.
    pub labels: Vec<(String, String)>,
    /// Rendered annotations (`summary` is the message).
    pub annotations: Vec<(String, String)>,
    /// Firing or resolved.
    pub resolved: bool,
    /// When the alert started firing.
    pub starts_at: SystemTime,
    /// When it resolved, or — while firing — `now + 4 × max(interval, resend delay)`, so a
    /// receiver resolves it by itself if the sender dies.
    pub ends_at: SystemTime,
    /// The last value seen.
    pub value: f64,
}

impl Notification {
    /// The `summary` annotation, or the alert name.
    pub fn message(&self) -> &str {
        self.annotations
            .iter()
            .find(|(k, _)| k == "summary")
            .map_or(self.alertname.as_str(), |(_, v)| v.as_str())
    }

    /// A label's value.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Nagios flap detection: the last 21 states, weighted state changes.
#[derive(Debug, Clone, Copy, Default)]
struct FlapHistory {
    states: u32,
    len: u8,
    flapping: bool,
}

impl FlapHistory {
    const SIZE: u8 = 21;

    /// Records one check and returns the percent state change (Nagios `flapping.c`).
    fn record(&mut self, breaching: bool, low: f64, high: f64) -> f64 {
        self.states = ((self.states << 1) | u32::from(breaching)) & ((1 << Self::SIZE) - 1);
        self.len = (self.len + 1).min(Self::SIZE);
        if self.len < Self::SIZE {
            return 0.0;
        }
        // Oldest first: x = 1..=20 over the 20 transitions; weight 0.75 + (x−1)·0.5/19.
        let mut pct = 0.0;
        for x in 1..=20u32 {
            let older = (self.states >> (21 - x)) & 1;
            let newer = (self.states >> (20 - x)) & 1;
            if older != newer {
                pct += 0.75 + f64::from(x - 1) * (0.5 / 19.0);
            }
        }
        let pct = pct * 100.0 / 20.0;
        if !self.flapping && pct >= high {
            self.flapping = true;
        } else if self.flapping && pct <= low {
            self.flapping = false;
        }
        pct
    }
}

#[derive(Debug, Clone)]
struct Instance {
    /// The instance label's value ("" for single-instance metrics).
    key: String,
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

/// The current state of one alert instance, for status pages and metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertStatus {
    /// The rule's name.
    pub alertname: String,
    /// The instance label (`mount`, `interface`, `function`) and its value, if any.
    pub instance: Option<(&'static str, String)>,
    /// The state.
    pub state: AlertState,
    /// The last value seen.
    pub value: f64,
    /// Whether flap detection currently holds notifications back.
    pub flapping: bool,
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
#[derive(Debug)]
pub struct Evaluator {
    rules: Vec<Rule>,
    instances: Vec<Vec<Instance>>,
    interval: Duration,
    resend_delay: Duration,
    network: NetworkMemo,
    scratch: Vec<(usize, f64)>,
}

impl Evaluator {
    /// An evaluator for `rules`.
    pub fn new(rules: RuleSet) -> Evaluator {
        let n = rules.rules.len();
        Evaluator {
            rules: rules.rules,
            instances: vec![Vec::new(); n],
            interval: rules.interval,
            resend_delay: rules.resend_delay,
            network: NetworkMemo::default(),
            scratch: Vec::new(),
        }
    }

    /// The rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Evaluates one observation taken at `now`, appending what must be delivered to `out`.
    pub fn evaluate(&mut self, now: SystemTime, obs: Observation<'_>, out: &mut Vec<Notification>) {
        for r in 0..self.rules.len() {
            self.evaluate_rule(r, now, obs);
            self.collect(r, now, out);
        }
        self.network.remember(obs.metrics);
    }

    // One function on purpose: it reads top to bottom like Prometheus's `AlertingRule.Eval`.
    #[allow(clippy::too_many_lines)]
    fn evaluate_rule(&mut self, r: usize, now: SystemTime, obs: Observation<'_>) {
        let rule = &self.rules[r];
        for inst in &mut self.instances[r] {
            inst.seen = false;
        }
        // Gather (instance index or new, value) first: `values` borrows self.
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let mut fresh: Vec<(String, f64)> = Vec::new();
        {
            let instances = &self.instances[r];
            let selector = rule.selector.as_deref();
            for_each_value(&rule.metric, selector, obs, &self.network, |key, value| {
                let active = instances.iter().position(|i| i.key == key);
                // Hysteresis applies to a firing alert: it clears only past the recovery value.
                // A pending one is dropped on the first sample that does not breach.
                let was_firing = active.is_some_and(|i| instances[i].state == AlertState::Firing);
                let breaching = if was_firing {
                    match rule.recovery {
                        // Hysteresis: active until the value is past the recovery threshold.
                        Some(rec) => {
                            if rule.comparison.is_upper() {
                                value >= rec
                            } else {
                                value <= rec
                            }
                        }
                        None => rule.comparison.breached(value, rule.threshold),
                    }
                } else {
                    rule.comparison.breached(value, rule.threshold)
                };
                if !value.is_finite() {
                    return;
                }
                match active {
                    Some(i) => scratch.push((if breaching { i } else { usize::MAX - i }, value)),
                    None if breaching || rule.flap.is_some() => {
                        fresh.push((key.to_owned(), if breaching { value } else { f64::NAN }));
                    }
                    None => {}
                }
            });
        }
        let flap = rule.flap;
        let instances = &mut self.instances[r];
        for (key, value) in fresh {
            let breaching = !value.is_nan();
            let mut inst = Instance {
                key,
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
                out.push(AlertStatus {
                    alertname: rule.name.clone(),
                    instance: rule
                        .metric
                        .instance_label()
                        .filter(|_| !inst.key.is_empty())
                        .map(|l| (l, inst.key.clone())),
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

/// The labels of one alert instance: `alertname`, `severity`, the instance label (when the
/// instance has a key), then the rule's labels (a rule label overrides one of these).
pub(crate) fn alert_labels(rule: &Rule, key: &str) -> Vec<(String, String)> {
    let mut labels = vec![
        ("alertname".to_owned(), rule.name.clone()),
        ("severity".to_owned(), rule.severity.as_str().to_owned()),
    ];
    if let Some(label) = rule.metric.instance_label()
        && !key.is_empty()
    {
        labels.push((label.to_owned(), key.to_owned()));
    }
    for (k, v) in &rule.labels {
        if let Some(slot) = labels.iter_mut().find(|(key, _)| key == k) {
            slot.1.clone_from(v);
        } else {
            labels.push((k.clone(), v.clone()));
        }
    }
    labels
}

/// The rule's annotations rendered for `value`, with a `summary` made up when the rule has
/// none (`Name: metric instance 91.5 > 90.0`).
pub(crate) fn render_annotations(
    rule: &Rule,
    labels: &[(String, String)],
    value: f64,
) -> Vec<(String, String)> {
    let mut annotations: Vec<(String, String)> = rule
        .annotations
        .iter()
        .map(|(k, t)| {
            (
                k.clone(),
                template::render(t, value, rule.threshold, &rule.name, labels),
            )
        })
        .collect();
    if !annotations.iter().any(|(k, _)| k == "summary") {
        let what = match labels
            .iter()
            .find(|(k, _)| k == "mount" || k == "interface" || k == "function")
        {
            Some((_, v)) => format!("{} {v}", rule.metric.name()),
            None => rule.metric.name().to_owned(),
        };
        annotations.push((
            "summary".into(),
            format!(
                "{}: {what} {:.1} {} {:.1}",
                rule.name,
                value,
                rule.comparison.symbol(),
                rule.threshold
            ),
        ));
    }
    annotations
}

fn notification(
    rule: &Rule,
    inst: &Instance,
    now: SystemTime,
    valid_for: Duration,
) -> Notification {
    let labels = alert_labels(rule, &inst.key);
    let annotations = render_annotations(rule, &labels, inst.value);
    let resolved = inst.state == AlertState::Inactive;
    Notification {
        alertname: rule.name.clone(),
        labels,
        annotations,
        resolved,
        starts_at: inst.fired_at,
        ends_at: if resolved {
            inst.resolved_at.unwrap_or(now)
        } else {
            // A lease far in the future if `now + valid_for` does not fit.
            now.checked_add(valid_for)
                .or_else(|| now.checked_add(Duration::from_hours(100 * 365 * 24)))
                .unwrap_or(now)
        },
        value: inst.value,
    }
}
