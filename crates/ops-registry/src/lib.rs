//! A service's own metrics — counters, gauges and histograms with labels: orders placed,
//! checkout visits, request durations — in a [`Registry`] rendered as a section of the same
//! Prometheus page as everything else ops-rs exposes ([`Exposition`]).
//!
//! ```
//! use ops_registry::{Buckets, Exposition, Registry};
//!
//! let reg = Registry::new();
//! let orders = reg.counter("shop_orders_total", "Orders placed.")?;
//! let visits = reg.counter_vec("shop_checkout_visits_total", "Checkout page views.", &["step"])?;
//! let queue = reg.gauge("jobs_queued", "Jobs waiting.")?;
//! let lat = reg.histogram_vec("rpc_duration_seconds", "RPC latency.", &["rpc"], Buckets::new(&[0.01, 0.1])?)?;
//!
//! orders.inc();
//! orders.add(3);
//! visits.with(&["cart"]).inc();
//! queue.set(7.0);
//! lat.with(&["get"]).record(0.012);
//!
//! assert_eq!(reg.to_prometheus(), "\
//! ## HELP shop_orders_total Orders placed.
//! ## TYPE shop_orders_total counter
//! shop_orders_total 4
//! ## HELP shop_checkout_visits_total Checkout page views.
//! ## TYPE shop_checkout_visits_total counter
//! shop_checkout_visits_total{step=\"cart\"} 1
//! ## HELP jobs_queued Jobs waiting.
//! ## TYPE jobs_queued gauge
//! jobs_queued 7
//! ## HELP rpc_duration_seconds RPC latency.
//! ## TYPE rpc_duration_seconds histogram
//! rpc_duration_seconds_bucket{rpc=\"get\",le=\"0.01\"} 0
//! rpc_duration_seconds_bucket{rpc=\"get\",le=\"0.1\"} 1
//! rpc_duration_seconds_bucket{rpc=\"get\",le=\"+Inf\"} 1
//! rpc_duration_seconds_sum{rpc=\"get\"} 0.012
//! rpc_duration_seconds_count{rpc=\"get\"} 1
//! ## HELP ops_registry_overflow_total Label sets refused a series of their own (past the family's cardinality limit, a label value too long, or the wrong number of values), one per lookup; their updates go to the family's overflow=\"true\" series.
//! ## TYPE ops_registry_overflow_total counter
//! ops_registry_overflow_total{family=\"shop_checkout_visits_total\"} 0
//! ops_registry_overflow_total{family=\"rpc_duration_seconds\"} 0
//! ");
//! # Ok::<(), ops_registry::Error>(())
//! ```
//!
//! # Names and labels
//! Checked when a family is registered, with typed [`Error`]s naming the family, label and
//! value:
//! - metric names `[a-zA-Z_:][a-zA-Z0-9_:]*`; counters end in `_total` and nothing else does;
//!   no name ends in `_bucket`, `_count` or `_sum` (a histogram's series names); the prefix
//!   `ops_registry_` is the registry's own;
//! - label names `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__`, not repeated, at most
//!   [`MAX_LABELS`]; `le`, `quantile` and `overflow` are reserved on every type;
//! - a declared [`Unit`] must be the name's suffix (`_seconds`; a counter's `_seconds_total`);
//! - a name registered again with the same type, label names (same order) and buckets returns
//!   the same family, so two call sites can share it; anything else is [`Error::Conflict`],
//!   never a second `# TYPE` line.
//!
//! promtool's style advice (`snake_case`, no `:`, base units) is not enforced: those names are
//! valid, and some services need them.
//!
//! # Bounded: the cardinality limit
//! A labelled family keeps at most its cardinality limit of label sets (default 1,000;
//! [`RegistryBuilder::cardinality_limit`], [`FamilyBuilder::cardinality_limit`]). Past it, a
//! new label set gets no series of its own: its updates go to the family's one overflow series,
//! labelled `overflow="true"`, so totals stay right. So do label sets with a value longer than
//! [`RegistryBuilder::max_label_value_len`] (1 KiB; refused rather than truncated, so two
//! long values never merge into a series that looks real) and `with()` calls with the wrong
//! number of values (no panic). Each such lookup is counted in
//! `ops_registry_overflow_total{family="…"}` on the page, and the first of each kind is logged
//! at WARN (target `ops_registry`). [`CounterVec::try_with`] returns them as errors instead.
//! Families are capped too ([`RegistryBuilder::max_families`], 10,000).
//!
//! # Cost
//! Updating a handle takes no lock. Counters and histograms are sharded per thread, as
//! ops-profiler shards its figures: the first 32 threads alive at once that record each get a
//! slot (handed back when the thread exits) and write their own shard of each series with a
//! plain load and store — no atomic read-modify-write, no cache line another thread writes.
//! Threads beyond 32 share one more shard with atomic adds: exact, slower. A shard is a
//! cache-line padded block allocated on its slot's first write, so an idle series costs its
//! table of 33 shard pointers (272 bytes); the page merges the shards when it is rendered. A
//! gauge is one atomic `f64` (see [`Gauge`] for what `set` and `add` mean under concurrency).
//! Keep handles ([`Counter`], [`Histogram`]) rather than calling `with()` per event. Figures:
//! `cargo bench -p ops-benches --bench registry`.
//!
//! # Histograms
//! [`Buckets::HTTP`] (OpenTelemetry's advised bounds for request durations, plus 2 s),
//! [`Buckets::DEFAULT`] (the Prometheus clients'), or [`Buckets::new`] (finite, strictly
//! increasing, 1 to 64 bounds). Non-finite observations are counted in their bucket but not
//! added to `_sum`.
//!
//! # The `metrics` facade
//! With the feature `metrics`, [`MetricsRecorder`] is a `metrics::Recorder` over a registry:
//! `metrics::counter!`, `gauge!`, `histogram!` and `describe_*!` — from the service or from
//! crates it uses — land in the same families and on the same page. See [`MetricsRecorder`]
//! for how names and labels are made valid.
//!
//! # Features
//! | feature | default | what |
//! |---|---|---|
//! | `metrics` | no | [`MetricsRecorder`], over the `metrics` 0.24 facade |

// Without the feature the recorder is not there to link to: point at the section instead.
#![cfg_attr(
    not(feature = "metrics"),
    doc = "\n\n[`MetricsRecorder`]: #the-metrics-facade"
)]
#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::float_cmp))]

mod buckets;
mod builder;
mod cells;
mod counter;
mod error;
mod family;
mod gauge;
mod histogram;
mod key;
mod name;
#[cfg(feature = "metrics")]
mod recorder;
mod registry;
mod render;
mod slot;
mod unit;
mod vec;

pub use crate::buckets::Buckets;
pub use crate::builder::FamilyBuilder;
pub use crate::counter::Counter;
pub use crate::error::Error;
pub use crate::gauge::{Gauge, GaugeGuard};
pub use crate::histogram::{Histogram, HistogramTimer};
pub use crate::name::MAX_LABELS;
#[cfg(feature = "metrics")]
pub use crate::recorder::{MetricsRecorder, MetricsRecorderBuilder};
pub use crate::registry::{Registry, RegistryBuilder};
pub use crate::unit::Unit;
pub use crate::vec::{CounterVec, GaugeVec, HistogramVec};
/// The trait of everything that writes a Prometheus page section; [`Registry`] implements it.
pub use ops_core::Exposition;
