//! Alerts as `tracing` events.

use crate::evaluator::Notification;
use crate::sink::{AlertSink, SinkError};

/// Logs each alert with `tracing` (target `ops_thresholds`): firing at WARN as the playbook's
/// `"ALERT: <message>"`, resolved at INFO.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogSink;

impl AlertSink for LogSink {
    fn name(&self) -> &'static str {
        "log"
    }

    fn send(&self, alerts: &[Notification]) -> Result<(), SinkError> {
        for a in alerts {
            let severity = a.label("severity").unwrap_or("");
            if a.resolved {
                tracing::info!(target: "ops_thresholds", alertname = %a.alertname, severity, value = a.value, "RESOLVED: {}", a.message());
            } else {
                tracing::warn!(target: "ops_thresholds", alertname = %a.alertname, severity, value = a.value, "ALERT: {}", a.message());
            }
        }
        Ok(())
    }
}
