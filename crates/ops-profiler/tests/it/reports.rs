//! The report as the playbook's JSON, a table and a promtool-clean Prometheus page.

use std::time::Duration;

use ops_profiler::{Exposition as _, HISTOGRAM_BOUNDS_SECONDS, Outcome, PerformanceProfiler};
use ops_testkit::promtool;

fn sample() -> PerformanceProfiler {
    let p = PerformanceProfiler::new();
    p.profile_function("fast \"quoted\" fn", Duration::from_micros(5));
    p.profile_function("slow", Duration::from_millis(30));
    p.profile_function("slow", Duration::from_millis(10));
    p.profile_call("slow", Duration::from_millis(20), false);
    p
}

#[test]
fn json_is_the_playbooks_report() {
    let v = serde_json::to_value(sample().report()).unwrap();
    let slow = &v["slow"];
    assert_eq!(slow["call_count"], 3);
    assert_eq!(slow["error_count"], 1);
    assert_eq!(slow["cancelled_count"], 0);
    assert_eq!(slow["average_time_ms"], 20.0);
    assert_eq!(slow["min_time_ms"], 10.0);
    assert_eq!(slow["max_time_ms"], 30.0);
    assert_eq!(slow["total_time_ms"], 60.0);
    for key in ["p50_ms", "p90_ms", "p99_ms"] {
        assert!(slow[key].is_f64(), "{key}");
    }
    assert_eq!(v["fast \"quoted\" fn"]["call_count"], 1);
}

#[test]
fn table_is_sorted_by_total_time() {
    let text = sample().report().to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(header[..4], ["FUNCTION", "CALLS", "ERRORS", "CANCELLED"]);
    assert!(lines[1].starts_with("slow "), "{text}");
    assert!(lines[1].contains("60.000"), "{text}");
    assert!(lines[2].starts_with("fast \"quoted\" fn"), "{text}");
    let columns = |l: &str| l.split_whitespace().count();
    assert_eq!(columns(lines[1]), 11);
    let slow: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(slow[1..4], ["3", "1", "0"], "{text}");
}

#[test]
fn prometheus_page_is_promtool_clean() {
    let p = sample();
    p.profile_outcome("slow", Duration::from_millis(50), Outcome::Cancelled);
    let page = p.report().to_prometheus();
    assert!(page.contains("# TYPE ops_function_duration_seconds histogram\n"));
    assert!(page.contains("ops_function_duration_seconds_count{function=\"slow\"} 4\n"));
    assert!(
        page.contains("ops_function_duration_seconds_bucket{function=\"slow\",le=\"+Inf\"} 4\n")
    );
    assert!(
        page.contains("ops_function_duration_seconds_bucket{function=\"slow\",le=\"0.025\"} 2\n")
    );
    assert!(page.contains("ops_function_errors_total{function=\"slow\"} 1\n"));
    assert!(page.contains("ops_function_cancelled_total{function=\"slow\"} 1\n"));
    assert!(page.contains("ops_function_duration_seconds_sum{function=\"slow\"} 0.11\n"));
    assert!(page.contains("function=\"fast \\\"quoted\\\" fn\""));
    assert_eq!(
        ops_core::exposition::families(&page),
        Ok(vec![
            "ops_function_duration_seconds",
            "ops_function_errors_total",
            "ops_function_cancelled_total",
            "ops_function_duration_min_seconds",
            "ops_function_duration_max_seconds",
        ])
    );
    let Some(promtool) = promtool::find("prometheus_page_is_promtool_clean") else {
        return;
    };
    promtool::assert_clean_metrics(&promtool, &page);
}

/// The histogram's buckets are exact for `le`: a call of exactly a bound is in it, one
/// nanosecond more is not.
#[test]
fn histogram_buckets_are_exact() {
    let p = PerformanceProfiler::new();
    let h = p.handle("f");
    for (ns, outcome) in [
        (3_000, Outcome::Cancelled),
        (1_000_000, Outcome::Ok),
        (1_000_001, Outcome::Error),
        (2_500_000, Outcome::Ok),
        (20_000_000_000, Outcome::Ok),
    ] {
        h.record_outcome_nanos(ns, outcome);
    }
    let report = p.report();
    let f = report.get("f").unwrap();
    assert_eq!((f.call_count, f.error_count, f.cancelled_count), (5, 1, 1));
    let bounds: Vec<f64> = f.buckets.iter().map(|&(b, _)| b).collect();
    assert_eq!(bounds, HISTOGRAM_BOUNDS_SECONDS);
    let counts: Vec<u64> = f.buckets.iter().map(|&(_, c)| c).collect();
    assert_eq!(
        counts,
        [
            0, 0, 1, 1, 1, 1, 1, 1, 1, 2, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4
        ]
    );
    let page = report.to_prometheus();
    let buckets: Vec<&str> = page
        .lines()
        .filter(|l| l.starts_with("ops_function_duration_seconds_bucket"))
        .map(|l| l.trim_start_matches("ops_function_duration_seconds_bucket{function=\"f\","))
        .collect();
    assert_eq!(
        buckets,
        [
            "le=\"0.000001\"} 0",
            "le=\"0.0000025\"} 0",
            "le=\"0.000005\"} 1",
            "le=\"0.00001\"} 1",
            "le=\"0.000025\"} 1",
            "le=\"0.00005\"} 1",
            "le=\"0.0001\"} 1",
            "le=\"0.00025\"} 1",
            "le=\"0.0005\"} 1",
            "le=\"0.001\"} 2",
            "le=\"0.0025\"} 4",
            "le=\"0.005\"} 4",
            "le=\"0.01\"} 4",
            "le=\"0.025\"} 4",
            "le=\"0.05\"} 4",
            "le=\"0.1\"} 4",
            "le=\"0.25\"} 4",
            "le=\"0.5\"} 4",
            "le=\"1\"} 4",
            "le=\"2.5\"} 4",
            "le=\"5\"} 4",
            "le=\"10\"} 4",
            "le=\"+Inf\"} 5",
        ]
    );
    assert!(page.contains("ops_function_duration_seconds_count{function=\"f\"} 5\n"));
    // 3 µs + 1 ms + (1 ms + 1 ns) + 2.5 ms + 20 s, from whole nanoseconds.
    assert!(page.contains("ops_function_duration_seconds_sum{function=\"f\"} 20.004503001\n"));
    assert!(page.contains("ops_function_duration_min_seconds{function=\"f\"} 0.000003\n"));
    let Some(promtool) = promtool::find("histogram_buckets_are_exact") else {
        return;
    };
    promtool::assert_clean_metrics(&promtool, &page);
}

#[test]
fn empty_report() {
    let p = PerformanceProfiler::new();
    assert!(p.report().functions.is_empty());
    assert_eq!(p.report().to_prometheus(), "");
    assert_eq!(serde_json::to_string(&p.report()).unwrap(), "{}");
}
