//! Per-function call profiling cheap enough to leave on in production.
//!
//! Put [`#[perf_monitor]`](perf_monitor) on a function and every call's duration and outcome
//! (success, `Err`, panic) is recorded into the [`global`] profiler; ask it for a [`Report`] with
//! the playbook's figures (`call_count`, `average_time_ms`, `min_time_ms`, `max_time_ms`,
//! `total_time_ms`) plus the error count and p50/p90/p99 within 1 %, as a table, JSON or a
//! Prometheus page.
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
//!   returned value), panics (the panic goes on unchanged), or, for `async fn`, when the future
//!   is dropped before completion;
//! - timed from the call to the return; an `async fn` from its first poll to completion.
//!
//! Options: `name = "..."` (default: the function's path as the compiler names it, such as
//! `my_app::db::load_user`; methods get the type too, `my_app::Cache::get`, and trait methods
//! `<my_app::Cache as my_app::Store>::get`), `level = "trace"|"debug"|"info"|"warn"|"error"`,
//! `event = false`, `crate = path` (when `ops_profiler` is re-exported under another name).
//!
//! Each call emits the playbook's event with target `perf_monitor`: "Function execution"
//! (`function`, `execution_time_ms`, `success = true`) at DEBUG, or "Function execution failed"
//! (with `error`, the error's `Display` text) at WARN. `level = "info"` gives successes at INFO
//! and failures at ERROR, as the playbook logged them. A disabled level costs a few nanoseconds.
//!
//! `#[track_caller]` functions keep their body inline (a closure would hide the caller's
//! location): there, an `Err` return is counted as a call but not as an error.
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
//! value; 18.5 KiB per shard whatever the number of calls.

#![warn(missing_docs)]

#[doc(hidden)]
pub mod __private;
mod clock;
mod histogram;
mod profiler;
mod report;
mod stats;

/// Records every call of the function into the [`global`] profiler. See the
/// [crate documentation](crate) for the shapes it accepts, its options and its events.
pub use ops_profiler_macros::perf_monitor;

pub use crate::profiler::{FunctionHandle, PerformanceProfiler, calibrate, clock_name, global};
pub use crate::report::{FunctionReport, Report};
/// The trait of everything that writes a Prometheus page section; [`Report`] implements it.
pub use ops_core::Exposition;
