//! `ops check` and `ops monitor`, run as a user would.

use std::io::Read as _;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use ops_testkit::net::{self, ScriptedServer, http};
use ops_testkit::promtool;

use super::service::Service;
use super::{ops, spawn_monitor, stderr, stdout};

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
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let line = stdout(&o);
    assert_eq!(line.lines().count(), 1);
    assert!(line.starts_with("OPS WARNING: High CPU usage: 93.2%; High memory usage: 88.0%; High disk usage on /: 91.5% | "), "{line}");
    assert!(line.contains("HighCpuUsage=93.2%;~:80;;0;100"), "{line}");

    let memory = |warning: &str, critical: &str| {
        let sample = path.to_str().unwrap();
        ops(&[
            "check", "--sample", sample, "--metric", "memory", "-w", warning, "-c", critical,
        ])
    };
    let o = memory("80", "90");
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o),
        "OPS WARNING: memory 88.0% | memory=88%;80;90;0;100\n"
    );
    let o = memory("80", "85");
    assert_eq!(o.status.code(), Some(2));
    let o = memory("@0:50", "99");
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn check_answers_unknown_on_bad_input() {
    let o = ops(&["check", "--metric", "cpu", "-w", "2:1", "-c", "90"]);
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(
        stdout(&o),
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
        stdout(&o).starts_with("OPS UNKNOWN: ") && stdout(&o).contains("recovery"),
        "{}",
        stdout(&o)
    );
    let o = ops(&["check", "--sample", "/nonexistent.json"]);
    assert_eq!(o.status.code(), Some(3));
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
    let hook = ScriptedServer::start(vec![(200, ""), (200, "")]);
    let url = hook.url("/hook");
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
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(
        out, "🚨 ALERT: High CPU usage: 93.0%\n✅ RESOLVED: High CPU usage: 95.0%\n",
        "{out}"
    );
    let posts = hook.requests();
    assert_eq!(posts.len(), 2);
    let first: serde_json::Value = serde_json::from_str(&posts[0].body).unwrap();
    assert_eq!(
        first["text"],
        "[FIRING] HighCpuUsage (warning): High CPU usage: 93.0%"
    );
    let log = stderr(&o);
    assert!(
        log.contains("skipping a line that is not a sample"),
        "{log}"
    );
    assert!(
        !log.contains("/hook"),
        "the webhook URL must not be logged: {log}"
    );
}

