//! One suite of deploy scenarios, run against every runtime (`process.rs`, `docker.rs`): each
//! backend says how to make a healthy, an unhealthy, a hanging release and one whose runtime
//! health check fails, and the scenarios are the same.

#![allow(clippy::too_many_lines)] // scenarios read top to bottom

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use ops_testkit::load::Load;
use ops_testkit::nginx::Nginx;

use ops_deploy::{
    DeployConfig, DeployOutcome, Deployer, Error, Event, History, Outcome, ProbeError, Runtime,
    State,
};

/// What a release does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// `/health` answers 200 with the release id.
    Healthy,
    /// The same as `Healthy`, as a different artifact (another image ID on Docker).
    HealthyAlt,
    /// `/health` answers 500.
    Unhealthy,
    /// `/health` never answers.
    Hanging,
    /// HTTP is healthy but the runtime's own health check fails (Docker HEALTHCHECK).
    NativeUnhealthy,
}

/// A runtime under test.
pub(super) struct Backend {
    /// `process` or `docker`.
    pub(super) name: &'static str,
    /// The config lines that select the runtime.
    pub(super) runtime_config: String,
    /// The artifact for a mode (`None`: the backend cannot express it).
    pub(super) artifact: Box<dyn Fn(Mode) -> Option<String>>,
    /// Cleans up after a scenario (containers, tags).
    pub(super) cleanup: Box<dyn Fn(&str)>,
}

/// A port nothing listens on, never handed out twice in this test binary, and not published by
/// a Docker container (the engine may publish without a host listener, through NAT rules, so a
/// port a container of another test or run holds can look free to `bind`).
pub(super) fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let published = docker_published_ports();
    loop {
        let port = ops_testkit::net::free_port();
        let mut given = GIVEN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !given.contains(&port) && !published.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// Host ports published by running containers (none when there is no Docker).
fn docker_published_ports() -> Vec<u16> {
    let Ok(out) = Command::new("docker")
        .args(["ps", "--format", "{{.Ports}}"])
        .output()
    else {
        return Vec::new();
    };
    // `127.0.0.1:38657->8080/tcp, ...`
    String::from_utf8_lossy(&out.stdout)
        .split([',', '\n'])
        .filter_map(|p| {
            p.split("->")
                .next()?
                .rsplit(':')
                .next()?
                .trim()
                .parse()
                .ok()
        })
        .collect()
}

/// A test's state directory and config file.
pub(super) struct Setup {
    pub(super) dir: tempfile::TempDir,
    pub(super) service: String,
    pub(super) port: u16,
    pub(super) alt_port: u16,
}

impl Setup {
    pub(super) fn new(backend: &Backend, tag: &str) -> Setup {
        Setup {
            dir: tempfile::tempdir().unwrap(),
            service: format!("ops{}{tag}{}", backend.name, std::process::id()),
            port: free_port(),
            alt_port: free_port(),
        }
    }

    /// Writes and loads a config: the backend's runtime lines, fast health checks, `extra`.
    pub(super) fn config(&self, backend: &Backend, extra: &str) -> DeployConfig {
        let path = self.dir.path().join("deploy.toml");
        // Top-level keys first, tables after them.
        let split = |text: &str| -> (String, String) {
            let text = format!("\n{text}");
            match text.find("\n[") {
                Some(i) => (text[..i].to_owned(), text[i..].to_owned()),
                None => (text, String::new()),
            }
        };
        let (runtime_top, runtime_tables) = split(&backend.runtime_config);
        let (top, extra_tables) = split(extra);
        let tables = format!("{runtime_tables}\n{extra_tables}");
        std::fs::write(
            &path,
            format!(
                "service = \"{}\"\nstate_dir = \"{}\"\nport = {}\nalt_port = {}\nstop_grace = \"2s\"\ndrain = \"500ms\"\n{}\n{top}\n[health]\ninterval = \"100ms\"\ntimeout = \"500ms\"\nretries = 30\n{tables}\n",
                self.service,
                self.dir.path().join("state").display(),
                self.port,
                self.alt_port,
                runtime_top,
            ),
        )
        .unwrap();
        DeployConfig::load(&path).unwrap()
    }

    pub(super) fn config_path(&self) -> PathBuf {
        self.dir.path().join("deploy.toml")
    }
}

/// The body `GET /` answers on `addr` (the release id), or `None` when nothing answers.
pub(super) fn serving(addr: SocketAddr) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    text.starts_with("HTTP/1.1 200")
        .then(|| text.rsplit("\r\n\r\n").next().unwrap_or("").to_owned())
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn art(backend: &Backend, mode: Mode) -> String {
    (backend.artifact)(mode).unwrap()
}

pub(super) fn stop_all(config: &DeployConfig) {
    let deployer = Deployer::new(config.clone(), config.runtime());
    if let Some(current) = deployer.current() {
        let _ = config.runtime().stop(&current, Duration::from_secs(2));
    }
}

/// Stops what a scenario left running and removes its runtime leftovers (containers, tags)
/// when dropped: also when an assertion fails half-way.
#[must_use]
pub(super) struct Cleanup<'a> {
    backend: &'a Backend,
    config: DeployConfig,
    service: String,
}

