/*!
`OpenSLO` v1 `SLO` documents (feature `yaml`): the subset an SLO here can be.

```yaml
apiVersion: openslo/v1
kind: SLO
metadata:
  name: availability                 # the SLO's name (sloth_slo)
  displayName: Availability          # optional, ignored
spec:
  service: quickstart                # sloth_service
  description: 99.5 % of requests answered without a server error
  budgetingMethod: Occurrences       # the only method supported
  timeWindow:
    - duration: 30d                  # whole hours (m, h, d, w)
      isRolling: true                # rolling windows only
  indicator:                         # inline; indicatorRef is not supported
    metadata:
      name: http-availability
    spec:
      ratioMetric:
        counter: true                # counters only
        good:                        # or bad:
          metricSource:
            type: Prometheus         # optional; Prometheus if given
            spec:
              query: http_server_request_duration_seconds_count{status!~"5.."}
        total:
          metricSource:
            spec:
              query: http_server_request_duration_seconds_count
  objectives:                        # exactly one
    - target: 0.995                  # or targetPercent: 99.5
```

The queries are counter selectors (as in [`Sli::Promql`](crate::Sli)). A file may hold several
documents (`---`); `Service` and `DataSource` documents are skipped; other kinds (`SLI`,
`AlertPolicy`, `AlertCondition`, `AlertNotificationTarget`), `alertPolicies`, `thresholdMetric`,
`rawMetric`, calendar windows, the `Timeslices` budgeting methods and several objectives are
refused with an error naming them: the burn-rate alerts are the SLO's ([`BurnAlert`]
defaults, the Workbook's).

[`BurnAlert`]: crate::BurnAlert
*/

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::spec::{DEFAULT_MIN_EVENTS_PER_MINUTE, Sli, Slo, SloSet};

