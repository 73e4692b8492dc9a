//! Canary releases and blue-green verification for real: the quickstart example (an axum
//! service with ops-http's request histogram; `--fail-ratio F` fails the fraction F of its
//! requests while `/health` stays 200) behind a real nginx, under load from client threads,
//! on the process runtime and on Docker, with each of the three sources: the releases' own
//! `/metrics`, nginx's JSON access log, and a real Prometheus server.

#![allow(clippy::too_many_lines)] // scenarios read top to bottom

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ops_deploy::analysis::Verdict;
use ops_deploy::{
    Actor, Decision, DeployConfig, DeployOutcome, Deployer, Event, FailureReason, History, Outcome,
    Runtime,
};
use ops_testkit::load::{Load, LoadReport};
use ops_testkit::nginx::{Nginx, toml_string};
use ops_testkit::prometheus::Prometheus;
use ops_testkit::tools;

use super::suite::{Backend, Cleanup, Setup, free_port};

/// The path the load gets: a quickstart route that answers 200 (or 500 under `--fail-ratio`).
const PATH: &str = "/shop/checkout";

/// The quickstart example as a static binary (glibc, crt-static): runs here and in a
/// FROM-scratch image; built once per test run (`target/static`, shared with the README's
/// walk-through test).
fn quickstart() -> PathBuf {
    ops_testkit::build::quickstart()
}

/// The quickstart on the process runtime: each release logs into its own directory.
fn process_backend(dir: &Path) -> (Backend, impl Fn(f64) -> String) {
    let bin = quickstart();
    let logs = dir.join("qs-logs");
    let artifact = move |fail_ratio: f64| {
        format!(
            "exec '{}' --serve --fail-ratio {fail_ratio} --log-dir '{}'/\"$OPS_RELEASE\"",
            bin.display(),
            logs.display()
        )
    };
    (
        Backend {
            name: "process",
            runtime_config: "runtime = \"process\"".into(),
            artifact: Box::new(|_| None),
            cleanup: Box::new(|_| {}),
        },
        artifact,
    )
}

const IMAGE: &str = "ops-deploy-canary";

/// `ops-deploy-canary:good` and `:bad` (`--fail-ratio 0.2`): the static quickstart in a
/// FROM-scratch image, as examples/docker/quickstart/Dockerfile packs it.
fn images() -> &'static str {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(quickstart(), dir.path().join("quickstart")).unwrap();
        std::fs::create_dir(dir.path().join("logs")).unwrap();
        std::fs::write(dir.path().join("logs/.keep"), "").unwrap();
        for (tag, extra) in [("good", ""), ("bad", ",\"--fail-ratio\",\"0.2\"")] {
            std::fs::write(
                dir.path().join("Dockerfile"),
                format!(
                    "FROM scratch\nCOPY quickstart /quickstart\nCOPY --chown=65534:65534 logs/ /logs/\nUSER 65534:65534\nENV PORT=8080\nEXPOSE 8080\nENTRYPOINT [\"/quickstart\",\"--serve\",\"--log-dir\",\"/logs\"{extra}]\n"
                ),
            )
            .unwrap();
            tools::docker(&[
                "build",
                "-q",
                "-t",
                &format!("{IMAGE}:{tag}"),
                dir.path().to_str().unwrap(),
            ]);
        }
    });
    IMAGE
}

/// nginx in front of the releases, its access log in the JSON format the access-log source
/// reads (`log_format` lives in nginx's `http` block, which the kit's builder does not
/// expose: written into its configuration, then reloaded).
fn nginx_with_json_log(service: &str, port: u16, log: &Path) -> Nginx {
    let nginx = Nginx::builder(service)
        .backend_port(port)
        .port(free_port())
        .start();
    let conf = std::fs::read_to_string(nginx.conf()).unwrap();
    let format = "log_format ops_deploy escape=json '{\"time\":\"$time_iso8601\",\"uri\":\"$uri\",\"status\":$status,\"upstream_addr\":\"$upstream_addr\",\"upstream_status\":\"$upstream_status\",\"upstream_response_time\":\"$upstream_response_time\"}';";
    let conf = conf.replacen(
        "  access_log off;\n",
        &format!("  {format}\n  access_log {} ops_deploy;\n", log.display()),
        1,
    );
    std::fs::write(nginx.conf(), conf).unwrap();
    let reload = nginx.reload_command();
    let status = Command::new(&reload[0])
        .args(&reload[1..])
        .status()
        .unwrap();
    assert!(status.success());
    // The new workers write the log.
    ops_testkit::net::wait_until(Duration::from_secs(10), "nginx's JSON access log", || {
        let _ = ops_testkit::net::http(nginx.addr(), "GET", "/", "");
        std::fs::metadata(log).ok().filter(|m| m.len() > 0)
    });
    nginx
}

