//! Bad input and hostile conditions, tried as a user (or an attacker) would: plugin usage
//! errors, endless and invalid replay lines, a replay blocked on a FIFO, absurd durations, large
//! and deeply nested rule files, template typos, annotations with newlines, bad webhook URLs,
//! clients that trickle their requests.

use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use ops_metrics::SystemMetrics;
use ops_testkit::net;

use super::{ops, spawn_monitor, stderr, stdout};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn sample_line(cpu: f64, at: SystemTime) -> String {
    let mut m = SystemMetrics::empty(at);
    m.cpu_percent = Some(cpu);
    serde_json::to_string(&m).unwrap()
}

/// `ops check --rules rules --sample sample`.
fn check_rules(rules: &Path, sample: &Path) -> std::process::Output {
    ops(&[
        "check",
        "--rules",
        rules.to_str().unwrap(),
        "--sample",
        sample.to_str().unwrap(),
    ])
}

/// A saved sample for `ops check --sample`, so the checks do not depend on this machine.
fn saved_sample(dir: &Path, cpu: f64) -> PathBuf {
    write(dir, "sample.json", &sample_line(cpu, SystemTime::now()))
}

#[test]
fn plugin_usage_errors_are_unknown_with_a_status_line() {
    let dir = tempfile::tempdir().unwrap();
    let sample = saved_sample(dir.path(), 42.0);
    let sample = sample.to_str().unwrap();
    // A warning range alone is a valid check (Monitoring::Plugin accepts it).
    let o = ops(&["check", "--metric", "cpu", "-w", "80", "--sample", sample]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "OPS OK: cpu 42.0% | cpu=42%;80;;0;100\n");
    let o = ops(&["check", "--metric", "cpu", "-c", "40", "--sample", sample]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stdout(&o), "OPS CRITICAL: cpu 42.0% | cpu=42%;;40;0;100\n");
    // No threshold at all: nothing was checked, which is UNKNOWN.
    let o = ops(&["check", "--metric", "cpu", "--sample", sample]);
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(
        stdout(&o),
        "OPS UNKNOWN: no threshold given: set a warning range (-w), a critical range (-c) or both\n"
    );
    // Usage errors exit 3 (UNKNOWN) with one status line, never 2 (CRITICAL for Nagios).
    for args in [
        &["check", "--bogus"][..],
        &["check", "-w", "80"][..],
        &["check", "--rules", "r.toml", "-w", "80", "--metric", "cpu"][..],
        &["check", "--cpu-window", "0s"][..],
    ] {
        let o = ops(args);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {}", stdout(&o));
        let out = stdout(&o);
        assert!(out.starts_with("OPS UNKNOWN: usage: "), "{args:?}: {out}");
        assert_eq!(out.lines().count(), 1, "{out}");
    }
    // --help is not an error.
    assert_eq!(ops(&["check", "--help"]).status.code(), Some(0));
    // A missing rule file names the OS reason.
    let o = ops(&[
        "check",
        "--rules",
        "/nonexistent/rules.toml",
        "--sample",
        sample,
    ]);
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(
        stdout(&o),
        "OPS UNKNOWN: cannot read rule file /nonexistent/rules.toml: No such file or directory (os error 2)\n"
    );
    // --mount only goes with --metric disk.
    let o = ops(&[
        "check", "--metric", "cpu", "--mount", "/", "-w", "1", "--sample", sample,
    ]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stdout(&o).contains("--mount selects a mount of --metric disk only"));
}