impl<'a> Cleanup<'a> {
    pub(super) fn new(backend: &'a Backend, config: &DeployConfig, service: &str) -> Cleanup<'a> {
        Cleanup {
            backend,
            config: config.clone(),
            service: service.to_owned(),
        }
    }
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        stop_all(&self.config);
        // Anything else of this service still running on either port (a failed assertion may
        // have left a release of a deploy that did not finish).
        let runtime = self.config.runtime();
        if let Ok(history) = History::load(&self.config.history_path(), &self.config.service) {
            for r in &history.releases {
                for port in [Some(self.config.port), self.config.alt_port]
                    .into_iter()
                    .flatten()
                {
                    if let Some(i) = runtime.find(&r.id, port) {
                        let _ = runtime.stop(&i, Duration::from_secs(2));
                    }
                }
            }
        }
        (self.backend.cleanup)(&self.service);
    }
}

fn deploy(d: &Deployer<Box<dyn Runtime>>, artifact: &str) -> DeployOutcome {
    d.deploy(artifact, "test", None, |_| {}).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------

/// Healthy deploys, three bad releases in a row rolled back to the last healthy one (not the
/// newest backup), a rollback on request, and the state machine's transitions.
pub(super) fn rolls_back_to_the_last_healthy_release(backend: &Backend) {
    let setup = Setup::new(backend, "rb");
    let config = setup.config(backend, "");
    let _cleanup = Cleanup::new(backend, &config, &setup.service);
    let d = Deployer::new(config.clone(), config.runtime());
    let addr = local(setup.port);
    let release = |n: u32| format!("{}-{n}", setup.service);

    assert_eq!(
        deploy(&d, &art(backend, Mode::Healthy)),
        DeployOutcome::Healthy {
            release: release(1)
        }
    );
    assert_eq!(serving(addr), Some(release(1)));
    let first = d.current().unwrap();
    let mut transitions = Vec::new();
    let outcome = d
        .deploy(&art(backend, Mode::Healthy), "test", None, |e| {
            if let Event::Transition { transition, .. } = e {
                transitions.push((transition.from, transition.to));
            }
        })
        .unwrap();
    assert_eq!(
        outcome,
        DeployOutcome::Healthy {
            release: release(2)
        }
    );
    assert_eq!(
        transitions,
        [
            (State::Locked, State::Starting),
            (State::Starting, State::Checking),
            (State::Checking, State::Done)
        ]
    );
    assert!(
        !config.runtime().is_running(&first),
        "the old release was stopped"
    );
    assert_eq!(serving(addr), Some(release(2)));

    for n in 3..=5 {
        let mut transitions = Vec::new();
        let outcome = d
            .deploy(&art(backend, Mode::Unhealthy), "test", None, |e| {
                if let Event::Transition { transition, .. } = e {
                    transitions.push(transition.to);
                }
            })
            .unwrap();
        match outcome {
            DeployOutcome::RolledBack {
                failed,
                restored,
                reason,
            } => {
                assert_eq!((failed, restored), (release(n), release(2)));
                assert_eq!(reason.kind(), "unhealthy");
                let reason = reason.to_string();
                assert!(reason.contains("HTTP 500"), "{reason}");
            }
            other => panic!("expected a rollback, got {other:?}"),
        }
        assert_eq!(
            transitions,
            [
                State::Starting,
                State::Checking,
                State::RollingBack,
                State::RolledBack
            ]
        );
        assert_eq!(serving(addr), Some(release(2)));
    }
    let history = History::load(&config.history_path(), &setup.service).unwrap();
    let outcomes: Vec<Outcome> = history.releases.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [
            Outcome::Healthy,
            Outcome::Healthy,
            Outcome::Failed,
            Outcome::Failed,
            Outcome::Failed
        ]
    );

    // On request: the newest healthy release other than the running one.
    assert_eq!(
        d.rollback(None, "test", None, |_| {}).unwrap(),
        DeployOutcome::Healthy {
            release: release(1)
        }
    );
    assert_eq!(serving(addr), Some(release(1)));
    let history = History::load(&config.history_path(), &setup.service).unwrap();
    assert_eq!(
        history.get(&release(2)).unwrap().outcome,
        Outcome::RolledBack
    );
    assert_eq!(history.last_healthy().unwrap().id, release(1));
    assert!(matches!(
        d.rollback(Some("nope"), "test", None, |_| {}),
        Err(Error::UnknownRelease { .. })
    ));
}

