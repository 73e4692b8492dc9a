//! The hardening of the deploy engine: bounded durations and safe names refused at load,
//! history ids that could leave the state directory refused, explicit file modes whatever the
//! umask, and no deadline that can overflow.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ops_deploy::health::{self, HealthCheck, ProbeError};
use ops_deploy::{
    DeployConfig, DeployOutcome, Deployer, Error, FakeRuntime, History, LocalProcess, Nginx,
    Runtime as _, TrafficSwitch as _,
};

fn load(text: &str) -> Result<DeployConfig, Error> {
    DeployConfig::from_toml(text, Path::new("deploy.toml"))
}

#[test]
fn absurd_durations_and_unsafe_names_are_refused_at_load() {
    let base = "service = \"web\"\nport = 8080\n";
    for (extra, field) in [
        ("stop_grace = \"500000000000years\"\n", "stop_grace"),
        ("stop_grace = \"367days\"\n", "stop_grace"),
        ("drain = \"-1s\"\n", "drain"),
        ("[health]\ntimeout = \"500000000000years\"\n", "timeout"),
        ("[health]\ninterval = \"0s\"\n", "interval"),
        ("[health]\ntimeout = \"0ms\"\n", "timeout"),
        ("[hooks]\ntimeout = \"0s\"\n", "timeout"),
        (
            "[health]\npath = \"/health\\r\\nX-Evil: 1\"\n",
            "health.path",
        ),
        ("[health]\npath = \"health\"\n", "health.path"),
        (
            "[proxy]\nupstream_file = \"u.conf\"\nupstream_name = \"web { server 10.0.0.1:80; } upstream x\"\n",
            "proxy.upstream_name",
        ),
    ] {
        let err = load(&format!("{base}{extra}")).unwrap_err().to_string();
        assert!(
            err.contains("deploy.toml") && err.contains(field),
            "{field}: {err}"
        );
    }
    let err = load("service = \"../web\"\nport = 8080\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("service \"../web\""), "{err}");
    // The largest accepted values still make deadlines that cannot overflow.
    let c = load(&format!(
        "{base}stop_grace = \"366days\"\n[health]\ntimeout = \"366days\"\ninterval = \"366days\"\nretries = 4294967295\nstart_period = \"366days\"\n"
    ))
    .unwrap();
    let year = ops_core_max();
    assert_eq!(
        c.health.budget(),
        (year * 2).saturating_mul(u32::MAX).saturating_add(year)
    );
}

/// ops-core's ceiling: 366 days.
fn ops_core_max() -> Duration {
    Duration::from_hours(366 * 24)
}

#[test]
fn no_deadline_overflows_whatever_the_durations() {
    let mut policy = HealthCheck::default();
    policy.interval = Duration::MAX;
    policy.timeout = Duration::MAX;
    policy.start_period = Duration::MAX;
    policy.retries = u32::MAX;
    assert_eq!(policy.budget(), Duration::MAX);
    policy.retries = 1;
    policy.start_period = Duration::ZERO;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let err = health::wait_healthy(closed, &policy, |_| {}).unwrap_err();
    assert!(matches!(err.last, ProbeError::Connect(_)), "{err}");
    // Stopping a release that is already gone, with the longest grace.
    let dir = tempfile::tempdir().unwrap();
    let p = LocalProcess::new(dir.path());
    let i = p.start("web-1", "exit 0", 1).unwrap();
    let started = Instant::now();
    while p.is_running(&i) && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    p.stop(&i, Duration::MAX).unwrap();
}

