//! Reports: the playbook's figures per function, as a table, JSON or Prometheus text.

use std::fmt;

use ops_core::exposition::{Encoder, Exposition, ExpositionValue, MetricType};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::histogram;
use crate::prometheus::HISTOGRAM_BOUNDS_SECONDS;
use crate::stats::Snapshot;

/// One function's figures. Times are milliseconds; percentiles are within 1 % of the exact
/// nearest-rank value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FunctionReport {
    /// The function's name (its path, or the attribute's `name`).
    pub function: String,
    /// Calls recorded, cancelled ones included.
    pub call_count: u64,
    /// Calls that failed: returned `Err` (or what the attribute's `error_if` calls an error) or
    /// panicked. Cancelled calls are not errors.
    pub error_count: u64,
    /// Calls abandoned before they finished (an `async fn` future dropped, a request whose client
    /// went away); counted in `call_count`, not in `error_count`.
    #[serde(default)]
    pub cancelled_count: u64,
    /// `total_time_ms / call_count`.
    pub average_time_ms: f64,
    /// The fastest call.
    pub min_time_ms: f64,
    /// The slowest call.
    pub max_time_ms: f64,
    /// Time spent in all calls.
    pub total_time_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// The Prometheus histogram: `(upper bound in seconds, calls at most that long)`, cumulative,
    /// one entry per bound of [`HISTOGRAM_BOUNDS_SECONDS`](crate::HISTOGRAM_BOUNDS_SECONDS)
    /// (1 µs to 10 s); the `+Inf` bucket is `call_count`. Exact, not estimated: a call of exactly
    /// 1 ms is counted at `0.001`, one of 1 ms + 1 ns is not.
    #[serde(default)]
    pub buckets: Vec<(f64, u64)>,
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// Milliseconds (from whole nanoseconds) as seconds, through the nanoseconds so the page shows
/// `0.042800001`, not `0.042800001000000004`.
fn seconds(ms: f64) -> f64 {
    (ms * 1e6).round() / 1e9
}

impl FunctionReport {
    pub(crate) fn from_snapshot(name: &str, s: &Snapshot) -> Self {
        let q = |q| histogram::quantile(&s.buckets, s.count, q, s.min, s.max).map_or(0.0, ms);
        FunctionReport {
            function: name.to_owned(),
            call_count: s.count,
            error_count: s.errors,
            cancelled_count: s.cancelled,
            average_time_ms: if s.count == 0 {
                0.0
            } else {
                ms(s.sum) / s.count as f64
            },
            min_time_ms: ms(s.min),
            max_time_ms: ms(s.max),
            total_time_ms: ms(s.sum),
            p50_ms: q(0.5),
            p90_ms: q(0.9),
            p99_ms: q(0.99),
            buckets: HISTOGRAM_BOUNDS_SECONDS
                .iter()
                .copied()
                .zip(s.le.iter().copied())
                .collect(),
        }
    }
}

/// Figures for every profiled function, sorted by total time (largest first).
///
/// - `Display`: an aligned table (FUNCTION, CALLS, ERRORS, CANCELLED, then the times).
/// - `Serialize`: the playbook's report, an object keyed by function name, with
///   `cancelled_count` beside `error_count` (the histogram's buckets are left to
///   [`FunctionReport::buckets`] and the Prometheus page).
/// - [`Exposition`]: a Prometheus page section (`report.to_prometheus()`) that
///   `promtool check metrics` accepts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// One entry per function.
    pub functions: Vec<FunctionReport>,
}

impl Report {
    /// The figures of `function`, if it was called.
    pub fn get(&self, function: &str) -> Option<&FunctionReport> {
        self.functions.iter().find(|f| f.function == function)
    }

    /// Functions whose name is `name` or ends with `::name` (a path's last segment).
    pub fn iter_named<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a FunctionReport> + 'a {
        self.functions.iter().filter(move |f| {
            f.function == name
                || f.function
                    .strip_suffix(name)
                    .is_some_and(|rest| rest.ends_with("::"))
        })
    }
}

