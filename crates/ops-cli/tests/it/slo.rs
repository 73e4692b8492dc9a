//! `ops slo export`, `ops slo status` and `ops monitor --probe`, run as a user would.

use std::process::Stdio;
use std::time::Duration;

use ops_testkit::health_server::{self, Health, Options};
use ops_testkit::net::{self, free_port, http, local, wait_for_port};
use ops_testkit::promtool;
use ops_testkit::slo::QUICKSTART_SLOS;

use super::service::{Service, checked, release};
use super::{assert_exit, json, ops, ops_ok, spawn_monitor, stderr};

#[test]
fn slo_export_writes_rules_promtool_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let slos = dir.path().join("slos.toml");
    std::fs::write(&slos, QUICKSTART_SLOS).unwrap();
    let rules = ops_ok(&["slo", "export", "--slos", slos.to_str().unwrap()]);
    assert!(
        rules.contains("- alert: \"QuickstartAvailabilityBurnRate1h5m\""),
        "{rules}"
    );
    let out = dir.path().join("rules.yml");
    ops_ok(&[
        "slo",
        "export",
        "--slos",
        slos.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), rules);
    // A bound that is not a bucket bound is refused, naming the file, the SLO and the bounds.
    std::fs::write(&slos, QUICKSTART_SLOS.replace("2.5s", "3s")).unwrap();
    let o = ops(&["slo", "export", "--slos", slos.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("SLO \"quickstart-latency\": field `sli.http_latency.threshold`: must be one of the bucket bounds of http_server_request_duration_seconds"),
        "{err}"
    );
    let Some(promtool) = promtool::find("slo_export_writes_rules_promtool_accepts") else {
        return;
    };
    let checked = promtool::check_rules(&promtool, &out);
    assert!(
        checked.success && checked.output.contains("SUCCESS: 52 rules found"),
        "{}",
        checked.output
    );
}

#[test]
fn slo_status_without_a_state_file() {
    let o = ops(&["slo", "status", "--state", "/nonexistent/slo-state.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no SLO state file at /nonexistent/slo-state.json"),
        "{}",
        stderr(&o)
    );
    let dir = tempfile::tempdir().unwrap();
    let slos = dir.path().join("slos.toml");
    std::fs::write(&slos, QUICKSTART_SLOS).unwrap();
    let text = ops_ok(&[
        "slo",
        "status",
        "--state",
        "/nonexistent/s.json",
        "--slos",
        slos.to_str().unwrap(),
    ]);
    assert!(text.contains("quickstart-latency"), "{text}");
    assert!(text.contains("no figures yet"), "{text}");
}

