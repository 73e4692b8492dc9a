//! `[canary]` and `[analysis]` in the deploy config.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The canary's steps (`[canary]`): the share of the traffic the new release gets at each
/// step, and the steps that wait for `ops deploy promote` after their analysis.
///
/// ```toml
/// strategy = "canary"
/// alt_port = 18081        # the canary runs beside the stable release, as with blue-green
///
/// [canary]
/// steps = [10, 25, 50, 100]   # percent of the requests; the default
/// pause = [50]                # after the 50 % step's analysis, wait for `ops deploy promote`
/// ```
///
/// Each step sets nginx's weights (`server stable weight=90; server canary weight=10;`, a
/// graceful reload), then analyses the canary ([`AnalysisConfig`]). A last step below 100 is
/// followed by the promotion to 100 %. The stable release serves the rest of the traffic
/// throughout and is stopped only after the promotion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CanaryConfig {
    /// The canary's weight at each step, in percent: strictly increasing, 1 to 100.
    #[serde(default = "default_steps")]
    pub steps: Vec<u8>,
    /// Steps (by weight) after whose analysis the deploy waits for `ops deploy promote` (or
    /// `ops deploy abort`): manual gates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pause: Vec<u8>,
}

impl Default for CanaryConfig {
    fn default() -> Self {
        CanaryConfig {
            steps: default_steps(),
            pause: Vec::new(),
        }
    }
}

fn default_steps() -> Vec<u8> {
    vec![10, 25, 50, 100]
}

impl CanaryConfig {
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.steps.is_empty() || self.steps.len() > 20 {
            return Err("canary.steps: 1 to 20 steps".into());
        }
        let mut last = 0u8;
        for &w in &self.steps {
            if w == 0 || w > 100 || w <= last {
                return Err(format!(
                    "canary.steps {:?}: weights must be 1 to 100 and strictly increasing",
                    self.steps
                ));
            }
            last = w;
        }
        if let Some(p) = self.pause.iter().find(|p| !self.steps.contains(p)) {
            return Err(format!(
                "canary.pause {p}: not one of the steps {:?}",
                self.steps
            ));
        }
        Ok(())
    }
}

/// Where the analysis reads the releases' signals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SourceKind {
    /// Each release's own `/metrics` page, scraped by the deployer at the start and end of
    /// every measurement (services built with ops-rs: ops-http's request histogram).
    #[default]
    Metrics,
    /// nginx's access log in JSON (`access_log`): any service, black-box.
    AccessLog,
    /// A Prometheus server's query API (`prometheus_url`): when Prometheus scrapes the
    /// releases already.
    Prometheus,
}

impl SourceKind {
    /// `metrics`, `access-log` or `prometheus`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Metrics => "metrics",
            SourceKind::AccessLog => "access-log",
            SourceKind::Prometheus => "prometheus",
        }
    }
}

/// What a condition measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Signal {
    /// Server errors (5xx) over requests, 0 to 1.
    ErrorRatio,
    /// A latency quantile (`quantile`, e.g. 0.99), in seconds.
    Latency,
    /// A `PromQL` expression (`query`): its first sample's value.
    Query,
}

/// One condition on the new release's signals (`[[analysis.conditions]]`): an absolute
/// bound (`max`, `min`), a bound relative to the stable release (`max_over_stable`: the
/// canary's value at most the stable's plus this margin), or several.
///
/// ```toml
/// [[analysis.conditions]]
/// signal = "error_ratio"
/// max = 0.01              # at most 1 % of the canary's requests fail
/// max_over_stable = 0.005 # and at most half a point more than the stable release's
///
/// [[analysis.conditions]]
/// signal = "latency"
/// quantile = 0.99
/// max = 0.5               # seconds
///
/// [[analysis.conditions]]
/// signal = "query"
/// name = "orders per second"
/// query = 'sum(rate(shop_orders_total[1m]))'
/// min = 0.1
/// ```
///
/// With the Prometheus source a query may name `$instance` (the release's
/// `127.0.0.1:<port>`), `$release` and `$window` (the measurement's length, `30s`); with the
/// metrics source it runs over the pages scraped from each release, one store per release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Condition {
    /// What is measured.
    pub signal: Signal,
    /// A name for outcomes and history (default: `error ratio`, `p99 latency`, the query).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// For `latency`: the quantile, above 0 and below 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantile: Option<f64>,
    /// For `query`: the `PromQL` expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// The value must be at most this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// The value must be at least this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// The value must be at most the stable release's value plus this margin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_over_stable: Option<f64>,
}

