//! The shared deploy suite on the local-process runtime (no Docker needed). Each release is
//! this test binary re-executed as a tiny HTTP server.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;

use super::suite::{self, Backend, Mode};

pub(super) const SERVER_ENV: &str = "OPS_DEPLOY_TEST_SERVER";

/// Not a test on its own: with the variable set, serves on `$PORT` until killed: `/health`
/// answers 200 (`healthy`), 500 (`unhealthy`) or never (`hang`); anything else answers 200 with
/// the release id.
#[test]
fn server_child() {
    let Ok(mode) = std::env::var(SERVER_ENV) else {
        return;
    };
    let port: u16 = std::env::var("PORT").unwrap().parse().unwrap();
    let release = std::env::var("OPS_RELEASE").unwrap_or_default();
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let mut held = Vec::new();
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        // The whole head: one `read` may return only part of the request line.
        let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let health = head.starts_with(b"GET /health");
        if health && mode == "hang" {
            held.push(stream);
            continue;
        }
        let status = if health && mode == "unhealthy" {
            "500 Internal Server Error"
        } else {
            "200 OK"
        };
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{release}",
            release.len()
        );
    }
}

/// Not a test on its own: the deploy that `a_killed_deploy_leaves_a_usable_state` kills.
#[test]
fn killed_deploy_child() {
    suite::killed_deploy_child();
}

pub(super) const KILLED_CHILD_TEST: &str = "it::process::killed_deploy_child";

fn backend() -> Backend {
    let exe = std::env::current_exe().unwrap();
    Backend {
        name: "process",
        runtime_config: "runtime = \"process\"".into(),
        artifact: Box::new(move |mode| {
            let m = match mode {
                Mode::Healthy | Mode::HealthyAlt => "healthy",
                Mode::Unhealthy => "unhealthy",
                Mode::Hanging => "hang",
                Mode::NativeUnhealthy => return None,
            };
            Some(format!(
                "{SERVER_ENV}={m} exec '{}' --exact it::process::server_child --nocapture --test-threads=1",
                exe.display()
            ))
        }),
        cleanup: Box::new(|_| {}),
    }
}

#[test]
fn process_rolls_back_to_the_last_healthy_release() {
    suite::rolls_back_to_the_last_healthy_release(&backend());
}

#[test]
fn process_hanging_release_is_bounded() {
    suite::a_hanging_release_is_bounded_and_a_failed_first_release_leaves_nothing(&backend());
}

#[test]
fn process_hooks() {
    suite::hooks_run_and_a_failing_pre_deploy_hook_aborts(&backend());
}

#[test]
fn process_pruning_removes_logs_of_old_releases() {
    let b = backend();
    let (pruned, setup, config, _cleanup) =
        suite::pruning_keeps_the_newest_and_the_rollback_target(&b);
    let release = |n: u32| format!("{}-{n}", setup.service);
    assert_eq!(pruned, [release(1), release(2), release(4)]);
    let logs = config.log_dir();
    for n in [1, 2, 4] {
        assert!(!logs.join(format!("{}.log", release(n))).exists());
    }
    for n in [3, 5, 6] {
        assert!(logs.join(format!("{}.log", release(n))).exists());
    }
}

#[test]
fn process_concurrent_deploys() {
    suite::concurrent_deploys_are_serialised(&backend());
}

#[test]
fn process_killed_deploy() {
    suite::a_killed_deploy_leaves_a_usable_state(&backend(), KILLED_CHILD_TEST);
}

#[test]
fn process_blue_green_behind_nginx() {
    suite::blue_green_behind_nginx_loses_no_request(&backend(), "process_blue_green_behind_nginx");
}

/// A release that exits at once fails its health wait at once ("exited with status 3"),
/// not after the whole budget, and leaves no pid file.
#[test]
fn process_a_release_that_exits_fails_at_once() {
    let b = backend();
    let setup = suite::Setup::new(&b, "exit");
    let mut config = setup.config(&b, "");
    config.health.interval = std::time::Duration::from_secs(2);
    config.health.retries = 30;
    let d = ops_deploy::Deployer::new(config.clone(), config.runtime());
    let mut attempts = Vec::new();
    let outcome = d
        .deploy("echo starting; exit 3", "test", None, |e| {
            if let ops_deploy::Event::Attempt { attempt, .. } = e {
                attempts.push(attempt.result.clone());
            }
        })
        .unwrap();
    assert_eq!(outcome.exit_code(), 4);
    let reason = outcome.reason().unwrap().to_string();
    assert!(reason.contains("exited with status 3"), "{reason}");
    // The first attempt may find it still starting; the one after the first interval's wait
    // finds it gone.
    assert!(attempts.len() <= 2, "{attempts:?}");
    assert_eq!(
        attempts.last(),
        Some(&Err(ops_deploy::ProbeError::Exited(
            "exited with status 3".into()
        )))
    );
    let pid_files: Vec<_> = std::fs::read_dir(config.log_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| {
            std::path::Path::new(n)
                .extension()
                .is_some_and(|e| e == "pid")
        })
        .collect();
    assert!(pid_files.is_empty(), "{pid_files:?}");
}

/// Stop-start checks what it can before it stops the running release: an unusable log
/// directory or a command that does not exist is refused with the OS's reason, and the
/// running release keeps serving (exit 1, not 4).
#[test]
fn process_stop_start_checks_before_it_stops_anything() {
    let b = backend();
    let setup = suite::Setup::new(&b, "pre");
    let config = setup.config(&b, "");
    let d = ops_deploy::Deployer::new(config.clone(), config.runtime());
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], setup.port));
    let healthy = (b.artifact)(Mode::Healthy).unwrap();
    let _guard = suite::Cleanup::new(&b, &config, &setup.service);
    assert_eq!(
        d.deploy(&healthy, "test", None, |_| {})
            .unwrap()
            .exit_code(),
        0
    );
    let logs = config.log_dir();
    let moved = setup.dir.path().join("logs-moved");
    std::fs::rename(&logs, &moved).unwrap();
    std::fs::write(&logs, "a file where the log directory should be").unwrap();
    let outcome = d.deploy(&healthy, "test", None, |_| {}).unwrap();
    match &outcome {
        ops_deploy::DeployOutcome::Aborted {
            reason, running, ..
        } => {
            assert_eq!(running.as_deref(), Some(&*format!("{}-1", setup.service)));
            assert_eq!(reason.kind(), "preflight");
            let text = reason.to_string();
            assert!(
                text.contains(&logs.display().to_string()) && text.contains("(os error 17)"),
                "{text}"
            );
        }
        other => panic!("expected an abort, got {other:?}"),
    }
    assert_eq!(outcome.exit_code(), 1);
    assert_eq!(suite::serving(addr), Some(format!("{}-1", setup.service)));
    std::fs::remove_file(&logs).unwrap();
    std::fs::rename(&moved, &logs).unwrap();

    let outcome = d
        .deploy("exec /nonexistent/server --port 1", "test", None, |_| {})
        .unwrap();
    assert_eq!(outcome.exit_code(), 1);
    let text = outcome.reason().unwrap().to_string();
    assert!(
        text.contains("/nonexistent/server") && text.contains("(os error 2)"),
        "{text}"
    );
    assert_eq!(suite::serving(addr), Some(format!("{}-1", setup.service)));
}