#[test]
fn rule_files_are_checked_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let sample = saved_sample(dir.path(), 42.0);
    let check = |text: &str| check_rules(&write(dir.path(), "rules.toml", text), &sample);
    let cases = [
        (
            "interval = \"1ns\"\n",
            "rules.toml:1: field `interval`: must be at least 10ms (got 1ns)",
        ),
        (
            "interval = \"0s\"\n",
            "rules.toml:1: field `interval`: must be greater than zero (got 0s)",
        ),
        (
            "interval = \"500000000000years\"\n",
            "rules.toml:1: field `interval`: must be at most 1year 18h",
        ),
        (
            "[[rules]]\nname = \"Cpu\"\nmetric = \"cpu\"\nthreshold = 80\nannotations = { summary = \"CPU {{ valu }}\" }\n",
            "rules.toml:2: rule \"Cpu\": field `annotations`: unknown placeholder `{{ valu }}`",
        ),
        (
            "[[rules]]\nname = \"Cpu\"\nmetric = \"cpu\"\nthreshold = 80\nannotations = { summary = \"on {{ labels.instance }}\" }\n",
            "the alert has no label `instance` (it has alertname, severity)",
        ),
        (
            "[[rules]]\nname = \"Cpu\"\nmetric = \"cpu\"\nthreshold = 80\nseverity = \"loud\"\n",
            "field `severity`: unknown severity \"loud\"",
        ),
    ];
    for (text, expected) in cases {
        let o = check(text);
        assert_eq!(o.status.code(), Some(3), "{text}");
        assert!(stdout(&o).contains(expected), "{text}: {}", stdout(&o));
    }
}

#[test]
fn large_and_nested_rule_files_load_in_linear_time_or_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sample = saved_sample(dir.path(), 99.0);
    // 8,000 rules, every one breached: one line, every message, exit 1.
    let mut text = String::new();
    for i in 0..8_000 {
        let _ = write!(
            text,
            "[[rules]]\nname = \"Cpu{i}\"\nmetric = \"cpu\"\nthreshold = {}\n",
            i % 50
        );
    }
    let o = check_rules(&write(dir.path(), "many.toml", &text), &sample);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 1);
    assert_eq!(out.matches("Cpu7999: cpu 99.0 > 49.0").count(), 1);
    assert_eq!(out.matches("; ").count(), 7_999);
    // 200 KB of nesting is refused before the parser sees it.
    let nested = format!("rules: {}1{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let rules = write(dir.path(), "nested.yaml", &nested);
    let o = check_rules(&rules, &sample);
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(
        stdout(&o),
        format!(
            "OPS UNKNOWN: {}:1: nested more than 64 levels deep\n",
            rules.display()
        )
    );
}

/// Runs a command to its end: exit code, stdout, stderr and peak resident memory in KiB
/// (`wait4`'s `ru_maxrss`; the child is reaped by `wait4`, not `Child::wait`).
#[allow(clippy::zombie_processes)]
fn run_measured(mut command: Command) -> (i32, String, String, i64) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = String::new();
    let mut err = String::new();
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut e = String::new();
        se.read_to_string(&mut e).unwrap();
        e
    });
    so.read_to_string(&mut out).unwrap();
    err.push_str(&reader.join().unwrap());
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: waiting for our own child, with valid out-pointers.
    let rc = unsafe { libc::wait4(pid, &raw mut status, 0, &raw mut usage) };
    assert_eq!(rc, pid);
    (libc::WEXITSTATUS(status), out, err, usage.ru_maxrss)
}

#[test]
fn replay_skips_endless_and_invalid_lines_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("incident.jsonl");
    let t0 = SystemTime::now() - Duration::from_mins(5);
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(f, "{}", sample_line(95.0, t0)).unwrap();
    // A 64 MiB line with no newline before the next sample.
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..64 {
        f.write_all(&chunk).unwrap();
    }
    f.write_all(b"\n\xff\xfe not UTF-8\n").unwrap();
    writeln!(f, "{}", sample_line(20.0, t0 + Duration::from_secs(1))).unwrap();
    drop(f);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ops"));
    cmd.args(["monitor", "--replay", path.to_str().unwrap()]);
    let (code, out, err, max_rss_kib) = run_measured(cmd);
    assert_eq!(code, 0, "{err}");
    // Both samples were evaluated: the alert fired and resolved across the bad lines.
    assert_eq!(
        out,
        "🚨 ALERT: High CPU usage: 95.0%\n✅ RESOLVED: High CPU usage: 95.0%\n"
    );
    assert!(err.contains("replay: 2 of 4 lines skipped"), "{err}");
    assert!(
        err.contains("too_long=1") && err.contains("not_utf8=1"),
        "{err}"
    );
    // The 64 MiB line was never held: far less than it in memory.
    assert!(max_rss_kib < 48 * 1024, "peak RSS {max_rss_kib} KiB");
}

