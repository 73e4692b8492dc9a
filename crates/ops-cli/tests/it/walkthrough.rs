//! The README's walk-through, run for real: the quickstart demo (every crate in one report),
//! its `/metrics` page through promtool, and the deploy story on the machine's Docker engine
//! behind nginx — build the image, `ops deploy` it blue-green, deploy a broken version and
//! watch it rolled back, `ops history`, `ops rollback` — with clients hitting nginx throughout.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use ops_testkit::load::{Connections, Load};
use ops_testkit::net::{self, http};
use ops_testkit::nginx::Nginx;
use ops_testkit::{promtool, tools};

use super::{ops, ops_ok, stderr};

fn root() -> PathBuf {
    ops_testkit::build::workspace_root()
}

/// The quickstart example as a static binary (glibc, crt-static): runs here and in a
/// FROM-scratch image. Built once per test run.
fn quickstart() -> PathBuf {
    ops_testkit::build::quickstart()
}

fn count_lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

#[test]
fn the_quickstart_demo_shows_every_crate_at_work() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let out = Command::new(quickstart())
        .args(["--seconds", "4", "--log-dir", logs.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // 300 requests: /work/fail gets 30 and fails every third call.
    assert!(
        stdout.contains("sent 300 requests")
            && stdout.contains("{200: 281, 201: 1, 404: 8, 500: 10}"),
        "{stdout}"
    );
    let fail_row = stdout
        .lines()
        .find(|l| l.starts_with("quickstart::work_fail "))
        .unwrap();
    let cols: Vec<&str> = fail_row.split_whitespace().collect();
    assert_eq!((cols[1], cols[2]), ("30", "10"), "{fail_row}");
    for needle in [
        "== 1. Profiler",
        "quickstart::handle_slow",
        "quickstart::health_body",
        "FIRING HighErrorRatio",
        "FIRING LowCheckoutConversion",
        "== 2. Requests per route",
        "  GET     /work/fail             30     10",
        "  POST    /shop/orders            1      0",
        "  GET     unmatched               8      0",
        "== 4. SLOs",
        "  quickstart-availability      99.5%     300    96.67%           0% (spent)",
        "  quickstart-latency           99.0%     300   100.00%         100%",
        "HighCpuUsage",
        "access.log               300 lines",
        "audit.log                  6 lines",
        "total          ",
        "no family twice",
    ] {
        assert!(stdout.contains(needle), "{needle:?} not in\n{stdout}");
    }
    // Every alert reached stdout, none failed. How many deliveries it took depends on this
    // machine's CPU (the CPU rule reads it, and may fire, resolve and fire again while other
    // work loads the machine), so the count is at least one, not a fixed number.
    let sink: Vec<&str> = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("sink stdout "))
        .unwrap_or_else(|| panic!("no stdout sink line in\n{stdout}"))
        .split_whitespace()
        .collect();
    assert!(sink[2].parse::<u64>().unwrap() >= 1, "{sink:?}");
    assert_eq!(
        sink[3..],
        [
            "delivered,",
            "0",
            "failed,",
            "0",
            "retries,",
            "0",
            "dropped"
        ],
        "{sink:?}"
    );
    // The terminal shows only the errors in the demo (`console_level`), the files everything.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let console_errors = stderr.lines().filter(|l| l.contains(" ERROR ")).count();
    assert_eq!(console_errors, 10, "{stderr}");
    assert!(!stderr.contains("HTTP Request"), "{stderr}");
    // The files hold what the report says, every line JSON.
    assert_eq!(count_lines(&logs.join("access.log")), 300);
    assert_eq!(count_lines(&logs.join("audit.log")), 6);
    for line in std::fs::read_to_string(logs.join("audit.log"))
        .unwrap()
        .lines()
    {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["actor"], "demo-operator", "{line}");
    }
    let errors = std::fs::read_to_string(logs.join("error.log")).unwrap();
    let logged_errors = errors
        .lines()
        .filter(|l| l.contains("\"error_type\":\"quickstart::WorkError\""))
        .count();
    assert_eq!(logged_errors, 10);
    // The SLO budgets the demo's monitor saved, as `ops slo status` shows them.
    let status = super::ops_ok(&[
        "slo",
        "status",
        "--state",
        logs.join("slo-state.json").to_str().unwrap(),
    ]);
    assert!(
        status.contains("quickstart-availability      99.5%     30d   96.667%"),
        "{status}"
    );
}

