//! The README's walk-through, run for real: the quickstart demo (every crate in one report),
//! its `/metrics` page through promtool, and the deploy story on the machine's Docker engine
//! behind nginx — build the image, `ops deploy` it blue-green, deploy a broken version and
//! watch it rolled back, `ops history`, `ops rollback` — with clients hitting nginx throughout.

#![allow(
    clippy::unwrap_used,
    clippy::print_stderr,
    clippy::too_many_lines,
    missing_docs
)]

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

fn required() -> bool {
    std::env::var("OPS_REQUIRE_TOOLS").as_deref() == Ok("1")
}

fn tool(test: &str, what: &str, ok: bool) -> bool {
    if !ok {
        assert!(
            !required(),
            "{test}: {what} is required (OPS_REQUIRE_TOOLS=1)"
        );
        eprintln!(
            "skipped {test}: {what} is not available (set OPS_REQUIRE_TOOLS=1 to require it)"
        );
    }
    ok
}

fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The quickstart example as a static binary (glibc, crt-static): runs here and in a
/// FROM-scratch image. Built once per test run, in its own target directory.
fn quickstart() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let target_dir = root().join("target/static");
            let status = Command::new(env!("CARGO"))
                .args([
                    "build",
                    "--release",
                    "-p",
                    "ops-examples",
                    "--example",
                    "quickstart",
                    "--target",
                    "x86_64-unknown-linux-gnu",
                ])
                .env("RUSTFLAGS", "-C target-feature=+crt-static")
                .env("CARGO_TARGET_DIR", &target_dir)
                .current_dir(root())
                .status()
                .unwrap();
            assert!(status.success(), "building the static quickstart failed");
            target_dir.join("x86_64-unknown-linux-gnu/release/examples/quickstart")
        })
        .clone()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `(status, body)` of one HTTP/1.0 request.
fn http(addr: SocketAddr, method: &str, path: &str, headers: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "{method} {path} HTTP/1.0\r\n{headers}\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, text.split_once("\r\n\r\n")?.1.to_owned()))
}

fn count_lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

#[test]
fn the_quickstart_demo_shows_every_crate_at_work() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let out = Command::new(quickstart())
        .args(["--seconds", "4", "--log-dir", logs.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // 300 requests: /work/fail gets 30 and fails every third call.
    assert!(
        stdout.contains("sent 300 requests") && stdout.contains("{200: 282, 404: 8, 500: 10}"),
        "{stdout}"
    );
    let fail_row = stdout
        .lines()
        .find(|l| l.starts_with("quickstart::work_fail "))
        .unwrap();
    let cols: Vec<&str> = fail_row.split_whitespace().collect();
    assert_eq!((cols[1], cols[2]), ("30", "10"), "{fail_row}");
    for needle in [
        "== 1. Profiler",
        "quickstart::handle_slow",
        "quickstart::health_body",
        "FIRING HighErrorRatio",
        "HighCpuUsage",
        "sink stdout       1 delivered",
        "access.log               300 lines",
        "audit.log                  6 lines",
        "total          ",
        "no family twice",
    ] {
        assert!(stdout.contains(needle), "{needle:?} not in\n{stdout}");
    }
    // The terminal shows only the errors in the demo (`console_level`), the files everything.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let console_errors = stderr.lines().filter(|l| l.contains(" ERROR ")).count();
    assert_eq!(console_errors, 10, "{stderr}");
    assert!(!stderr.contains("HTTP Request"), "{stderr}");
    // The files hold what the report says, every line JSON.
    assert_eq!(count_lines(&logs.join("access.log")), 300);
    assert_eq!(count_lines(&logs.join("audit.log")), 6);
    for line in std::fs::read_to_string(logs.join("audit.log"))
        .unwrap()
        .lines()
    {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["actor"], "demo-operator", "{line}");
    }
    let errors = std::fs::read_to_string(logs.join("error.log")).unwrap();
    let logged_errors = errors
        .lines()
        .filter(|l| l.contains("\"error_type\":\"quickstart::WorkError\""))
        .count();
    assert_eq!(logged_errors, 10);
}

