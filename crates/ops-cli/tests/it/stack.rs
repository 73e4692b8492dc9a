//! The monitoring stack of examples/monitoring, for when one machine is outgrown: `ops rules
//! export` (promtool-clean, what it cannot express named), the committed rule files equal to
//! fresh exports, the Grafana dashboards' structure, and — with a real Prometheus server and a
//! real Alertmanager scraping the quickstart and `ops monitor` — the alerts the embedded
//! evaluators fire fired by Prometheus from the exported rules and routed by Alertmanager, the
//! scraped series under their own names and labels, and every dashboard panel's query
//! answering with data.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use ops_testkit::net::{self, ScriptedServer, http};
use ops_testkit::prometheus::{Alertmanager, PageServer, Prometheus};
use ops_testkit::{promtool, tools};
use serde_json::Value;

use super::{assert_exit, each, ops, ops_ok, stderr, stdout};

fn root() -> PathBuf {
    ops_testkit::build::workspace_root()
}

fn monitoring() -> PathBuf {
    root().join("examples/monitoring")
}

/// The data source every dashboard names (grafana/datasources/prometheus.yml).
const DATASOURCE_UID: &str = "ops-prometheus";

/// The rule files of examples/monitoring/rules and the commands that write them.
const EXPORTS: [(&str, &[&str]); 4] = [
    (
        "rules/host.rules.yml",
        &[
            "rules",
            "export",
            "--rules",
            "rules/host.toml",
            "--group",
            "host",
        ],
    ),
    (
        "rules/quickstart.rules.yml",
        &[
            "rules",
            "export",
            "--rules",
            "rules/quickstart.toml",
            "--group",
            "quickstart",
        ],
    ),
    (
        "rules/slos.rules.yml",
        &["slo", "export", "--slos", "rules/slos.toml"],
    ),
    (
        "rules/probe.rules.yml",
        &["slo", "export", "--slos", "rules/probe.toml"],
    ),
];

// ---------------------------------------------------------------------------------------------
// ops rules export
// ---------------------------------------------------------------------------------------------

