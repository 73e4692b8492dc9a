//! Alertmanager API v2: the payload Prometheus sends.

use std::time::Duration;

use crate::evaluator::Notification;
use crate::sink::http::Client;
use crate::sink::{AlertSink, SinkError};

/// POSTs batches (at most 256 alerts each, as Prometheus) to `<base>/api/v2/alerts`: labels
/// (with `alertname` and `severity`), annotations, `startsAt`, `endsAt` (the resolution time, or
/// `now + 4 × max(interval, resend delay)` while firing) and `generatorURL`.
pub struct AlertmanagerSink {
    endpoint: String,
    generator_url: String,
    client: Client,
}

impl std::fmt::Debug for AlertmanagerSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry `user:password@`: show the host part only.
        let shown = match self.endpoint.split_once("://") {
            Some((scheme, rest)) => {
                format!(
                    "{scheme}://{}",
                    rest.rsplit_once('@').map_or(rest, |(_, host)| host)
                )
            }
            None => self.endpoint.clone(),
        };
        f.debug_struct("AlertmanagerSink")
            .field("endpoint", &shown)
            .finish_non_exhaustive()
    }
}

const BATCH: usize = 256;

/// RFC 3339 for any time: clamped to 1970..=9999, the years the format (and humantime) can
/// write, instead of panicking on a replayed sample from far in the future.
fn rfc3339(t: std::time::SystemTime) -> String {
    const LAST: std::time::Duration = std::time::Duration::from_secs(253_402_300_799);
    let max = std::time::UNIX_EPOCH + LAST;
    humantime::format_rfc3339_millis(t.clamp(std::time::UNIX_EPOCH, max)).to_string()
}

impl AlertmanagerSink {
    /// A sink for the Alertmanager at `base_url` (e.g. `http://127.0.0.1:9093`), 10 s timeout.
    pub fn new(base_url: &str) -> AlertmanagerSink {
        let base = base_url.trim_end_matches('/');
        AlertmanagerSink {
            endpoint: format!("{base}/api/v2/alerts"),
            generator_url: "http://localhost/ops-thresholds".into(),
            client: Client::new(Duration::from_secs(10)),
        }
    }

    /// Sets the `generatorURL` sent with every alert (a link back to this host's status page).
    #[must_use]
    pub fn generator_url(mut self, url: impl Into<String>) -> AlertmanagerSink {
        self.generator_url = url.into();
        self
    }

    /// The JSON body for a batch (a JSON array of postable alerts).
    pub fn payload(&self, alerts: &[Notification]) -> String {
        let items: Vec<serde_json::Value> = alerts
            .iter()
            .map(|a| {
                let labels: serde_json::Map<String, serde_json::Value> = a
                    .labels
                    .iter()
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect();
                let annotations: serde_json::Map<String, serde_json::Value> = a
                    .annotations
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect();
                serde_json::json!({
                    "labels": labels,
                    "annotations": annotations,
                    "startsAt": rfc3339(a.starts_at),
                    "endsAt": rfc3339(a.ends_at.max(a.starts_at)),
                    "generatorURL": self.generator_url,
                })
            })
            .collect();
        serde_json::Value::Array(items).to_string()
    }
}

impl AlertSink for AlertmanagerSink {
    fn name(&self) -> &'static str {
        "alertmanager"
    }

    fn check(&self) -> Result<(), SinkError> {
        crate::sink::http::check_url(&self.endpoint, "alertmanager")
    }

    fn send(&self, alerts: &[Notification]) -> Result<(), SinkError> {
        for chunk in alerts.chunks(BATCH) {
            self.client
                .post_json(&self.endpoint, &self.payload(chunk), "alertmanager")?;
        }
        Ok(())
    }
}
