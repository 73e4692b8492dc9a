//! The rollback paths on the fakes: no process, no socket, no proxy. Each scenario is what a
//! user of `FakeRuntime` / `FakeTrafficSwitch` would write for code around a deploy.

use std::net::SocketAddr;
use std::time::Duration;

use ops_deploy::{
    DeployConfig, DeployOutcome, Deployer, FailureReason, FakeBehavior, FakeCall, FakeRuntime,
    FakeTrafficSwitch, History, Outcome, ProbeError, ReleaseRecord, Runtime as _, Strategy,
    TrafficSwitch as _,
};

const PORT: u16 = 9001;
const ALT: u16 = 9002;

fn config(dir: &std::path::Path, strategy: Strategy) -> DeployConfig {
    let mut config = DeployConfig::from_toml(
        &format!(
            "service = \"web\"\nport = {PORT}\nalt_port = {ALT}\ndrain = \"0s\"\n[health]\ninterval = \"1ms\"\ntimeout = \"1s\"\nretries = 3\n"
        ),
        "fake.toml".as_ref(),
    )
    .unwrap();
    config.state_dir = dir.join("state");
    config.strategy = strategy;
    config
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn deploy<R: ops_deploy::Runtime>(d: &Deployer<R>, artifact: &str) -> DeployOutcome {
    d.deploy(artifact, "test", None, |_| {}).unwrap()
}

fn healthy(release: &str) -> DeployOutcome {
    DeployOutcome::Healthy {
        release: release.into(),
    }
}

fn outcomes(config: &DeployConfig) -> Vec<Outcome> {
    History::load(&config.history_path(), "web")
        .unwrap()
        .releases
        .iter()
        .map(|r| r.outcome)
        .collect()
}

#[test]
fn a_healthy_deploy_replaces_the_running_release() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), Strategy::StopStart);
    let runtime = FakeRuntime::new();
    let d = Deployer::new(config.clone(), runtime.clone());
    assert_eq!(deploy(&d, "web:1"), healthy("web-1"));
    let outcome = deploy(&d, "web:2");
    assert_eq!((outcome.exit_code(), outcome.reason()), (0, None));
    assert_eq!(runtime.running(), ["web-2"]);
    let starts_and_stops: Vec<FakeCall> = runtime
        .calls()
        .into_iter()
        .filter(|c| !matches!(c, FakeCall::Probe { .. } | FakeCall::Preflight { .. }))
        .collect();
    assert_eq!(
        starts_and_stops,
        [
            FakeCall::Start {
                release: "web-1".into(),
                artifact: "web:1".into(),
                port: PORT
            },
            FakeCall::Stop {
                release: "web-1".into(),
                port: PORT
            },
            FakeCall::Start {
                release: "web-2".into(),
                artifact: "web:2".into(),
                port: PORT
            },
        ]
    );
    assert_eq!(outcomes(&config), [Outcome::Healthy, Outcome::Healthy]);
    let json = serde_json::to_value(&outcome).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"outcome": "healthy", "release": "web-2"})
    );
}

#[test]
fn an_unhealthy_release_is_rolled_back_to_the_last_healthy_one() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), Strategy::StopStart);
    let runtime = FakeRuntime::new()
        .artifact("web:bad", FakeBehavior::UnhealthyAfter(0))
        .artifact("web:flaky", FakeBehavior::Hang);
    let d = Deployer::new(config.clone(), runtime.clone());
    assert_eq!(deploy(&d, "web:1"), healthy("web-1"));
    assert_eq!(deploy(&d, "web:2"), healthy("web-2"));
    for (n, artifact) in [(3, "web:bad"), (4, "web:flaky"), (5, "web:bad")] {
        let outcome = deploy(&d, artifact);
        match &outcome {
            DeployOutcome::RolledBack {
                failed,
                restored,
                reason: FailureReason::Unhealthy(u),
            } => {
                assert_eq!(
                    (failed.as_str(), restored.as_str()),
                    (&*format!("web-{n}"), "web-2")
                );
                assert_eq!(u.attempts, 3);
                let expected = if artifact == "web:bad" {
                    ProbeError::Status(500)
                } else {
                    ProbeError::Timeout(Duration::from_secs(1))
                };
                assert_eq!(u.last, expected);
            }
            other => panic!("expected a rollback, got {other:?}"),
        }
        assert_eq!(outcome.exit_code(), 1);
        assert_eq!(runtime.running(), ["web-2"]);
    }
    assert_eq!(
        outcomes(&config),
        [
            Outcome::Healthy,
            Outcome::Healthy,
            Outcome::Failed,
            Outcome::Failed,
            Outcome::Failed
        ]
    );
    let history = History::load(&config.history_path(), "web").unwrap();
    assert!(
        history
            .get("web-3")
            .unwrap()
            .reason
            .as_deref()
            .unwrap()
            .ends_with("last: HTTP 500"),
        "the record's reason is the outcome's text"
    );
}

