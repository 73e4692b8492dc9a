//! What an SLO looks like now: its budget, its burn rates per window, the alerts whose windows
//! burn, and the time left at the current burn — for `ops slo status`, JSON, and code.

use std::time::{Duration, SystemTime};

use serde::{Serialize, Serializer};

use crate::budget::Budget;

/// One burn-rate window.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct WindowStatus {
    /// The window.
    #[serde(rename = "window_seconds", serialize_with = "secs")]
    pub window: Duration,
    /// The share of bad events in the window; `None` when it has no data (fewer events than
    /// the minimum traffic).
    pub error_ratio: Option<f64>,
    /// `error_ratio / (1 − objective)`: 1 spends the budget exactly over the SLO's window.
    pub burn_rate: Option<f64>,
    /// Events in the window (the rate over it × its length).
    pub events: f64,
    /// Too few events for a ratio.
    pub no_data: bool,
}

/// One burn-rate alert's condition now.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct AlertStatus {
    /// The alert's name.
    pub alertname: String,
    /// `page` or `ticket`.
    pub severity: String,
    /// The long window.
    #[serde(rename = "long_seconds", serialize_with = "secs")]
    pub long: Duration,
    /// The short window.
    #[serde(rename = "short_seconds", serialize_with = "secs")]
    pub short: Duration,
    /// The burn-rate factor.
    pub factor: f64,
    /// Both windows burn at `factor` or more (the alert's condition holds).
    pub burning: bool,
}

/// One SLO now.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SloStatus {
    /// `service-name`.
    pub id: String,
    /// The service.
    pub service: String,
    /// The SLO's name.
    pub slo: String,
    /// What it promises.
    pub description: String,
    /// The objective (0.995).
    pub objective: f64,
    /// `1 − objective` (0.005).
    pub error_budget: f64,
    /// The budget window.
    #[serde(rename = "window_seconds", serialize_with = "secs")]
    pub window: Duration,
    /// The minute the burn rates were computed at (`None` before the first).
    #[serde(serialize_with = "rfc3339")]
    pub as_of: Option<SystemTime>,
    /// The budget over the window.
    pub budget: Budget,
    /// The burn-rate windows, shortest first.
    pub windows: Vec<WindowStatus>,
    /// The alerts' conditions.
    pub alerts: Vec<AlertStatus>,
    /// The window the time to exhaustion is computed from (the shortest long window).
    #[serde(rename = "burn_window_seconds", serialize_with = "opt_secs")]
    pub burn_window: Option<Duration>,
    /// How long the budget left lasts at that window's burn rate: zero when spent, `None`
    /// when not burning or without data.
    #[serde(rename = "time_to_exhaustion_seconds", serialize_with = "opt_secs")]
    pub time_to_exhaustion: Option<Duration>,
    /// Why the SLI cannot be measured right now (a latency bound missing from the
    /// histogram's buckets), if it cannot.
    pub error: Option<String>,
}

impl SloStatus {
    /// The status of one window.
    pub fn window(&self, w: Duration) -> Option<&WindowStatus> {
        self.windows.iter().find(|s| s.window == w)
    }

    /// The alerts whose condition holds.
    pub fn burning(&self) -> impl Iterator<Item = &AlertStatus> {
        self.alerts.iter().filter(|a| a.burning)
    }
}

fn secs<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

#[allow(clippy::ref_option)]
fn opt_secs<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_f64(d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

#[allow(clippy::ref_option)]
fn rfc3339<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.collect_str(&humantime::format_rfc3339_seconds(*t)),
        None => s.serialize_none(),
    }
}
