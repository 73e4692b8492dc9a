//! The `ops` binary, run as a user would.

use std::path::Path;

use ops_testkit::promtool;

use super::{ops, ops_ok, stderr, stdout};

#[test]
fn metrics_json_is_the_playbook_object() {
    let out = ops_ok(&["metrics", "--cpu-window", "50ms"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let cpu = v["cpu_percent"]
        .as_f64()
        .expect("a CPU figure measured over the window");
    assert!((0.0..=100.0).contains(&cpu));
    let mem = v["memory_percent"].as_f64().unwrap();
    assert!(mem > 0.0 && mem < 100.0);
    assert!(v["disk_usage"].is_object());
    for key in ["bytes_sent", "bytes_recv", "packets_sent", "packets_recv"] {
        assert!(v["network_io"][key].is_u64(), "network_io.{key}");
    }
    assert!(v["process_count"].as_u64().unwrap() > 0);
    assert!(v["timestamp"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn metrics_table_is_readable() {
    let text = ops_ok(&["metrics", "--format", "table", "--cpu-window", "50ms"]);
    for heading in ["CPU", "Memory", "Processes", "Network (since boot)", "lo"] {
        assert!(text.contains(heading), "{heading} missing from\n{text}");
    }
}

#[test]
fn metrics_prometheus_passes_promtool() {
    let page = ops_ok(&["metrics", "--format", "prometheus", "--cpu-window", "50ms"]);
    assert!(page.contains("# TYPE node_cpu_seconds_total counter\n"));
    assert!(page.contains("ops_cpu_usage_ratio "));
    let Some(promtool) = promtool::find("metrics_prometheus_passes_promtool") else {
        return;
    };
    promtool::assert_clean_metrics(&promtool, &page);
}

/// The lines of `text`, which must be `n`.
fn lines(text: &str, n: usize) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), n, "{text}");
    lines
}

#[test]
fn watch_prints_one_json_line_per_sample() {
    let text = ops_ok(&[
        "metrics",
        "--watch",
        "100ms",
        "--count",
        "3",
        "--cpu-window",
        "20ms",
    ]);
    let lines = lines(&text, 3);
    let stamps: Vec<String> = lines
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert!(
                v["cpu_percent"].is_f64(),
                "every line has a CPU figure: {l}"
            );
            v["timestamp"].as_str().unwrap().to_owned()
        })
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] < w[1]), "{stamps:?}");
}

#[test]
fn watch_table_prints_a_header_and_rows() {
    let text = ops_ok(&[
        "metrics",
        "-f",
        "table",
        "-w",
        "50ms",
        "-n",
        "2",
        "--cpu-window",
        "20ms",
    ]);
    let lines = lines(&text, 3);
    assert!(lines[0].starts_with("TIME"));
}

#[test]
fn watch_prometheus_is_refused() {
    let o = ops(&["metrics", "-f", "prometheus", "-w", "1s"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--watch prints JSON lines or table rows"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn bad_arguments_exit_2() {
    let o = ops(&["metrics", "--watch", "0s"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("must be greater than zero"),
        "{}",
        stderr(&o)
    );
    let o = ops(&["metrics", "--format", "xml"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn missing_proc_tree_is_an_error_naming_the_file() {
    let o = ops(&["metrics", "--proc-root", "/nonexistent/proc"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.starts_with("ops: error: taking the first reading"),
        "{err}"
    );
    assert!(err.contains("/nonexistent/proc/stat"), "{err}");
    assert!(stdout(&o).is_empty());
}

#[test]
fn proc_root_reads_another_tree() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let write = |name: &str, text: &str| {
        let p = root.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write(
        "stat",
        "cpu  100 0 50 800 10 0 5 0 0 0\ncpu0 100 0 50 800 10 0 5 0 0 0\nbtime 1700000000\n",
    );
    write(
        "meminfo",
        "MemTotal: 1000000 kB\nMemFree: 400000 kB\nMemAvailable: 650000 kB\n",
    );
    write("net/dev", "h\nh\n  lo: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0\n");
    write("self/mounts", "proc /proc proc rw 0 0\n");
    write("filesystems", "nodev\tproc\n\text4\n");
    write("loadavg", "0.00 0.01 0.05 1/10 5\n");
    write("uptime", "100.00 100.00\n");
    for pid in ["1", "2", "3"] {
        write(pid, "");
    }
    let out = ops_ok(&[
        "metrics",
        "--proc-root",
        root.to_str().unwrap(),
        "--cpu-window",
        "1ms",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["memory_percent"].as_f64(), Some(35.0));
    assert_eq!(v["process_count"].as_u64(), Some(3));
    assert_eq!(
        v["cpu_percent"].as_f64(),
        Some(0.0),
        "the tree did not change: no busy time"
    );
    assert_eq!(v["uptime_seconds"].as_f64(), Some(100.0));
    assert!(Path::new(root).exists());
}
