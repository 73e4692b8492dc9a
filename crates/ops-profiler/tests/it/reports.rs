//! The report as the playbook's JSON, a table and a promtool-clean Prometheus page.

use std::time::Duration;

use ops_profiler::{Exposition as _, PerformanceProfiler};
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
    assert!(lines[0].starts_with("FUNCTION"));
    assert!(lines[1].starts_with("slow "), "{text}");
    assert!(lines[1].contains("60.000"), "{text}");
    assert!(lines[2].starts_with("fast \"quoted\" fn"), "{text}");
    let columns = |l: &str| l.split_whitespace().count();
    assert_eq!(columns(lines[1]), 10);
}

#[test]
fn prometheus_page_is_promtool_clean() {
    let page = sample().report().to_prometheus();
    assert!(page.contains("# TYPE ops_function_duration_seconds summary\n"));
    assert!(page.contains("ops_function_duration_seconds_count{function=\"slow\"} 3\n"));
    assert!(page.contains("ops_function_errors_total{function=\"slow\"} 1\n"));
    assert!(page.contains("ops_function_duration_seconds_sum{function=\"slow\"} 0.06\n"));
    assert!(page.contains("function=\"fast \\\"quoted\\\" fn\""));
    let Some(promtool) = promtool::find("prometheus_page_is_promtool_clean") else {
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
