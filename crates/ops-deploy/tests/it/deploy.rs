//! The stop-start deploy with real local processes: a healthy deploy, a failed one rolled back,
//! several failures in a row rolled back to the last healthy release (not the newest), and a
//! rollback on request.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::time::Duration;

use ops_deploy::{
    DeployConfig, DeployOutcome, Deployer, History, Instance, LocalProcess, Outcome, Runtime,
};

const SERVER_ENV: &str = "OPS_DEPLOY_TEST_SERVER";

/// Not a test on its own: with the variable set, serves `/health` on `$PORT` (200 with the
/// release id when `healthy`, 500 otherwise) until killed.
#[test]
fn server_child() {
    let Ok(mode) = std::env::var(SERVER_ENV) else {
        return;
    };
    let port: u16 = std::env::var("PORT").unwrap().parse().unwrap();
    let release = std::env::var("OPS_RELEASE").unwrap_or_default();
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let mut buf = [0u8; 1024];
        let _ = stream.read(&mut buf);
        let status = if mode == "healthy" {
            "200 OK"
        } else {
            "500 Internal Server Error"
        };
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{release}",
            release.len()
        );
    }
}

fn artifact(mode: &str) -> String {
    let exe = std::env::current_exe().unwrap();
    format!(
        "{SERVER_ENV}={mode} exec '{}' --exact it::deploy::server_child --nocapture --test-threads=1",
        exe.display()
    )
}

fn config(dir: &std::path::Path) -> DeployConfig {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let path = dir.join("deploy.toml");
    std::fs::write(
        &path,
        format!(
            "service = \"web\"\nstate_dir = \"{}\"\nport = {port}\nstop_grace = \"2s\"\n[health]\npath = \"/health\"\ninterval = \"100ms\"\ntimeout = \"500ms\"\nretries = 20\n",
            dir.join("state").display()
        ),
    )
    .unwrap();
    DeployConfig::load(&path).unwrap()
}

/// The release id the running server reports.
fn serving(port: u16) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text.rsplit("\r\n\r\n").next().unwrap().to_owned()
}

fn current(config: &DeployConfig) -> Instance {
    serde_json::from_str(&std::fs::read_to_string(config.current_path()).unwrap()).unwrap()
}

#[test]
fn stop_start_deploys_and_rolls_back_to_the_last_healthy_release() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let port = config.port;
    let runtime = LocalProcess::new(config.log_dir());
    let deployer = Deployer::new(config.clone(), runtime.clone());
    let mut attempts = 0;
    let mut deploy = |mode: &str| {
        deployer
            .deploy(&artifact(mode), "test", None, |_, _| attempts += 1)
            .unwrap()
    };

    assert_eq!(
        deploy("healthy"),
        DeployOutcome::Healthy {
            release: "web-1".into()
        }
    );
    let first = current(&config);
    assert_eq!(serving(port), "web-1");
    assert_eq!(
        deploy("healthy"),
        DeployOutcome::Healthy {
            release: "web-2".into()
        }
    );
    assert!(!runtime.is_running(&first), "the old release was stopped");
    assert_eq!(serving(port), "web-2");

    // Three bad releases in a row: each is rolled back to web-2, never to the newest backup.
    for n in 3..=5 {
        match deploy("unhealthy") {
            DeployOutcome::RolledBack {
                failed,
                restored,
                reason,
            } => {
                assert_eq!(
                    (failed.as_str(), restored.as_str()),
                    (format!("web-{n}").as_str(), "web-2")
                );
                assert!(reason.contains("HTTP 500"), "{reason}");
            }
            other => panic!("expected a rollback, got {other:?}"),
        }
        assert_eq!(serving(port), "web-2");
    }
    let history = History::load(&config.history_path(), "web").unwrap();
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
    assert!(attempts > 5);

    // A rollback on request goes to the newest healthy release other than the running one.
    let outcome = deployer
        .rollback(None, "test rollback", None, |_, _| {})
        .unwrap();
    assert_eq!(
        outcome,
        DeployOutcome::Healthy {
            release: "web-1".into()
        }
    );
    assert_eq!(serving(port), "web-1");
    let history = History::load(&config.history_path(), "web").unwrap();
    assert_eq!(history.get("web-2").unwrap().outcome, Outcome::RolledBack);
    assert_eq!(history.last_healthy().unwrap().id, "web-1");

    runtime
        .stop(&current(&config), Duration::from_secs(2))
        .unwrap();
}

#[test]
fn a_first_release_that_fails_leaves_nothing_healthy() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let runtime = LocalProcess::new(config.log_dir());
    let mut config_fast = config.clone();
    config_fast.health.retries = 3;
    let deployer = Deployer::new(config_fast, runtime);
    match deployer
        .deploy(&artifact("unhealthy"), "test", None, |_, _| {})
        .unwrap()
    {
        DeployOutcome::NothingHealthy { reason } => {
            assert!(reason.contains("no healthy release"), "{reason}");
        }
        other => panic!("expected NothingHealthy, got {other:?}"),
    }
    assert!(
        !config.current_path().exists(),
        "the failed release was stopped"
    );
}

#[test]
fn config_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deploy.toml");
    std::fs::write(
        &path,
        "service = \"web\"\nport = 8080\nruntime = \"podman\"\n",
    )
    .unwrap();
    let err = DeployConfig::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("deploy.toml") && err.contains("runtime"),
        "{err}"
    );
    std::fs::write(&path, "service = \"web\"\nport = 8080\nprot = 1\n").unwrap();
    let err = DeployConfig::load(&path).unwrap_err().to_string();
    assert!(err.contains("prot"), "{err}");
}
