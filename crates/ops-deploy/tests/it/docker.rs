//! The stop-start deploy on the machine's Docker engine, with FROM-scratch images built here
//! from a static binary (no registry): a healthy deploy, failed ones rolled back to the last
//! healthy image (pinned by ID), and volumes left alone.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use ops_deploy::{DeployConfig, DeployOutcome, Deployer, History, Outcome};

fn docker_available(test: &str) -> bool {
    let ok = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("OPS_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "{test}: a Docker engine is required (OPS_REQUIRE_TOOLS=1)"
        );
        eprintln!(
            "skipped {test}: no Docker engine answers (set OPS_REQUIRE_TOOLS=1 to require it)"
        );
    }
    ok
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

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

/// Images `<repo>:good` and `<repo>:bad` (health fails) from scratch.
fn build_images(repo: &str) {
    let binary = static_server();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&binary, dir.path().join("server")).unwrap();
    for (tag, cmd) in [("good", "[]"), ("bad", "[\"--fail-health\"]")] {
        std::fs::write(
            dir.path().join("Dockerfile"),
            format!("FROM scratch\nCOPY server /server\nUSER 65534:65534\nEXPOSE 8080\nENTRYPOINT [\"/server\"]\nCMD {cmd}\n"),
        )
        .unwrap();
        docker(&[
            "build",
            "-q",
            "-t",
            &format!("{repo}:{tag}"),
            dir.path().to_str().unwrap(),
        ]);
    }
}

fn serving(port: u16) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text.rsplit("\r\n\r\n").next().unwrap().to_owned()
}

#[test]
fn docker_deploys_roll_back_to_the_last_healthy_image_and_keep_volumes() {
    if !docker_available("docker_deploys_roll_back_to_the_last_healthy_image_and_keep_volumes") {
        return;
    }
    let service = format!("opsdt{}", std::process::id());
    let repo = format!("{service}-img");
    build_images(&repo);
    let volume = format!("{service}-data");
    docker(&["volume", "create", &volume]);
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let path = dir.path().join("deploy.toml");
    std::fs::write(
        &path,
        format!(
            "service = \"{service}\"\nstate_dir = \"{}\"\nruntime = \"docker\"\nport = {port}\ncontainer_port = 8080\nvolumes = [\"{volume}:/data\"]\nstop_grace = \"2s\"\n[health]\ninterval = \"200ms\"\ntimeout = \"1s\"\nretries = 25\n",
            dir.path().join("state").display()
        ),
    )
    .unwrap();
    let config = DeployConfig::load(&path).unwrap();
    let deployer = Deployer::new(config.clone(), config.runtime());

    let good = format!("{repo}:good");
    let bad = format!("{repo}:bad");
    assert_eq!(
        deployer.deploy(&good, "test", None, |_, _| {}).unwrap(),
        DeployOutcome::Healthy {
            release: format!("{service}-1")
        }
    );
    assert_eq!(serving(port), format!("{service}-1"));
    for n in 2..=3 {
        match deployer.deploy(&bad, "test", None, |_, _| {}).unwrap() {
            DeployOutcome::RolledBack {
                failed, restored, ..
            } => {
                assert_eq!(failed, format!("{service}-{n}"));
                assert_eq!(restored, format!("{service}-1"));
            }
            other => panic!("expected a rollback, got {other:?}"),
        }
        assert_eq!(serving(port), format!("{service}-1"));
    }
    let history = History::load(&config.history_path(), &service).unwrap();
    let first = history.get(&format!("{service}-1")).unwrap();
    assert_eq!(first.outcome, Outcome::Healthy);
    let image_id = first
        .image_id
        .clone()
        .expect("the healthy image is pinned by ID");
    assert!(image_id.starts_with("sha256:"), "{image_id}");
    assert_eq!(
        docker(&[
            "inspect",
            "-f",
            "{{.Id}}",
            &format!("{service}:{service}-1")
        ]),
        image_id
    );
    // Only the running release's container is left, and the volume is untouched.
    let containers = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=ops-deploy.service={service}"),
        "--format",
        "{{.Names}}",
    ]);
    assert_eq!(containers, format!("{service}-{service}-1"));
    assert_eq!(
        docker(&["volume", "inspect", "-f", "{{.Name}}", &volume]),
        volume
    );

    // Clean up what the test made.
    docker(&["rm", "-f", &format!("{service}-{service}-1")]);
    docker(&["volume", "rm", &volume]);
    for tag in [good, bad, format!("{service}:{service}-1")] {
        let _ = Command::new("docker").args(["rmi", &tag]).output();
    }
}
