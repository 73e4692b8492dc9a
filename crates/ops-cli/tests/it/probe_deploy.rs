//! A black-box probe against the quickstart while `ops deploy` deploys it, redeploys it, a
//! broken release replaces it and it is killed: the availability the probe measures matches
//! the outages the test caused, probe for probe.

use std::time::Duration;

use ops_core::Exposition as _;
use ops_slo::Prober;
use ops_testkit::{build, net};

use super::{ops, ops_ok, stderr};

struct Service {
    dir: tempfile::TempDir,
    port: u16,
}

impl Service {
    fn new() -> Service {
        let dir = tempfile::tempdir().unwrap();
        let port = net::free_port();
        // The health check reads /metrics, which a `--fail-health` release still answers: a
        // release that passes its (mis)configured check and fails the probe.
        std::fs::write(
            dir.path().join("deploy.toml"),
            format!(
                "service = \"probed\"\nstate_dir = \"{}\"\nport = {port}\nstop_grace = \"5s\"\n[health]\npath = \"/metrics\"\ninterval = \"100ms\"\ntimeout = \"1s\"\nretries = 100\n",
                dir.path().join("state").display()
            ),
        )
        .unwrap();
        Service { dir, port }
    }

    fn deploy(&self, flags: &str) {
        let logs = self.dir.path().join("logs");
        let command = format!(
            "{} --serve --log-dir {} {flags}",
            build::quickstart().display(),
            logs.display()
        );
        let config = self.dir.path().join("deploy.toml");
        let o = ops(&[
            "deploy",
            "--config",
            config.to_str().unwrap(),
            "--command",
            &command,
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }

    /// Kills the running release the way a crash would.
    fn kill(&self) {
        let current: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(self.dir.path().join("state/current.json")).unwrap(),
        )
        .unwrap();
        let pid: i32 = current["id"].as_str().unwrap().parse().unwrap();
        // SAFETY: signalling the release's process group, which this test's deploy started.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
        net::wait_until(Duration::from_secs(10), "the release to die", || {
            net::http(net::local(self.port), "GET", "/health", "")
                .is_none()
                .then_some(())
        });
    }
}

impl Drop for Service {
    /// Stops what is still running, however the test ends.
    fn drop(&mut self) {
        let pid = std::fs::read_to_string(self.dir.path().join("state/current.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v["id"].as_str().and_then(|id| id.parse::<i32>().ok()));
        if let Some(pid) = pid {
            // SAFETY: the release's process group, started by this test's deploys.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
    }
}

#[test]
fn probed_availability_matches_the_outages_caused() {
    let svc = Service::new();
    let prober = Prober::builder()
        .target(&format!("http://127.0.0.1:{}/health", svc.port))
        .unwrap()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let rounds = |n: usize| {
        for _ in 0..n {
            prober.round();
        }
    };
    svc.deploy(""); // deployed: 5 good probes
    rounds(5);
    svc.deploy(""); // redeployed (stop-start): 5 good probes once it is back
    rounds(5);
    svc.deploy("--fail-health"); // broken: /health answers 500 — 4 failed probes
    rounds(4);
    svc.kill(); // crashed: nothing listens — 3 failed probes
    rounds(3);
    svc.deploy(""); // fixed: 6 good probes
    rounds(6);
    let stats = &prober.stats()[0];
    assert_eq!((stats.successes(), stats.failures()), (16, 7), "{stats:?}");
    // As blackbox_exporter's figures, on the page: 16 of 23 probes succeeded.
    let page = prober.section().to_prometheus();
    assert!(page.contains("probe_success{"), "{page}");
    let history = ops_ok(&[
        "history",
        "--config",
        svc.dir.path().join("deploy.toml").to_str().unwrap(),
    ]);
    assert_eq!(history.matches("healthy").count(), 4, "{history}");
}