/// A hanging health endpoint is a run of failed attempts, each bounded by the timeout; a first
/// release that fails leaves nothing running and says so.
pub(super) fn a_hanging_release_is_bounded_and_a_failed_first_release_leaves_nothing(
    backend: &Backend,
) {
    let setup = Setup::new(backend, "hang");
    let mut config = setup.config(backend, "");
    let _cleanup = Cleanup::new(backend, &config, &setup.service);
    config.health.retries = 3;
    config.health.timeout = Duration::from_millis(300);
    let d = Deployer::new(config.clone(), config.runtime());
    let mut errors = Vec::new();
    let outcome = d
        .deploy(&art(backend, Mode::Hanging), "test", None, |e| {
            if let Event::Attempt { attempt, .. } = e {
                errors.push(attempt.result.clone());
            }
        })
        .unwrap();
    match outcome {
        DeployOutcome::NothingHealthy { reason } => {
            let reason = reason.to_string();
            assert!(reason.contains("no healthy release"), "{reason}");
        }
        other => panic!("expected NothingHealthy, got {other:?}"),
    }
    // Attempts before the server listens are refused; once it listens, each one times out.
    assert!(errors.len() >= 3, "{errors:?}");
    assert!(
        errors
            .iter()
            .rev()
            .take(2)
            .all(|e| *e == Err(ProbeError::Timeout(Duration::from_millis(300)))),
        "{errors:?}"
    );
    assert!(d.current().is_none(), "the failed release was stopped");
    assert_eq!(serving(local(setup.port)), None);
    let history = History::load(&config.history_path(), &setup.service).unwrap();
    assert_eq!(history.releases[0].outcome, Outcome::Failed);
}

/// The runtime's own health check gates the release too (Docker HEALTHCHECK).
pub(super) fn the_runtime_health_check_gates_the_release(backend: &Backend) {
    let Some(bad) = (backend.artifact)(Mode::NativeUnhealthy) else {
        return;
    };
    let setup = Setup::new(backend, "native");
    let config = setup.config(backend, "");
    let _cleanup = Cleanup::new(backend, &config, &setup.service);
    let d = Deployer::new(config.clone(), config.runtime());
    let release = |n: u32| format!("{}-{n}", setup.service);
    assert_eq!(
        deploy(&d, &art(backend, Mode::Healthy)),
        DeployOutcome::Healthy {
            release: release(1)
        }
    );
    let mut notes = Vec::new();
    let outcome = d
        .deploy(&bad, "test", None, |e| {
            if let Event::Note { message, .. } = e {
                notes.push((*message).to_owned());
            }
        })
        .unwrap();
    match outcome {
        DeployOutcome::RolledBack { failed, reason, .. } => {
            assert_eq!(failed, release(2));
            assert_eq!(reason, ops_deploy::FailureReason::NativeUnhealthy);
            let reason = reason.to_string();
            assert!(reason.contains("HEALTHCHECK reports unhealthy"), "{reason}");
        }
        other => panic!("expected a rollback, got {other:?}"),
    }
    assert!(
        notes.iter().any(|n| n == "container health: starting"),
        "{notes:?}"
    );
    assert_eq!(serving(local(setup.port)), Some(release(1)));
}

