//! What a rule can watch, and the one table that reads each metric's values from an
//! observation: the evaluator, the Nagios check and the monitor's status pages all use it.

use std::time::SystemTime;

use crate::evaluator::Observation;

/// What a rule watches.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Metric {
    /// `cpu_percent` (absent on a source's first sample).
    Cpu,
    /// `memory_percent`.
    Memory,
    /// Disk used percent, one alert per mount (label `mount`) unless `mount` selects one.
    Disk,
    /// Received bytes per second, one alert per interface (label `interface`) unless selected.
    NetworkRx,
    /// Transmitted bytes per second, per interface.
    NetworkTx,
    /// `process_count`.
    Processes,
    /// 1-minute load average.
    Load1,
    /// 5-minute load average.
    Load5,
    /// 15-minute load average.
    Load15,
    /// A profiled function's p50 in ms, one alert per function (label `function`) unless
    /// `function` selects one.
    FunctionP50,
    /// A profiled function's p90 in ms.
    FunctionP90,
    /// A profiled function's p99 in ms.
    FunctionP99,
    /// A profiled function's average in ms.
    FunctionAvg,
    /// A profiled function's error ratio (errors / calls, 0–1).
    FunctionErrorRatio,
}

impl Metric {
    /// The name used in rule files.
    pub fn name(&self) -> &'static str {
        match self {
            Metric::Cpu => "cpu",
            Metric::Memory => "memory",
            Metric::Disk => "disk",
            Metric::NetworkRx => "network_rx_bytes_per_second",
            Metric::NetworkTx => "network_tx_bytes_per_second",
            Metric::Processes => "processes",
            Metric::Load1 => "load1",
            Metric::Load5 => "load5",
            Metric::Load15 => "load15",
            Metric::FunctionP50 => "function_p50_ms",
            Metric::FunctionP90 => "function_p90_ms",
            Metric::FunctionP99 => "function_p99_ms",
            Metric::FunctionAvg => "function_avg_ms",
            Metric::FunctionErrorRatio => "function_error_ratio",
        }
    }

    /// Every metric, for error messages and documentation.
    pub const ALL: [Metric; 14] = [
        Metric::Cpu,
        Metric::Memory,
        Metric::Disk,
        Metric::NetworkRx,
        Metric::NetworkTx,
        Metric::Processes,
        Metric::Load1,
        Metric::Load5,
        Metric::Load15,
        Metric::FunctionP50,
        Metric::FunctionP90,
        Metric::FunctionP99,
        Metric::FunctionAvg,
        Metric::FunctionErrorRatio,
    ];

    pub(crate) fn parse(text: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == text)
    }

    /// The label that tells instances apart, for per-mount/interface/function metrics.
    pub fn instance_label(&self) -> Option<&'static str> {
        match self {
            Metric::Disk => Some("mount"),
            Metric::NetworkRx | Metric::NetworkTx => Some("interface"),
            Metric::FunctionP50
            | Metric::FunctionP90
            | Metric::FunctionP99
            | Metric::FunctionAvg
            | Metric::FunctionErrorRatio => Some("function"),
            _ => None,
        }
    }
}

/// A metric name that is not one of [`Metric::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown metric {0:?}; known: cpu, memory, disk, network_rx_bytes_per_second, network_tx_bytes_per_second, processes, load1, load5, load15, function_p50_ms, function_p90_ms, function_p99_ms, function_avg_ms, function_error_ratio"
)]
pub struct UnknownMetric(pub String);

impl std::str::FromStr for Metric {
    type Err = UnknownMetric;

    /// The names of rule files (`cpu`, `disk`, `load1`, `function_p99_ms`…).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Metric::parse(s).ok_or_else(|| UnknownMetric(s.to_owned()))
    }
}

