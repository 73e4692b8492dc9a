//! Black-box probes of a real HTTP server — ops-testkit's health server, this test binary
//! re-executed — while it is up, killed, restarted, broken (500) and hanging: every probe has
//! an outcome, on time, and the availability the SLO measures is the outage the test caused,
//! counted probe by probe.

use std::process::{Child, Command};
use std::time::Duration;

use ops_core::exposition::Exposition as _;
use ops_slo::{ProbeFailure, Prober, Sli, Slo, SloEngine, SloSet};
use ops_testkit::health_server::{self, Health};
use ops_testkit::net::{free_port, local, wait_for_port};
use ops_testkit::promtool;

use super::at;

const CHILD: &str = "OPS_SLO_HEALTH_SERVER";

/// Not a test on its own: with `OPS_SLO_HEALTH_SERVER=<mode>` and `PORT`, the health server.
#[test]
fn health_server_child() {
    health_server::run_child(CHILD);
}

fn server(port: u16, health: Health) -> Child {
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "it::probe::health_server_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, health.name())
        .env("PORT", port.to_string())
        .env("OPS_RELEASE", "probed")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(local(port), Duration::from_secs(20));
    child
}

fn kill(mut child: Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn probes_measure_the_outage_the_test_caused() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/health");
    let prober = Prober::builder()
        .target(&url)
        .unwrap()
        .interval(Duration::from_secs(1))
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let engine = SloEngine::builder(SloSet::new(vec![Slo::new(
        "site",
        "reachable",
        Sli::probe(Some(url.clone())),
    )]))
    .build()
    .unwrap();
    let mut minute = 0;
    let mut rounds = |n: usize| {
        for _ in 0..n {
            prober.round();
            engine.record(&prober.to_prometheus(), at(minute));
            minute += 1;
        }
    };
    let up = server(port, Health::Healthy);
    rounds(6);
    kill(up); // down: connection refused
    rounds(4);
    let up = server(port, Health::Healthy); // redeployed
    rounds(5);
    kill(up);
    let broken = server(port, Health::Unhealthy); // a broken release: 500
    rounds(3);
    kill(broken);
    let hanging = server(port, Health::Hanging); // accepts, never answers
    rounds(2);
    kill(hanging);
    let up = server(port, Health::Healthy);
    rounds(2);
    kill(up);

    let stats = &prober.stats()[0];
    assert_eq!(stats.probes, 22);
    assert_eq!(stats.successes(), 13);
    let by_reason =
        |f: ProbeFailure| stats.failed[ProbeFailure::ALL.iter().position(|x| *x == f).unwrap()];
    assert_eq!(by_reason(ProbeFailure::Connect), 4);
    assert_eq!(by_reason(ProbeFailure::Status), 3);
    assert_eq!(by_reason(ProbeFailure::Timeout), 2);
    assert_eq!(by_reason(ProbeFailure::Protocol), 0);
    let last = stats.last.as_ref().unwrap();
    assert_eq!((last.success(), last.status), (true, Some(200)));

    // The SLI the engine measured from the probes' counters: 13 of 22.
    let s = &engine.status()[0];
    assert_eq!((s.budget.events, s.budget.bad_events), (22.0, 9.0));
    assert_eq!(s.budget.sli, Some(1.0 - 9.0 / 22.0));

    let page = prober.to_prometheus();
    for line in [
        format!("probe_success{{instance=\"{url}\"}} 1\n"),
        format!("probe_http_status_code{{instance=\"{url}\"}} 200\n"),
        format!("ops_probes_total{{instance=\"{url}\"}} 22\n"),
        format!("ops_probes_failed_total{{instance=\"{url}\",reason=\"timeout\"}} 2\n"),
    ] {
        assert!(page.contains(&line), "{line}{page}");
    }
    if let Some(promtool) = promtool::find("probes_measure_the_outage_the_test_caused") {
        promtool::assert_clean_metrics(&promtool, &page);
    }
}

#[test]
fn a_probe_that_hangs_is_one_failed_probe_per_round() {
    // A server that accepts and never answers, and a name that cannot resolve.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let prober = Prober::builder()
        .target(&format!("http://127.0.0.1:{port}/"))
        .unwrap()
        .target("http://no-such-host.invalid/")
        .unwrap()
        .interval(Duration::from_secs(1))
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    for _ in 0..3 {
        prober.round();
    }
    let stats = prober.stats();
    assert_eq!(stats[0].probes, 3);
    assert_eq!(stats[0].failed, [0, 3, 0, 0], "{:?}", stats[0].last);
    assert_eq!(stats[1].probes, 3);
    assert_eq!(stats[1].failures(), 3, "{:?}", stats[1].last);
    drop(listener);
}
