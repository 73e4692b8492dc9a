//! Rules in `PromQL`, evaluated in-process: a bounded in-memory series store fed with
//! Prometheus text pages (the ones `ops_core::exposition` writes), and a `PromQL` subset
//! evaluated over it with Prometheus's semantics — the same numbers `promtool test rules`
//! (Prometheus 2.42) gives on the same samples, proved by a differential test.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use ops_promql::{Expr, Store, Value};
//!
//! let mut store = Store::new(Duration::from_secs(600));
//! let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//! // A counter scraped every 15 s for 5 minutes, 10 requests between scrapes.
//! for i in 0..=20u64 {
//!     let page = format!(
//!         "# TYPE http_requests_total counter\nhttp_requests_total{{route=\"/a\"}} {}\n",
//!         i * 10
//!     );
//!     store.ingest(&page, start + Duration::from_secs(i * 15));
//! }
//! let rate = Expr::parse("rate(http_requests_total[5m])")?;
//! let Value::Vector(v) = rate.eval(&store, start + Duration::from_secs(300))? else {
//!     unreachable!("rate returns a vector")
//! };
//! assert_eq!(v[0].labels.to_string(), "{route=\"/a\"}"); // rate drops the metric name
//! assert!((v[0].value - 10.0 / 15.0).abs() < 1e-12);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The store
//!
//! [`Store::ingest`]/[`Store::ingest_from`] read a text exposition page and append every
//! sample at the ingest time; a series its source sent last time and not this time gets a
//! staleness marker, so selectors stop returning it at once (as after a Prometheus scrape).
//! [`Store::append`] appends one sample. Memory is bounded: points per series (retention ÷
//! minimum interval, at most [`MAX_POINTS_PER_SERIES`]), label bytes per series, number of
//! series (new ones past the cap are refused and counted), sources; see [`store`'s
//! table](Store#bounds) and [`Store::max_series_bytes`]. Everything refused or dropped is
//! counted in [`StoreStats`].
//!
//! # The `PromQL` subset
//!
//! Parsed by the `promql-parser` crate, then checked: anything else is a [`ParseError`]
//! naming the function or construct and its line and column.
//!
//! * Number and string literals; parentheses; unary minus.
//! * Instant selectors with `=`, `!=`, `=~`, `!~` (regexes fully anchored); range selectors
//!   `[5m]`; `offset` (negative too).
//! * Functions: `rate`, `increase`, `delta`, `irate`, `idelta`, `avg_over_time`,
//!   `min_over_time`, `max_over_time`, `sum_over_time`, `count_over_time`,
//!   `last_over_time`, `quantile_over_time`, `absent_over_time`, `histogram_quantile`
//!   (classic `le` buckets), `absent`, `abs`, `ceil`, `floor`, `round`, `clamp_min`,
//!   `clamp_max`, `time`, `vector`, `scalar`.
//! * Aggregations `sum`, `avg`, `min`, `max`, `count`, `topk`, `bottomk`, `quantile`,
//!   `count_values`, with `by`/`without`.
//! * Binary `+ - * / % ^`, comparisons `== != > < >= <=` (filtering, or `bool`), set
//!   operators `and`, `or`, `unless`; vector matching with `on`/`ignoring` and
//!   `group_left`/`group_right`.
//!
//! Not supported (refused with their position): other functions, `group`/`stddev`/
//! `stdvar`/`limitk`/`limit_ratio`, `atan2`, subqueries, the `@` modifier, `or` inside label
//! braces, `fill` modifiers, native histograms.
//!
//! # Semantics
//!
//! Those of Prometheus 2.42's engine (`promql/engine.go`, `functions.go`, `quantile.go`),
//! the version of the `promtool` the differential test runs: a 5-minute lookback for
//! instant selectors; staleness markers end a series at once; range windows are
//! `[t - offset - range, t - offset]`, closed at both ends; `rate`/`increase`/`delta`
//! extrapolate as `extrapolatedRate` (counter resets added back, extrapolation to the window
//! edges when the first/last sample is within 1.1 average intervals, else by half an
//! interval; a counter's start extrapolated no further than its zero point);
//! `histogram_quantile` as `bucketQuantile`; the metric name dropped where Prometheus drops
//! it (arithmetic, `bool` comparisons, functions but `last_over_time`, aggregations);
//! duplicate label sets in a result and many-to-many matching are [`EvalError`]s, with
//! Prometheus's messages. Selectors return series in the order they were created (first
//! seen in a page or an append), as Prometheus's head block does, and sums and averages add
//! them in that order; `topk`/`bottomk` use Go's heap; `^` is Go's `math.Pow` with Go's
//! amd64 `Exp` and `Log` (ported, with the fused multiply-add path when the CPU has it, as
//! Go chooses). So values are the same floats, to the bit.
//!
//! ## Differences from Prometheus
//!
//! * Newer Prometheus versions changed two details: from 2.52 the counter zero-point limit
//!   applies after the 1.1-interval rule (a `rate` whose first sample is far from the window
//!   start and close to zero can differ), and from 3.0 range windows and the lookback
//!   exclude their left edge (a sample exactly `range` before the evaluation time is
//!   dropped). This crate follows 2.42 on both.
//! * The order series are added in is their creation order; promtool creates its input
//!   series in a random order (from a Go map), so there a sum of three or more inexact
//!   values can differ in its last bit between two promtool runs. The differential test
//!   keeps such sums exact or to two series, and proves the order rule on its own.
//! * Regexes are Rust's `regex` crate's (through promql-parser), not Go's RE2: the same
//!   syntax for what rules use, but some Unicode classes and flags differ.
//! * NaN results cannot be compared by `promtool test rules` (NaN ≠ NaN); the differential
//!   test checks those samples through `x != bool x` instead.
//! * Only Prometheus built for amd64 is followed for `^` with a fractional exponent (other
//!   architectures' Go `Exp`/`Log` differ in the last bit).
//! * A sample's timestamp in a page is ignored: samples are stored at the ingest time.
#![allow(
    clippy::float_cmp,
    reason = "PromQL compares and selects floats exactly, as Prometheus does"
)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod ast;
mod error;
mod eval;
mod expr;
mod ingest;
mod labels;
mod locate;
mod series;
mod store;
mod validate;
mod value;

use std::time::Duration;

pub use error::{AppendError, EvalError, ParseError, Position};
pub use expr::Expr;
pub use ingest::IngestStats;
pub use labels::{Labels, LabelsParseError, METRIC_NAME};
pub use series::{STALE_NAN, is_stale_nan};
pub use store::{
    Limits, MAX_LABELS_PER_SERIES, MAX_POINTS_PER_SERIES, Store, StoreBuilder, StoreStats,
};
pub use value::{Sample, Value};

/// How far an instant selector looks back for a sample (Prometheus's default
/// `--query.lookback-delta`).
pub const LOOKBACK: Duration = Duration::from_millis(eval::LOOKBACK_MS as u64);

/// The names of the supported functions.
pub fn functions() -> impl Iterator<Item = &'static str> {
    ast::Func::ALL.iter().map(|(name, _)| *name)
}

/// The names of the supported aggregation operators.
pub fn aggregations() -> impl Iterator<Item = &'static str> {
    ast::AggOp::ALL.iter().map(|(name, _)| *name)
}