#[test]
fn the_quickstart_serves_promtool_clean_metrics_and_flushes_on_sigterm() {
    let test = "the_quickstart_serves_promtool_clean_metrics_and_flushes_on_sigterm";
    let has_promtool = tool(test, "promtool", runs("promtool", &["--version"]));
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let port = free_port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let child = Command::new(quickstart())
        .args([
            "--serve",
            "--bind",
            &addr.to_string(),
            "--log-dir",
            logs.to_str().unwrap(),
        ])
        .env("OPS_RELEASE", "web-7")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let health = loop {
        if let Some(answer) = http(addr, "GET", "/health", "") {
            break answer;
        }
        assert!(Instant::now() < deadline, "the quickstart never answered");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(health.0, 200);
    let v: serde_json::Value = serde_json::from_str(&health.1).unwrap();
    assert_eq!(
        (v["status"].as_str(), v["version"].as_str()),
        (Some("ok"), Some("web-7"))
    );
    assert_eq!(
        http(addr, "POST", "/admin/flush", "X-Actor: alice\r\n")
            .unwrap()
            .0,
        200
    );
    assert_eq!(http(addr, "GET", "/work/slow", "").unwrap().0, 200);
    // Let the sampler feed the rules once, so every family has series.
    std::thread::sleep(Duration::from_millis(1500));
    let (status, page) = http(addr, "GET", "/metrics", "").unwrap();
    assert_eq!(status, 200);
    for family in [
        "# TYPE node_cpu_seconds_total counter",
        "# TYPE ops_function_errors_total counter",
        "# TYPE ops_alerts gauge",
        "ops_log_lines_written_total{",
    ] {
        assert!(page.contains(family), "{family:?} not on the page");
    }
    if has_promtool {
        let file = dir.path().join("metrics.prom");
        std::fs::write(&file, &page).unwrap();
        let check = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(std::fs::File::open(&file).unwrap())
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "promtool: {}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
    }
    // SIGTERM: in-flight work ends, the report is printed, every line is on disk.
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: signalling the child this test started.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("== 1. Profiler"), "{stdout}");
    // /health, /admin/flush, /work/slow, /metrics.
    assert_eq!(count_lines(&logs.join("access.log")), 4);
    let audit = std::fs::read_to_string(logs.join("audit.log")).unwrap();
    let v: serde_json::Value = serde_json::from_str(audit.trim()).unwrap();
    assert_eq!(v["actor"], "alice");
}

// ---------------------------------------------------------------------------------------------
// The deploy walk-through
// ---------------------------------------------------------------------------------------------

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// nginx on 127.0.0.1 with its own prefix; stopped on drop.
struct Nginx {
    dir: tempfile::TempDir,
    port: u16,
}

impl Nginx {
    fn args(&self) -> Vec<String> {
        let d = self.dir.path().display();
        vec![
            "-p".into(),
            format!("{d}/"),
            "-c".into(),
            format!("{d}/nginx.conf"),
            "-e".into(),
            format!("{d}/error.log"),
        ]
    }

    fn start(upstream: &str) -> Nginx {
        let nginx = Nginx {
            dir: tempfile::tempdir().unwrap(),
            port: free_port(),
        };
        let d = nginx.dir.path().display().to_string();
        // The server block the README asks for; the upstream file is ops-deploy's.
        std::fs::write(
            format!("{d}/nginx.conf"),
            format!(
                "worker_processes 1;\npid {d}/nginx.pid;\nevents {{ worker_connections 256; }}\nhttp {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  include {d}/upstream.conf;\n  server {{\n    listen 127.0.0.1:{port};\n    location / {{ proxy_pass http://{upstream}; }}\n  }}\n}}\n",
                port = nginx.port
            ),
        )
        .unwrap();
        // Until the first deploy writes it, the upstream points nowhere useful.
        std::fs::write(
            format!("{d}/upstream.conf"),
            format!("upstream {upstream} {{ server 127.0.0.1:9; }}\n"),
        )
        .unwrap();
        assert!(
            Command::new("nginx")
                .args(nginx.args())
                .status()
                .unwrap()
                .success()
        );
        nginx
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = Command::new("nginx")
            .args(self.args())
            .args(["-s", "stop"])
            .status();
    }
}