#[test]
fn the_quickstart_serves_promtool_clean_metrics_and_flushes_on_sigterm() {
    let test = "the_quickstart_serves_promtool_clean_metrics_and_flushes_on_sigterm";
    let promtool = promtool::find(test);
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let addr = net::local(net::free_port());
    let child = Command::new(quickstart())
        .args([
            "--serve",
            "--bind",
            &addr.to_string(),
            "--log-dir",
            logs.to_str().unwrap(),
        ])
        .env("OPS_RELEASE", "web-7")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let health = net::wait_until(Duration::from_secs(20), "the quickstart to answer", || {
        http(addr, "GET", "/health", "")
    });
    assert_eq!(health.0, 200);
    let v: serde_json::Value = serde_json::from_str(&health.1).unwrap();
    assert_eq!(
        (v["status"].as_str(), v["version"].as_str()),
        (Some("ok"), Some("web-7"))
    );
    assert_eq!(
        http(addr, "POST", "/admin/flush", "X-Actor: alice\r\n")
            .unwrap()
            .0,
        200
    );
    assert_eq!(http(addr, "GET", "/work/slow", "").unwrap().0, 200);
    // Let the sampler feed the rules once, so every family has series.
    std::thread::sleep(Duration::from_millis(1500));
    let (status, page) = http(addr, "GET", "/metrics", "").unwrap();
    assert_eq!(status, 200);
    for family in [
        "# TYPE node_cpu_seconds_total counter",
        "# TYPE ops_function_errors_total counter",
        "# TYPE ops_alerts gauge",
        "# TYPE http_server_request_duration_seconds histogram",
        "# TYPE shop_checkout_visits_total counter",
        "ops_log_lines_written_total{",
    ] {
        assert!(page.contains(family), "{family:?} not on the page");
    }
    if let Some(promtool) = promtool {
        promtool::assert_clean_metrics(&promtool, &page);
    }
    // SIGTERM: in-flight work ends, the report is printed, every line is on disk.
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: signalling the child this test started.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("== 1. Profiler"), "{stdout}");
    // /health, /admin/flush, /work/slow, /metrics.
    assert_eq!(count_lines(&logs.join("access.log")), 4);
    let audit = std::fs::read_to_string(logs.join("audit.log")).unwrap();
    let v: serde_json::Value = serde_json::from_str(audit.trim()).unwrap();
    assert_eq!(v["actor"], "alice");
}

// ---------------------------------------------------------------------------------------------
// The deploy walk-through
// ---------------------------------------------------------------------------------------------