#[test]
fn rules_export_writes_promtool_clean_rules_and_names_what_it_cannot() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "resend_delay = \"30s\"\n\n\
         [[rules]]\nname = \"HighLoad\"\nmetric = \"load1\"\nthreshold = 4\nrecovery = 3\nfor = \"90s\"\nkeep_firing_for = \"1m\"\nseverity = \"critical\"\nflap = { low = 20, high = 30 }\nlabels = { team = \"ops\" }\nannotations = { summary = \"{{ name }}: load {{ value }} over {{ threshold }} ({{ labels.team }})\" }\n\n\
         [[rules]]\nname = \"DataDisk\"\nmetric = \"disk\"\nmount = \"/data\"\nthreshold = 90\n",
    )
    .unwrap();
    let rules = rules.to_str().unwrap();
    let export = |more: &[&str]| {
        let args = [
            "rules",
            "export",
            "--rules",
            rules,
            "--group",
            "host",
            "--interval",
            "15s",
        ];
        ops(&[&args[..], more].concat())
    };
    let o = export(&[]);
    assert_exit(&o, 0);
    let text = stdout(&o);
    // Both things a rule file cannot hold are named on stderr and in the file.
    assert_eq!(
        stderr(&o),
        "ops rules export: not exported: resend_delay 30s is not part of a rule file: start Prometheus with --rules.alert.resend-delay=30s\n\
         ops rules export: not exported: rule \"HighLoad\": flap detection (low 20%, high 30%) has no Prometheus equivalent; Alertmanager's group_interval and the rule's keep_firing_for damp notifications instead\n"
    );
    assert!(text.contains("# NOT EXPORTED: resend_delay 30s"), "{text}");
    assert!(
        text.contains("  # NOT EXPORTED: HighLoad: flap detection"),
        "{text}"
    );
    assert!(
        text.contains(
            "- name: 'host'\n  interval: 15s\n  rules:\n  # NOT EXPORTED: HighLoad: flap detection (low 20%, high 30%) has no Prometheus equivalent; Alertmanager's group_interval and the rule's keep_firing_for damp notifications instead\n  # HighLoad: recovery threshold 3 (hysteresis): once firing, the alert clears only past it (the ALERTS pattern)\n  - alert: 'HighLoad'\n    expr: 'node_load1 > 4 or (node_load1 >= 3 and ignoring(alertname, alertstate, severity, team) ALERTS{alertname=\"HighLoad\", alertstate=\"firing\"})'\n    for: 1m30s\n    keep_firing_for: 1m\n    labels:\n      severity: 'critical'\n      team: 'ops'\n    annotations:\n      summary: 'HighLoad: load {{ $value | printf \"%.1f\" }} over 4.0 (ops)'\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "  - alert: 'DataDisk'\n    expr: 'ops_filesystem_usage_ratio{mountpoint=\"/data\"} * 100 > 90'\n    labels:\n      severity: 'warning'\n      mount: '{{ $labels.mountpoint }}'\n    annotations:\n      summary: 'DataDisk: disk {{ $labels.mountpoint }} {{ $value | printf \"%.1f\" }} > 90.0'\n"
        ),
        "{text}"
    );
    // --out writes the same file.
    let out = dir.path().join("host.rules.yml");
    let o = export(&["--out", out.to_str().unwrap()]);
    assert_exit(&o, 0);
    assert_eq!(stdout(&o), "");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), text);
    if let Some(promtool) = promtool::find("rules_export_writes_promtool_clean_rules") {
        let checked = promtool::check_rules(&promtool, &out);
        assert!(
            checked.success && checked.output.contains("SUCCESS: 2 rules found"),
            "{}",
            checked.output
        );
        // The playbook's defaults too.
        let defaults = dir.path().join("defaults.rules.yml");
        std::fs::write(&defaults, ops_ok(&["rules", "export"])).unwrap();
        let checked = promtool::check_rules(&promtool, &defaults);
        assert!(
            checked.success && checked.output.contains("SUCCESS: 3 rules found"),
            "{}",
            checked.output
        );
    }
    // A rule file that does not load is an error (exit 2), nothing written.
    std::fs::write(dir.path().join("bad.toml"), "[[rules]]\nname = \"X\"\n").unwrap();
    let o = ops(&[
        "rules",
        "export",
        "--rules",
        dir.path().join("bad.toml").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
}

// ---------------------------------------------------------------------------------------------
// examples/monitoring: committed files
// ---------------------------------------------------------------------------------------------

#[test]
fn the_committed_rule_files_equal_fresh_exports() {
    let mut stale = Vec::new();
    for (file, args) in EXPORTS {
        let o = Command::new(env!("CARGO_BIN_EXE_ops"))
            .args(args)
            .current_dir(monitoring())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "ops {args:?}: {}", stderr(&o));
        assert_eq!(stderr(&o), "", "ops {args:?} warned");
        let committed = std::fs::read_to_string(monitoring().join(file)).unwrap();
        if committed != stdout(&o) {
            stale.push(format!(
                "{file}: regenerate it in examples/monitoring with `ops {} > {file}`",
                args.join(" ")
            ));
        }
    }
    assert!(stale.is_empty(), "stale exports:\n{}", stale.join("\n"));
    // Every rule file there is one of these.
    let mut files: Vec<String> = std::fs::read_dir(monitoring().join("rules"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".rules.yml"))
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "host.rules.yml",
            "probe.rules.yml",
            "quickstart.rules.yml",
            "slos.rules.yml"
        ]
    );
}