#[test]
fn a_start_failure_brings_back_what_stop_start_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), Strategy::StopStart);
    let runtime =
        FakeRuntime::new().artifact("web:2", FakeBehavior::FailStart("no space left".into()));
    let d = Deployer::new(config.clone(), runtime.clone());
    assert_eq!(deploy(&d, "web:1"), healthy("web-1"));
    let outcome = deploy(&d, "web:2");
    match &outcome {
        DeployOutcome::RolledBack {
            failed,
            restored,
            reason,
        } => {
            assert_eq!((failed.as_str(), restored.as_str()), ("web-2", "web-1"));
            assert_eq!(reason.kind(), "start_failed");
            assert_eq!(reason.to_string(), "start web:2: no space left");
        }
        other => panic!("expected a rollback, got {other:?}"),
    }
    assert_eq!(runtime.running(), ["web-1"]);
}

#[test]
fn a_missing_artifact_is_refused_before_the_running_release_is_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), Strategy::StopStart);
    let runtime = FakeRuntime::new().artifact("web:gone", FakeBehavior::Missing);
    let d = Deployer::new(config.clone(), runtime.clone());
    assert_eq!(deploy(&d, "web:1"), healthy("web-1"));
    let outcome = deploy(&d, "web:gone");
    match &outcome {
        DeployOutcome::Aborted {
            release,
            reason: FailureReason::Preflight(e),
            running,
        } => {
            assert_eq!(
                (release.as_str(), running.as_deref()),
                ("web-2", Some("web-1"))
            );
            assert!(matches!(**e, ops_deploy::Error::Preflight { .. }), "{e:?}");
        }
        other => panic!("expected an abort, got {other:?}"),
    }
    assert_eq!(outcome.exit_code(), 1);
    assert!(
        !runtime
            .calls()
            .iter()
            .any(|c| matches!(c, FakeCall::Stop { .. })),
        "nothing was stopped"
    );
    assert_eq!(runtime.running(), ["web-1"]);
}

#[test]
fn a_refused_switch_leaves_the_old_release_serving() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), Strategy::BlueGreen);
    let runtime = FakeRuntime::new();
    let switch = FakeTrafficSwitch::new().refusing_after(1, "nginx -t: bad upstream");
    let d = Deployer::new(config.clone(), runtime.clone()).with_switch(Box::new(switch.clone()));
    assert_eq!(deploy(&d, "web:1"), healthy("web-1"));
    let outcome = deploy(&d, "web:2");
    match &outcome {
        DeployOutcome::RolledBack {
            failed,
            restored,
            reason,
        } => {
            assert_eq!((failed.as_str(), restored.as_str()), ("web-2", "web-1"));
            assert_eq!(reason.kind(), "switch_refused");
            assert_eq!(
                reason.to_string(),
                "switching the traffic: fake switch: nginx -t: bad upstream"
            );
        }
        other => panic!("expected a rollback, got {other:?}"),
    }
    assert_eq!(switch.target(), Some(addr(PORT)));
    assert_eq!(
        runtime.running(),
        ["web-1"],
        "web-2 was stopped, web-1 never"
    );
    assert_eq!(d.current().unwrap().release, "web-1");
}

#[test]
fn a_failure_after_the_switch_gives_the_traffic_back_first() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), Strategy::BlueGreen);
    let runtime = FakeRuntime::new();
    let switch = FakeTrafficSwitch::new()
        .recheck(Ok(200))
        .recheck_of("web-2", Err(ProbeError::Status(502)));
    let d = Deployer::new(config.clone(), runtime.clone()).with_switch(Box::new(switch.clone()));
    assert_eq!(deploy(&d, "web:1"), healthy("web-1"));
    let outcome = deploy(&d, "web:2");
    match &outcome {
        DeployOutcome::RolledBack {
            failed,
            restored,
            reason: FailureReason::ProxyRecheck(u),
        } => {
            assert_eq!((failed.as_str(), restored.as_str()), ("web-2", "web-1"));
            assert_eq!(u.last, ProbeError::Status(502));
        }
        other => panic!("expected a rollback, got {other:?}"),
    }
    let routed: Vec<(String, SocketAddr)> = switch
        .calls()
        .into_iter()
        .map(|c| (c.release, c.target))
        .collect();
    assert_eq!(
        routed,
        [
            ("web-1".to_owned(), addr(PORT)),
            ("web-2".to_owned(), addr(ALT)),
            ("web-1".to_owned(), addr(PORT)),
        ]
    );
    assert_eq!(runtime.running(), ["web-1"]);
}