/// Hooks see the release; a failing pre-deploy aborts with nothing changed; on-rollback runs.
pub(super) fn hooks_run_and_a_failing_pre_deploy_hook_aborts(backend: &Backend) {
    let setup = Setup::new(backend, "hook");
    let log = setup.dir.path().join("hooks.txt");
    let gate = setup.dir.path().join("refuse");
    let extra = format!(
        "[hooks]\npre_deploy = \"test ! -e '{gate}' || {{ echo refused by gate >&2; exit 3; }}\"\npost_deploy = \"echo post $OPS_HOOK $OPS_RELEASE $OPS_PREVIOUS_RELEASE >> '{log}'\"\non_rollback = \"echo rollback $OPS_RELEASE failed=$OPS_FAILED_RELEASE >> '{log}'\"\n",
        gate = gate.display(),
        log = log.display()
    );
    let config = setup.config(backend, &extra);
    let _cleanup = Cleanup::new(backend, &config, &setup.service);
    let d = Deployer::new(config.clone(), config.runtime());
    let release = |n: u32| format!("{}-{n}", setup.service);
    assert_eq!(
        deploy(&d, &art(backend, Mode::Healthy)),
        DeployOutcome::Healthy {
            release: release(1)
        }
    );
    std::fs::write(&gate, "").unwrap();
    match deploy(&d, &art(backend, Mode::Healthy)) {
        DeployOutcome::Aborted {
            release: r,
            reason,
            running,
        } => {
            assert_eq!(r, release(2));
            assert_eq!(reason.kind(), "hook");
            let reason = reason.to_string();
            assert!(
                reason.contains("pre_deploy hook") && reason.contains("exit status: 3"),
                "{reason}"
            );
            assert!(reason.contains("refused by gate"), "{reason}");
            assert_eq!(running, Some(release(1)));
        }
        other => panic!("expected an abort, got {other:?}"),
    }
    assert_eq!(serving(local(setup.port)), Some(release(1)));
    std::fs::remove_file(&gate).unwrap();
    assert!(matches!(
        deploy(&d, &art(backend, Mode::Unhealthy)),
        DeployOutcome::RolledBack { .. }
    ));
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        text,
        format!(
            "post post_deploy {r1}\nrollback {r1} failed={r3}\n",
            r1 = release(1),
            r3 = release(3)
        )
    );
    let history = History::load(&config.history_path(), &setup.service).unwrap();
    let aborted = history.get(&release(2)).unwrap();
    assert_eq!(aborted.outcome, Outcome::Failed);
    assert!(aborted.reason.as_deref().unwrap().starts_with("aborted: "));
}

/// Pruning keeps the newest `keep` releases and never the rollback target or the running one.
/// Returns the releases pruned, the setup and the config, for backend-specific checks (the
/// caller stops the release and cleans up).
pub(super) fn pruning_keeps_the_newest_and_the_rollback_target(
    backend: &Backend,
) -> (Vec<String>, Setup, DeployConfig, Cleanup<'_>) {
    let setup = Setup::new(backend, "prune");
    let config = setup.config(backend, "keep = 2");
    let cleanup = Cleanup::new(backend, &config, &setup.service);
    let d = Deployer::new(config.clone(), config.runtime());
    let release = |n: u32| format!("{}-{n}", setup.service);
    // 1 healthy, 2 healthy (another artifact), 3 healthy (the artifact of 1), 4 and 5 bad
    // (rolled back to 3), 6 healthy (the artifact of 1).
    for mode in [
        Mode::Healthy,
        Mode::HealthyAlt,
        Mode::Healthy,
        Mode::Unhealthy,
        Mode::Unhealthy,
    ] {
        deploy(&d, &art(backend, mode));
    }
    assert!(matches!(
        deploy(&d, &art(backend, Mode::Healthy)),
        DeployOutcome::Healthy { .. }
    ));
    let history = History::load(&config.history_path(), &setup.service).unwrap();
    let pruned: Vec<String> = history
        .releases
        .iter()
        .filter(|r| r.pruned)
        .map(|r| r.id.clone())
        .collect();
    // 5 and 6 are the newest two; 3 is what `ops rollback` would go back to: kept. 2 and 4
    // are pruned; 1 only where its artifact is not the running one's (checked by each backend).
    assert!(pruned.ends_with(&[release(2), release(4)]), "{pruned:?}");
    assert!(!pruned.contains(&release(3)));
    assert_eq!(history.last_healthy().unwrap().id, release(6));
    assert!(matches!(
        d.rollback(Some(&release(2)), "test", None, |_| {}),
        Err(Error::Pruned { .. })
    ));
    // Nothing left to prune; the running release keeps serving.
    assert!(d.prune(None, |_| {}).unwrap().is_empty());
    assert_eq!(serving(local(setup.port)), Some(release(6)));
    (pruned, setup, config, cleanup)
}