#[test]
fn monitor_serves_promtool_clean_metrics_and_stops_on_sigterm() {
    let test = "monitor_serves_promtool_clean_metrics_and_stops_on_sigterm";
    let addr = net::local(net::free_port());
    let mut child = spawn_monitor(addr, &["--interval", "200ms"], Stdio::piped());
    let page = net::wait_until(Duration::from_secs(20), "a metrics page", || {
        http(addr, "GET", "/metrics", "")
            .map(|(_, body)| body)
            .filter(|body| {
                body.contains("ops_monitor_samples_total")
                    && body.contains("node_cpu_seconds_total")
            })
    });
    assert!(
        page.contains("ops_alert_deliveries_total{sink=\"log\",result=\"delivered\"}"),
        "{page}"
    );
    let (status, health) = http(addr, "GET", "/health", "").unwrap();
    assert_eq!(status, 200, "{health}");
    assert!(health.starts_with("{\"status\":\"ok\""), "{health}");
    if let Some(promtool) = promtool::find(test) {
        promtool::assert_clean_metrics(&promtool, &page);
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

/// `ops check --rules <file> --sample <file>`, the files written from `rules` and `sample`.
fn check_with_rules(rules: &str, sample: &str) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let rules_path = dir.path().join("rules.toml");
    std::fs::write(&rules_path, rules).unwrap();
    let sample_path = dir.path().join("s.json");
    std::fs::write(&sample_path, sample).unwrap();
    ops(&[
        "check",
        "--rules",
        rules_path.to_str().unwrap(),
        "--sample",
        sample_path.to_str().unwrap(),
    ])
}

#[test]
fn check_rules_it_cannot_answer_are_unknown() {
    let o = check_with_rules(
        "[[rules]]\nname = \"Rx\"\nmetric = \"network_rx_bytes_per_second\"\nthreshold = 1000\n",
        &sample(10.0, 10.0, 10.0, SystemTime::now()),
    );
    assert_eq!(o.status.code(), Some(3), "{}", stdout(&o));
    assert!(
        stdout(&o).starts_with("OPS UNKNOWN: rule \"Rx\" cannot be checked"),
        "{}",
        stdout(&o)
    );
}

/// `>=` and `<=` rules alert at exactly the threshold, and so do their perfdata ranges (the
/// `@` forms: Monitoring Plugins ranges are inclusive).
#[test]
fn check_inclusive_rules_alert_at_the_threshold_in_status_and_perfdata() {
    let o = check_with_rules(
        "[[rules]]\nname = \"CpuAtLeast\"\nmetric = \"cpu\"\ncomparison = \">=\"\nthreshold = 50\nseverity = \"critical\"\n\n[[rules]]\nname = \"MemoryAtMost\"\nmetric = \"memory\"\ncomparison = \"<=\"\nthreshold = 20\n",
        &sample(50.0, 20.0, 10.0, SystemTime::now()),
    );
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    let perf = out.split_once(" | ").unwrap().1.trim_end();
    assert!(perf.contains("CpuAtLeast=50%;;@50:;0;100"), "{perf}");
    assert!(perf.contains("MemoryAtMost=20%;@~:20;;0;100"), "{perf}");
}

#[test]
fn rules_show_prints_every_rules_promql() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "[[rules]]\nname = \"Errors\"\nmetric = \"function_error_ratio\"\nfunction = \"place_order\"\nwindow = \"10m\"\nthreshold = 0.05\nseverity = \"page\"\n\n[[rules]]\nname = \"NoOrders\"\nexpr = \"sum(increase(shop_orders_total[15m])) == 0\"\nfor = \"5m\"\n",
    )
    .unwrap();
    let out = super::ops_ok(&["rules", "show", "--rules", rules.to_str().unwrap()]);
    assert_eq!(
        out,
        "Errors (page, for 0s)\n  condition: function_error_ratio{function=\"place_order\"}[10m] > 0.05\n  promql:    sum by (function) (increase(ops_function_errors_total{function=~\"(.*::)?place_order\"}[10m])) / sum by (function) (increase(ops_function_duration_seconds_count{function=~\"(.*::)?place_order\"}[10m])) > 0.05\nNoOrders (warning, for 5m)\n  condition: sum(increase(shop_orders_total[15m])) == 0\n  promql:    sum(increase(shop_orders_total[15m])) == 0\n"
    );
    let json: serde_json::Value = serde_json::from_str(&super::ops_ok(&[
        "rules",
        "show",
        "--rules",
        rules.to_str().unwrap(),
        "--json",
    ]))
    .unwrap();
    assert_eq!(json[1]["kind"], "promql");
    assert_eq!(json[0]["severity"], "page");
}

/// `--deploy-config`: the service's deploy and backup figures reach the page and the rules;
/// without a verified backup, the backup-age rule fires.
#[test]
fn monitor_watches_a_services_deploys_and_backups() {
    let svc = Service::new("shop");
    let data = svc.dir().join("data");
    std::fs::create_dir(&data).unwrap();
    svc.configure(&format!(
        "[backup]\npaths = [\"{}\"]\nengine = \"archive\"\nmax_age = \"1h\"\n",
        data.display()
    ));
    let rec = svc.dir().join("rec.jsonl");
    std::fs::write(&rec, sample(20.0, 30.0, 20.0, SystemTime::now()) + "\n").unwrap();
    let o = ops(&[
        "monitor",
        "--deploy-config",
        svc.config(),
        "--replay",
        rec.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "🚨 ALERT: no verified backup of shop younger than its max_age\n"
    );
}