impl Exposition for Report {
    /// Appends the report's families to a Prometheus text page: the histogram
    /// `ops_function_duration_seconds{function}` (`_bucket{le}` at
    /// [`HISTOGRAM_BOUNDS_SECONDS`](crate::HISTOGRAM_BOUNDS_SECONDS) and `+Inf`, `_sum`,
    /// `_count`), `ops_function_errors_total`, `ops_function_cancelled_total`, and the exact min
    /// and max.
    fn encode_prometheus(&self, out: &mut String) {
        if self.functions.is_empty() {
            return;
        }
        let mut e = Encoder::new(out);
        let name = "ops_function_duration_seconds";
        e.family(
            name,
            "Duration of profiled function calls.",
            MetricType::Histogram,
        );
        for f in &self.functions {
            e.histogram(
                name,
                &[("function", f.function.as_str())],
                &f.buckets,
                f.call_count,
                seconds(f.total_time_ms),
            );
        }
        let functions = &self.functions;
        family(
            &mut e,
            functions,
            "ops_function_errors_total",
            "Profiled calls that returned an error or panicked.",
            MetricType::Counter,
            |f| f.error_count,
        );
        family(
            &mut e,
            functions,
            "ops_function_cancelled_total",
            "Profiled calls abandoned before they finished (not errors).",
            MetricType::Counter,
            |f| f.cancelled_count,
        );
        family(
            &mut e,
            functions,
            "ops_function_duration_min_seconds",
            "Fastest profiled call.",
            MetricType::Gauge,
            |f| seconds(f.min_time_ms),
        );
        family(
            &mut e,
            functions,
            "ops_function_duration_max_seconds",
            "Slowest profiled call.",
            MetricType::Gauge,
            |f| seconds(f.max_time_ms),
        );
    }
}

/// A family with one series per function.
fn family<V: ExpositionValue>(
    e: &mut Encoder<'_>,
    functions: &[FunctionReport],
    name: &str,
    help: &str,
    kind: MetricType,
    value: impl Fn(&FunctionReport) -> V,
) {
    e.family(name, help, kind);
    for f in functions {
        e.sample(name, &[("function", f.function.as_str())], value(f));
    }
}

#[derive(Serialize)]
struct Entry {
    call_count: u64,
    error_count: u64,
    cancelled_count: u64,
    average_time_ms: f64,
    min_time_ms: f64,
    max_time_ms: f64,
    total_time_ms: f64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
}

impl Serialize for Report {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.functions.len()))?;
        for f in &self.functions {
            map.serialize_entry(
                &f.function,
                &Entry {
                    call_count: f.call_count,
                    error_count: f.error_count,
                    cancelled_count: f.cancelled_count,
                    average_time_ms: f.average_time_ms,
                    min_time_ms: f.min_time_ms,
                    max_time_ms: f.max_time_ms,
                    total_time_ms: f.total_time_ms,
                    p50_ms: f.p50_ms,
                    p90_ms: f.p90_ms,
                    p99_ms: f.p99_ms,
                },
            )?;
        }
        map.end()
    }
}

fn fmt_ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.1}")
    } else if v >= 1.0 {
        format!("{v:.3}")
    } else if v >= 0.01 {
        format!("{v:.4}")
    } else {
        format!("{v:.6}")
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .functions
            .iter()
            .map(|r| r.function.len())
            .max()
            .unwrap_or(8)
            .max(8);
        writeln!(
            f,
            "{:<width$}  {:>9}  {:>7}  {:>9}  {:>11}  {:>10}  {:>10}  {:>10}  {:>10}  {:>10}  {:>10}",
            "FUNCTION",
            "CALLS",
            "ERRORS",
            "CANCELLED",
            "TOTAL ms",
            "AVG ms",
            "MIN ms",
            "P50 ms",
            "P90 ms",
            "P99 ms",
            "MAX ms"
        )?;
        for r in &self.functions {
            writeln!(
                f,
                "{:<width$}  {:>9}  {:>7}  {:>9}  {:>11}  {:>10}  {:>10}  {:>10}  {:>10}  {:>10}  {:>10}",
                r.function,
                r.call_count,
                r.error_count,
                r.cancelled_count,
                fmt_ms(r.total_time_ms),
                fmt_ms(r.average_time_ms),
                fmt_ms(r.min_time_ms),
                fmt_ms(r.p50_ms),
                fmt_ms(r.p90_ms),
                fmt_ms(r.p99_ms),
                fmt_ms(r.max_time_ms),
            )?;
        }
        Ok(())
    }
}
