//! The shared deploy suite on the machine's Docker engine, with FROM-scratch images built here
//! from the static `health_server` example (no registry is reachable), plus what only Docker
//! has: image IDs pinned by tag, the image's own HEALTHCHECK, volumes that outlive every
//! container, and pruning that removes tags but never an image in use.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use ops_deploy::{DeployOutcome, Deployer, History};

use super::process::KILLED_CHILD_TEST;
use super::suite::{self, Backend, Mode};

use ops_testkit::tools::{docker, docker_available};

/// Builds the `health_server` example as a static binary (glibc, crt-static) in its own target
/// directory.
fn static_server() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target_dir = root.join("target/static");
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--release",
            "-p",
            "ops-deploy",
            "--example",
            "health_server",
            "--target",
            "x86_64-unknown-linux-gnu",
        ])
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env("CARGO_TARGET_DIR", &target_dir)
        .current_dir(&root)
        .status()
        .unwrap();
    assert!(status.success(), "building the static health server failed");
    target_dir.join("x86_64-unknown-linux-gnu/release/examples/health_server")
}

const REPO: &str = "ops-deploy-test";

/// Images `ops-deploy-test:{good,good2,bad,hang,hcbad,corrupt}`, built once per test run.
/// `good` and `good2` differ only by a label (two image IDs); `hcbad` answers HTTP but its
/// HEALTHCHECK fails; `corrupt` damages `/data/app.db` when it starts.
pub(super) fn images() -> &'static str {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let binary = static_server();
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(&binary, dir.path().join("server")).unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        std::fs::write(dir.path().join("data/.keep"), "").unwrap();
        let ok_check = "HEALTHCHECK --interval=1s --timeout=5s --retries=5 CMD [\"/server\", \"--probe\", \"http://127.0.0.1:8080/health\"]";
        let bad_check = "HEALTHCHECK --interval=1s --timeout=2s --retries=2 CMD [\"/server\", \"--probe\", \"http://127.0.0.1:1/health\"]";
        for (tag, cmd, check, label) in [
            ("good", "[]", ok_check, "a"),
            ("good2", "[]", ok_check, "b"),
            ("bad", "[\"--fail-health\"]", ok_check, "a"),
            ("hang", "[\"--hang-health\"]", ok_check, "a"),
            ("hcbad", "[]", bad_check, "a"),
            ("corrupt", "[\"--corrupt\", \"/data/app.db\"]", ok_check, "a"),
        ] {
            std::fs::write(
                dir.path().join("Dockerfile"),
                format!(
                    "FROM scratch\nCOPY server /server\nCOPY --chown=65534:65534 data/ /data/\nLABEL variant={label}\nUSER 65534:65534\nEXPOSE 8080\n{check}\nENTRYPOINT [\"/server\"]\nCMD {cmd}\n"
                ),
            )
            .unwrap();
            let name = format!("{REPO}:{tag}");
            let before = Command::new("docker")
                .args(["image", "inspect", "-f", "{{.Id}}", &name])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
            let after = docker(&["build", "-q", "-t", &name, dir.path().to_str().unwrap()]);
            // The image this tag named before is left untagged by the new build: remove it
            // (refused, harmlessly, while a container or another tag still uses it), so runs
            // do not pile up dangling images.
            if let Some(before) = before.filter(|b| *b != after) {
                let _ = Command::new("docker").args(["rmi", &before]).output();
            }
        }
    });
    REPO
}

/// Removes the service's containers (never volumes) and its release tags. Never panics: it
/// runs from a drop guard, also while a failed assertion unwinds.
pub(super) fn cleanup(service: &str) {
    let out = |args: &[&str]| {
        Command::new("docker")
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let ids = out(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=ops-deploy.service={service}"),
    ]);
    for id in ids.lines() {
        let _ = Command::new("docker").args(["rm", "-f", id]).output();
    }
    let tags = out(&["images", service, "--format", "{{.Repository}}:{{.Tag}}"]);
    for tag in tags.lines() {
        let _ = Command::new("docker").args(["rmi", tag]).output();
    }
}

/// Removes a Docker volume when dropped (after the containers using it: declare it first).
pub(super) struct VolumeGuard(pub(super) String);

impl Drop for VolumeGuard {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["volume", "rm", "-f", &self.0])
            .output();
    }
}

fn backend_with(extra: &str) -> Backend {
    let repo = images();
    Backend {
        name: "docker",
        runtime_config: format!("runtime = \"docker\"\ncontainer_port = 8080\n{extra}"),
        artifact: Box::new(move |mode| {
            Some(format!(
                "{repo}:{}",
                match mode {
                    Mode::Healthy => "good",
                    Mode::HealthyAlt => "good2",
                    Mode::Unhealthy => "bad",
                    Mode::Hanging => "hang",
                    Mode::NativeUnhealthy => "hcbad",
                }
            ))
        }),
        cleanup: Box::new(cleanup),
    }
}

fn backend(test: &str) -> Option<Backend> {
    docker_available(test).then(|| backend_with(""))
}

