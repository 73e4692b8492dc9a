//! A JSON webhook (Slack-compatible `text` + `blocks`).

use std::fmt::Write as _;
use std::time::Duration;

use crate::evaluator::Notification;
use crate::sink::http::Client;
use crate::sink::{AlertSink, SinkError};

/// POSTs `{"text": ..., "blocks": [...]}` (Slack's incoming-webhook shape; any JSON receiver can
/// read `text`) per batch. The URL holds a token: it never appears in a log line, an error or
/// `Debug` output.
pub struct WebhookSink {
    url: String,
    client: Client,
}

impl std::fmt::Debug for WebhookSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSink")
            .field("url", &"<redacted>")
            .finish()
    }
}

/// Slack's limits: 50 blocks per message, 3000 characters per section.
const MAX_BLOCKS: usize = 50;
const MAX_SECTION: usize = 3000;

impl WebhookSink {
    /// A webhook at `url` with a 10 s request timeout.
    pub fn new(url: impl Into<String>) -> WebhookSink {
        Self::with_timeout(url, Duration::from_secs(10))
    }

    /// A webhook with an explicit per-request timeout.
    pub fn with_timeout(url: impl Into<String>, timeout: Duration) -> WebhookSink {
        WebhookSink {
            url: url.into(),
            client: Client::new(timeout),
        }
    }

    /// The JSON body for a batch.
    pub fn payload(alerts: &[Notification]) -> String {
        let line = |a: &Notification| {
            let state = if a.resolved { "RESOLVED" } else { "FIRING" };
            let severity = a.label("severity").unwrap_or("");
            format!("[{state}] {} ({severity}): {}", a.alertname, a.message())
        };
        let mut text = String::new();
        for (i, a) in alerts.iter().enumerate() {
            if i > 0 {
                text.push('\n');
            }
            text.push_str(&line(a));
        }
        let mut blocks = Vec::new();
        for a in alerts.iter().take(MAX_BLOCKS) {
            let mut section = String::new();
            let icon = if a.resolved {
                ":white_check_mark:"
            } else {
                ":rotating_light:"
            };
            let _ = write!(section, "{icon} *{}* {}", a.alertname, a.message());
            if section.chars().count() > MAX_SECTION {
                section = section.chars().take(MAX_SECTION - 1).collect::<String>() + "…";
            }
            blocks.push(
                serde_json::json!({"type": "section", "text": {"type": "mrkdwn", "text": section}}),
            );
        }
        serde_json::json!({"text": text, "blocks": blocks}).to_string()
    }
}

impl AlertSink for WebhookSink {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn check(&self) -> Result<(), SinkError> {
        crate::sink::http::check_url(&self.url, "webhook")
    }

    fn send(&self, alerts: &[Notification]) -> Result<(), SinkError> {
        self.client
            .post_json(&self.url, &Self::payload(alerts), "webhook")
    }
}
