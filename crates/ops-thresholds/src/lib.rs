//! Alert rules with Prometheus's semantics, hysteresis and flap detection; sinks for logs,
//! stdout, webhooks and Alertmanager; a [`Monitor`] that runs them over system samples and
//! serves one `/metrics` page; Nagios check mode.
//!
//! In a service, the [`Monitor`] is the five lines to write: it samples the machine, evaluates
//! the rules (with the global profiler's figures for `function_*` rules), delivers alerts, keeps
//! the alert states, and renders a promtool-clean page with your own sections appended.
//!
//! ```no_run
//! use ops_thresholds::{Monitor, RuleSet};
//!
//! let monitor = Monitor::builder()
//!     .rules(RuleSet::defaults()) // CPU > 80, memory > 85, each disk > 90
//!     .stdout(true)               // and the log sink, on by default
//!     .start()?;
//! let page: String = monitor.page(); // answer GET /metrics with it
//! # drop(page);
//! # Ok::<(), ops_thresholds::Error>(())
//! ```
//!
//! The parts are there to use alone: [`Evaluator`] (a rule set, sample after sample, with an
//! injected clock), [`Dispatcher`] (sinks on their own threads, retries, counters),
//! [`nagios::check`] (one sample, as a Nagios plugin), [`export::prometheus_rules`] (the same
//! rules as a Prometheus rule file, for when one machine is outgrown).
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use ops_metrics::SystemMetrics;
//! use ops_thresholds::{Comparison, Evaluator, Metric, Observation, Rule, RuleSet};
//!
//! let mut rules = RuleSet::defaults(); // CPU > 80, memory > 85, each disk > 90
//! rules.rules.push(
//!     Rule::new("HighLoad", Metric::Load1, Comparison::Greater, 4.0)
//!         .recovery(3.0)                     // fire above 4, clear below 3
//!         .for_duration(Duration::from_secs(60)),
//! );
//! let mut eval = Evaluator::new(rules);
//! let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
//! let mut sample = SystemMetrics::empty(t0);
//! sample.memory_percent = 88.0;
//! let mut out = Vec::new();
//! eval.evaluate(t0, Observation { metrics: &sample, profile: None }, &mut out);
//! assert_eq!(out.len(), 1);
//! assert_eq!(out[0].message(), "High memory usage: 88.0%");
//! assert!(!out[0].resolved);
//! ```
//!
//! # Features
//! Lean by default: a service that writes its rules in code and logs its alerts compiles no
//! HTTP client and no YAML parser.
//!
//! | feature | default | what it adds |
//! | --- | --- | --- |
//! | `toml` | on | [`RuleSet::load`] of `.toml` rule files |
//! | `json` | | `.json` rule files, [`Monitor::replay`] of recorded samples |
//! | `yaml` | | `.yaml`/`.yml` rule files |
//! | `files` | | all three formats |
//! | `http` | | [`WebhookSink`] (Slack-compatible) and [`AlertmanagerSink`], over ureq |
//! | `tls` | | `https://` for the HTTP sinks (rustls); the `ops` binary has it |

#![warn(missing_docs)]

mod error;
mod evaluator;
pub mod export;
mod exposition;
mod metric;
mod monitor;
pub mod nagios;
mod rule;
#[cfg(any(feature = "toml", feature = "json", feature = "yaml"))]
mod rulefile;
mod sink;
mod template;

pub use ops_core::Exposition;

pub use crate::error::{Error, Result};
pub use crate::evaluator::{
    AlertState, AlertStatus, Evaluator, Notification, Observation, RESOLVED_RETENTION,
};
pub use crate::exposition::encode_alerts;
pub use crate::metric::{Metric, UnknownMetric};
#[cfg(feature = "json")]
pub use crate::monitor::{MAX_REPLAY_LINE, ReplayStats};
pub use crate::monitor::{
    MetricsServer, Monitor, MonitorBuilder, MonitorReport, Recording, ServerStats,
};
pub use crate::rule::{
    Comparison, Condition, DEFAULT_WINDOW, FlapDetection, PromqlCondition, Rule, RuleSet, Severity,
    Threshold, UnknownSeverity,
};
#[cfg(any(feature = "toml", feature = "json", feature = "yaml"))]
pub use crate::rulefile::{Format, MAX_NESTING, MAX_RULE_FILE_BYTES};
pub use crate::sink::{
    AlertSink, Dispatcher, FakeSink, LogSink, RetryPolicy, SinkError, SinkStats, StdoutSink,
};
#[cfg(feature = "http")]
pub use crate::sink::{AlertmanagerSink, WebhookSink};
