//! The shared deploy suite on the local-process runtime (no Docker needed). Each release is
//! this test binary re-executed as a tiny HTTP server.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;

use super::suite::{self, Backend, Mode};

const SERVER_ENV: &str = "OPS_DEPLOY_TEST_SERVER";

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
        let mut buf = [0u8; 1024];
        let n = stream.read(&mut buf).unwrap_or(0);
        let health = buf[..n].starts_with(b"GET /health");
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
    let (pruned, setup, config) =
        suite::pruning_keeps_the_newest_and_the_rollback_target(&backend());
    let release = |n: u32| format!("{}-{n}", setup.service);
    assert_eq!(pruned, [release(1), release(2), release(4)]);
    let logs = config.log_dir();
    for n in [1, 2, 4] {
        assert!(!logs.join(format!("{}.log", release(n))).exists());
    }
    for n in [3, 5, 6] {
        assert!(logs.join(format!("{}.log", release(n))).exists());
    }
    suite::stop_all(&config);
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