/// A load of 4 clients on `PATH` through nginx (half keep-alive, half a connection per
/// request), pausing 1 ms between requests.
fn load(nginx: &Nginx) -> Load {
    Load::builder(nginx.addr())
        .clients(4)
        .path(PATH)
        .pause(Duration::from_millis(1))
        .start()
}

/// What one deploy showed: the canary weights it went through, the measurements, and the
/// load started at its first traffic change (the first split, or blue-green's switch).
struct Watched {
    outcome: DeployOutcome,
    weights: Vec<u8>,
    measurements: Vec<String>,
    /// The load started at the first traffic change, and what it saw until the deploy ended.
    report: Option<LoadReport>,
}

fn watch(
    d: &Deployer<Box<dyn Runtime>>,
    artifact: &str,
    nginx: &Nginx,
    load_from_first_switch: bool,
) -> Watched {
    let mut weights = Vec::new();
    let mut measurements = Vec::new();
    let mut started: Option<Load> = None;
    let outcome = d
        .deploy(artifact, "test", None, |e| match e {
            Event::Transition { transition, .. } => {
                if transition.to == ops_deploy::State::Analysing
                    && load_from_first_switch
                    && started.is_none()
                {
                    started = Some(load(nginx));
                }
                // `step 2/4: 25 % of the traffic to web-3`
                if transition.to == ops_deploy::State::Switching
                    && transition.detail.starts_with("step ")
                    && let Some(w) = transition
                        .detail
                        .split(": ")
                        .nth(1)
                        .and_then(|t| t.split(" %").next())
                        .and_then(|w| w.parse::<u8>().ok())
                {
                    weights.push(w);
                }
            }
            Event::Analysis { measurement, .. } => {
                measurements.push(format!(
                    "step {:?} {} %: {}",
                    measurement.step,
                    measurement.weight,
                    measurement.summary()
                ));
            }
            _ => {}
        })
        .unwrap();
    Watched {
        outcome,
        weights,
        measurements,
        report: started.map(Load::finish),
    }
}

/// The canary's analysis settings for these tests: 1 s measurements, at least 20 requests,
/// thin measurements tolerated (a busy machine) but never held for long.
const ANALYSIS: &str = "[analysis]\ninterval = \"1s\"\nmin_requests = 20\ninconclusive_limit = 10\nhold_timeout = \"20s\"\n";

/// The failures a canary aborted at its first step can show clients. nginx's weighted round
/// robin is smooth, per worker: of k requests a worker routes, the canary gets at most
/// ⌈k/10⌉ at weight 10 — so of the `n` requests the clients sent between the split and the
/// end of the deploy, at most n/10 + 2 (two workers). The quickstart fails exactly ⌊F·c⌋ of
/// the c requests it serves (F = 0.2). So at most 0.2 · (n/10 + 2) failures: the weight's
/// share of the bad release's failures, and never more than the weight's share of requests.
fn assert_bounded_by_the_weight(report: &LoadReport, weight: f64) {
    let n = (report.ok + report.non_2xx) as f64;
    let failed = report.non_2xx as f64;
    eprintln!(
        "canary aborted: {} of {n} requests failed (weight {weight}: bound {:.1})",
        report.non_2xx,
        0.2 * (weight * n + 2.0)
    );
    assert_eq!(report.connection_errors, 0, "{report:?}");
    assert!(
        failed >= 1.0,
        "the canary got traffic and failed some: {report:?}"
    );
    assert!(
        failed <= weight * n,
        "more than the weight's share: {report:?}"
    );
    assert!(
        failed <= 0.2 * (weight * n + 2.0),
        "more than the weight let through: {report:?}"
    );
}

fn reason(outcome: &DeployOutcome) -> (String, String, Option<Verdict>) {
    let r = outcome.reason().unwrap();
    let verdict = match r {
        FailureReason::Analysis { verdict, .. } => Some(*verdict),
        _ => None,
    };
    (r.kind().to_owned(), r.to_string(), verdict)
}