// The config refuses NaN (see `AnalysisConfig::check`), so equality is an equivalence.
impl Eq for Condition {}

impl Condition {
    /// `error ratio ≤ max`.
    #[must_use]
    pub fn error_ratio(max: f64) -> Condition {
        Condition {
            signal: Signal::ErrorRatio,
            name: None,
            quantile: None,
            query: None,
            max: Some(max),
            min: None,
            max_over_stable: None,
        }
    }

    /// `quantile latency ≤ max` seconds.
    #[must_use]
    pub fn latency(quantile: f64, max: f64) -> Condition {
        Condition {
            signal: Signal::Latency,
            quantile: Some(quantile),
            ..Condition::error_ratio(max)
        }
    }

    /// A `PromQL` expression whose value must be at most `max`.
    #[must_use]
    pub fn query(name: impl Into<String>, query: impl Into<String>, max: f64) -> Condition {
        Condition {
            signal: Signal::Query,
            name: Some(name.into()),
            query: Some(query.into()),
            ..Condition::error_ratio(max)
        }
    }

    /// Also at most the stable release's value plus `margin`.
    #[must_use]
    pub fn over_stable(mut self, margin: f64) -> Condition {
        self.max_over_stable = Some(margin);
        self
    }

    /// Only relative to the stable release (no absolute bound).
    #[must_use]
    pub fn relative_only(mut self) -> Condition {
        self.max = None;
        self.min = None;
        self
    }

    /// What it measures, as outcomes show it: `error ratio`, `p99 latency`, the name.
    #[must_use]
    pub fn label(&self) -> String {
        if let Some(name) = &self.name {
            return name.clone();
        }
        match self.signal {
            Signal::ErrorRatio => "error ratio".into(),
            Signal::Latency => format!("{} latency", quantile_name(self.quantile.unwrap_or(0.99))),
            Signal::Query => self.query.clone().unwrap_or_default(),
        }
    }

    fn check(&self, source: SourceKind, i: usize) -> Result<(), String> {
        let at = format!("analysis.conditions[{i}]");
        let finite = |field: &str, v: Option<f64>| match v {
            Some(x) if !x.is_finite() => Err(format!("{at}.{field} {x}: must be a finite number")),
            _ => Ok(()),
        };
        finite("max", self.max)?;
        finite("min", self.min)?;
        finite("max_over_stable", self.max_over_stable)?;
        finite("quantile", self.quantile)?;
        if self.max.is_none() && self.min.is_none() && self.max_over_stable.is_none() {
            return Err(format!("{at}: needs max, min or max_over_stable"));
        }
        if let Some(name) = &self.name
            && (name.is_empty() || name.len() > 200 || name.chars().any(char::is_control))
        {
            return Err(format!(
                "{at}.name {name:?}: 1 to 200 characters, no control characters"
            ));
        }
        match self.signal {
            Signal::Latency => match self.quantile {
                Some(q) if q > 0.0 && q < 1.0 => {}
                other => {
                    return Err(format!(
                        "{at}: signal \"latency\" needs quantile, above 0 and below 1 (got {other:?})"
                    ));
                }
            },
            Signal::Query => {
                let Some(q) = self.query.as_deref().filter(|q| !q.trim().is_empty()) else {
                    return Err(format!("{at}: signal \"query\" needs query (PromQL)"));
                };
                if q.len() > 4096 {
                    return Err(format!("{at}.query: at most 4096 bytes"));
                }
                match source {
                    SourceKind::AccessLog => {
                        return Err(format!(
                            "{at}: signal \"query\" needs source \"metrics\" or \"prometheus\" (an access log has no PromQL)"
                        ));
                    }
                    SourceKind::Metrics => {
                        ops_promql::Expr::parse(q).map_err(|e| format!("{at}.query: {e}"))?;
                    }
                    SourceKind::Prometheus => {}
                }
            }
            Signal::ErrorRatio => {}
        }
        if self.signal != Signal::Latency && self.quantile.is_some() {
            return Err(format!("{at}.quantile: only for signal \"latency\""));
        }
        if self.signal != Signal::Query && self.query.is_some() {
            return Err(format!("{at}.query: only for signal \"query\""));
        }
        Ok(())
    }
}

