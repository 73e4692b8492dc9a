//! Alerts on standard output, as the playbook's `send_alert` printed them.

use std::io::Write as _;

use crate::evaluator::Notification;
use crate::sink::{AlertSink, SinkError};

/// Prints `🚨 ALERT: <message>` for a firing alert and `✅ RESOLVED: <message>` for a resolved
/// one, one line each.
#[derive(Debug, Clone, Copy, Default)]
pub struct StdoutSink;

impl AlertSink for StdoutSink {
    fn name(&self) -> &'static str {
        "stdout"
    }

    fn send(&self, alerts: &[Notification]) -> Result<(), SinkError> {
        let mut out = std::io::stdout().lock();
        for a in alerts {
            let line = if a.resolved {
                format!("✅ RESOLVED: {}\n", a.message())
            } else {
                format!("🚨 ALERT: {}\n", a.message())
            };
            out.write_all(line.as_bytes())
                .map_err(|e| SinkError::Permanent {
                    reason: format!("stdout: {e}"),
                })?;
        }
        out.flush().map_err(|e| SinkError::Permanent {
            reason: format!("stdout: {e}"),
        })
    }
}