/// Process runtime, metrics source: a good canary goes through every step under load with no
/// failed request; a release failing 20 % is aborted at its first step and clients see only
/// what its 10 % let through.
#[test]
fn process_canary_with_the_metrics_source() {
    let test = "process_canary_with_the_metrics_source";
    if !Nginx::available(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (backend, artifact) = process_backend(dir.path());
    let setup = Setup::new(&backend, "can");
    let nginx = Nginx::builder(&setup.service)
        .backend_port(setup.port)
        .port(free_port())
        .start();
    let config = setup.config(
        &backend,
        &format!("strategy = \"canary\"\n{}{ANALYSIS}", nginx.proxy_config()),
    );
    let _cleanup = Cleanup::new(&backend, &config, &setup.service);
    let d = Deployer::new(config.clone(), config.runtime());
    let release = |n: u32| format!("{}-{n}", setup.service);
    // The first release takes the traffic at once: nothing ran before it.
    assert_eq!(
        d.deploy(&artifact(0.0), "test", None, |_| {}).unwrap(),
        DeployOutcome::Healthy {
            release: release(1)
        }
    );

    let running = load(&nginx);
    std::thread::sleep(Duration::from_millis(300));
    let good = watch(&d, &artifact(0.0), &nginx, false);
    std::thread::sleep(Duration::from_millis(300));
    let report = running.finish();
    eprintln!("good canary: {:?}\n{report:?}", good.measurements);
    assert_eq!(
        good.outcome,
        DeployOutcome::Healthy {
            release: release(2)
        }
    );
    assert_eq!(good.weights, [10, 25, 50, 100]);
    assert_eq!(
        (report.non_2xx, report.connection_errors),
        (0, 0),
        "{report:?}"
    );
    assert!(report.ok > 200, "{report:?}");
    let history = History::load(&config.history_path(), &setup.service).unwrap();
    let a = history.get(&release(2)).unwrap().analysis.clone().unwrap();
    assert_eq!(a.verdict, Verdict::Passed);
    assert!(
        a.measurements
            .iter()
            .all(|m| m.status != ops_deploy::analysis::MeasurementStatus::Failed),
        "{a:?}"
    );

    // 20 % of its requests fail: aborted at 10 %.
    let bad = watch(&d, &artifact(0.2), &nginx, true);
    eprintln!("bad canary: {:?}", bad.measurements);
    let (kind, text, verdict) = reason(&bad.outcome);
    assert_eq!(
        (kind.as_str(), verdict),
        ("analysis", Some(Verdict::Failed)),
        "{text}"
    );
    assert!(
        text.starts_with("error ratio 0.")
            && text.contains(" > 0.01 at step 1, 10 % (1 failed measurement"),
        "{text}"
    );
    assert!(
        matches!(&bad.outcome, DeployOutcome::RolledBack { restored, .. } if *restored == release(2))
    );
    assert_eq!(bad.weights, [10]);
    assert_bounded_by_the_weight(&bad.report.unwrap(), 0.1);
    assert_eq!(d.current().unwrap().release, release(2));
    assert!(
        config.runtime().find(&release(3), setup.alt_port).is_none()
            && config.runtime().find(&release(3), setup.port).is_none(),
        "the canary was stopped"
    );
    let upstream = std::fs::read_to_string(nginx.upstream_file()).unwrap();
    assert!(
        !upstream.contains("weight="),
        "weight back to 0: {upstream}"
    );
    let history = History::load(&config.history_path(), &setup.service).unwrap();
    let r = history.get(&release(3)).unwrap();
    assert_eq!(r.outcome, Outcome::Failed);
    assert_eq!(r.reason.as_deref(), Some(text.as_str()));
    let a = r.analysis.as_ref().unwrap();
    let failing = a.measurements.last().unwrap().deciding().unwrap();
    let ratio = failing.value.unwrap();
    assert!((0.1..=0.3).contains(&ratio), "{failing:?}");
}

/// Process runtime, metrics source: no traffic holds the canary (never promoted, never
/// failed) until a person aborts it; a source that keeps failing aborts at the provider-error
/// limit.
#[test]
fn process_canary_holds_without_traffic_and_gives_up_on_a_failing_source() {
    let test = "process_canary_holds_without_traffic_and_gives_up_on_a_failing_source";
    if !Nginx::available(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (backend, artifact) = process_backend(dir.path());
    let setup = Setup::new(&backend, "hold");
    let nginx = Nginx::builder(&setup.service)
        .backend_port(setup.port)
        .port(free_port())
        .start();
    let config = setup.config(
        &backend,
        &format!(
            "strategy = \"canary\"\n{}[analysis]\ninterval = \"300ms\"\n",
            nginx.proxy_config()
        ),
    );
    let _cleanup = Cleanup::new(&backend, &config, &setup.service);
    let d = Deployer::new(config.clone(), config.runtime());
    let release = |n: u32| format!("{}-{n}", setup.service);
    assert_eq!(
        d.deploy(&artifact(0.0), "test", None, |_| {})
            .unwrap()
            .exit_code(),
        0
    );

    // No client at all: the first measurement has no request, and the deploy holds.
    let deploying = {
        let config = config.clone();
        let artifact = artifact(0.0);
        std::thread::spawn(move || {
            Deployer::new(config.clone(), config.runtime())
                .deploy(&artifact, "test", None, |_| {})
                .unwrap()
        })
    };
    let progress = ops_testkit::net::wait_until(Duration::from_mins(1), "the hold", || {
        d.progress().unwrap().filter(|p| p.paused.is_some())
    });
    assert_eq!((progress.step, progress.weight), (Some(1), 10));
    assert_eq!(
        progress.paused.as_deref(),
        Some(
            "held: error ratio: 0 requests < 20 (1 inconclusive measurement > inconclusive limit 0); nothing is promoted on no data"
        )
    );
    // Held at 10 %, not promoted, however long it waits.
    std::thread::sleep(Duration::from_secs(1));
    let upstream = std::fs::read_to_string(nginx.upstream_file()).unwrap();
    assert!(upstream.contains("weight=10;"), "{upstream}");
    d.decide(Decision::Abort, &Actor::new("oncall", "laptop"))
        .unwrap();
    let outcome = deploying.join().unwrap();
    let (kind, text, verdict) = reason(&outcome);
    assert_eq!(
        (kind.as_str(), verdict),
        ("analysis", Some(Verdict::Inconclusive))
    );
    assert!(
        text.ends_with("aborted by oncall@laptop during the hold"),
        "{text}"
    );
    assert_eq!(d.current().unwrap().release, release(1));
    assert_eq!(
        ops_testkit::net::http(nginx.addr(), "GET", PATH, "").map(|r| r.0),
        Some(200)
    );

    // The metrics page cannot be read: four errors in a row are tolerated, the fifth aborts.
    let broken = setup.config(
        &backend,
        &format!(
            "strategy = \"canary\"\n{}[analysis]\ninterval = \"200ms\"\nmetrics_path = \"/no-such-page\"\n",
            nginx.proxy_config()
        ),
    );
    let outcome = Deployer::new(broken, config.runtime())
        .deploy(&artifact(0.0), "test", None, |_| {})
        .unwrap();
    let (kind, text, verdict) = reason(&outcome);
    assert_eq!(
        (kind.as_str(), verdict),
        ("analysis", Some(Verdict::Error)),
        "{text}"
    );
    assert!(
        text.starts_with("the analysis could not measure at step 1, 10 %: 5 source errors in a row > limit 4; last: metrics: ")
            && text.ends_with("/no-such-page answered HTTP 404"),
        "{text}"
    );
    assert_eq!(d.current().unwrap().release, release(1));
}

/// A Prometheus server from Debian on 127.0.0.1 scraping the releases' two ports every
/// second, stopped when dropped.
fn prometheus(test: &str, dir: &Path, ports: [u16; 2]) -> Option<Prometheus> {
    let binary = Prometheus::find(test)?;
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n  - job_name: releases\n    static_configs:\n      - targets: ['127.0.0.1:{}', '127.0.0.1:{}']\n",
            ports[0], ports[1]
        ),
    )
    .unwrap();
    Some(Prometheus::start(&binary, &config))
}

