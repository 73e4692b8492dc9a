//! Alert states and delivery counters as Prometheus text, beside ops-metrics' page.

use ops_metrics::exposition::{Encoder, MetricType};

use crate::evaluator::AlertStatus;
use crate::sink::SinkStats;

/// Appends `ops_alerts{alertname,alertstate,...}` (1 per pending or firing instance, like
/// Prometheus's `ALERTS`), `ops_alert_deliveries_total{sink,result}` and
/// `ops_alert_retries_total{sink}` to `out`. The families are always written, with no series
/// when nothing is active, so dashboards see them from the first scrape; the page passes
/// `promtool check metrics`.
///
/// ```
/// let mut page = String::new();
/// ops_thresholds::encode_alerts(&[], &[], &mut page);
/// assert!(page.contains("# TYPE ops_alerts gauge"));
/// ```
pub fn encode_alerts(statuses: &[AlertStatus], sinks: &[SinkStats], out: &mut String) {
    let mut e = Encoder::new(out);
    e.family(
        "ops_alerts",
        "Active alerts (1 per pending or firing instance), like Prometheus's ALERTS.",
        MetricType::Gauge,
    );
    let mut labels: Vec<(&str, &str)> = Vec::new();
    for a in statuses {
        labels.clear();
        labels.push(("alertname", a.alertname.as_str()));
        labels.push(("alertstate", a.state.name()));
        for (key, value) in &a.labels {
            if key != "alertname" && key != "alertstate" {
                labels.push((key, value));
            }
        }
        e.sample("ops_alerts", &labels, 1u64);
    }
    e.family(
        "ops_alert_deliveries_total",
        "Alert batches per sink and result.",
        MetricType::Counter,
    );
    for s in sinks {
        for (result, v) in [
            ("delivered", s.delivered),
            ("failed", s.failed),
            ("dropped", s.dropped),
        ] {
            e.sample(
                "ops_alert_deliveries_total",
                &[("sink", s.name.as_str()), ("result", result)],
                v,
            );
        }
    }
    e.family(
        "ops_alert_retries_total",
        "Delivery retries per sink.",
        MetricType::Counter,
    );
    for s in sinks {
        e.sample(
            "ops_alert_retries_total",
            &[("sink", s.name.as_str())],
            s.retries,
        );
    }
}