/// Two deploys at once: the second fails at once naming the holder, or waits with `lock_wait`.
pub(super) fn concurrent_deploys_are_serialised(backend: &Backend) {
    let setup = Setup::new(backend, "lock");
    let mut config = setup.config(backend, "");
    let _cleanup = Cleanup::new(backend, &config, &setup.service);
    config.health.retries = 8;
    config.health.timeout = Duration::from_millis(200);
    let release = |n: u32| format!("{}-{n}", setup.service);
    let slow = art(backend, Mode::Hanging);
    let first = {
        let config = config.clone();
        std::thread::spawn(move || {
            let d = Deployer::new(config.clone(), config.runtime());
            d.deploy(&slow, "first deploy", None, |_| {}).unwrap()
        })
    };
    let lock = config.lock_path();
    let deadline = Instant::now() + Duration::from_secs(20);
    while ops_deploy::DeployLock::status(&lock).unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "the first deploy never took the lock"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let d = Deployer::new(config.clone(), config.runtime());
    match d.deploy(&art(backend, Mode::Healthy), "second deploy", None, |_| {}) {
        Err(Error::Locked { holder, .. }) => assert_eq!(holder.command, "first deploy"),
        other => panic!("expected Locked, got {other:?}"),
    }
    let outcome = d
        .deploy(
            &art(backend, Mode::Healthy),
            "third deploy",
            Some(Duration::from_mins(1)),
            |_| {},
        )
        .unwrap();
    assert!(matches!(
        first.join().unwrap(),
        DeployOutcome::NothingHealthy { .. }
    ));
    assert_eq!(
        outcome,
        DeployOutcome::Healthy {
            release: release(2)
        }
    );
}

/// Environment variable that makes [`killed_deploy_child`] run a deploy.
pub(super) const KILLED_CHILD_ENV: &str = "OPS_DEPLOY_TEST_KILLED_CHILD";

/// In a child process (see `process.rs`): deploy `$ARTIFACT` with the config at the variable's
/// path, and hang in the health check until killed.
pub(super) fn killed_deploy_child() {
    let Ok(path) = std::env::var(KILLED_CHILD_ENV) else {
        return;
    };
    let artifact = std::env::var("OPS_DEPLOY_TEST_ARTIFACT").unwrap();
    let config = DeployConfig::load(path).unwrap();
    let d = Deployer::new(config.clone(), config.runtime());
    let _ = d.deploy(&artifact, "killed deploy", None, |_| {});
}

/// A deploy killed (SIGKILL) while checking: the lock is free, history parses with the release in
/// progress, and the next deploy stops the orphan and succeeds.
pub(super) fn a_killed_deploy_leaves_a_usable_state(backend: &Backend, test_name: &str) {
    let setup = Setup::new(backend, "kill");
    let config = setup.config(backend, "");
    let _cleanup = Cleanup::new(backend, &config, &setup.service);
    let release = |n: u32| format!("{}-{n}", setup.service);
    let exe = std::env::current_exe().unwrap();
    let mut child: Child = Command::new(exe)
        .args(["--exact", test_name, "--nocapture", "--test-threads=1"])
        .env(KILLED_CHILD_ENV, setup.config_path())
        .env("OPS_DEPLOY_TEST_ARTIFACT", art(backend, Mode::Hanging))
        .spawn()
        .unwrap();
    // Wait until the release is started (recorded in progress and running).
    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        let started = History::load(&config.history_path(), &setup.service)
            .ok()
            .filter(|h| h.releases.len() == 1)
            .and_then(|_| config.runtime().find(&release(1), setup.port));
        if started.is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the child never started its release"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();

    let history = History::load(&config.history_path(), &setup.service).unwrap();
    assert_eq!(history.releases[0].outcome, Outcome::InProgress);
    assert!(
        ops_deploy::DeployLock::status(config.lock_path())
            .unwrap()
            .is_none()
    );
    let d = Deployer::new(config.clone(), config.runtime());
    assert_eq!(
        deploy(&d, &art(backend, Mode::Healthy)),
        DeployOutcome::Healthy {
            release: release(2)
        }
    );
    assert!(
        config.runtime().find(&release(1), setup.port).is_none(),
        "the orphan of the killed deploy was stopped"
    );
    assert_eq!(serving(local(setup.port)), Some(release(2)));
}

// ---------------------------------------------------------------------------------------------
// Blue-green behind nginx, under load
// ---------------------------------------------------------------------------------------------

