//! Alerts on standard output, as the playbook's `send_alert` printed them.

use std::io::Write as _;

use crate::evaluator::Notification;
use crate::sink::{AlertSink, SinkError};

/// Prints `🚨 ALERT: <message>` for a firing alert and `✅ RESOLVED: <message>` for a resolved
/// one, one line each: line breaks and other control characters in the message become spaces,
/// so an annotation can never split or forge a line.
#[derive(Debug, Clone, Copy, Default)]
pub struct StdoutSink;

impl AlertSink for StdoutSink {
    fn name(&self) -> &'static str {
        "stdout"
    }

    fn send(&self, alerts: &[Notification]) -> Result<(), SinkError> {
        let mut out = std::io::stdout().lock();
        for a in alerts {
            let message: String = a
                .message()
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            let line = if a.resolved {
                format!("✅ RESOLVED: {message}\n")
            } else {
                format!("🚨 ALERT: {message}\n")
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
