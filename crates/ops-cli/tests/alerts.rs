//! `ops check` and `ops monitor`, run as a user would.

#![allow(clippy::unwrap_used, clippy::print_stderr, missing_docs)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

fn ops(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ops"))
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A sample as `ops metrics --format json` writes it, with the figures given.
fn sample(cpu: f64, memory: f64, root: f64, at: SystemTime) -> String {
    let mut m = ops_metrics::SystemMetrics::empty(at);
    m.cpu_percent = Some(cpu);
    m.memory_percent = memory;
    m.disk_usage.insert("/".into(), root);
    serde_json::to_string(&m).unwrap()
}

#[test]
fn check_reports_the_playbooks_alerts_as_a_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sample.json");
    std::fs::write(&path, sample(93.2, 88.0, 91.5, SystemTime::now())).unwrap();
    let o = ops(&["check", "--sample", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let line = text(&o);
    assert_eq!(line.lines().count(), 1);
    assert!(line.starts_with("OPS WARNING: High CPU usage: 93.2%; High memory usage: 88.0%; High disk usage on /: 91.5% | "), "{line}");
    assert!(line.contains("HighCpuUsage=93.2%;~:80;;0;100"), "{line}");

    let o = ops(&[
        "check",
        "--sample",
        path.to_str().unwrap(),
        "--metric",
        "memory",
        "-w",
        "80",
        "-c",
        "90",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o),
        "OPS WARNING: memory 88.0% | memory=88%;80;90;0;100\n"
    );
    let o = ops(&[
        "check",
        "--sample",
        path.to_str().unwrap(),
        "--metric",
        "memory",
        "-w",
        "80",
        "-c",
        "85",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let o = ops(&[
        "check",
        "--sample",
        path.to_str().unwrap(),
        "--metric",
        "memory",
        "-w",
        "@0:50",
        "-c",
        "99",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn check_answers_unknown_on_bad_input() {
    let o = ops(&["check", "--metric", "cpu", "-w", "2:1", "-c", "90"]);
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(
        text(&o),
        "OPS UNKNOWN: invalid range \"2:1\": start is greater than end\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "[[rules]]\nname = \"x\"\nmetric = \"cpu\"\nthreshold = 80\nrecovery = 90\n",
    )
    .unwrap();
    let o = ops(&["check", "--rules", rules.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        text(&o).starts_with("OPS UNKNOWN: ") && text(&o).contains("recovery"),
        "{}",
        text(&o)
    );
    let o = ops(&["check", "--sample", "/nonexistent.json"]);
    assert_eq!(o.status.code(), Some(3));
}

/// Accepts `n` webhook posts and keeps their bodies.
fn webhook(n: usize) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let b = Arc::clone(&bodies);
    std::thread::spawn(move || {
        for _ in 0..n {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            b.lock().unwrap().push(String::from_utf8(body).unwrap());
            let mut stream = stream;
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    (url, bodies)
}

#[test]
fn monitor_replays_a_recorded_incident() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("incident.jsonl");
    let t0 = SystemTime::now() - Duration::from_mins(10);
    let lines: Vec<String> = [50.0, 93.0, 95.0, 40.0]
        .iter()
        .enumerate()
        .map(|(i, &cpu)| sample(cpu, 30.0, 20.0, t0 + Duration::from_secs(i as u64)))
        .collect();
    std::fs::write(&rec, lines.join("\n") + "\nnot json\n").unwrap();
    let (url, bodies) = webhook(2);
    // From a file, so the token never shows in the process list.
    let hooks = dir.path().join("webhooks");
    std::fs::write(&hooks, format!("# the team's channel\n\n{url}\n")).unwrap();
    let o = ops(&[
        "monitor",
        "--replay",
        rec.to_str().unwrap(),
        "--webhook-file",
        hooks.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = text(&o);
    assert_eq!(
        out, "🚨 ALERT: High CPU usage: 93.0%\n✅ RESOLVED: High CPU usage: 95.0%\n",
        "{out}"
    );
    let bodies = bodies.lock().unwrap();
    assert_eq!(bodies.len(), 2);
    let first: serde_json::Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(
        first["text"],
        "[FIRING] HighCpuUsage (warning): High CPU usage: 93.0%"
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("skipping a line that is not a sample"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("/hook"),
        "the webhook URL must not be logged: {stderr}"
    );
}

#[test]
fn monitor_serves_promtool_clean_metrics_and_stops_on_sigterm() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ops"))
        .args([
            "monitor",
            "--interval",
            "200ms",
            "--listen",
            &addr,
            "--quiet",
            "--duration",
            "60s",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .into();
    let deadline = Instant::now() + Duration::from_secs(20);
    let page = loop {
        if let Ok(mut r) = agent.get(&format!("http://{addr}/metrics")).call() {
            let body = r.body_mut().read_to_string().unwrap();
            if body.contains("ops_monitor_samples_total") && body.contains("node_cpu_seconds_total")
            {
                break body;
            }
        }
        assert!(Instant::now() < deadline, "no metrics page");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        page.contains("ops_alert_deliveries_total{sink=\"log\",result=\"delivered\"}"),
        "{page}"
    );
    let health = agent
        .get(&format!("http://{addr}/health"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(health.starts_with("{\"status\":\"ok\""), "{health}");
    let promtool = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("promtool"))
            .find(|p| p.is_file())
    });
    if let Some(promtool) = promtool {
        let mut check = Command::new(promtool)
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        check
            .stdin
            .take()
            .unwrap()
            .write_all(page.as_bytes())
            .unwrap();
        let out = check.wait_with_output().unwrap();
        let findings = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && findings.trim().is_empty(),
            "promtool: {findings}"
        );
    } else {
        assert!(
            std::env::var("OPS_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "promtool is required"
        );
    }
    // SIGTERM: a clean stop, well before --duration.
    // SAFETY: sending a signal to our own child.
    unsafe { libc::kill(i32::try_from(child.id()).unwrap(), libc::SIGTERM) };
    let started = Instant::now();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(15));
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.contains("ops monitor: "), "{stderr}");
}

#[test]
fn check_rules_it_cannot_answer_are_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "[[rules]]\nname = \"Rx\"\nmetric = \"network_rx_bytes_per_second\"\nthreshold = 1000\n",
    )
    .unwrap();
    let sample_path = dir.path().join("s.json");
    std::fs::write(&sample_path, sample(10.0, 10.0, 10.0, SystemTime::now())).unwrap();
    let o = ops(&[
        "check",
        "--rules",
        rules.to_str().unwrap(),
        "--sample",
        sample_path.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).starts_with("OPS UNKNOWN: rule \"Rx\" cannot be checked"),
        "{}",
        text(&o)
    );
}

/// `>=` and `<=` rules alert at exactly the threshold, and so do their perfdata ranges (the
/// `@` forms: Monitoring Plugins ranges are inclusive).
#[test]
fn check_inclusive_rules_alert_at_the_threshold_in_status_and_perfdata() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "[[rules]]\nname = \"CpuAtLeast\"\nmetric = \"cpu\"\ncomparison = \">=\"\nthreshold = 50\nseverity = \"critical\"\n\n[[rules]]\nname = \"MemoryAtMost\"\nmetric = \"memory\"\ncomparison = \"<=\"\nthreshold = 20\n",
    )
    .unwrap();
    let sample_path = dir.path().join("s.json");
    std::fs::write(&sample_path, sample(50.0, 20.0, 10.0, SystemTime::now())).unwrap();
    let o = ops(&[
        "check",
        "--rules",
        rules.to_str().unwrap(),
        "--sample",
        sample_path.to_str().unwrap(),
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    let perf = out.split_once(" | ").unwrap().1.trim_end();
    assert!(perf.contains("CpuAtLeast=50%;;@50:;0;100"), "{perf}");
    assert!(perf.contains("MemoryAtMost=20%;@~:20;;0;100"), "{perf}");
}
