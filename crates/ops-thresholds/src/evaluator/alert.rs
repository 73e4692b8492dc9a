//! What an evaluation reads and produces: the observation, alert states, the notifications to
//! deliver and the statuses status pages show.

use std::time::SystemTime;

use ops_metrics::SystemMetrics;
use ops_profiler::Report;

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
/// The current state of one alert instance, for status pages and metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertStatus {
    /// The rule's name.
    pub alertname: String,
    /// The instance label (`mount`, `interface`, `function`) and its value, for threshold rules
    /// on per-instance metrics.
    pub instance: Option<(&'static str, String)>,
    /// Every label that tells this instance apart: the instance label of a threshold rule, or
    /// the sample labels of a `PromQL` rule.
    pub labels: Vec<(String, String)>,
    /// The state.
    pub state: AlertState,
    /// The last value seen.
    pub value: f64,
    /// Whether flap detection currently holds notifications back.
    pub flapping: bool,
}