/// `p99`, `p99.9`, `p50`.
pub(crate) fn quantile_name(q: f64) -> String {
    let p = q * 100.0;
    let text = format!("{p:.3}");
    format!("p{}", text.trim_end_matches('0').trim_end_matches('.'))
}

/// The analysis (`[analysis]`): where the signals come from, how long a measurement lasts,
/// the conditions, and the limits that decide. Shared by the canary's steps and blue-green's
/// `verify`.
///
/// ```toml
/// [analysis]
/// source = "metrics"            # or "access-log", "prometheus"
/// interval = "30s"              # one measurement per interval
/// measurements = 1              # decided measurements per canary step
/// min_requests = 20             # fewer canary requests in a measurement: inconclusive
/// failure_limit = 0             # failed measurements tolerated (Argo's failureLimit)
/// inconclusive_limit = 0        # inconclusive ones before the deploy holds
/// consecutive_error_limit = 4   # source errors in a row tolerated
/// # hold_timeout = "1h"         # a hold with no decision aborts after this (default: waits)
/// ignore_routes = ["/health", "/metrics"]
///
/// [[analysis.conditions]]
/// signal = "error_ratio"
/// max = 0.01
/// ```
///
/// Source settings: `metrics_path` (default `/metrics`) and `family` (default ops-http's
/// `http_server_request_duration_seconds`, a histogram with `route` and `status` labels) for
/// the metrics source and the Prometheus source's built-in queries; `access_log` (the file
/// nginx writes in the JSON format below) for the access-log source; `prometheus_url`
/// (`http://127.0.0.1:9090`) and `prometheus_selector` (default `instance="$instance"`, the
/// labels that select one release's series) for the Prometheus source; `timeout` (default
/// 5 s) for each scrape or query.
///
/// The access log's format, in nginx's `http` block:
///
/// ```nginx
/// log_format ops_deploy escape=json '{"time":"$time_iso8601","uri":"$uri","status":$status,'
///     '"upstream_addr":"$upstream_addr","upstream_status":"$upstream_status",'
///     '"upstream_response_time":"$upstream_response_time"}';
/// access_log /var/log/nginx/web-deploy.json ops_deploy;
/// ```
///
/// Without conditions the analysis checks the error ratio: at most 1 % (Flagger's default
/// success rate of 99 %).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AnalysisConfig {
    /// Where the signals come from.
    #[serde(default)]
    pub source: SourceKind,
    /// How long one measurement lasts (default 30 s).
    #[serde(
        default = "default_interval",
        with = "ops_core::duration::serde::nonzero"
    )]
    pub interval: Duration,
    /// Decided measurements (successful, or failed within the limit) per canary step
    /// (default 1).
    #[serde(default = "default_measurements")]
    pub measurements: u32,
    /// A measurement with fewer canary requests is inconclusive (default 20; 0: no minimum).
    #[serde(default = "default_min_requests")]
    pub min_requests: u64,
    /// Failed measurements tolerated over the whole analysis (default 0).
    #[serde(default)]
    pub failure_limit: u32,
    /// Inconclusive measurements tolerated before the deploy holds (default 0).
    #[serde(default)]
    pub inconclusive_limit: u32,
    /// Source errors in a row tolerated (default 4).
    #[serde(default = "default_error_limit")]
    pub consecutive_error_limit: u32,
    /// How long a hold waits for `ops deploy promote` or `ops deploy abort` before it aborts
    /// (default: it waits).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::config::opt_nonzero"
    )]
    pub hold_timeout: Option<Duration>,
    /// The conditions (default: error ratio at most 0.01).
    #[serde(default = "default_conditions")]
    pub conditions: Vec<Condition>,
    /// Request paths (routes) that are not the service's traffic: the deployer's own health
    /// checks and scrapes (default `/health`, `/metrics`).
    #[serde(default = "default_ignore_routes")]
    pub ignore_routes: Vec<String>,
    /// Metrics source: the page's path (default `/metrics`).
    #[serde(default = "default_metrics_path")]
    pub metrics_path: String,
    /// The request histogram's family (default `http_server_request_duration_seconds`).
    #[serde(default = "default_family")]
    pub family: String,
    /// One scrape or query may take this long (default 5 s).
    #[serde(
        default = "default_timeout",
        with = "ops_core::duration::serde::nonzero"
    )]
    pub timeout: Duration,
    /// Access-log source: the JSON log nginx writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_log: Option<PathBuf>,
    /// Prometheus source: the server's base URL (`http://host:port`, optionally a path
    /// prefix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus_url: Option<String>,
    /// Prometheus source: the label matchers selecting one release's series; `$instance` is
    /// `127.0.0.1:<port>`, `$release` the release id.
    #[serde(default = "default_selector")]
    pub prometheus_selector: String,
}