/// Waits until Prometheus has scraped `port` successfully (through the source the analysis
/// uses).
fn wait_for_target(prometheus: &Prometheus, port: u16) {
    let mut config = ops_deploy::AnalysisConfig::default();
    config.prometheus_url = Some(prometheus.url());
    let source = ops_deploy::analysis::PrometheusSource::new(&config);
    ops_testkit::net::wait_until(Duration::from_secs(30), "Prometheus scraping", || {
        source
            .query(
                &format!("up{{instance=\"127.0.0.1:{port}\"}} == 1"),
                std::time::SystemTime::now(),
            )
            .ok()
            .flatten()
    });
}

/// Process runtime, Prometheus source (a real server scraping both ports): blue-green with
/// `verify` switches back to the old release at once when the new one fails 20 % of its
/// requests after the switch; a good one is verified and kept.
#[test]
fn process_blue_green_verify_with_prometheus() {
    let test = "process_blue_green_verify_with_prometheus";
    if !Nginx::available(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (backend, artifact) = process_backend(dir.path());
    let setup = Setup::new(&backend, "ver");
    let Some(prometheus) = prometheus(test, dir.path(), [setup.port, setup.alt_port]) else {
        return;
    };
    let nginx = Nginx::builder(&setup.service)
        .backend_port(setup.port)
        .port(free_port())
        .start();
    let config = setup.config(
        &backend,
        &format!(
            "strategy = \"blue-green\"\nverify = \"6s\"\n{}[analysis]\nsource = \"prometheus\"\nprometheus_url = {}\ninterval = \"3s\"\nmin_requests = 20\ninconclusive_limit = 2\nhold_timeout = \"20s\"\n",
            nginx.proxy_config(),
            toml_string(&prometheus.url())
        ),
    );
    let _cleanup = Cleanup::new(&backend, &config, &setup.service);
    let d = Deployer::new(config.clone(), config.runtime());
    let release = |n: u32| format!("{}-{n}", setup.service);
    assert_eq!(
        d.deploy(&artifact(0.0), "test", None, |_| {})
            .unwrap()
            .exit_code(),
        0
    );
    wait_for_target(&prometheus, setup.port);

    let running = load(&nginx);
    std::thread::sleep(Duration::from_secs(2));
    let started = Instant::now();
    let bad = watch(&d, &artifact(0.2), &nginx, false);
    let took = started.elapsed();
    std::thread::sleep(Duration::from_millis(300));
    let report = running.finish();
    eprintln!("verify: {:?} in {took:?}\n{report:?}", bad.measurements);
    let (kind, text, verdict) = reason(&bad.outcome);
    assert_eq!(
        (kind.as_str(), verdict),
        ("analysis", Some(Verdict::Failed)),
        "{text}"
    );
    assert!(
        text.starts_with("error ratio 0.") && text.contains(" > 0.01 in the verification, "),
        "{text}"
    );
    assert!(
        matches!(&bad.outcome, DeployOutcome::RolledBack { restored, .. } if *restored == release(1))
    );
    // Back on the old release: the rest of the load succeeded.
    assert_eq!(d.current().unwrap().release, release(1));
    assert_eq!(report.connection_errors, 0, "{report:?}");
    assert!(
        report.non_2xx > 0,
        "the release failed requests while it had the traffic"
    );
    let history = History::load(&config.history_path(), &setup.service).unwrap();
    let r = history.get(&release(2)).unwrap();
    assert!(r.live_at.is_some());
    assert_eq!(r.analysis.as_ref().unwrap().kind, "verify");
    assert!(
        r.analysis
            .as_ref()
            .unwrap()
            .source
            .starts_with("prometheus: http://127.0.0.1:"),
        "{:?}",
        r.analysis
    );

    // A good release is verified for 6 s, then the old one stops.
    let running = load(&nginx);
    let good = watch(&d, &artifact(0.0), &nginx, false);
    let report = running.finish();
    assert_eq!(
        good.outcome,
        DeployOutcome::Healthy {
            release: release(3)
        },
        "{:?}",
        good.measurements
    );
    assert_eq!(
        (report.non_2xx, report.connection_errors),
        (0, 0),
        "{report:?}"
    );
}

/// Docker runtime, access-log source: a good canary is promoted through its steps with no
/// failed request, a bad one is aborted at the first step, both read from nginx's JSON log.
#[test]
fn docker_canary_with_the_access_log() {
    let test = "docker_canary_with_the_access_log";
    if !Nginx::available(test) || !tools::docker_available(test) {
        return;
    }
    let image = images();
    let backend = Backend {
        name: "docker",
        runtime_config: "runtime = \"docker\"\ncontainer_port = 8080".into(),
        artifact: Box::new(|_| None),
        cleanup: Box::new(super::docker::cleanup),
    };
    let setup = Setup::new(&backend, "can");
    let log = setup.dir.path().join("access.json");
    let nginx = nginx_with_json_log(&setup.service, setup.port, &log);
    let config = setup.config(
        &backend,
        &format!(
            "strategy = \"canary\"\n{}[canary]\nsteps = [10, 50, 100]\n{ANALYSIS}source = \"access-log\"\naccess_log = {}\n",
            nginx.proxy_config(),
            toml_string(&log.display().to_string())
        ),
    );
    let _cleanup = Cleanup::new(&backend, &config, &setup.service);
    let d = Deployer::new(config.clone(), config.runtime());
    let release = |n: u32| format!("{}-{n}", setup.service);
    let good = format!("{image}:good");
    assert_eq!(
        d.deploy(&good, "test", None, |_| {}).unwrap().exit_code(),
        0
    );

    let running = load(&nginx);
    std::thread::sleep(Duration::from_millis(300));
    let promoted = watch(&d, &good, &nginx, false);
    std::thread::sleep(Duration::from_millis(300));
    let report = running.finish();
    eprintln!(
        "docker good canary: {:?}\n{report:?}",
        promoted.measurements
    );
    assert_eq!(
        promoted.outcome,
        DeployOutcome::Healthy {
            release: release(2)
        }
    );
    assert_eq!(promoted.weights, [10, 50, 100]);
    assert_eq!(
        (report.non_2xx, report.connection_errors),
        (0, 0),
        "{report:?}"
    );

    let bad = watch(&d, &format!("{image}:bad"), &nginx, true);
    eprintln!("docker bad canary: {:?}", bad.measurements);
    let (kind, text, verdict) = reason(&bad.outcome);
    assert_eq!(
        (kind.as_str(), verdict),
        ("analysis", Some(Verdict::Failed)),
        "{text}"
    );
    assert!(text.contains(" > 0.01 at step 1, 10 %"), "{text}");
    assert_bounded_by_the_weight(&bad.report.unwrap(), 0.1);
    assert_eq!(d.current().unwrap().release, release(2));
    let history = History::load(&config.history_path(), &setup.service).unwrap();
    assert!(
        history
            .get(&release(3))
            .unwrap()
            .analysis
            .as_ref()
            .unwrap()
            .source
            .starts_with("access-log: nginx's JSON access log ")
    );
}

/// A config with everything this file uses loads, and its plan names the steps.
#[test]
fn the_canary_plan_names_every_step() {
    let dir = tempfile::tempdir().unwrap();
    let config = DeployConfig::from_toml(
        &format!(
            "service = \"web\"\nstate_dir = {}\nport = 9201\nalt_port = 9202\nstrategy = \"canary\"\n[proxy]\nupstream_file = \"/tmp/web-up.conf\"\n[canary]\nsteps = [10, 50]\npause = [50]\n{ANALYSIS}",
            toml_string(&dir.path().join("state").display().to_string())
        ),
        "plan.toml".as_ref(),
    )
    .unwrap();
    let d = Deployer::new(config.clone(), config.runtime());
    let text = d.plan("./server").unwrap().to_string();
    assert!(
        text.contains("nothing runs, so it takes all the traffic at once (no canary)"),
        "{text}"
    );
    // With a release running, the steps.
    let d = Deployer::new(config.clone(), ops_deploy::FakeRuntime::new())
        .with_switch(Box::new(ops_deploy::FakeTrafficSwitch::new()));
    assert_eq!(
        d.deploy("./server", "test", None, |_| {})
            .unwrap()
            .exit_code(),
        0
    );
    let plan = d.plan("./server --v2").unwrap();
    let text = plan.to_string();
    for needle in [
        "step 1/2: 10 % of the traffic to web-2 (fake), then analyse its signals (metrics: GET /metrics of each release (http_server_request_duration_seconds histogram, without /health, /metrics)): error ratio ≤ 0.01; 1 measurement of 1s (fewer than 20 requests: inconclusive; failure limit 0, inconclusive limit 10 then hold, 4 source errors in a row tolerated)",
        "step 2/2: 50 % of the traffic to web-2 (fake), then analyse",
        "; then wait for `ops deploy promote` or `ops deploy abort`",
        "promotion: all the traffic to web-2",
        "on an abort: all the traffic back to web-1 (port 9201) at once, web-2 stopped",
    ] {
        assert!(text.contains(needle), "{needle:?} not in\n{text}");
    }
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(json["canary"]["steps"], serde_json::json!([10, 50]));
    assert_eq!(json["analysis"]["interval"], "1s");
}
