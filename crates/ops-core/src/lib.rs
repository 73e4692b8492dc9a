//! The shared vocabulary of the ops-rs crates, with no system metrics, no HTTP and no async
//! runtime in it:
//!
//! - [`exposition`]: the Prometheus text encoder (families, HELP/TYPE, label escaping,
//!   counters, gauges, summaries, histograms) and the [`Exposition`] trait — "render this as
//!   Prometheus text" — that every ops-rs type with a `/metrics` section implements.
//! - [`duration`]: one duration parser with one rule set for rule files, deploy configs and
//!   flags (no sign, at most 366 days, zero or a floor refused where meaningless).
//! - [`shutdown`]: a stop request from SIGINT/SIGTERM or from the program, that threads wait on.
//! - [`fs`]: atomic, durable, owner-only writes of state files.
//! - [`time`] (feature `serde`): `SystemTime` fields as RFC 3339 timestamps.
//!
//! ```
//! use ops_core::exposition::{Encoder, Exposition, MetricType, section};
//!
//! let build = section(|out: &mut String| {
//!     let mut e = Encoder::new(out);
//!     e.family("app_build_info", "The running build.", MetricType::Gauge);
//!     e.sample("app_build_info", &[("version", "2.4.1")], 1u64);
//! });
//! let page = build.to_prometheus();
//! assert!(page.contains("app_build_info{version=\"2.4.1\"} 1"));
//! assert_eq!(ops_core::duration::parse("1m30s"), Ok(std::time::Duration::from_secs(90)));
//! ```

#![warn(missing_docs)]

pub mod duration;
pub mod exposition;
pub mod fs;
pub mod shutdown;
#[cfg(feature = "serde")]
pub mod time;

pub use crate::exposition::Exposition;