// The config refuses NaN, so equality is an equivalence.
impl Eq for AnalysisConfig {}

impl Default for AnalysisConfig {
    fn default() -> Self {
        AnalysisConfig {
            source: SourceKind::Metrics,
            interval: default_interval(),
            measurements: default_measurements(),
            min_requests: default_min_requests(),
            failure_limit: 0,
            inconclusive_limit: 0,
            consecutive_error_limit: default_error_limit(),
            hold_timeout: None,
            conditions: default_conditions(),
            ignore_routes: default_ignore_routes(),
            metrics_path: default_metrics_path(),
            family: default_family(),
            timeout: default_timeout(),
            access_log: None,
            prometheus_url: None,
            prometheus_selector: default_selector(),
        }
    }
}

fn default_interval() -> Duration {
    Duration::from_secs(30)
}
fn default_measurements() -> u32 {
    1
}
fn default_min_requests() -> u64 {
    20
}
fn default_error_limit() -> u32 {
    4
}
fn default_conditions() -> Vec<Condition> {
    vec![Condition::error_ratio(0.01)]
}
fn default_ignore_routes() -> Vec<String> {
    vec!["/health".into(), "/metrics".into()]
}
fn default_metrics_path() -> String {
    "/metrics".into()
}
fn default_family() -> String {
    "http_server_request_duration_seconds".into()
}
fn default_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_selector() -> String {
    "instance=\"$instance\"".into()
}