impl Metric {
    /// The unit of the metric's values, as Nagios performance data writes it (`%`, `ms`, `B`
    /// for bytes per second, empty for counts and ratios).
    pub fn unit(&self) -> &'static str {
        match self {
            Metric::Cpu | Metric::Memory | Metric::Disk => "%",
            Metric::NetworkRx | Metric::NetworkTx => "B",
            Metric::FunctionP50
            | Metric::FunctionP90
            | Metric::FunctionP99
            | Metric::FunctionAvg => "ms",
            _ => "",
        }
    }

    /// The largest value the metric can take, when it has one (100 for percentages, 1 for
    /// ratios).
    pub fn max(&self) -> Option<f64> {
        match self {
            Metric::Cpu | Metric::Memory | Metric::Disk => Some(100.0),
            Metric::FunctionErrorRatio => Some(1.0),
            _ => None,
        }
    }

    /// Whether one observation is enough to read the metric (rates need the previous sample;
    /// function figures need a profiler report).
    pub fn needs_history(&self) -> bool {
        matches!(self, Metric::NetworkRx | Metric::NetworkTx)
    }

    /// Whether the metric is computed over a window of counters and histograms (the profiler's
    /// `function_*` figures), as Prometheus's `rate`/`increase`/`histogram_quantile` would.
    pub fn is_windowed(&self) -> bool {
        matches!(
            self,
            Metric::FunctionP50
                | Metric::FunctionP90
                | Metric::FunctionP99
                | Metric::FunctionAvg
                | Metric::FunctionErrorRatio
        )
    }
}

/// A string as a `PromQL` double-quoted literal: `\`, `"` and newlines escaped, as in a label
/// value of the exposition format.
pub(crate) fn promql_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    ops_core::exposition::escape_label_value(text, &mut out);
    out.push('"');
    out
}

