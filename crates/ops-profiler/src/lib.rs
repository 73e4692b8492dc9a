//! Per-function call profiling cheap enough to leave on in production.
//!
//! Put [`#[perf_monitor]`](perf_monitor) on a function and every call's duration and outcome
//! (success, `Err`, panic, cancellation) is recorded into the [`global`] profiler; ask it for a
//! [`Report`] with the playbook's figures (`call_count`, `average_time_ms`, `min_time_ms`,
//! `max_time_ms`, `total_time_ms`) plus the error and cancelled counts and p50/p90/p99 within
//! 1 %, as a table, JSON or a Prometheus page (a histogram, so Prometheus computes the same
//! quantiles over any window).
//!
//! ```
//! use ops_profiler::perf_monitor;
//!
//! #[perf_monitor]
//! fn parse(input: &str) -> Result<u32, std::num::ParseIntError> {
//!     let n: u32 = input.trim().parse()?;
//!     Ok(n * 2)
//! }
//!
//! #[perf_monitor(name = "checkout", level = "info")]
//! async fn checkout(items: u32) -> u32 {
//!     items * 100
//! }
//!
//! assert_eq!(parse("21"), Ok(42));
//! assert!(parse("x").is_err());
//!
//! let report = ops_profiler::global().report();
//! let parse_figures = report.iter_named("parse").next().unwrap();
//! assert_eq!((parse_figures.call_count, parse_figures.error_count), (2, 1));
//! println!("{report}"); // an aligned table, slowest total first
//! # let _ = checkout(1);
//! ```
//!
//! # The attribute
//! Works on plain, `async`, generic, `unsafe`, `impl Trait`-returning functions and methods
//! (`self`, `&self`, `&mut self`, trait impls), with `?` and early `return`. A call is:
//! - an **error** when it returns `Err` (any `Result`, aliases included, detected on the
//!   returned value; or what [`error_if`](#which-outcomes-are-errors-error_if) says instead) or
//!   panics (the panic goes on unchanged);
//! - **cancelled**, not an error, when it is an `async fn` whose future is dropped after its
//!   first poll and before completion (see [Cancellation](#cancellation));
//! - timed from the call to the return; an `async fn` from its first poll to completion.
//!
//! Options: `name = "..."` (default: the function's path as the compiler names it, such as
//! `my_app::db::load_user`; methods get the type too, `my_app::Cache::get`, and trait methods
//! `<my_app::Cache as my_app::Store>::get`), `level = "trace"|"debug"|"info"|"warn"|"error"`,
//! `event = false`, `error_if = predicate`, `crate = path` (when `ops_profiler` is re-exported
//! under another name).
//!
//! Each call emits the playbook's event with target `perf_monitor`: "Function execution"
//! (`function`, `execution_time_ms`, `success = true`) at DEBUG, or "Function execution failed"
//! (with `error`, the error's `Display` text, and `success = false`) at WARN. `level = "info"`
//! gives successes at INFO and failures at ERROR, as the playbook logged them. A cancelled call
//! emits "Function execution cancelled" (`function`, `execution_time_ms`, `success = false`,
//! `cancelled = true`, no `error`) at the failure level. A disabled level costs a few
//! nanoseconds.
//!
//! `#[track_caller]` functions keep their body inline (a closure would hide the caller's
//! location): there, an `Err` return is counted as a call but not as an error, and `error_if`
//! is refused.
//!
//! # Which outcomes are errors: `error_if`
//! `#[perf_monitor(error_if = predicate)]` replaces the `Err` detection for one function: the
//! predicate is called as `Fn(&Ret) -> bool` on the whole returned value (`Ret` is the declared
//! return type, so a closure's parameter type is inferred) and the call is an error when it
//! answers `true`. A path to a function or a closure; any return type, `Result` or not. A panic
//! is still an error and a cancelled future still cancelled. The failure event's `error` is the
//! `Err`'s `Display` text when the value is an `Err` that has one, else `"error_if"`. A handler
//! whose 404 is an answer, not a failure:
//!
//! ```
//! use ops_profiler::perf_monitor;
//!
//! # #[derive(Debug, Clone, Copy)] pub struct StatusCode(u16);
//! # impl StatusCode { fn as_u16(self) -> u16 { self.0 } }
//! # pub struct Json<T>(T);
//! // `StatusCode` and `Json` as in axum; `async fn` and methods take it the same way.
//! #[perf_monitor(error_if = |r| matches!(r, Err(s) if s.as_u16() >= 500))]
//! fn get_order(id: u32) -> Result<Json<u32>, StatusCode> {
//!     match id {
//!         0 => Err(StatusCode(404)), // not found: a success for the profiler
//!         1 => Err(StatusCode(503)), // an error
//!         _ => Ok(Json(id)),
//!     }
//! }
//!
//! fn is_none<T>(v: &Option<T>) -> bool {
//!     v.is_none()
//! }
//!
//! #[perf_monitor(error_if = is_none)] // a path works too, on any return type
//! fn find(haystack: &str) -> Option<usize> {
//!     haystack.find('=')
//! }
//!
//! for id in 0..3 {
//!     let _ = get_order(id);
//! }
//! assert_eq!((find("a=b"), find("ab")), (Some(1), None));
//! let report = ops_profiler::global().report();
//! let orders = report.iter_named("get_order").next().unwrap();
//! assert_eq!((orders.call_count, orders.error_count), (3, 1));
//! let lookups = report.iter_named("find").next().unwrap();
//! assert_eq!((lookups.call_count, lookups.error_count), (2, 1));
//! ```
//!
//! The predicate is evaluated after the body, whose arguments it cannot borrow (they were moved
//! into it). Refused with an error on your line: `error_if` given twice, a return type with
//! `impl Trait` in it (it cannot be named), a function returning `!`, a `#[track_caller]`
//! function, and a predicate of another type than `Fn(&Ret) -> bool`.
//!
//! # Cancellation
//! A request its client abandons is not a server error. An `async fn` future dropped after its
//! first poll and before completion is counted as a call (in `call_count`, its duration in the
//! percentiles and the histogram) and in [`FunctionReport::cancelled_count`], the table's
//! CANCELLED column, the JSON's `cancelled_count` and `ops_function_cancelled_total`; never in
//! `error_count`. A future dropped before its first poll never started and is not recorded; one
//! whose poll panicked is an error. Code that times calls by hand records the same three
//! outcomes with [`FunctionHandle::record_outcome`] or
//! [`PerformanceProfiler::profile_outcome`] and an [`Outcome`].
//!
//! # Prometheus histogram
//! [`Report`]'s [`Exposition`] writes `ops_function_duration_seconds{function}` as a Prometheus
//! histogram (`_bucket{le}`, `_sum`, `_count`) with fixed bounds, in seconds,
//! [`HISTOGRAM_BOUNDS_SECONDS`]: 1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4,
//! 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 and `+Inf`; so
//! `histogram_quantile(0.99, sum by (le) (rate(ops_function_duration_seconds_bucket{function="…"}[5m])))`
//! works in Prometheus as on any client library's histogram. Beside it:
//! `ops_function_errors_total`, `ops_function_cancelled_total`, and the exact
//! `ops_function_duration_min_seconds` / `_max_seconds` gauges. The same cumulative counts are
//! in [`FunctionReport::buckets`].
//!
//! The counts are exact for `le` (at most the bound), not estimated from the percentile
//! buckets: a call of exactly 1 ms is in `le="0.001"`, one of 1 ms + 1 ns is not. Durations are
//! whole nanoseconds; the log-linear buckets below either lie inside one Prometheus bucket
//! (counted there when the report is taken) or straddle one bound, and only for those does
//! recording compare the duration with the bound. Calls longer than 10 s are only in `+Inf`.
//!
//! # Cost
//! Per-call state is a `static` per call site, registered once: no name lookup or hashing per
//! call. Recording touches no lock and no cache line another thread writes: each function keeps
//! up to 16 shards, one per thread (threads beyond 16 share with atomic updates), merged when a
//! report is taken. Calls are timed with the TSC through `quanta` where it is reliable (see
//! [`clock_name`]); feature `tsc`, on by default, `std::time::Instant` otherwise.
//!
//! # Percentiles
//! A log-linear histogram per shard: exact below 128 ns, then 64 buckets per power of two up to
//! 2^42 ns (73 min), so every reported percentile is within 0.8 % of the exact nearest-rank
//! value. A shard is 18.75 KiB (19,200 bytes: those 2,368 counters, the Prometheus bounds' 22,
//! sum, min, max, errors and cancelled, padded to 128 bytes) whatever the number of calls.

#![warn(missing_docs)]

#[doc(hidden)]
pub mod __private;
mod clock;
mod histogram;
mod outcome;
mod profiler;
mod prometheus;
mod report;
mod stats;

/// Records every call of the function into the [`global`] profiler. See the
/// [crate documentation](crate) for the shapes it accepts, its options and its events.
pub use ops_profiler_macros::perf_monitor;

pub use crate::outcome::Outcome;
pub use crate::profiler::{FunctionHandle, PerformanceProfiler, calibrate, clock_name, global};
pub use crate::prometheus::HISTOGRAM_BOUNDS_SECONDS;
pub use crate::report::{FunctionReport, Report};
/// The trait of everything that writes a Prometheus page section; [`Report`] implements it.
pub use ops_core::Exposition;
