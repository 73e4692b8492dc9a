//! Alert rules with Prometheus's semantics, hysteresis and flap detection; sinks for logs,
//! stdout, webhooks and Alertmanager; Nagios check mode.
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

#![warn(missing_docs)]

mod error;
mod evaluator;
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
pub use crate::monitor::{MetricsServer, Monitor, MonitorBuilder, MonitorReport, ServerStats};
pub use crate::rule::{Comparison, FlapDetection, Rule, RuleSet, Severity, UnknownSeverity};
#[cfg(any(feature = "toml", feature = "json", feature = "yaml"))]
pub use crate::rulefile::{Format, MAX_NESTING, MAX_RULE_FILE_BYTES};
pub use crate::sink::{
    AlertSink, Dispatcher, FakeSink, LogSink, RetryPolicy, SinkError, SinkStats, StdoutSink,
};
#[cfg(feature = "http")]
pub use crate::sink::{AlertmanagerSink, WebhookSink};