/// A regex matching `text` literally (RE2 and Rust's regex share the escapes used here).
fn regex_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The `PromQL` expression of a metric's value over the exposition's names (`ops_metrics`'
/// and `ops_profiler`'s families), scaled as rules compare it (percent for usage, ms for
/// durations), one sample per instance, labelled as the exposition labels it. Windowed
/// metrics use `window`.
pub(crate) fn promql_value(
    metric: &Metric,
    selector: Option<&str>,
    window: std::time::Duration,
) -> String {
    let w = ops_core::duration::format(window).replace(' ', "");
    let eq = |label: &str| {
        selector.map_or_else(String::new, |s| format!("{{{label}={}}}", promql_string(s)))
    };
    // A function selector matches the full path or its last segments, as the evaluator does.
    let func = || {
        selector.map_or_else(String::new, |s| {
            format!(
                "{{function=~{}}}",
                promql_string(&format!("(.*::)?{}", regex_literal(s)))
            )
        })
    };
    match metric {
        Metric::Cpu => "ops_cpu_usage_ratio * 100".into(),
        Metric::Memory => "ops_memory_usage_ratio * 100".into(),
        Metric::Disk => format!("ops_filesystem_usage_ratio{} * 100", eq("mountpoint")),
        Metric::NetworkRx => format!(
            "irate(node_network_receive_bytes_total{}[{w}])",
            eq("device")
        ),
        Metric::NetworkTx => format!(
            "irate(node_network_transmit_bytes_total{}[{w}])",
            eq("device")
        ),
        Metric::Processes => "node_processes_pids".into(),
        Metric::Load1 => "node_load1".into(),
        Metric::Load5 => "node_load5".into(),
        Metric::Load15 => "node_load15".into(),
        Metric::FunctionP50 | Metric::FunctionP90 | Metric::FunctionP99 => {
            let q = match metric {
                Metric::FunctionP50 => "0.5",
                Metric::FunctionP90 => "0.9",
                _ => "0.99",
            };
            format!(
                "histogram_quantile({q}, sum by (function, le) (rate(ops_function_duration_seconds_bucket{}[{w}]))) * 1000",
                func()
            )
        }
        Metric::FunctionAvg => format!(
            "sum by (function) (rate(ops_function_duration_seconds_sum{f}[{w}])) / sum by (function) (rate(ops_function_duration_seconds_count{f}[{w}])) * 1000",
            f = func()
        ),
        Metric::FunctionErrorRatio => format!(
            "sum by (function) (increase(ops_function_errors_total{f}[{w}])) / sum by (function) (increase(ops_function_duration_seconds_count{f}[{w}]))",
            f = func()
        ),
    }
}

/// The byte counters of the previous observation, for per-second network rates.
#[derive(Debug, Clone, Default)]
pub(crate) struct NetworkMemo {
    last: Vec<(String, u64, u64)>,
    at: Option<SystemTime>,
}

impl NetworkMemo {
    /// Remembers this observation's counters (allocation-free while the interfaces stay the
    /// same).
    pub(crate) fn remember(&mut self, m: &ops_metrics::SystemMetrics) {
        let same = self.last.len() == m.interfaces.len()
            && self
                .last
                .iter()
                .zip(&m.interfaces)
                .all(|(a, (name, _))| &a.0 == name);
        if same {
            for (slot, (_, v)) in self.last.iter_mut().zip(&m.interfaces) {
                slot.1 = v.bytes_recv;
                slot.2 = v.bytes_sent;
            }
        } else {
            self.last = m
                .interfaces
                .iter()
                .map(|(k, v)| (k.clone(), v.bytes_recv, v.bytes_sent))
                .collect();
        }
        self.at = Some(m.timestamp);
    }
}

/// Whether a function's name is selected by `selector`: the full name, or its last path
/// segments (`work_fail` selects `app::work_fail`).
fn function_selected(name: &str, selector: Option<&str>) -> bool {
    selector.is_none_or(|s| {
        name == s
            || name
                .strip_suffix(s)
                .is_some_and(|rest| rest.ends_with("::"))
    })
}

/// Calls `f(instance, value)` for every value of `metric` in the observation that `selector`
/// selects (`instance` is "" for single-instance metrics). Rates need `memo` to hold the
/// previous observation; without one they yield nothing.
pub(crate) fn for_each_value(
    metric: &Metric,
    selector: Option<&str>,
    obs: Observation<'_>,
    memo: &NetworkMemo,
    mut f: impl FnMut(&str, f64),
) {
    let m = obs.metrics;
    let selected = |key: &str| selector.is_none_or(|s| s == key);
    match metric {
        Metric::Cpu => {
            if let Some(v) = m.cpu_percent {
                f("", v);
            }
        }
        Metric::Memory => f("", m.memory_percent),
        Metric::Processes => f("", m.process_count as f64),
        Metric::Load1 | Metric::Load5 | Metric::Load15 => {
            if let Some(l) = m.load_average {
                let v = match metric {
                    Metric::Load1 => l.one,
                    Metric::Load5 => l.five,
                    _ => l.fifteen,
                };
                f("", v);
            }
        }
        Metric::Disk => {
            for (mount, &p) in &m.disk_usage {
                if selected(mount) {
                    f(mount, p);
                }
            }
        }
        Metric::NetworkRx | Metric::NetworkTx => {
            let Some(prev_at) = memo.at else {
                return;
            };
            let secs = m
                .timestamp
                .duration_since(prev_at)
                .map_or(0.0, |d| d.as_secs_f64());
            if secs <= 0.0 {
                return;
            }
            for (name, io) in &m.interfaces {
                if !selected(name) {
                    continue;
                }
                if let Some((_, rx, tx)) = memo.last.iter().find(|(n, _, _)| n == name) {
                    let (now, before) = if *metric == Metric::NetworkRx {
                        (io.bytes_recv, *rx)
                    } else {
                        (io.bytes_sent, *tx)
                    };
                    f(name, now.saturating_sub(before) as f64 / secs);
                }
            }
        }
        Metric::FunctionP50
        | Metric::FunctionP90
        | Metric::FunctionP99
        | Metric::FunctionAvg
        | Metric::FunctionErrorRatio => {
            let Some(report) = obs.profile else { return };
            for func in &report.functions {
                let name = func.function.as_str();
                if !function_selected(name, selector) {
                    continue;
                }
                let v = match metric {
                    Metric::FunctionP50 => func.p50_ms,
                    Metric::FunctionP90 => func.p90_ms,
                    Metric::FunctionP99 => func.p99_ms,
                    Metric::FunctionAvg => func.average_time_ms,
                    _ => {
                        if func.call_count == 0 {
                            0.0
                        } else {
                            func.error_count as f64 / func.call_count as f64
                        }
                    }
                };
                f(name, v);
            }
        }
    }
}