#[test]
#[allow(clippy::zombie_processes)] // reaped by `waitpid`, polled without blocking
fn replay_from_a_blocked_fifo_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("samples.fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid path string; mode 0600.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let child = Command::new(env!("CARGO_BIN_EXE_ops"))
        .args(["monitor", "--replay", fifo.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A writer that sends one sample and then keeps the FIFO open without writing: the
    // replay blocks in read(2). (Opened non-blocking, so a monitor that never opens the FIFO
    // fails the test instead of hanging it.)
    let mut writer = net::wait_until(
        Duration::from_secs(20),
        "ops monitor to open the FIFO",
        || {
            use std::os::unix::fs::OpenOptionsExt as _;
            std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&fifo)
                .ok()
        },
    );
    writeln!(writer, "{}", sample_line(10.0, SystemTime::now())).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: signalling the child this test started.
    unsafe { libc::kill(i32::try_from(child.id()).unwrap(), libc::SIGTERM) };
    let out = net::wait_until(Duration::from_secs(30), "ops monitor to stop", || {
        let mut status = 0;
        // SAFETY: waiting without blocking for our own child.
        let rc = unsafe {
            libc::waitpid(
                i32::try_from(child.id()).unwrap(),
                &raw mut status,
                libc::WNOHANG,
            )
        };
        (rc > 0).then_some(status)
    });
    assert!(
        libc::WIFEXITED(out) && libc::WEXITSTATUS(out) == 0,
        "status {out}"
    );
    drop(writer);
}

#[test]
fn monitor_refuses_webhooks_it_can_never_reach_and_keeps_annotations_on_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let hooks = write(dir.path(), "hooks", "ftp://hooks.example/T1/SECRET\n");
    let o = ops(&[
        "monitor",
        "--webhook-file",
        hooks.to_str().unwrap(),
        "--duration",
        "1s",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("alert sink webhook: webhook: scheme \"ftp\" is not supported"),
        "{err}"
    );
    assert!(!err.contains("SECRET"), "{err}");
    // An annotation with a line break cannot split the stdout sink's line.
    let rules = write(
        dir.path(),
        "rules.yaml",
        "rules:\n  - name: Cpu\n    metric: cpu\n    threshold: 80\n    annotations:\n      summary: \"CPU {{ value }}\\nFAKE: second line\"\n",
    );
    let rec = write(
        dir.path(),
        "rec.jsonl",
        &format!("{}\n", sample_line(90.0, SystemTime::now())),
    );
    let o = ops(&[
        "monitor",
        "--rules",
        rules.to_str().unwrap(),
        "--replay",
        rec.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "🚨 ALERT: CPU 90.0 FAKE: second line\n");
}

#[test]
fn trickling_clients_do_not_starve_the_metrics_page() {
    let addr = net::local(net::free_port());
    let mut child = spawn_monitor(addr, &[], Stdio::null());
    net::wait_for_port(addr, Duration::from_secs(20));
    // 32 clients sending a byte every 200 ms, while /metrics is scraped.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tricklers: Vec<_> = (0..32)
        .map(|_| {
            let stop = std::sync::Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                for b in b"GET /metrics HTTP/1.1\r\n" {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    if s.write_all(&[*b]).is_err() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    for _ in 0..5 {
        let (status, page) = net::http(addr, "GET", "/metrics", "").unwrap();
        assert_eq!(status, 200);
        assert!(page.contains("# TYPE ops_monitor_samples_total counter"));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tricklers {
        t.join().unwrap();
    }
    // SAFETY: signalling the child this test started.
    unsafe { libc::kill(i32::try_from(child.id()).unwrap(), libc::SIGTERM) };
    assert!(child.wait().unwrap().success());
}
