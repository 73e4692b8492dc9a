//! Check mode: a rule set against one sample, as a Nagios/Icinga plugin reports it.

use ops_metrics::SystemMetrics;

use super::{CheckResult, PerfData, Range, Status};
use ops_core::exposition::Exposition as _;

use crate::evaluator::{Observation, alert_labels, render_annotations};
use crate::metric::{Metric, NetworkMemo, for_each_value};
use crate::rule::{Comparison, Condition, Rule, RuleSet, Threshold};

/// A rule's threshold as a Monitoring Plugins range that alerts exactly when the rule does:
/// `>` t → `~:t` (outside (−∞, t]), `>=` t → `@t:` (inside [t, ∞)), `<` t → `t:`,
/// `<=` t → `@~:t`. Ranges are inclusive, so the `@` forms are what make equality alert.
///
/// ```
/// use ops_thresholds::{Comparison, Metric, Rule};
/// let rule = Rule::new("Cpu", Metric::Cpu, Comparison::GreaterOrEqual, 80.0);
/// assert_eq!(ops_thresholds::nagios::rule_range(rule.threshold().unwrap()).to_string(), "@80:");
/// ```
pub fn rule_range(threshold: &Threshold) -> Range {
    let t = threshold.threshold;
    let (start, end, inside) = match threshold.comparison {
        Comparison::Greater => (f64::NEG_INFINITY, t, false),
        Comparison::GreaterOrEqual => (t, f64::INFINITY, true),
        Comparison::Less => (t, f64::INFINITY, false),
        Comparison::LessOrEqual => (f64::NEG_INFINITY, t, true),
    };
    Range { start, end, inside }
}

/// Why one sample cannot answer a threshold, or `None` when it can.
fn unanswerable(t: &Threshold, found: usize) -> Option<String> {
    if found > 0 {
        return None;
    }
    let metric = &t.metric;
    match metric {
        Metric::NetworkRx | Metric::NetworkTx => Some(format!(
            "`{}` is a rate: one sample cannot give it",
            metric.name()
        )),
        Metric::FunctionP50
        | Metric::FunctionP90
        | Metric::FunctionP99
        | Metric::FunctionAvg
        | Metric::FunctionErrorRatio => Some(format!(
            "`{}` needs a profiler report, which a system sample does not carry",
            metric.name()
        )),
        // No mount selected and none measured: nothing to check.
        Metric::Disk => t
            .selector
            .as_ref()
            .map(|want| format!("no disk {want} in the sample")),
        _ => Some(format!("no {} figure in the sample", metric.name())),
    }
}

/// A store holding the sample, when a `PromQL` rule needs one.
fn one_sample_store(rules: &RuleSet, sample: &SystemMetrics) -> Option<ops_promql::Store> {
    rules
        .rules
        .iter()
        .any(|r| matches!(r.condition, Condition::Promql(_)))
        .then(|| {
            let mut store = ops_promql::Store::new(std::time::Duration::from_mins(10));
            store.ingest(&sample.to_prometheus(), sample.timestamp);
            store
        })
}

/// A sample's labels (without the metric name) and value.
type LabelledValue = (Vec<(String, String)>, f64);