#[test]
fn an_interrupted_deploy_is_stopped_and_recorded_by_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), Strategy::StopStart);
    let runtime = FakeRuntime::new();
    let d = Deployer::new(config.clone(), runtime.clone());
    assert_eq!(deploy(&d, "web:1"), healthy("web-1"));
    // A deploy killed after it recorded web-2 and started it, before it recorded it running.
    let mut history = History::load(&config.history_path(), "web").unwrap();
    history.upsert(ReleaseRecord::new("web-2", "web:2", "stop-start"));
    history.save(&config.history_path()).unwrap();
    runtime.start("web-2", "web:2", ALT).unwrap();
    assert_eq!(runtime.running(), ["web-1", "web-2"]);

    assert_eq!(deploy(&d, "web:3"), healthy("web-3"));
    assert_eq!(runtime.running(), ["web-3"]);
    let history = History::load(&config.history_path(), "web").unwrap();
    let interrupted = history.get("web-2").unwrap();
    assert_eq!(interrupted.outcome, Outcome::Failed);
    assert_eq!(
        interrupted.reason.as_deref(),
        Some("interrupted: the deploy was killed before it finished")
    );
}

#[test]
fn nothing_healthy_is_exit_4_and_a_release_that_exits_fails_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), Strategy::StopStart);
    config.health.retries = 1000;
    config.health.interval = Duration::from_mins(1);
    let runtime = FakeRuntime::new()
        .artifact(
            "web:crash",
            FakeBehavior::CrashAfter {
                checks: 0,
                status: 3,
            },
        )
        .artifact("web:bad", FakeBehavior::UnhealthyAfter(0));
    let d = Deployer::new(config.clone(), runtime.clone());
    // It exited before its first check: no probe, no waiting out 1000 × 60 s.
    let outcome = deploy(&d, "web:crash");
    match &outcome {
        DeployOutcome::NothingHealthy {
            reason: FailureReason::NoRollbackTarget { failed, reason },
        } => {
            assert_eq!(failed, "web-1");
            match &**reason {
                FailureReason::Unhealthy(u) => {
                    assert_eq!(u.attempts, 1);
                    assert_eq!(u.last, ProbeError::Exited("exited with status 3".into()));
                }
                other => panic!("{other:?}"),
            }
        }
        other => panic!("expected nothing healthy, got {other:?}"),
    }
    assert_eq!(outcome.exit_code(), 4);
    assert!(
        outcome
            .reason()
            .unwrap()
            .to_string()
            .contains("exited with status 3")
    );
    assert!(
        !runtime
            .calls()
            .iter()
            .any(|c| matches!(c, FakeCall::Probe { .. }))
    );
    let json = serde_json::to_value(&outcome).unwrap();
    assert_eq!(json["outcome"], "nothing_healthy");
    let text = json["reason"].as_str().unwrap();
    assert!(
        text.starts_with("web-1: unhealthy after 1 attempts over ")
            && text.ends_with(
                "; last: the release exited with status 3; no healthy release to roll back to"
            ),
        "{text}"
    );
    assert!(runtime.running().is_empty());
    assert!(d.current().is_none());
}

#[test]
fn a_port_taken_by_something_else_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), Strategy::StopStart);
    let runtime = FakeRuntime::new().port_taken(PORT);
    let d = Deployer::new(config, runtime.clone());
    let outcome = deploy(&d, "web:1");
    assert_eq!(outcome.exit_code(), 4);
    match outcome {
        DeployOutcome::NothingHealthy {
            reason: FailureReason::NoRollbackTarget { reason, .. },
        } => assert_eq!(*reason, FailureReason::PortInUse { port: PORT }),
        other => panic!("{other:?}"),
    }
    assert!(runtime.running().is_empty());
}
