//! A black-box probe against the quickstart while `ops deploy` deploys it, redeploys it, a
//! broken release replaces it and it is killed: the availability the probe measures matches
//! the outages the test caused, probe for probe.

use std::time::Duration;

use ops_core::Exposition as _;
use ops_slo::Prober;
use ops_testkit::{build, net};

use super::service::Service;
use super::{assert_exit, ops_ok};

/// The quickstart as a service: its health check reads /metrics, which a `--fail-health`
/// release still answers — a release that passes its (mis)configured check and fails the
/// probe.
fn quickstart_service() -> Service {
    let svc = Service::new("probed");
    svc.configure(
        "stop_grace = \"5s\"\n[health]\npath = \"/metrics\"\ninterval = \"100ms\"\ntimeout = \"1s\"\nretries = 100\n",
    );
    svc
}

/// Deploys the quickstart with `flags`.
fn deploy(svc: &Service, flags: &str) {
    let command = format!(
        "{} --serve --log-dir {} {flags}",
        build::quickstart().display(),
        svc.dir().join("logs").display()
    );
    assert_exit(&svc.deploy(&command, &[]), 0);
}

/// Kills the running release the way a crash would, and waits until it is gone.
fn crash(svc: &Service) {
    svc.kill();
    net::wait_until(Duration::from_secs(10), "the release to die", || {
        net::http(net::local(svc.port()), "GET", "/health", "")
            .is_none()
            .then_some(())
    });
}

#[test]
fn probed_availability_matches_the_outages_caused() {
    let svc = quickstart_service();
    let prober = Prober::builder()
        .target(&format!("http://127.0.0.1:{}/health", svc.port()))
        .unwrap()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let rounds = |n: usize| {
        for _ in 0..n {
            prober.round();
        }
    };
    deploy(&svc, ""); // deployed: 5 good probes
    rounds(5);
    deploy(&svc, ""); // redeployed (stop-start): 5 good probes once it is back
    rounds(5);
    deploy(&svc, "--fail-health"); // broken: /health answers 500 — 4 failed probes
    rounds(4);
    crash(&svc); // crashed: nothing listens — 3 failed probes
    rounds(3);
    deploy(&svc, ""); // fixed: 6 good probes
    rounds(6);
    let stats = &prober.stats()[0];
    assert_eq!((stats.successes(), stats.failures()), (16, 7), "{stats:?}");
    // As blackbox_exporter's figures, on the page: 16 of 23 probes succeeded.
    let page = prober.section().to_prometheus();
    assert!(page.contains("probe_success{"), "{page}");
    let history = ops_ok(&["history", "--config", svc.config()]);
    assert_eq!(history.matches("healthy").count(), 4, "{history}");
}
