//! What is sent for an alert instance: its labels, its rendered annotations (with a made-up
//! `summary` when the rule has none) and the notification, as Prometheus sends them.

use std::time::{Duration, SystemTime};

use super::{AlertState, Instance, Notification};
use crate::rule::Rule;
use crate::template;

/// The labels of one alert instance: `alertname`, `severity`, the instance label (when the
/// instance has a key) or a `PromQL` sample's labels, then the rule's labels (a rule label
/// overrides one of these).
pub(crate) fn alert_labels(
    rule: &Rule,
    key: &str,
    sample: &[(String, String)],
) -> Vec<(String, String)> {
    let mut labels = vec![
        ("alertname".to_owned(), rule.name.clone()),
        ("severity".to_owned(), rule.severity.as_str().to_owned()),
    ];
    if let Some(label) = rule.instance_label()
        && !key.is_empty()
    {
        labels.push((label.to_owned(), key.to_owned()));
    }
    for (k, v) in sample {
        if k != "alertname" && k != "severity" {
            labels.push((k.clone(), v.clone()));
        }
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
                template::render(
                    t,
                    value,
                    rule.threshold().map_or(f64::NAN, |th| th.threshold),
                    &rule.name,
                    labels,
                ),
            )
        })
        .collect();
    if !annotations.iter().any(|(k, _)| k == "summary") {
        let summary = if let Some(t) = rule.threshold() {
            let what = match labels
                .iter()
                .find(|(k, _)| k == "mount" || k == "interface" || k == "function")
            {
                Some((_, v)) => format!("{} {v}", t.metric.name()),
                None => t.metric.name().to_owned(),
            };
            format!(
                "{}: {what} {:.1} {} {:.1}",
                rule.name,
                value,
                t.comparison.symbol(),
                t.threshold
            )
        } else {
            let shown: Vec<String> = labels
                .iter()
                .filter(|(k, _)| k != "alertname" && k != "severity")
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            if shown.is_empty() {
                format!("{}: {value}", rule.name)
            } else {
                format!("{} {{{}}}: {value}", rule.name, shown.join(", "))
            }
        };
        annotations.push(("summary".into(), summary));
    }
    annotations
}

/// The notification of an instance due to be sent at `now`; a firing one is valid for
/// `valid_for`.
pub(super) fn notification(
    rule: &Rule,
    inst: &Instance,
    now: SystemTime,
    valid_for: Duration,
) -> Notification {
    let labels = alert_labels(rule, &inst.key, &inst.labels);
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