/// Every dashboard file: (file name, parsed JSON).
fn dashboards() -> Vec<(String, Value)> {
    let dir = monitoring().join("grafana/dashboards");
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let v: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: not JSON: {e}", p.display()));
            (p.file_name().unwrap().to_string_lossy().into_owned(), v)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Every query of a dashboard: (where, expression) for each panel target, annotation and
/// variable (`label_values(selector, label)` as its selector).
fn queries(board: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for panel in board["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            out.push((
                format!(
                    "panel {:?} target {}",
                    panel["title"].as_str().unwrap(),
                    target["refId"].as_str().unwrap()
                ),
                target["expr"].as_str().unwrap().to_owned(),
            ));
        }
    }
    for a in board["annotations"]["list"].as_array().unwrap() {
        if let Some(expr) = a["expr"].as_str() {
            out.push((
                format!("annotation {:?}", a["name"].as_str().unwrap()),
                expr.to_owned(),
            ));
        }
    }
    for v in board["templating"]["list"].as_array().unwrap() {
        let q = v["definition"].as_str().unwrap();
        let inner = q
            .strip_prefix("label_values(")
            .and_then(|r| r.strip_suffix(')'))
            .unwrap_or_else(|| panic!("variable {q}: not label_values(selector, label)"));
        let (selector, label) = inner.rsplit_once(", ").unwrap();
        // The variable's values are the label's values on these series.
        out.push((
            format!("variable {:?}", v["name"].as_str().unwrap()),
            format!("count by ({label}) ({selector})"),
        ));
    }
    out
}

#[test]
fn every_dashboard_is_grafana_json_on_the_provisioned_datasource() {
    let provisioned =
        std::fs::read_to_string(monitoring().join("grafana/datasources/prometheus.yml")).unwrap();
    assert!(
        provisioned.contains(&format!("    uid: {DATASOURCE_UID}\n")),
        "{provisioned}"
    );
    let boards = dashboards();
    assert_eq!(
        boards.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>(),
        [
            "deploys.json",
            "host.json",
            "profiler.json",
            "service.json",
            "slo.json"
        ]
    );
    let mut uids = BTreeSet::new();
    for (file, board) in &boards {
        assert_eq!(board["schemaVersion"], 39, "{file}");
        assert!(
            board["title"]
                .as_str()
                .is_some_and(|t| t.starts_with("ops-rs / ")),
            "{file}"
        );
        assert!(
            uids.insert(board["uid"].as_str().unwrap().to_owned()),
            "{file}: uid repeated"
        );
        let panels = board["panels"].as_array().unwrap();
        assert!(panels.len() >= 6, "{file}");
        let mut ids = BTreeSet::new();
        for p in panels {
            let title = p["title"].as_str().unwrap();
            assert!(
                ids.insert(p["id"].as_u64().unwrap()),
                "{file}: panel id repeated at {title:?}"
            );
            assert_eq!(p["datasource"]["uid"], DATASOURCE_UID, "{file}: {title}");
            assert_eq!(p["datasource"]["type"], "prometheus", "{file}: {title}");
            let grid = &p["gridPos"];
            let (x, w) = (grid["x"].as_u64().unwrap(), grid["w"].as_u64().unwrap());
            assert!(
                x + w <= 24 && grid["h"].as_u64().unwrap() > 0,
                "{file}: {title}"
            );
            assert!(
                ["timeseries", "stat", "table", "gauge", "barchart"]
                    .contains(&p["type"].as_str().unwrap()),
                "{file}: {title}"
            );
            let targets = p["targets"].as_array().unwrap();
            assert!(!targets.is_empty(), "{file}: {title} has no targets");
            let mut refs = BTreeSet::new();
            for t in targets {
                assert!(refs.insert(t["refId"].as_str().unwrap()), "{file}: {title}");
                assert_eq!(t["datasource"]["uid"], DATASOURCE_UID, "{file}: {title}");
                assert!(
                    !t["expr"].as_str().unwrap().trim().is_empty(),
                    "{file}: {title}"
                );
            }
        }
        for v in board["templating"]["list"].as_array().unwrap() {
            assert_eq!(v["datasource"]["uid"], DATASOURCE_UID, "{file}: {v}");
        }
        for a in board["annotations"]["list"].as_array().unwrap() {
            if a.get("builtIn").is_none() {
                assert_eq!(a["datasource"]["uid"], DATASOURCE_UID, "{file}: {a}");
            }
        }
        // Every variable a query uses is defined (or one of Grafana's own).
        let defined: BTreeSet<String> = board["templating"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap().to_owned())
            .collect();
        for (place, expr) in queries(board) {
            for name in variables_in(&expr) {
                assert!(
                    name.starts_with("__") || defined.contains(&name),
                    "{file}: {place}: ${name} is not a variable of the dashboard"
                );
            }
        }
    }
}