fn ops(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ops"))
        .args(args)
        .output()
        .unwrap()
}

fn replace_line(text: &str, prefix: &str, line: &str) -> String {
    let mut found = false;
    let out: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with(prefix) {
                found = true;
                line.to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect();
    assert!(
        found,
        "examples/ops-deploy.toml has no line starting {prefix:?}"
    );
    out.join("\n") + "\n"
}

#[test]
fn the_deploy_walkthrough_on_docker_behind_nginx() {
    let test = "the_deploy_walkthrough_on_docker_behind_nginx";
    if !tool(test, "a Docker engine", runs("docker", &["info"]))
        || !tool(test, "nginx", runs("nginx", &["-v"]))
    {
        return;
    }
    let service = format!("qswalk{}", std::process::id());
    let volume = format!("{service}-logs");

    // 1. Build the image from examples/docker/quickstart (static binary, FROM scratch), and a
    //    broken version whose /health fails.
    let context = tempfile::tempdir().unwrap();
    std::fs::copy(quickstart(), context.path().join("quickstart")).unwrap();
    std::fs::copy(
        root().join("examples/docker/quickstart/Dockerfile"),
        context.path().join("Dockerfile"),
    )
    .unwrap();
    std::fs::create_dir(context.path().join("logs")).unwrap();
    let v1 = format!("{service}:v1");
    let broken = format!("{service}:broken");
    docker(&["build", "-q", "-t", &v1, context.path().to_str().unwrap()]);
    let broken_dir = tempfile::tempdir().unwrap();
    std::fs::write(
        broken_dir.path().join("Dockerfile"),
        format!("FROM {v1}\nCMD [\"--fail-health\"]\n"),
    )
    .unwrap();
    docker(&[
        "build",
        "-q",
        "-t",
        &broken,
        broken_dir.path().to_str().unwrap(),
    ]);

    // 2. nginx in front, and the sample config pointed at this machine's ports and files.
    let nginx = Nginx::start(&service);
    let state = tempfile::tempdir().unwrap();
    let sample = std::fs::read_to_string(root().join("examples/ops-deploy.toml")).unwrap();
    let quote = |v: Vec<String>| {
        v.iter()
            .map(|a| format!("{a:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut test_cmd = vec!["nginx".to_owned(), "-t".to_owned(), "-q".to_owned()];
    test_cmd.extend(nginx.args());
    let mut reload_cmd = vec!["nginx".to_owned()];
    reload_cmd.extend(nginx.args());
    reload_cmd.extend(["-s".to_owned(), "reload".to_owned()]);
    let mut config = sample;
    for (prefix, line) in [
        ("service = ", format!("service = \"{service}\"")),
        (
            "state_dir = ",
            format!("state_dir = {:?}", state.path().display().to_string()),
        ),
        ("port = ", format!("port = {}", free_port())),
        ("alt_port = ", format!("alt_port = {}", free_port())),
        ("volumes = ", format!("volumes = [\"{volume}:/logs\"]")),
        (
            "upstream_file = ",
            format!(
                "upstream_file = \"{}/upstream.conf\"",
                nginx.dir.path().display()
            ),
        ),
        (
            "test_command = ",
            format!("test_command = [{}]", quote(test_cmd)),
        ),
        (
            "reload_command = ",
            format!("reload_command = [{}]", quote(reload_cmd)),
        ),
        (
            "public = ",
            format!("public = \"127.0.0.1:{}\"", nginx.port),
        ),
        (
            "pid_file = ",
            format!("pid_file = \"{}/nginx.pid\"", nginx.dir.path().display()),
        ),
    ] {
        config = replace_line(&config, prefix, &line);
    }
    let config_path = state.path().join("ops-deploy.toml");
    std::fs::write(&config_path, config).unwrap();
    let cfg = config_path.to_str().unwrap();
    let public = SocketAddr::from(([127, 0, 0, 1], nginx.port));
    let release = |n: u32| format!("{service}-{n}");

    // 3. The first deploy: healthy, and nginx serves it.
    let o = ops(&["deploy", "--config", cfg, "--image", &v1]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        format!("{} is running and healthy\n", release(1))
    );
    let version = |addr| {
        let (status, body) = http(addr, "GET", "/health", "").unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        (status, v["version"].as_str().unwrap_or("").to_owned())
    };
    assert_eq!(version(public), (200, release(1)));

    // Clients through nginx from here on: no request may fail.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let clients: Vec<_> = (0..2)
        .map(|_| {
            let (stop, ok, failed) = (Arc::clone(&stop), Arc::clone(&ok), Arc::clone(&failed));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match http(public, "GET", "/health", "") {
                        Some((200, _)) => ok.fetch_add(1, Ordering::Relaxed),
                        _ => failed.fetch_add(1, Ordering::Relaxed),
                    };
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        })
        .collect();

    // 4. A second healthy release, blue-green: the traffic moves without a failed request.
    let o = ops(&["deploy", "--config", cfg, "--image", &v1]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(version(public), (200, release(2)));

    // 5. The broken version: checked beside release 2, never given traffic, rolled back.
    let o = ops(&["deploy", "--config", cfg, "--image", &broken]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.starts_with(&format!("{} failed (", release(3)))
            && stdout.contains("HTTP 500")
            && stdout.ends_with(&format!("; {} is running and healthy\n", release(2))),
        "{stdout}"
    );
    let progress = String::from_utf8_lossy(&o.stderr);
    assert!(
        progress.contains(&format!("{}: checking -> rolling_back", release(3))),
        "{progress}"
    );
    assert_eq!(version(public), (200, release(2)));

    // 6. The history says what happened.
    let o = ops(&["history", "--config", cfg]);
    let table = String::from_utf8_lossy(&o.stdout);
    let rows: Vec<(String, String)> = table
        .lines()
        .skip(1)
        .map(|l| {
            let mut cols = l.split_whitespace();
            (
                cols.next().unwrap().to_owned(),
                cols.next().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (release(3), "failed".to_owned()),
            (release(2), "healthy".to_owned()),
            (release(1), "healthy".to_owned())
        ]
    );

    // 7. `ops rollback`: back to the newest healthy release that is not running.
    let o = ops(&["rollback", "--config", cfg]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(version(public), (200, release(1)));

    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    eprintln!("walk-through: {ok} requests through nginx answered 200, {failed} failed");
    assert_eq!(failed, 0);
    assert!(ok > 50, "{ok}");

    // 8. The logs are on the volume, written by the non-root service.
    let container = docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=ops-deploy.service={service}"),
    ]);
    let tar = Command::new("docker")
        .args(["cp", &format!("{container}:/logs/access.log"), "-"])
        .output()
        .unwrap();
    assert!(
        tar.status.success(),
        "{}",
        String::from_utf8_lossy(&tar.stderr)
    );
    assert!(
        String::from_utf8_lossy(&tar.stdout).contains("\"message\":\"HTTP Request\""),
        "access.log on the volume"
    );

    // Clean up: containers, tags and the volume this test made.
    for id in docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=ops-deploy.service={service}"),
    ])
    .lines()
    {
        docker(&["rm", "-f", id]);
    }
    let tags = docker(&["images", &service, "--format", "{{.Repository}}:{{.Tag}}"]);
    for tag in tags.lines() {
        let _ = Command::new("docker").args(["rmi", tag]).output();
    }
    docker(&["volume", "rm", &volume]);
}