/// Whether the YAML text holds `OpenSLO` documents (`apiVersion: openslo/…` at the start of a
/// line).
pub(crate) fn is_openslo(text: &str) -> bool {
    text.lines().any(|l| {
        l.trim_start_matches(['\'', '"'])
            .strip_prefix("apiVersion:")
            .is_some_and(|v| v.trim().trim_matches(['\'', '"']).starts_with("openslo/"))
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    api_version: String,
    kind: String,
    #[serde(default)]
    metadata: Metadata,
    #[serde(default)]
    spec: serde_norway::Value,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    #[serde(default)]
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SloSpec {
    #[serde(default)]
    description: String,
    service: String,
    #[serde(default)]
    indicator: Option<Indicator>,
    #[serde(default)]
    indicator_ref: Option<String>,
    #[serde(default)]
    time_window: Vec<TimeWindow>,
    #[serde(default)]
    budgeting_method: Option<String>,
    #[serde(default)]
    objectives: Vec<Objective>,
    #[serde(default)]
    alert_policies: Vec<serde_norway::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Indicator {
    #[serde(default)]
    spec: IndicatorSpec,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct IndicatorSpec {
    #[serde(default)]
    ratio_metric: Option<RatioMetric>,
    #[serde(default)]
    threshold_metric: Option<serde_norway::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RatioMetric {
    #[serde(default)]
    counter: Option<bool>,
    #[serde(default)]
    good: Option<MetricRef>,
    #[serde(default)]
    bad: Option<MetricRef>,
    #[serde(default)]
    total: Option<MetricRef>,
    #[serde(default)]
    raw_type: Option<String>,
    #[serde(default)]
    raw: Option<serde_norway::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetricRef {
    metric_source: MetricSource,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetricSource {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    spec: QuerySpec,
}

#[derive(Debug, Deserialize)]
struct QuerySpec {
    query: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TimeWindow {
    duration: String,
    #[serde(default)]
    is_rolling: Option<bool>,
    #[serde(default)]
    calendar: Option<serde_norway::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Objective {
    #[serde(default)]
    target: Option<f64>,
    #[serde(default)]
    target_percent: Option<f64>,
    #[serde(default)]
    op: Option<String>,
    #[serde(default)]
    value: Option<f64>,
}

/// Parses `OpenSLO` documents into a checked set.
#[allow(clippy::too_many_lines)] // one document's checks, in the order the spec lists the fields
pub(crate) fn parse(text: &str, origin: &Path) -> Result<SloSet> {
    let syntax = |message: String| Error::Syntax {
        origin: origin.to_path_buf(),
        message,
    };
    let mut slos = Vec::new();
    for (n, de) in serde_norway::Deserializer::from_str(text).enumerate() {
        let doc =
            Document::deserialize(de).map_err(|e| syntax(format!("document {}: {e}", n + 1)))?;
        let name = doc.metadata.name.clone();
        let invalid = |field: &'static str, value: String, reason: &str| Error::Invalid {
            origin: origin.to_path_buf(),
            slo: name.clone(),
            field,
            value,
            reason: reason.to_owned(),
        };
        if doc.api_version != "openslo/v1" {
            return Err(invalid(
                "apiVersion",
                doc.api_version.clone(),
                "only openslo/v1 is read",
            ));
        }
        match doc.kind.as_str() {
            "SLO" => {}
            "Service" | "DataSource" => continue,
            other => {
                return Err(invalid(
                    "kind",
                    other.to_owned(),
                    "not supported: ops-slo reads SLO documents (with an inline indicator); the alerts are the SLO's burn-rate alerts",
                ));
            }
        }
        if name.trim().is_empty() {
            return Err(invalid("metadata.name", String::new(), "must not be empty"));
        }
        let spec: SloSpec = serde_norway::from_value(doc.spec)
            .map_err(|e| syntax(format!("document {} ({name}): spec: {e}", n + 1)))?;
        if spec.indicator_ref.is_some() {
            return Err(invalid(
                "spec.indicatorRef",
                spec.indicator_ref.clone().unwrap_or_default(),
                "not supported: write the indicator inline (spec.indicator)",
            ));
        }
        if !spec.alert_policies.is_empty() {
            return Err(invalid(
                "spec.alertPolicies",
                format!("{} policies", spec.alert_policies.len()),
                "not supported: the SLO gets the Workbook's multi-window burn-rate alerts",
            ));
        }
        match spec.budgeting_method.as_deref() {
            None | Some("Occurrences") => {}
            Some(other) => {
                return Err(invalid(
                    "spec.budgetingMethod",
                    other.to_owned(),
                    "only Occurrences (events counted) is supported",
                ));
            }
        }
        let window = match spec.time_window.as_slice() {
            [] => crate::spec::DEFAULT_WINDOW,
            [w] => {
                if w.calendar.is_some() || w.is_rolling == Some(false) {
                    return Err(invalid(
                        "spec.timeWindow",
                        w.duration.clone(),
                        "only rolling windows are supported",
                    ));
                }
                ops_core::duration::parse_within(&w.duration, ops_core::duration::Bounds::NONZERO)
                    .map_err(|e| {
                    invalid(
                        "spec.timeWindow.duration",
                        w.duration.clone(),
                        &e.to_string(),
                    )
                })?
            }
            more => {
                return Err(invalid(
                    "spec.timeWindow",
                    format!("{} windows", more.len()),
                    "exactly one window",
                ));
            }
        };
        let objective = match spec.objectives.as_slice() {
            [o] if o.op.is_none() && o.value.is_none() => match (o.target, o.target_percent) {
                (Some(t), None) => t,
                (None, Some(p)) => crate::spec::round12(p / 100.0),
                _ => {
                    return Err(invalid(
                        "spec.objectives",
                        format!(
                            "target {:?}, targetPercent {:?}",
                            o.target, o.target_percent
                        ),
                        "exactly one of target and targetPercent",
                    ));
                }
            },
            [_] => {
                return Err(invalid(
                    "spec.objectives",
                    "op/value".into(),
                    "threshold objectives are not supported (ratio metrics only)",
                ));
            }
            other => {
                return Err(invalid(
                    "spec.objectives",
                    format!("{} objectives", other.len()),
                    "exactly one objective",
                ));
            }
        };
        let Some(indicator) = spec.indicator else {
            return Err(invalid("spec.indicator", String::new(), "required"));
        };
        if indicator.spec.threshold_metric.is_some() {
            return Err(invalid(
                "spec.indicator.spec.thresholdMetric",
                String::new(),
                "not supported: use a ratioMetric of counters",
            ));
        }
        let Some(ratio) = indicator.spec.ratio_metric else {
            return Err(invalid(
                "spec.indicator.spec.ratioMetric",
                String::new(),
                "required",
            ));
        };
        if ratio.raw_type.is_some() || ratio.raw.is_some() {
            return Err(invalid(
                "spec.indicator.spec.ratioMetric.raw",
                String::new(),
                "not supported: give good or bad, and total",
            ));
        }
        if ratio.counter == Some(false) {
            return Err(invalid(
                "spec.indicator.spec.ratioMetric.counter",
                "false".into(),
                "only counters are supported",
            ));
        }
        let query = |m: Option<MetricRef>, field: &'static str| -> Result<Option<String>> {
            let Some(m) = m else { return Ok(None) };
            if let Some(kind) = &m.metric_source.kind
                && !kind.eq_ignore_ascii_case("prometheus")
            {
                return Err(invalid(
                    field,
                    kind.clone(),
                    "only Prometheus metric sources are supported",
                ));
            }
            Ok(Some(m.metric_source.spec.query))
        };
        let good = query(ratio.good, "spec.indicator.spec.ratioMetric.good")?;
        let bad = query(ratio.bad, "spec.indicator.spec.ratioMetric.bad")?;
        let Some(total) = query(ratio.total, "spec.indicator.spec.ratioMetric.total")? else {
            return Err(invalid(
                "spec.indicator.spec.ratioMetric.total",
                String::new(),
                "required",
            ));
        };
        let mut slo = Slo::new(spec.service, name, Sli::Promql { good, bad, total })
            .objective(objective)
            .window(window);
        slo.description = spec.description;
        slos.push(slo);
    }
    SloSet::checked(slos, DEFAULT_MIN_EVENTS_PER_MINUTE, origin)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn the_documented_subset_loads() {
        let text = crate::file::documented(include_str!("openslo.rs"), "yaml");
        assert!(is_openslo(text));
        let two = format!(
            "{text}---\napiVersion: openslo/v1\nkind: Service\nmetadata: {{name: quickstart}}\nspec: {{}}\n"
        );
        let set = SloSet::from_yaml(&two).unwrap();
        assert_eq!(set.slos.len(), 1);
        let slo = &set.slos[0];
        assert_eq!(slo.id(), "quickstart-availability");
        assert_eq!(slo.objective, 0.995);
        assert_eq!(
            slo.sli,
            Sli::good_total(
                "http_server_request_duration_seconds_count{status!~\"5..\"}",
                "http_server_request_duration_seconds_count"
            )
        );
    }

    #[test]
    fn unsupported_parts_are_named() {
        let base = "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: a}\nspec:\n  service: s\n  indicator:\n    spec:\n      ratioMetric:\n        counter: true\n        bad: {metricSource: {spec: {query: e_total}}}\n        total: {metricSource: {spec: {query: t_total}}}\n  objectives: [{target: 0.99}]\n";
        SloSet::from_yaml(base).unwrap();
        for (extra, field) in [
            ("  budgetingMethod: Timeslices\n", "spec.budgetingMethod"),
            (
                "  timeWindow: [{duration: 1M, calendar: {startTime: x}}]\n",
                "spec.timeWindow",
            ),
            ("  alertPolicies: [x]\n", "spec.alertPolicies"),
        ] {
            let err = SloSet::from_yaml(&format!("{base}{extra}"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(field), "{extra}: {err}");
        }
        let err = SloSet::from_yaml(
            "apiVersion: openslo/v1\nkind: AlertPolicy\nmetadata: {name: p}\nspec: {}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("field `kind`: not supported"), "{err}");
    }
}
