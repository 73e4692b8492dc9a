//! `ops deploy` with a canary, across processes: the analysis live in `--json` (one object per
//! measurement on stderr, the whole analysis in the result), a manual gate decided by `ops
//! deploy promote` from another process, an abort with the failing value, `ops deploy
//! status`, `ops history` with each release's analysis, `ops history --stats` (DORA figures,
//! as text and as a Prometheus page) and the audit log.
//!
//! The releases are the kit's health server; the signals come from an access log this test
//! writes itself, line by line, as nginx would (the access-log source reads any file in that
//! format), so every count is exact. The traffic switch is ops-deploy's nginx switch with
//! `true` as its check and reload commands: it writes the weighted upstream file, read back
//! here.

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::time::Duration;

use ops_testkit::health_server::Health;
use ops_testkit::net;
use serde_json::json;

use super::service::{Service, checked, release};
use super::{assert_exit, each, json, ops, stderr, stdout};

/// Appends what nginx would log: every 20 ms, 4 requests answered by the stable release's
/// port and 4 by the canary's, the canary's with `canary_status`.
struct Traffic {
    stop: Arc<AtomicBool>,
    canary_status: Arc<AtomicU16>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Traffic {
    fn start(log: std::path::PathBuf, ports: [u16; 2], current: Arc<AtomicU16>) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let canary_status = Arc::new(AtomicU16::new(200));
        let (s, c) = (Arc::clone(&stop), Arc::clone(&canary_status));
        let handle = std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)
                .unwrap();
            while !s.load(Ordering::Relaxed) {
                let stable = current.load(Ordering::Relaxed);
                let canary = if stable == ports[0] {
                    ports[1]
                } else {
                    ports[0]
                };
                let mut lines = String::new();
                for _ in 0..4 {
                    for (port, status) in [(stable, 200), (canary, c.load(Ordering::Relaxed))] {
                        let _ = writeln!(
                            lines,
                            "{{\"uri\":\"/\",\"status\":{status},\"upstream_addr\":\"127.0.0.1:{port}\",\"upstream_status\":\"{status}\",\"upstream_response_time\":\"0.003\"}}"
                        );
                    }
                }
                f.write_all(lines.as_bytes()).unwrap();
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Traffic {
            stop,
            canary_status,
            handle: Some(handle),
        }
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[test]
fn canary_gates_json_history_stats_and_audit() {
    let [port, alt] = net::free_ports::<2>();
    let svc = Service::on_port("cny", port);
    let log = svc.dir().join("access.json");
    let upstream = svc.dir().join("upstream.conf");
    svc.configure(&format!(
        "alt_port = {alt}\nstrategy = \"canary\"\ndrain = \"100ms\"\n{checked}[proxy]\nupstream_file = \"{up}\"\ntest_command = [\"true\"]\nreload_command = [\"true\"]\n[canary]\nsteps = [50, 100]\npause = [50]\n[analysis]\nsource = \"access-log\"\naccess_log = \"{log}\"\ninterval = \"300ms\"\nmin_requests = 5\n",
        checked = checked(20),
        up = upstream.display(),
        log = log.display(),
    ));
    let cfg = svc.config();
    let healthy = release(Health::Healthy);
    std::fs::write(&log, "").unwrap();

    // Nothing to decide yet.
    let o = ops(&["deploy", "promote", "--config", cfg]);
    assert_exit(&o, 1);
    assert_eq!(
        stderr(&o),
        "ops: nothing to promote: no canary or verification of cny is under way\n"
    );
    // The first release takes the traffic at once.
    assert_exit(&svc.deploy(&healthy, &[]), 0);
    let current = Arc::new(AtomicU16::new(port));
    let traffic = Traffic::start(log.clone(), [port, alt], Arc::clone(&current));

    // A canary that passes its first step, then waits at the manual gate.
    let child = Command::new(env!("CARGO_BIN_EXE_ops"))
        .args(["deploy", "--config", cfg, "--command", &healthy, "--json"])
        .env("OPS_ACTOR", "deployer")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = net::wait_until(Duration::from_mins(1), "the manual gate", || {
        let o = ops(&["deploy", "status", "--config", cfg, "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).ok()?;
        (v["state"] == "paused").then_some(v)
    });
    assert_eq!(
        (&status["release"], &status["step"], &status["weight"]),
        (&json!("cny-2"), &json!(1), &json!(50))
    );
    let text = stdout(&ops(&["deploy", "status", "--config", cfg]));
    assert!(
        text.starts_with("cny-2: canary step 1/2 at 50 %, paused: step 1/2 (50 %) passed its analysis: a manual gate\n  last measurement: successful: error ratio 0 ≤ 0.01 ("),
        "{text}"
    );
    assert!(
        std::fs::read_to_string(&upstream)
            .unwrap()
            .contains(&format!("server 127.0.0.1:{alt} weight=50;"))
    );
    let o = Command::new(env!("CARGO_BIN_EXE_ops"))
        .args(["deploy", "promote", "--config", cfg])
        .env("OPS_ACTOR", "reviewer")
        .output()
        .unwrap();
    assert_exit(&o, 0);
    assert!(
        stdout(&o).starts_with("promote by reviewer@")
            && stdout(&o).ends_with("; the deploy took it\n"),
        "{}",
        stdout(&o)
    );
    let out = child.wait_with_output().unwrap();
    assert_exit(&out, 0);
    current.store(alt, Ordering::Relaxed);
    let v = json(&out);
    assert_eq!(
        (&v["outcome"], &v["release"]),
        (&json!("healthy"), &json!("cny-2"))
    );
    assert_eq!(v["analysis"]["verdict"], "passed");
    assert_eq!(v["analysis"]["steps"], json!([50, 100]));
    let measurements = v["analysis"]["measurements"].as_array().unwrap();
    assert_eq!(measurements.len(), 2);
    assert_eq!(measurements[0]["weight"], 50);
    assert_eq!(
        measurements[0]["results"][0]["condition"],
        "error ratio ≤ 0.01"
    );
    assert_eq!(
        each(&v["transitions"], "to"),
        [
            "starting",
            "checking",
            "switching",
            "analysing",
            "paused",
            "switching",
            "analysing",
            "draining",
            "done"
        ]
    );
    // Live: each measurement, and the pause, as one JSON object per line on stderr.
    let events = serde_json::Value::Array(
        stderr(&out)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
    );
    assert_eq!(
        each(&events, "event"),
        ["measurement", "paused", "measurement"]
    );
    assert_eq!(events[0]["measurement"]["status"], "successful");
    assert_eq!(events[0]["measurement"]["step"], 1);
    assert_eq!(events[0]["counts"]["successful"], 1);

    // A canary failing every request: aborted at its first step, the value shown.
    traffic.canary_status.store(500, Ordering::Relaxed);
    let o = svc.deploy(&healthy, &[]);
    assert_exit(&o, 1);
    let text = stdout(&o);
    assert!(
        text.starts_with("cny-3 failed (error ratio 1 > 0.01 at step 1, 50 % (1 failed measurement > failure limit 0)); cny-2 is running and healthy\n"),
        "{text}"
    );
    assert!(
        text.ends_with("analysis (canary): error ratio 1 > 0.01 at step 1, 50 % (1 failed measurement > failure limit 0)\n"),
        "{text}"
    );
    // Live on a non-terminal: each measurement as a line on stderr.
    let progress = stderr(&o);
    assert!(
        progress.contains("cny-3: step 1/2, 50 %: measurement 1 failed: error ratio 1 > 0.01 (")
            && progress
                .contains("[1 failed of 0 allowed, 0 inconclusive of 0, 0 errors in a row of 4]"),
        "{progress}"
    );
    assert!(
        !std::fs::read_to_string(&upstream)
            .unwrap()
            .contains("weight="),
        "weight back to 0"
    );
    drop(traffic);

    // The history shows each release's analysis; the figures follow.
    let table = stdout(&ops(&["history", "--config", cfg]));
    for needle in [
        "analysis (canary, failed): error ratio 1 > 0.01 at step 1, 50 %",
        "analysis (canary, passed): promoted after 2 steps (50 %, 100 %): 2 measurements, 0 failed, 0 inconclusive, 0 errors",
    ] {
        assert!(table.contains(needle), "{needle:?} not in\n{table}");
    }
    let page = stdout(&ops(&[
        "history",
        "--config",
        cfg,
        "--stats",
        "--prometheus",
    ]));
    for needle in [
        "ops_deploy_deployments_total{service=\"cny\",strategy=\"canary\",outcome=\"healthy\"} 2\n",
        "ops_deploy_deployments_total{service=\"cny\",strategy=\"canary\",outcome=\"failed\"} 1\n",
        "ops_deploy_analyses_total{service=\"cny\",phase=\"canary\",verdict=\"failed\"} 1\n",
        "ops_deploy_change_failures_total{service=\"cny\"} 1\n",
        "ops_deploy_change_failure_ratio{service=\"cny\"} 0.3333333333333333\n",
        "# TYPE ops_deploy_time_to_restore_seconds gauge\n",
    ] {
        assert!(page.contains(needle), "{needle:?} not in\n{page}");
    }
    let text = stdout(&ops(&["history", "--config", cfg, "--stats"]));
    assert!(
        text.contains("change failures: 1 (change-failure ratio 0.333)")
            && text.contains("time to restore: ")
            && text.contains("(median of 1)")
            && text.contains("analyses: canary failed 1, canary passed 1"),
        "{text}"
    );
    let v = json(&ops(&["history", "--config", cfg, "--stats", "--json"]));
    assert_eq!(v["live"], 3);
    // Every change is in the audit log, with who made it.
    let audit = std::fs::read_to_string(svc.dir().join("state/logs/audit.log")).unwrap();
    let lines: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let promote = lines
        .iter()
        .find(|l| l.to_string().contains("\"promote\"") && l.to_string().contains("reviewer"))
        .unwrap_or_else(|| panic!("no promote by reviewer in\n{audit}"));
    assert!(promote.to_string().contains("cny-2"), "{promote}");
    assert!(
        lines
            .iter()
            .any(|l| l.to_string().contains("\"abort\"")
                && l.to_string().contains("analysis failed")),
        "{audit}"
    );
}