/// Blue-green behind a real nginx under load: healthy deploys, a failed deploy, a rollback and
/// a deploy whose nginx check fails — zero failed requests, and the failed release never
/// answers. Then the same load over stop-start deploys, to show the outage it has.
pub(super) fn blue_green_behind_nginx_loses_no_request(backend: &Backend, test: &str) {
    if !Nginx::available(test) {
        return;
    }
    let setup = Setup::new(backend, "bg");
    let nginx = Nginx::builder(&setup.service)
        .backend_port(setup.port)
        .port(free_port())
        .start();
    let extra = format!("strategy = \"blue-green\"\n{}", nginx.proxy_config());
    let config = setup.config(backend, &extra);
    let _cleanup = Cleanup::new(backend, &config, &setup.service);
    let d = Deployer::new(config.clone(), config.runtime());
    let release = |n: u32| format!("{}-{n}", setup.service);
    let public = nginx.addr();

    // A first release, before the load starts (nothing serves before it).
    assert_eq!(
        deploy(&d, &art(backend, Mode::Healthy)),
        DeployOutcome::Healthy {
            release: release(1)
        }
    );
    assert_eq!(serving(public), Some(release(1)));

    let load = Load::start(public, 4);
    std::thread::sleep(Duration::from_millis(300));
    let mut transitions = Vec::new();
    let mut observe = |e: &Event<'_>| {
        if let Event::Transition { transition, .. } = e {
            transitions.push(transition.to);
        }
    };
    assert_eq!(
        d.deploy(&art(backend, Mode::Healthy), "test", None, &mut observe)
            .unwrap(),
        DeployOutcome::Healthy {
            release: release(2)
        }
    );
    assert_eq!(
        transitions,
        [
            State::Starting,
            State::Checking,
            State::Switching,
            State::Draining,
            State::Done
        ]
    );
    assert_eq!(d.current().unwrap().port, setup.alt_port);
    match deploy(&d, &art(backend, Mode::Unhealthy)) {
        DeployOutcome::RolledBack {
            failed, restored, ..
        } => assert_eq!((failed, restored), (release(3), release(2))),
        other => panic!("expected a rollback, got {other:?}"),
    }
    assert_eq!(
        deploy(&d, &art(backend, Mode::Healthy)),
        DeployOutcome::Healthy {
            release: release(4)
        }
    );
    assert_eq!(
        d.rollback(None, "test", None, |_| {}).unwrap(),
        DeployOutcome::Healthy {
            release: release(2)
        }
    );
    // nginx refuses the new upstream (a broken include): the switch is undone, the release
    // stopped, and release 2 keeps the traffic.
    let broken = setup.config(
        backend,
        &extra.replace("test_command = [", "test_command = [\"false\", "),
    );
    let d_broken = Deployer::new(broken, config.runtime());
    match deploy(&d_broken, &art(backend, Mode::Healthy)) {
        DeployOutcome::RolledBack {
            failed,
            restored,
            reason,
        } => {
            assert_eq!((failed, restored), (release(5), release(2)));
            assert_eq!(reason.kind(), "switch_refused");
            let reason = reason.to_string();
            assert!(reason.contains("switching the traffic"), "{reason}");
        }
        other => panic!("expected a rollback, got {other:?}"),
    }
    std::thread::sleep(Duration::from_millis(300));
    let report = load.finish();
    eprintln!("{} blue-green under load: {report:?}", backend.name);
    assert_eq!(
        (report.non_2xx, report.connection_errors),
        (0, 0),
        "blue-green lost requests: {report:?}"
    );
    assert!(report.ok > 100, "{report:?}");
    let expected: std::collections::BTreeSet<String> =
        [release(1), release(2), release(4)].into_iter().collect();
    assert_eq!(
        report.releases, expected,
        "only healthy releases ever answer"
    );
    assert_eq!(serving(public), Some(release(2)));

    // The same load over stop-start deploys: the outage it has, measured (not asserted).
    let stop_start = setup.config(backend, &nginx.proxy_config());
    let d_ss = Deployer::new(stop_start, config.runtime());
    let load = Load::start(public, 4);
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..3 {
        assert!(matches!(
            deploy(&d_ss, &art(backend, Mode::Healthy)),
            DeployOutcome::Healthy { .. }
        ));
    }
    std::thread::sleep(Duration::from_millis(300));
    let report = load.finish();
    eprintln!(
        "{} stop-start under the same load, 3 deploys: {} ok, {} non-2xx, {} connection errors, longest outage {:?}",
        backend.name, report.ok, report.non_2xx, report.connection_errors, report.longest_outage
    );
}
