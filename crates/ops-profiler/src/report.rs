//! Reports: the playbook's figures per function, as a table, JSON or Prometheus text.

use std::fmt;

use ops_core::exposition::{Encoder, Exposition, MetricType};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::histogram;
use crate::stats::Snapshot;

/// One function's figures. Times are milliseconds; percentiles are within 1 % of the exact
/// nearest-rank value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FunctionReport {
    /// The function's name (its path, or the attribute's `name`).
    pub function: String,
    /// Calls recorded.
    pub call_count: u64,
    /// Calls that returned `Err`, panicked, or (async) were cancelled.
    pub error_count: u64,
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
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

impl FunctionReport {
    pub(crate) fn from_snapshot(name: &str, s: &Snapshot) -> Self {
        let q = |q| histogram::quantile(&s.buckets, s.count, q, s.min, s.max).map_or(0.0, ms);
        FunctionReport {
            function: name.to_owned(),
            call_count: s.count,
            error_count: s.errors,
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
        }
    }
}

/// Figures for every profiled function, sorted by total time (largest first).
///
/// - `Display`: an aligned table.
/// - `Serialize`: the playbook's report, an object keyed by function name.
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
    /// Appends the report's families to a Prometheus text page: a summary
    /// `ops_function_duration_seconds{function, quantile}` (0.5, 0.9, 0.99, with `_sum` and
    /// `_count`), `ops_function_errors_total`, and the exact min and max.
    fn encode_prometheus(&self, out: &mut String) {
        if self.functions.is_empty() {
            return;
        }
        let mut e = Encoder::new(out);
        let name = "ops_function_duration_seconds";
        e.family(
            name,
            "Duration of profiled function calls.",
            MetricType::Summary,
        );
        for f in &self.functions {
            let function = f.function.as_str();
            for (q, v) in [("0.5", f.p50_ms), ("0.9", f.p90_ms), ("0.99", f.p99_ms)] {
                e.sample(name, &[("function", function), ("quantile", q)], v / 1e3);
            }
            e.sample(
                "ops_function_duration_seconds_sum",
                &[("function", function)],
                f.total_time_ms / 1e3,
            );
            e.sample(
                "ops_function_duration_seconds_count",
                &[("function", function)],
                f.call_count,
            );
        }
        e.family(
            "ops_function_errors_total",
            "Profiled calls that returned an error, panicked or were cancelled.",
            MetricType::Counter,
        );
        for f in &self.functions {
            e.sample(
                "ops_function_errors_total",
                &[("function", f.function.as_str())],
                f.error_count,
            );
        }
        e.family(
            "ops_function_duration_min_seconds",
            "Fastest profiled call.",
            MetricType::Gauge,
        );
        for f in &self.functions {
            e.sample(
                "ops_function_duration_min_seconds",
                &[("function", f.function.as_str())],
                f.min_time_ms / 1e3,
            );
        }
        e.family(
            "ops_function_duration_max_seconds",
            "Slowest profiled call.",
            MetricType::Gauge,
        );
        for f in &self.functions {
            e.sample(
                "ops_function_duration_max_seconds",
                &[("function", f.function.as_str())],
                f.max_time_ms / 1e3,
            );
        }
    }
}

#[derive(Serialize)]
struct Entry {
    call_count: u64,
    error_count: u64,
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
            "{:<width$}  {:>9}  {:>7}  {:>11}  {:>10}  {:>10}  {:>10}  {:>10}  {:>10}  {:>10}",
            "FUNCTION",
            "CALLS",
            "ERRORS",
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
                "{:<width$}  {:>9}  {:>7}  {:>11}  {:>10}  {:>10}  {:>10}  {:>10}  {:>10}  {:>10}",
                r.function,
                r.call_count,
                r.error_count,
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