/// The `$name`s of an expression.
fn variables_in(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(i) = rest.find('$') {
        let name: String = rest[i + 1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[i + 1..];
        if !name.is_empty() {
            out.push(name);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The stack, for real
// ---------------------------------------------------------------------------------------------

/// The quickstart example as a static binary (glibc, crt-static): runs here and in a
/// FROM-scratch image. Built once per test run.
fn quickstart() -> PathBuf {
    ops_testkit::build::quickstart()
}

/// A child process killed when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `text` with `from` replaced by `to`, which must be there.
fn replace(text: &str, from: &str, to: &str, file: &str) -> String {
    assert!(text.contains(from), "{file} no longer has {from:?}");
    text.replace(from, to)
}

/// The `data.result` of a successful query answer, or why there is none.
fn result(answer: Result<String, String>) -> Result<Vec<Value>, String> {
    let body = answer?;
    let v: Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
    if v["status"] != "success" {
        return Err(body);
    }
    match &v["data"]["result"] {
        Value::Array(items) => Ok(items.clone()),
        // A scalar or a string: one value.
        other => Ok(vec![other.clone()]),
    }
}

/// The alerts of an alerts answer (Prometheus's `data.alerts`, Alertmanager's array).
fn alerts_in(body: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(body).unwrap();
    match v {
        Value::Array(a) => a,
        v => v["data"]["alerts"].as_array().cloned().unwrap_or_default(),
    }
}

fn labels_of(alert: &Value) -> BTreeMap<String, String> {
    alert["labels"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect()
}

/// The embedded evaluator's firing alerts: each one's labels.
type Embedded = Vec<BTreeMap<String, String>>;

/// The labels of each firing `ops_alerts` series of a page (the embedded evaluator's alerts),
/// without `alertstate`.
fn embedded_alerts(page: &str) -> Vec<BTreeMap<String, String>> {
    page.lines()
        .filter_map(|l| l.strip_prefix("ops_alerts{"))
        .filter(|l| l.contains("alertstate=\"firing\""))
        .map(|l| {
            let inner = &l[..l.rfind('}').unwrap()];
            inner
                .split("\",")
                .map(|pair| {
                    let (k, v) = pair.split_once("=\"").unwrap();
                    (k.to_owned(), v.trim_end_matches('"').to_owned())
                })
                .filter(|(k, _)| k != "alertstate")
                .collect()
        })
        .collect()
}

/// ops-deploy's figures (`DeployStats`, its encoder) for a history that grows by a release
/// at every scrape — healthy, a change failure restored by rollback, a failed release — as a
/// page that has them as a section would show them.
fn deploy_page(n: u64) -> String {
    use ops_deploy::{DeployStats, History, Outcome, ReleaseRecord};
    let now = SystemTime::now();
    let mut history = History::new("quickstart");
    for i in 0..=n {
        let mut r = ReleaseRecord::new(format!("quickstart-{i}"), "quickstart:v1", "canary");
        let started = now - Duration::from_secs(60 * (n - i + 1));
        r.started_at = started;
        r.live_at = Some(started + Duration::from_secs(5));
        r.finished_at = Some(started + Duration::from_secs(30));
        r.outcome = match i % 3 {
            0 => Outcome::Healthy,
            1 => {
                r.restored_at = Some(started + Duration::from_secs(45));
                Outcome::RolledBack
            }
            _ => Outcome::Failed,
        };
        history.upsert(r);
    }
    ops_core::Exposition::to_prometheus(&DeployStats::from_history(&history))
}

/// The concrete values the test gives each dashboard's variables (Grafana's own included).
fn substitute(file: &str, expr: &str, monitor: &str) -> String {
    let vars: Vec<(&str, String)> = vec![
        ("$__rate_interval", "1m".into()),
        ("$__interval", "15s".into()),
        ("$__range", "5m".into()),
        (
            "$job",
            if file == "host.json" {
                "ops-monitor"
            } else {
                "quickstart"
            }
            .into(),
        ),
        ("$instance", monitor.into()),
        ("$mountpoint", "/".into()),
        ("$route", "/work/fail".into()),
        ("$function", "quickstart::work_fail".into()),
        (
            "$slo",
            "quickstart-availability|quickstart-reachable".into(),
        ),
        ("$service", "quickstart".into()),
    ];
    let mut out = expr.to_owned();
    for (name, value) in vars {
        out = out.replace(name, &value);
    }
    assert!(!out.contains('$'), "{file}: a variable left in {out}");
    out
}

#[test]
fn a_real_prometheus_and_alertmanager_fire_the_embedded_alerts_and_every_panel_has_data() {
    let test =
        "a_real_prometheus_and_alertmanager_fire_the_embedded_alerts_and_every_panel_has_data";
    let (Some(prometheus_bin), Some(alertmanager_bin)) =
        (Prometheus::find(test), Alertmanager::find(test))
    else {
        return;
    };
    let Some(amtool) = tools::find(test, "amtool") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();

    // The quickstart, serving.
    let qs_addr = net::local(net::free_port());
    let _quickstart = Killed(
        Command::new(quickstart())
            .args([
                "--serve",
                "--bind",
                &qs_addr.to_string(),
                "--log-dir",
                dir.path().join("logs").to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    net::wait_until(Duration::from_secs(20), "the quickstart to answer", || {
        http(qs_addr, "GET", "/health", "").filter(|(s, _)| *s == 200)
    });
    // Two orders, then only visits: a conversion the rule calls too low.
    for _ in 0..2 {
        assert_eq!(http(qs_addr, "POST", "/shop/orders", "").unwrap().0, 201);
    }

    // The stack's files, copied: the committed configuration pointed at this run's ports,
    // scraping and evaluating every second; the SLO groups' 1m interval cut to 1s so their
    // recordings have data within seconds.
    let stack = dir.path().join("monitoring");
    std::fs::create_dir_all(stack.join("rules")).unwrap();
    for (file, _) in EXPORTS {
        let text = std::fs::read_to_string(monitoring().join(file)).unwrap();
        let text = text.replace("  interval: 1m\n", "  interval: 1s\n");
        std::fs::write(stack.join(file), text).unwrap();
    }
    for source in ["host.toml", "quickstart.toml", "slos.toml", "probe.toml"] {
        std::fs::copy(
            monitoring().join("rules").join(source),
            stack.join("rules").join(source),
        )
        .unwrap();
    }
    // This test's own host rules for ops monitor: certain to fire here (the root filesystem
    // holds something, the machine runs processes), exported beside the committed ones.
    let test_rules = stack.join("stack-test.toml");
    std::fs::write(
        &test_rules,
        "[[rules]]\nname = \"StackRootUsed\"\nmetric = \"disk\"\nmount = \"/\"\nthreshold = 0\nseverity = \"critical\"\nannotations = { summary = \"Disk {{ labels.mount }} holds {{ value }}% (over {{ threshold }}%)\" }\n\n\
         [[rules]]\nname = \"StackProcesses\"\nmetric = \"processes\"\nthreshold = 1\nseverity = \"ticket\"\n",
    )
    .unwrap();
    ops_ok(&[
        "rules",
        "export",
        "--rules",
        test_rules.to_str().unwrap(),
        "--group",
        "stack-test",
        "--out",
        stack.join("rules/stack-test.rules.yml").to_str().unwrap(),
    ]);

    // ops monitor: the machine, the probes of the quickstart's /health, the probe SLO.
    let mon_addr = net::local(net::free_port());
    let _monitor = Killed(
        Command::new(env!("CARGO_BIN_EXE_ops"))
            .args([
                "monitor",
                "--listen",
                &mon_addr.to_string(),
                "--quiet",
                "--duration",
                "600s",
                "--interval",
                "1s",
                "--rules",
                test_rules.to_str().unwrap(),
                "--probe",
                &format!("http://{qs_addr}/health"),
                "--probe-interval",
                "1s",
                "--probe-timeout",
                "900ms",
                "--slo",
                stack.join("rules/probe.toml").to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    net::wait_until(Duration::from_secs(20), "ops monitor to answer", || {
        http(mon_addr, "GET", "/health", "").filter(|(s, _)| *s == 200)
    });

    // Alertmanager with the committed routes, its webhooks pointed at a recorder.
    let webhook = ScriptedServer::start(vec![(200, ""); 200]);
    let am_config = replace(
        &std::fs::read_to_string(monitoring().join("alertmanager.yml")).unwrap(),
        "http://127.0.0.1:5001",
        &webhook.url(""),
        "alertmanager.yml",
    );
    std::fs::write(stack.join("alertmanager.yml"), am_config).unwrap();
    let checked = tools::output_text(
        &Command::new(&amtool)
            .args(["check-config"])
            .arg(stack.join("alertmanager.yml"))
            .output()
            .unwrap(),
    );
    assert!(checked.contains("SUCCESS"), "{checked}");
    let alertmanager = Alertmanager::start(&alertmanager_bin, &stack.join("alertmanager.yml"));

    // ops-deploy's figures: no ops-rs page serves them yet (a service or ops monitor adds
    // DeployStats as a section), so a page of their own.
    let deploys = PageServer::serving(deploy_page);

    // Prometheus with the committed configuration.
    let file = "prometheus.yml";
    let mut config = std::fs::read_to_string(monitoring().join(file)).unwrap();
    for (from, to) in [
        ("scrape_interval: 15s", "scrape_interval: 1s".to_owned()),
        (
            "evaluation_interval: 15s",
            "evaluation_interval: 1s".to_owned(),
        ),
        ("'127.0.0.1:8080'", format!("'{qs_addr}'")),
        ("'127.0.0.1:9187'", format!("'{mon_addr}'")),
        ("'127.0.0.1:9093'", format!("'{}'", alertmanager.addr())),
    ] {
        config = replace(&config, from, &to, file);
    }
    let _ = write!(
        config,
        "\n  # ops-deploy's figures (DeployStats), served by the test.\n  - job_name: ops-deploy\n    static_configs:\n      - targets: ['{}']\n",
        deploys.addr()
    );
    std::fs::write(stack.join(file), &config).unwrap();
    if let Some(promtool) = promtool::find(test) {
        let o = Command::new(promtool)
            .args(["check", "config"])
            .arg(stack.join(file))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", tools::output_text(&o));
    }
    let prometheus = Prometheus::start(&prometheus_bin, &stack.join(file));

    // Traffic: /work/fail fails one call in three (the error-ratio rule, the availability
    // SLO's burn), checkout visits without orders (the conversion rule), /work/slow now and
    // then (the latency histogram's upper buckets).
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let path = match i % 10 {
                    9 => "/work/slow",
                    n if n % 2 == 0 => "/work/fail",
                    _ => "/shop/checkout",
                };
                let _ = http(qs_addr, "GET", path, "");
                i += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let stop_traffic = || {
        stop.store(true, Ordering::Relaxed);
    };

    let context = |what: &str| {
        format!(
            "{what}\n--- prometheus log:\n{}\n--- alertmanager log:\n{}",
            prometheus.log(),
            alertmanager.log()
        )
    };

    // Every target up.
    net::wait_until(Duration::from_secs(30), "every target up", || {
        let up = result(prometheus.try_query("up == 1")).ok()?;
        let jobs: BTreeSet<String> = up
            .iter()
            .filter_map(|s| s["metric"]["job"].as_str().map(str::to_owned))
            .collect();
        (jobs.len() == 3).then_some(())
    });

    // 1. The embedded evaluators fire.
    let fired = |addr, names: &[&str]| -> Option<Vec<BTreeMap<String, String>>> {
        let (_, page) = http(addr, "GET", "/metrics", "")?;
        let alerts = embedded_alerts(&page);
        names
            .iter()
            .all(|n| alerts.iter().any(|a| a["alertname"] == *n))
            .then_some(alerts)
    };
    let deadline = Duration::from_mins(1);
    let qs_embedded = net::wait_until(deadline, "the quickstart's monitor to fire", || {
        fired(qs_addr, &["HighErrorRatio", "LowCheckoutConversion"])
    });
    let mon_embedded = net::wait_until(deadline, "ops monitor to fire", || {
        fired(mon_addr, &["StackRootUsed", "StackProcesses"])
    });

    // 2. Prometheus fires the same alerts from the exported rules.
    let expected: [(&str, &str, &Embedded); 4] = [
        ("HighErrorRatio", "warning", &qs_embedded),
        ("LowCheckoutConversion", "warning", &qs_embedded),
        ("StackRootUsed", "critical", &mon_embedded),
        ("StackProcesses", "ticket", &mon_embedded),
    ];
    let firing = |body: &str, name: &str| -> Option<Value> {
        alerts_in(body).into_iter().find(|a| {
            a["labels"]["alertname"] == name
                && (a["state"] == "firing" || a["status"]["state"] == "active")
        })
    };
    let prom_alerts = net::wait_until(deadline, "Prometheus to fire the same alerts", || {
        let body = prometheus.alerts();
        expected
            .iter()
            .all(|(name, _, _)| firing(&body, name).is_some())
            .then_some(body)
    });
    for (name, severity, embedded) in &expected {
        let alert = firing(&prom_alerts, name).unwrap();
        let labels = labels_of(&alert);
        assert_eq!(labels["severity"], *severity, "{name}: {alert}");
        let ours = embedded.iter().find(|a| a["alertname"] == *name).unwrap();
        // The embedded alert's labels are all on Prometheus's, with the same values (its
        // `mount` from the exposition's `mountpoint`); aggregated rules have no others.
        for (k, v) in ours {
            assert_eq!(
                labels.get(k),
                Some(v),
                "{name}: {k} in {labels:?} vs {ours:?}"
            );
        }
        if matches!(*name, "HighErrorRatio" | "LowCheckoutConversion") {
            let mut without: BTreeMap<String, String> = labels.clone();
            without.remove("severity");
            assert_eq!(&without, ours, "{name}");
        }
    }
    let disk = firing(&prom_alerts, "StackRootUsed").unwrap();
    assert_eq!(disk["labels"]["mountpoint"], "/");
    assert_eq!(disk["labels"]["job"], "ops-monitor");
    let summary = disk["annotations"]["summary"].as_str().unwrap();
    let value = summary
        .strip_prefix("Disk / holds ")
        .and_then(|s| s.strip_suffix("% (over 0.0%)"))
        .unwrap_or_else(|| panic!("{summary}"));
    assert!(
        value.contains('.')
            && value.split('.').nth(1).unwrap().len() == 1
            && value.parse::<f64>().is_ok(),
        "one decimal: {summary}"
    );
    // Prometheus extrapolates each counter's increase at the window's edges: about a third,
    // one decimal.
    let work = firing(&prom_alerts, "HighErrorRatio").unwrap();
    let summary = work["annotations"]["summary"].as_str().unwrap();
    let ratio = summary
        .strip_prefix("quickstart::work_fail fails too often: error ratio ")
        .and_then(|s| s.strip_suffix(" > 0.1"))
        .unwrap_or_else(|| panic!("{work}"));
    assert!(
        ratio.len() == 3 && ratio.starts_with("0.") && ratio.parse::<f64>().is_ok(),
        "{work}"
    );
    let processes = firing(&prom_alerts, "StackProcesses").unwrap();
    assert!(
        processes["annotations"]["summary"]
            .as_str()
            .unwrap()
            .starts_with("StackProcesses: processes "),
        "{processes}"
    );

    // 3. They reach Alertmanager, each routed to its severity's receiver; the SLO's page
    //    alert too (a sixth of the requests fail: 14.4 × the budget over 1h and 5m).
    let am = net::wait_until(deadline, "Alertmanager to hold every alert", || {
        let body = alertmanager.alerts();
        let all = expected
            .iter()
            .map(|(n, _, _)| *n)
            .chain(["QuickstartAvailabilityBurnRate1h5m"]);
        all.into_iter()
            .all(|n| firing(&body, n).is_some())
            .then_some(body)
    });
    for (name, severity) in expected
        .iter()
        .map(|(n, s, _)| (*n, *s))
        .chain([("QuickstartAvailabilityBurnRate1h5m", "page")])
    {
        let alert = firing(&am, name).unwrap();
        assert_eq!(alert["labels"]["severity"], severity, "{alert}");
        assert_eq!(
            each(&alert["receivers"], "name"),
            [severity],
            "{name}: {alert}"
        );
    }

    // 4. Scraped series keep their names and labels.
    for (selector, labels) in [
        (
            "node_cpu_seconds_total{job=\"ops-monitor\",mode=\"idle\"}".to_owned(),
            &["cpu", "mode", "instance", "job"][..],
        ),
        (
            "node_filesystem_avail_bytes{mountpoint=\"/\"}".to_owned(),
            &["device", "fstype", "mountpoint"][..],
        ),
        (
            "http_server_request_duration_seconds_bucket{route=\"/work/fail\",status=\"500\",le=\"+Inf\"}".to_owned(),
            &["method", "route", "status", "le"][..],
        ),
        (
            format!("probe_success{{instance=\"http://{qs_addr}/health\"}}"),
            &["instance", "job"][..],
        ),
    ] {
        let series = result(prometheus.try_query(&selector)).unwrap();
        assert!(!series.is_empty(), "{}", context(&format!("no series {selector}")));
        for s in &series {
            for l in labels {
                assert!(s["metric"].get(*l).is_some(), "{selector}: no {l} in {s}");
            }
        }
    }
    // Counts as the service counted them: the two orders, exactly.
    let orders = result(prometheus.try_query(
        "http_server_request_duration_seconds_count{route=\"/shop/orders\",method=\"POST\",status=\"201\"}",
    ))
    .unwrap();
    assert_eq!(orders.len(), 1, "{orders:?}");
    assert_eq!(orders[0]["value"][1], "2");
    // The service's copies of the machine's figures are dropped (ops monitor has them).
    assert!(
        result(prometheus.try_query("node_load1{job=\"quickstart\"}"))
            .unwrap()
            .is_empty()
    );

    // 5. Every dashboard query parses and returns data.
    let boards = dashboards();
    let pending = || -> Vec<String> {
        let mut failures = Vec::new();
        for (file, board) in &boards {
            let title = board["title"].as_str().unwrap();
            for (place, expr) in queries(board) {
                let q = substitute(file, &expr, &mon_addr.to_string());
                match result(prometheus.try_query(&q)) {
                    Ok(r) if !r.is_empty() => {}
                    Ok(_) => failures.push(format!("{title} ({file}): {place}: no data: {q}")),
                    Err(e) => failures.push(format!("{title} ({file}): {place}: {e}: {q}")),
                }
            }
        }
        failures
    };
    let started = Instant::now();
    let mut failures = pending();
    while !failures.is_empty() && started.elapsed() < Duration::from_secs(90) {
        // A query that does not parse never will.
        assert!(
            !failures.iter().any(|f| f.contains("bad_data")),
            "{}",
            failures.join("\n")
        );
        std::thread::sleep(Duration::from_millis(500));
        failures = pending();
    }
    stop_traffic();
    traffic.join().unwrap();
    assert!(
        failures.is_empty(),
        "{}",
        context(&format!(
            "dashboard queries without data:\n{}",
            failures.join("\n")
        ))
    );
    assert!(deploys.served() > 0);
    drop(webhook);
}