#[test]
fn docker_rolls_back_to_the_last_healthy_release() {
    if let Some(b) = backend("docker_rolls_back_to_the_last_healthy_release") {
        suite::rolls_back_to_the_last_healthy_release(&b);
    }
}

#[test]
fn docker_hanging_release_is_bounded() {
    if let Some(b) = backend("docker_hanging_release_is_bounded") {
        suite::a_hanging_release_is_bounded_and_a_failed_first_release_leaves_nothing(&b);
    }
}

#[test]
fn docker_image_healthcheck_gates_the_release() {
    if let Some(b) = backend("docker_image_healthcheck_gates_the_release") {
        suite::the_runtime_health_check_gates_the_release(&b);
    }
}

#[test]
fn docker_hooks() {
    if let Some(b) = backend("docker_hooks") {
        suite::hooks_run_and_a_failing_pre_deploy_hook_aborts(&b);
    }
}

#[test]
fn docker_concurrent_deploys() {
    if let Some(b) = backend("docker_concurrent_deploys") {
        suite::concurrent_deploys_are_serialised(&b);
    }
}

#[test]
fn docker_killed_deploy() {
    if let Some(b) = backend("docker_killed_deploy") {
        suite::a_killed_deploy_leaves_a_usable_state(&b, KILLED_CHILD_TEST);
    }
}

#[test]
fn docker_blue_green_behind_nginx() {
    if let Some(b) = backend("docker_blue_green_behind_nginx") {
        suite::blue_green_behind_nginx_loses_no_request(&b, "docker_blue_green_behind_nginx");
    }
}

/// The body of `GET path`; retried a few times, because docker-proxy closes a connection it
/// accepted when it cannot reach the container in time (seen while other tests load both
/// cores). The request goes out in one write (with `write!` each piece of the format was a
/// write of its own, and the server, reading once, could see only `GET `), and the answer is
/// read to its end and checked against its Content-Length.
fn get(port: u16, path: &str) -> String {
    for _ in 0..10 {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
            .unwrap();
        let mut text = String::new();
        if s.read_to_string(&mut text).is_ok()
            && let Some((head, body)) = text.split_once("\r\n\r\n")
        {
            let length = head.lines().find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .and_then(|v| v.trim().parse::<usize>().ok())
            });
            if head.starts_with("HTTP/1.1 200") && length == Some(body.len()) {
                return body.to_owned();
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    panic!("GET {path} on port {port}: no complete answer in 10 tries");
}

/// Pruning removes the tags of old releases, never an image a running container or the
/// rollback target uses, and never a volume; the rollback target is pinned by image ID.
#[test]
fn docker_pruning_and_volumes() {
    if !docker_available("docker_pruning_and_volumes") {
        return;
    }
    let volume = format!("ops-deploy-test-data-{}", std::process::id());
    docker(&["volume", "create", &volume]);
    // Dropped last: after the scenario's guard removed the containers that use it.
    let _volume = VolumeGuard(volume.clone());
    let b = backend_with(&format!(
        "volumes = [\"{volume}:/data\"]\n[env]\nDATA_FILE = \"/data/starts\"\n"
    ));
    let (pruned, setup, config, _cleanup) =
        suite::pruning_keeps_the_newest_and_the_rollback_target(&b);
    let release = |n: u32| format!("{}-{n}", setup.service);
    let service = &setup.service;
    // Release 1 ran `good`, the image release 6 runs now: kept; release 3 is the rollback
    // target: kept. Release 2's tag is removed.
    assert_eq!(pruned, [release(2), release(4)]);
    let tags = docker(&["images", service, "--format", "{{.Tag}}"]);
    let mut tags: Vec<&str> = tags.lines().collect();
    tags.sort_unstable();
    let (r1, r3, r6) = (release(1), release(3), release(6));
    assert_eq!(tags, [r1.as_str(), r3.as_str(), r6.as_str()]);
    // The user's own tags are never touched.
    docker(&["image", "inspect", &format!("{REPO}:good2")]);
    // The volume saw every start: 1, 2, 3, 4 (failed), back to 3, 5 (failed), back to 3, 6.
    let starts = get(setup.port, "/data");
    assert_eq!(
        starts.lines().collect::<Vec<_>>(),
        [
            release(1),
            release(2),
            release(3),
            release(4),
            release(3),
            release(5),
            release(3),
            release(6)
        ]
    );
    // The pinned image ID of the running release.
    let history = History::load(&config.history_path(), service).unwrap();
    let id6 = history.get(&r6).unwrap().image_id.clone().unwrap();
    assert_eq!(
        docker(&["inspect", "-f", "{{.Id}}", &format!("{service}:{r6}")]),
        id6
    );
    let d = Deployer::new(config.clone(), config.runtime());
    assert_eq!(
        d.rollback(Some(&r1), "test", None, |_| {}).unwrap(),
        DeployOutcome::Healthy { release: r1 }
    );
    suite::stop_all(&config);
    cleanup(service);
    assert_eq!(
        docker(&["volume", "inspect", "-f", "{{.Name}}", &volume]),
        volume
    );
    docker(&["volume", "rm", &volume]);
}