impl AnalysisConfig {
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.measurements == 0 || self.measurements > 1000 {
            return Err("analysis.measurements: 1 to 1000".into());
        }
        if self.conditions.is_empty() || self.conditions.len() > 32 {
            return Err("analysis.conditions: 1 to 32 conditions".into());
        }
        for (field, d) in [
            ("analysis.interval", self.interval),
            ("analysis.timeout", self.timeout),
        ] {
            if d.is_zero() || d > ops_core::duration::MAX {
                return Err(format!("{field}: above zero and at most 366 days"));
            }
        }
        for (i, c) in self.conditions.iter().enumerate() {
            c.check(self.source, i)?;
        }
        if let Err(e) = crate::names::check_health_path(&self.metrics_path) {
            return Err(format!("analysis.metrics_path: {e}"));
        }
        if !is_metric_name(&self.family) {
            return Err(format!(
                "analysis.family {:?}: a Prometheus metric name",
                self.family
            ));
        }
        if self.ignore_routes.len() > 64
            || self
                .ignore_routes
                .iter()
                .any(|r| r.is_empty() || r.len() > 512 || r.contains(['"', '\\', '\n']))
        {
            return Err(
                "analysis.ignore_routes: at most 64 routes, without quotes, backslashes or newlines"
                    .into(),
            );
        }
        if self.prometheus_selector.len() > 1024 || self.prometheus_selector.contains(['{', '}']) {
            return Err(format!(
                "analysis.prometheus_selector {:?}: label matchers without braces, at most 1024 bytes",
                self.prometheus_selector
            ));
        }
        match self.source {
            SourceKind::Metrics => {}
            SourceKind::AccessLog => {
                if self.access_log.is_none() {
                    return Err(
                        "analysis: source \"access-log\" needs access_log (the JSON log nginx writes)"
                            .into(),
                    );
                }
            }
            SourceKind::Prometheus => match &self.prometheus_url {
                None => {
                    return Err(
                        "analysis: source \"prometheus\" needs prometheus_url (http://host:port)"
                            .into(),
                    );
                }
                Some(url) => {
                    crate::analysis::source::prometheus::parse_url(url)
                        .map_err(|e| format!("analysis.prometheus_url {url:?}: {e}"))?;
                }
            },
        }
        Ok(())
    }

    /// The measurements a verification of `verify` makes, and each one's length: one per
    /// `interval`, at least one (a verification shorter than the interval is one measurement
    /// of its own length).
    #[must_use]
    pub fn verify_plan(&self, verify: Duration) -> (u32, Duration) {
        let n = (verify.as_nanos() / self.interval.as_nanos().max(1)).clamp(1, 1000);
        let n = u32::try_from(n).unwrap_or(1000);
        (n, verify / n)
    }

    /// The source this config names.
    pub fn source(&self) -> Box<dyn crate::analysis::SignalSource> {
        match self.source {
            SourceKind::Metrics => Box::new(crate::analysis::ScrapeSource::new(self)),
            SourceKind::AccessLog => Box::new(crate::analysis::AccessLogSource::new(
                self.access_log.clone().unwrap_or_default(),
                self,
            )),
            SourceKind::Prometheus => Box::new(crate::analysis::PrometheusSource::new(self)),
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = self.label();
        let mut parts = Vec::new();
        if let Some(max) = self.max {
            parts.push(format!("{label} ≤ {}", crate::analysis::measure::num(max)));
        }
        if let Some(min) = self.min {
            parts.push(format!("{label} ≥ {}", crate::analysis::measure::num(min)));
        }
        if let Some(m) = self.max_over_stable {
            parts.push(format!(
                "{label} ≤ stable + {}",
                crate::analysis::measure::num(m)
            ));
        }
        f.write_str(&parts.join(", "))
    }
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod test {
    use super::*;

    #[test]
    fn quantile_names() {
        assert_eq!(quantile_name(0.99), "p99");
        assert_eq!(quantile_name(0.999), "p99.9");
        assert_eq!(quantile_name(0.5), "p50");
    }

    #[test]
    fn conditions_read_as_text() {
        let c = Condition::error_ratio(0.01).over_stable(0.005);
        assert_eq!(
            c.to_string(),
            "error ratio ≤ 0.01, error ratio ≤ stable + 0.005"
        );
        assert_eq!(
            Condition::latency(0.99, 0.5).to_string(),
            "p99 latency ≤ 0.5"
        );
    }

    #[test]
    fn verify_plans() {
        let a = AnalysisConfig {
            interval: Duration::from_secs(30),
            ..AnalysisConfig::default()
        };
        assert_eq!(
            a.verify_plan(Duration::from_mins(2)),
            (4, Duration::from_secs(30))
        );
        assert_eq!(
            a.verify_plan(Duration::from_secs(10)),
            (1, Duration::from_secs(10))
        );
        assert_eq!(
            a.verify_plan(Duration::from_secs(100)),
            (3, Duration::from_nanos(33_333_333_333))
        );
    }

    #[test]
    fn bad_analyses_are_refused_with_the_field() {
        let mut a = AnalysisConfig {
            conditions: vec![Condition::latency(1.5, 0.5)],
            ..AnalysisConfig::default()
        };
        assert!(a.check().unwrap_err().contains("quantile"));
        a.conditions = vec![Condition::error_ratio(f64::NAN)];
        assert!(a.check().unwrap_err().contains("finite"));
        a.conditions = vec![Condition::query("q", "rate(x[1m]", 1.0)];
        assert!(
            a.check()
                .unwrap_err()
                .starts_with("analysis.conditions[0].query")
        );
        a.conditions = vec![Condition::error_ratio(0.01)];
        a.source = SourceKind::Prometheus;
        assert!(a.check().unwrap_err().contains("prometheus_url"));
        a.prometheus_url = Some("https://x:9090".into());
        assert!(a.check().unwrap_err().contains("http://"));
        a.prometheus_url = Some("http://127.0.0.1:9090".into());
        assert_eq!(a.check(), Ok(()));
        let c = CanaryConfig {
            steps: vec![10, 5],
            pause: vec![],
        };
        assert!(c.check().is_err());
        let c = CanaryConfig {
            steps: vec![10, 50],
            pause: vec![25],
        };
        assert!(c.check().unwrap_err().contains("canary.pause 25"));
    }
}