#[test]
fn history_ids_that_leave_the_state_directory_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.json");
    for id in [
        "../../etc/cron.d/x",
        "web-1/../../x",
        ".hidden",
        "a b",
        "-rf",
    ] {
        std::fs::write(
            &path,
            format!(
                r#"{{"version":1,"service":"web","releases":[{{"id":{id:?},"artifact":"x","strategy":"stop-start","started_at":"2024-01-01T00:00:00Z","outcome":"healthy"}}]}}"#
            ),
        )
        .unwrap();
        match History::load(&path, "web") {
            Err(Error::History { reason, .. }) => {
                assert!(reason.contains(&format!("release id {id:?}")), "{reason}");
            }
            other => panic!("{id}: {other:?}"),
        }
    }
    // A history written by the previous version (its reasons free text) still loads.
    std::fs::write(
        &path,
        r#"{"version":1,"service":"web","releases":[{"id":"web-1","artifact":"web:1","strategy":"stop-start","started_at":"2024-01-01T00:00:00.000Z","finished_at":"2024-01-01T00:00:05.000Z","outcome":"failed","reason":"unhealthy after 3 attempts over 1.2s; last: HTTP 500","port":8080}]}"#,
    )
    .unwrap();
    let h = History::load(&path, "web").unwrap();
    assert_eq!(
        h.releases[0].reason.as_deref(),
        Some("unhealthy after 3 attempts over 1.2s; last: HTTP 500")
    );
    // The runtimes refuse such ids before any path is joined.
    let p = LocalProcess::new(dir.path().join("logs"));
    assert!(matches!(
        p.start("../x", "true", 1),
        Err(Error::InvalidValue {
            field: "release id",
            ..
        })
    ));
    assert!(p.find("../x", 1).is_none());
    assert!(matches!(
        p.prune("../../x"),
        Err(Error::InvalidValue { .. })
    ));
    assert!(!dir.path().join("logs").exists());
}

#[test]
fn an_unsafe_upstream_name_is_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("up.conf");
    let nginx = Nginx::new(&file, "web; } server { listen 80")
        .test_command(vec!["true".into()])
        .reload_command(vec!["true".into()]);
    match nginx.switch("web-1", "127.0.0.1:9001".parse().unwrap()) {
        Err(Error::InvalidValue { field, value, .. }) => {
            assert_eq!(
                (field, value.as_str()),
                ("proxy.upstream_name", "web; } server { listen 80")
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(!file.exists());
}

const UMASK_CHILD: &str = "OPS_DEPLOY_TEST_UMASK_CHILD";

/// Not a test on its own: under umask 000, a deploy on the fake runtime (state directory,
/// lock, history, current state, hook log) and one real process release (log, pid file) in the
/// directory the variable names.
#[test]
fn umask_child() {
    let Ok(dir) = std::env::var(UMASK_CHILD) else {
        return;
    };
    // SAFETY: umask(2) only changes this (child) process's file mode mask.
    unsafe { libc::umask(0) };
    let dir = PathBuf::from(dir);
    let mut config = load(
        "service = \"web\"\nport = 9001\n[health]\ninterval = \"1ms\"\n[hooks]\npost_deploy = \"true\"\n",
    )
    .unwrap();
    config.state_dir = dir.join("state");
    let d = Deployer::new(config.clone(), FakeRuntime::new());
    assert_eq!(
        d.deploy("web:1", "test", None, |_| {}).unwrap(),
        DeployOutcome::Healthy {
            release: "web-1".into()
        }
    );
    let p = LocalProcess::new(config.log_dir());
    let i = p.start("web-9", "exec sleep 30", 1).unwrap();
    let pid_file = config.log_dir().join("web-9-1.pid");
    let mode = std::fs::metadata(&pid_file).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o600, "pid file");
    p.stop(&i, Duration::from_secs(2)).unwrap();
    assert!(!pid_file.exists(), "the pid file goes with the release");
}

#[test]
fn state_files_get_explicit_modes_under_umask_000() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    // Left loose by an older version: tightened.
    std::fs::create_dir(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::write(state.join("deploy.lock"), "").unwrap();
    std::fs::set_permissions(
        state.join("deploy.lock"),
        std::fs::Permissions::from_mode(0o666),
    )
    .unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "it::hardening::umask_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(UMASK_CHILD, dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let modes: Vec<(&str, u32)> = [
        "state",
        "state/logs",
        "state/deploy.lock",
        "state/history.json",
        "state/current.json",
        "state/logs/hooks.log",
        "state/logs/web-9.log",
    ]
    .into_iter()
    .map(|p| {
        let m = std::fs::metadata(dir.path().join(p)).unwrap();
        (p, m.permissions().mode() & 0o7777)
    })
    .collect();
    assert_eq!(
        modes,
        [
            ("state", 0o750),
            ("state/logs", 0o750),
            ("state/deploy.lock", 0o640),
            ("state/history.json", 0o600),
            ("state/current.json", 0o600),
            ("state/logs/hooks.log", 0o640),
            ("state/logs/web-9.log", 0o640),
        ]
    );
}