/// The samples of a `PromQL` condition over a one-sample store: `(labels, value)` each.
fn promql_samples(
    condition: &crate::rule::PromqlCondition,
    store: Option<&ops_promql::Store>,
    at: std::time::SystemTime,
) -> Result<Vec<LabelledValue>, String> {
    let store = store.ok_or("no series store")?;
    match condition.expr().eval(store, at) {
        Ok(ops_promql::Value::Vector(found)) => Ok(found
            .into_iter()
            .map(|s| {
                let labels = s
                    .labels
                    .without_metric_name()
                    .iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect();
                (labels, s.value)
            })
            .collect()),
        Ok(ops_promql::Value::Scalar(_)) => Err("the expression returns a scalar".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Checks every rule against one sample, as `ops check` does: the worst state of the breached
/// rules (a `critical` or `page` rule is CRITICAL, any other WARNING), their messages as the
/// text, and one performance-data item per value with the rule's threshold as the warning or
/// critical range. A rule that one sample cannot answer (a rate, a profiler figure, a mount
/// that is not there) makes the result UNKNOWN, naming the rule: silence would read as OK.
///
/// Linear in the number of rules; the values come from the same table the evaluator reads.
///
/// ```
/// use std::time::SystemTime;
/// use ops_metrics::SystemMetrics;
/// use ops_thresholds::{RuleSet, nagios::{self, Status}};
///
/// let mut sample = SystemMetrics::empty(SystemTime::now());
/// sample.cpu_percent = Some(93.2);
/// sample.memory_percent = 40.0;
/// let result = nagios::check(&RuleSet::defaults(), &sample);
/// assert_eq!(result.status, Status::Warning);
/// assert_eq!(
///     result.to_string(),
///     "OPS WARNING: High CPU usage: 93.2% | HighCpuUsage=93.2%;~:80;;0;100 HighMemoryUsage=40%;~:85;;0;100"
/// );
/// ```
pub fn check(rules: &RuleSet, sample: &SystemMetrics) -> CheckResult {
    let obs = Observation {
        metrics: sample,
        profile: None,
    };
    let memo = NetworkMemo::default();
    // PromQL rules read a store holding this one sample: instant expressions answer, rates
    // over it return nothing.
    let store = one_sample_store(rules, sample);
    let unknown = |rule: &Rule, reason: String| CheckResult {
        service: "OPS".into(),
        status: Status::Unknown,
        text: format!("rule {:?} cannot be checked: {reason}", rule.name),
        perfdata: Vec::new(),
    };
    let mut status = Status::Ok;
    let mut alerts = Vec::new();
    let mut perfdata = Vec::new();
    let mut values: Vec<(String, f64)> = Vec::new();
    for rule in &rules.rules {
        let critical = rule.severity.is_critical();
        let breached = if critical {
            Status::Critical
        } else {
            Status::Warning
        };
        let message = |key: &str, sample_labels: &[(String, String)], value: f64| {
            let labels = alert_labels(rule, key, sample_labels);
            render_annotations(rule, &labels, value)
                .into_iter()
                .find(|(k, _)| k == "summary")
                .map_or_else(|| format!("{} {key} {value:.1}", rule.name), |(_, v)| v)
        };
        let t = match &rule.condition {
            Condition::Threshold(t) => t,
            Condition::Promql(p) => {
                match promql_samples(p, store.as_ref(), sample.timestamp) {
                    Ok(found) => {
                        for (labels, value) in found {
                            status = status.worst(breached);
                            alerts.push(message("", &labels, value));
                        }
                    }
                    Err(reason) => return unknown(rule, reason),
                }
                continue;
            }
        };
        if t.metric.is_windowed() {
            return unknown(
                rule,
                format!(
                    "`{}` is computed over a window of a profiler's figures, which a system sample does not carry",
                    t.metric.name()
                ),
            );
        }
        values.clear();
        for_each_value(&t.metric, t.selector.as_deref(), obs, &memo, |key, v| {
            values.push((key.to_owned(), v));
        });
        if let Some(reason) = unanswerable(t, values.len()) {
            return unknown(rule, reason);
        }
        let range = rule_range(t);
        for (key, value) in values.drain(..) {
            if t.comparison.breached(value, t.threshold) {
                status = status.worst(breached);
                alerts.push(message(&key, &[], value));
            }
            let label = if t.metric == Metric::Disk {
                key
            } else {
                rule.name.clone()
            };
            perfdata.push(PerfData {
                label,
                value,
                uom: t.metric.unit().to_owned(),
                warning: (!critical).then_some(range),
                critical: critical.then_some(range),
                min: Some(0.0),
                max: t.metric.max(),
            });
        }
    }
    let text = if alerts.is_empty() {
        format!("{} rules checked, none breached", rules.rules.len())
    } else {
        alerts.join("; ")
    };
    CheckResult {
        service: "OPS".into(),
        status,
        text,
        perfdata,
    }
}

/// Checks one metric against Monitoring Plugins ranges, as `ops check --metric … -w … -c …`:
/// one text item and one performance-data item per value (`disk` gives one per mount, or only
/// `selector`'s), the worst state of them all. At least one range must be given.
///
/// # Errors
/// A reason for an UNKNOWN result: no range, a metric that one sample cannot give, or a
/// selected mount that is not in the sample.
///
/// ```
/// use std::time::SystemTime;
/// use ops_metrics::SystemMetrics;
/// use ops_thresholds::{Metric, nagios::{self, Status}};
///
/// let mut sample = SystemMetrics::empty(SystemTime::now());
/// sample.disk_usage.insert("/".into(), 91.5);
/// let warn = "80".parse().ok();
/// let result = nagios::check_metric(&Metric::Disk, None, &sample, warn, None)?;
/// assert_eq!(result.status, Status::Warning);
/// assert_eq!(result.to_string(), "OPS WARNING: / 91.5% | /=91.5%;80;;0;100");
/// # Ok::<(), String>(())
/// ```
pub fn check_metric(
    metric: &Metric,
    selector: Option<&str>,
    sample: &SystemMetrics,
    warning: Option<Range>,
    critical: Option<Range>,
) -> Result<CheckResult, String> {
    if warning.is_none() && critical.is_none() {
        return Err(
            "no threshold given: set a warning range (-w), a critical range (-c) or both".into(),
        );
    }
    let obs = Observation {
        metrics: sample,
        profile: None,
    };
    let mut values: Vec<(String, f64)> = Vec::new();
    for_each_value(metric, selector, obs, &NetworkMemo::default(), |key, v| {
        values.push((key.to_owned(), v));
    });
    let probe = Threshold {
        metric: metric.clone(),
        selector: selector.map(str::to_owned),
        comparison: Comparison::Greater,
        threshold: 0.0,
        recovery: None,
        window: crate::rule::DEFAULT_WINDOW,
    };
    if let Some(reason) = unanswerable(&probe, values.len()) {
        return Err(reason);
    }
    let mut status = Status::Ok;
    let mut text = Vec::with_capacity(values.len());
    let mut perfdata = Vec::with_capacity(values.len());
    let uom = metric.unit();
    for (key, value) in values {
        let label = if key.is_empty() {
            metric.name().to_owned()
        } else {
            key
        };
        status = status.worst(super::status(value, warning.as_ref(), critical.as_ref()));
        text.push(format!("{label} {value:.1}{uom}"));
        perfdata.push(PerfData {
            label,
            value,
            uom: uom.to_owned(),
            warning,
            critical,
            min: Some(0.0),
            max: metric.max(),
        });
    }
    Ok(CheckResult {
        service: "OPS".into(),
        status,
        text: text.join(", "),
        perfdata,
    })
}