#[test]
fn monitor_probes_keep_a_budget_that_slo_status_shows() {
    let up_port = free_port();
    let listener = std::net::TcpListener::bind(local(up_port)).unwrap();
    std::thread::spawn(move || health_server::serve(&listener, &Options::new("up")));
    wait_for_port(local(up_port), Duration::from_secs(5));
    let up = format!("http://127.0.0.1:{up_port}/health");
    let down = format!("http://127.0.0.1:{}/health", free_port());
    let dir = tempfile::tempdir().unwrap();
    let slos = dir.path().join("slos.toml");
    std::fs::write(
        &slos,
        format!(
            "service = \"site\"\n[[slo]]\nname = \"up\"\n[slo.sli.probe]\ninstance = \"{up}\"\n[[slo]]\nname = \"down\"\n[slo.sli.probe]\ninstance = \"{down}\"\n"
        ),
    )
    .unwrap();
    let state = dir.path().join("slo-state.json");
    let addr = local(free_port());
    let mut child = spawn_monitor(
        addr,
        &[
            "--interval",
            "100ms",
            "--probe",
            &up,
            "--probe",
            &down,
            "--probe-interval",
            "100ms",
            "--probe-timeout",
            "100ms",
            "--slo",
            slos.to_str().unwrap(),
            "--slo-state",
            state.to_str().unwrap(),
        ],
        Stdio::null(),
    );
    let probes = format!("ops_probes_total{{instance=\"{down}\"}} ");
    let page = net::wait_until(Duration::from_secs(30), "probes on the page", || {
        http(addr, "GET", "/metrics", "")
            .map(|(_, body)| body)
            .filter(|body| {
                body.lines()
                    .find_map(|l| l.strip_prefix(&probes))
                    .and_then(|n| n.trim().parse::<u64>().ok())
                    .is_some_and(|n| n >= 5)
                    && body.contains("ops_slo_error_budget_remaining_ratio{sloth_id=\"site-down\"")
            })
    });
    assert!(
        page.contains(&format!("probe_success{{instance=\"{up}\"}} 1\n")),
        "{page}"
    );
    assert!(
        page.contains(&format!("probe_success{{instance=\"{down}\"}} 0\n")),
        "{page}"
    );
    if let Some(promtool) = promtool::find("monitor_probes_keep_a_budget_that_slo_status_shows") {
        promtool::assert_clean_metrics(&promtool, &page);
    }
    // SAFETY: sending a signal to our own child.
    unsafe { libc::kill(i32::try_from(child.id()).unwrap(), libc::SIGTERM) };
    assert!(child.wait().unwrap().success());

    let json = ops_ok(&[
        "slo",
        "status",
        "--state",
        state.to_str().unwrap(),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let slo = |id: &str| {
        v["slos"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("{id} in {json}"))
            .clone()
    };
    let (ok, failing) = (slo("site-up"), slo("site-down"));
    let events = |s: &serde_json::Value| s["budget"]["events"].as_f64().unwrap();
    let bad = |s: &serde_json::Value| s["budget"]["bad_events"].as_f64().unwrap();
    assert!(events(&ok) >= 1.0 && bad(&ok) == 0.0, "{ok}");
    assert!(
        events(&failing) >= 5.0 && (bad(&failing) - events(&failing)).abs() < 0.5,
        "{failing}"
    );
    assert_eq!(failing["budget"]["exhausted"], true);
    assert_eq!(ok["budget"]["remaining_ratio"], 1.0);
    assert_eq!(
        v["slos"].as_array().unwrap().len(),
        2,
        "no default probe SLO beside the defined ones"
    );

    let table = ops_ok(&[
        "slo",
        "status",
        "--state",
        state.to_str().unwrap(),
        "--slos",
        slos.to_str().unwrap(),
    ]);
    let row = |id: &str| {
        table
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("{id}:\n{table}"))
            .to_owned()
    };
    assert!(
        row("site-down").contains("  0% (0 min)  ") && row("site-down").contains("yes"),
        "{table}"
    );
    assert!(
        row("site-up").contains("  100% (216 min)  ") && row("site-up").contains("100%"),
        "{table}"
    );
    assert!(table.contains("BURN RATE"), "{table}");
}

/// The Workbook's error-budget policy: with `[slo]` in the deploy config, a release is
/// refused while an SLO's budget is spent (the running one keeps serving, the history says
/// why), and `--ignore-error-budget` deploys it anyway, recorded.
#[test]
fn deploys_wait_while_the_error_budget_is_spent() {
    let svc = Service::new("api");
    let state = svc.dir().join("slo-state.json");
    svc.configure(&format!(
        "{}[slo]\nstate = \"{}\"\n",
        checked(20),
        state.display()
    ));
    let cfg = svc.config();
    let release = release(Health::Healthy);
    // No state file yet: nothing to refuse.
    assert_exit(&svc.deploy(&release, &[]), 0);

    // A monitor probing a URL nothing answers: every probe fails, the budget is spent.
    let down = format!("http://127.0.0.1:{}/health", free_port());
    let o = ops(&[
        "monitor",
        "--quiet",
        "--interval",
        "100ms",
        "--duration",
        "2s",
        "--probe",
        &down,
        "--probe-interval",
        "100ms",
        "--probe-timeout",
        "50ms",
        "--slo-state",
        state.to_str().unwrap(),
    ]);
    assert_exit(&o, 0);

    let o = svc.deploy(&release, &["--json"]);
    assert_exit(&o, 1);
    let v = json(&o);
    assert_eq!(v["outcome"], "aborted");
    assert_eq!(v["running"], "api-1");
    let reason = v["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(
            "the error budget is spent: ops-monitor-probe-availability (20000% of its budget used, "
        ),
        "{reason}"
    );
    assert!(
        reason
            .ends_with("releases wait until it recovers (--ignore-error-budget to deploy anyway)"),
        "{reason}"
    );

    assert_exit(&svc.deploy(&release, &["--ignore-error-budget"]), 0);
    let history: serde_json::Value =
        serde_json::from_str(&ops_ok(&["history", "--config", cfg, "--json"])).unwrap();
    let releases = history["releases"].as_array().unwrap();
    assert_eq!(releases.len(), 3);
    assert_eq!(releases[1]["outcome"], "failed");
    assert!(
        releases[1]["reason"]
            .as_str()
            .unwrap()
            .starts_with("aborted: the error budget is spent: ops-monitor-probe-availability"),
        "{}",
        releases[1]
    );
    assert_eq!(releases[2]["outcome"], "healthy");
    assert!(
        releases[2]["error_budget"].as_str().unwrap().starts_with(
            "deployed with --ignore-error-budget: the error budget is spent: ops-monitor-probe-availability"
        ),
        "{}",
        releases[2]
    );
    assert!(releases[0].get("error_budget").is_none());

    // A corrupt state file refuses too: the budget cannot be known.
    std::fs::write(&state, "{").unwrap();
    let o = svc.deploy(&release, &["--json"]);
    assert_exit(&o, 1);
    let v = json(&o);
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .contains("cannot be read, so the error budgets are unknown"),
        "{v}"
    );
}