fn replace_line(text: &str, prefix: &str, line: &str) -> String {
    let mut found = false;
    let out: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with(prefix) {
                found = true;
                line.to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect();
    assert!(
        found,
        "examples/ops-deploy.toml has no line starting {prefix:?}"
    );
    out.join("\n") + "\n"
}

#[test]
fn the_deploy_walkthrough_on_docker_behind_nginx() {
    let test = "the_deploy_walkthrough_on_docker_behind_nginx";
    if !tools::docker_available(test) || !Nginx::available(test) {
        return;
    }
    let service = format!("qswalk{}", std::process::id());
    let volume = format!("{service}-logs");

    // 1. Build the image from examples/docker/quickstart (static binary, FROM scratch), and a
    //    broken version whose /health fails.
    let context = tempfile::tempdir().unwrap();
    std::fs::copy(quickstart(), context.path().join("quickstart")).unwrap();
    std::fs::copy(
        root().join("examples/docker/quickstart/Dockerfile"),
        context.path().join("Dockerfile"),
    )
    .unwrap();
    std::fs::create_dir(context.path().join("logs")).unwrap();
    let v1 = format!("{service}:v1");
    let broken = format!("{service}:broken");
    tools::docker(&["build", "-q", "-t", &v1, context.path().to_str().unwrap()]);
    let broken_dir = tempfile::tempdir().unwrap();
    std::fs::write(
        broken_dir.path().join("Dockerfile"),
        format!("FROM {v1}\nCMD [\"--fail-health\"]\n"),
    )
    .unwrap();
    tools::docker(&[
        "build",
        "-q",
        "-t",
        &broken,
        broken_dir.path().to_str().unwrap(),
    ]);

    // 2. nginx in front, and the sample config pointed at this machine's ports and files.
    let nginx = Nginx::builder(&service).worker_processes(1).start();
    let state = tempfile::tempdir().unwrap();
    let mut config = std::fs::read_to_string(root().join("examples/ops-deploy.toml")).unwrap();
    for (prefix, line) in [
        ("service = ", format!("service = \"{service}\"")),
        (
            "state_dir = ",
            format!("state_dir = {:?}", state.path().display().to_string()),
        ),
        ("port = ", format!("port = {}", net::free_port())),
        ("alt_port = ", format!("alt_port = {}", net::free_port())),
        ("volumes = ", format!("volumes = [\"{volume}:/logs\"]")),
    ] {
        config = replace_line(&config, prefix, &line);
    }
    // The sample's [proxy] lines (upstream_file, test_command, reload_command, public, pid_file)
    // for this nginx.
    for line in nginx.proxy_config().lines().skip(1) {
        let key = line.split(" = ").next().unwrap();
        config = replace_line(&config, &format!("{key} = "), line);
    }
    let config_path = state.path().join("ops-deploy.toml");
    std::fs::write(&config_path, config).unwrap();
    let cfg = config_path.to_str().unwrap();
    let public = nginx.addr();
    let release = |n: u32| format!("{service}-{n}");

    // 3. The first deploy: healthy, and nginx serves it.
    assert_eq!(
        ops_ok(&["deploy", "--config", cfg, "--image", &v1]),
        format!("{} is running and healthy\n", release(1))
    );
    let version = |addr| {
        let (status, body) = http(addr, "GET", "/health", "").unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        (status, v["version"].as_str().unwrap_or("").to_owned())
    };
    assert_eq!(version(public), (200, release(1)));

    // Clients through nginx from here on: no request may fail.
    let load = Load::builder(public)
        .clients(2)
        .path("/health")
        .connections(Connections::PerRequest)
        .pause(Duration::from_millis(5))
        .start();

    // 4. A second healthy release, blue-green: the traffic moves without a failed request.
    ops_ok(&["deploy", "--config", cfg, "--image", &v1]);
    assert_eq!(version(public), (200, release(2)));

    // 5. The broken version: checked beside release 2, never given traffic, rolled back.
    let o = ops(&["deploy", "--config", cfg, "--image", &broken]);
    let stdout = super::stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.starts_with(&format!("{} failed (", release(3)))
            && stdout.contains("HTTP 500")
            && stdout.ends_with(&format!("; {} is running and healthy\n", release(2))),
        "{stdout}"
    );
    let progress = stderr(&o);
    assert!(
        progress.contains(&format!("{}: checking -> rolling_back", release(3))),
        "{progress}"
    );
    assert_eq!(version(public), (200, release(2)));

    // 6. The history says what happened.
    let table = ops_ok(&["history", "--config", cfg]);
    let rows: Vec<(String, String)> = table
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with(' '))
        .map(|l| {
            let mut cols = l.split_whitespace();
            (
                cols.next().unwrap().to_owned(),
                cols.next().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (release(3), "failed".to_owned()),
            (release(2), "healthy".to_owned()),
            (release(1), "healthy".to_owned())
        ]
    );
    // Under the failed release, why it failed.
    assert!(table.contains("  reason: unhealthy"), "{table}");

    // 7. `ops rollback`: back to the newest healthy release that is not running.
    ops_ok(&["rollback", "--config", cfg]);
    assert_eq!(version(public), (200, release(1)));

    let report = load.finish();
    eprintln!(
        "walk-through: {} requests through nginx answered 2xx, {} failed: {report:?}",
        report.ok,
        report.failed()
    );
    assert_eq!(report.failed(), 0, "{report:?}");
    assert!(report.ok > 50, "{report:?}");

    // 8. The logs are on the volume, written by the non-root service.
    let container = tools::docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=ops-deploy.service={service}"),
    ]);
    let tar = Command::new("docker")
        .args(["cp", &format!("{container}:/logs/access.log"), "-"])
        .output()
        .unwrap();
    assert!(
        tar.status.success(),
        "{}",
        String::from_utf8_lossy(&tar.stderr)
    );
    assert!(
        String::from_utf8_lossy(&tar.stdout).contains("\"message\":\"HTTP Request\""),
        "access.log on the volume"
    );

    // Clean up: containers, tags and the volume this test made.
    for id in tools::docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=ops-deploy.service={service}"),
    ])
    .lines()
    {
        tools::docker(&["rm", "-f", id]);
    }
    let tags = tools::docker(&["images", &service, "--format", "{{.Repository}}:{{.Tag}}"]);
    for tag in tags.lines() {
        let _ = Command::new("docker").args(["rmi", tag]).output();
    }
    tools::docker(&["volume", "rm", &volume]);
}
