//! `ops deploy`, `ops rollback`, `ops history` and `ops lock` with local-process releases.

use ops_testkit::health_server::{self, Health};
use ops_testkit::{net, tools};

use std::process::Command;

use super::ops;

const SERVER_ENV: &str = "OPS_CLI_TEST_SERVER";

/// Not a test on its own: with the variable set, serves `/health` on `$PORT`.
#[test]
fn server_child() {
    health_server::run_child(SERVER_ENV);
}

fn command(mode: &str) -> String {
    let health = Health::from_name(mode).unwrap();
    health_server::child_command(SERVER_ENV, health, "it::deploy::server_child")
}

#[test]
fn deploy_rollback_history_and_lock() {
    let dir = tempfile::tempdir().unwrap();
    let port = net::free_port();
    let config = dir.path().join("deploy.toml");
    std::fs::write(
        &config,
        format!(
            "service = \"api\"\nstate_dir = \"{}\"\nport = {port}\nstop_grace = \"2s\"\n[health]\ninterval = \"100ms\"\ntimeout = \"500ms\"\nretries = 20\n",
            dir.path().join("state").display()
        ),
    )
    .unwrap();
    let cfg = config.to_str().unwrap();

    let plan = ops(&["deploy", "--config", cfg, "--command", "true", "--dry-run"]);
    assert_eq!(plan.status.code(), Some(0));
    let text = String::from_utf8_lossy(&plan.stdout);
    assert!(
        text.starts_with(
            "plan for api: release api-1 (true, stop-start strategy, runtime process)\n  1. take the deploy lock "
        ),
        "{text}"
    );
    let plan = ops(&[
        "deploy",
        "--config",
        cfg,
        "--command",
        "true",
        "--dry-run",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    assert_eq!(
        (v["release"].as_str(), v["port"].as_u64()),
        (Some("api-1"), Some(u64::from(port)))
    );
    // blue-green needs a second port and a proxy: a usage error naming the setting.
    let o = ops(&[
        "deploy",
        "--config",
        cfg,
        "--command",
        "true",
        "--strategy",
        "blue-green",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("alt_port"));
    let o = ops(&[
        "deploy",
        "--config",
        cfg,
        "--command",
        "true",
        "--strategy",
        "canary",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        !dir.path().join("state/history.json").exists(),
        "--dry-run touches nothing"
    );

    let o = ops(&[
        "deploy",
        "--config",
        cfg,
        "--command",
        &command("healthy"),
        "--json",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["outcome"].as_str(), v["release"].as_str()),
        (Some("healthy"), Some("api-1"))
    );
    let states: Vec<&str> = v["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["to"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["starting", "checking", "done"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).is_empty(),
        "--json prints no progress"
    );

    let o = ops(&[
        "deploy",
        "--config",
        cfg,
        "--command",
        &command("unhealthy"),
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.starts_with("api-2 failed (") && text.ends_with("; api-1 is running and healthy\n"),
        "{text}"
    );
    let progress = String::from_utf8_lossy(&o.stderr);
    for needle in [
        "api-2: locked -> starting",
        "api-2: health check 1 (1 of 20 failures allowed)",
        "api-2: checking -> rolling_back",
        "api-2: rolling_back -> rolled_back",
    ] {
        assert!(progress.contains(needle), "{needle:?} not in\n{progress}");
    }

    // A failing pre-deploy hook aborts: exit 1, api-1 still running.
    let hooked = dir.path().join("hooked.toml");
    std::fs::write(
        &hooked,
        format!(
            "{}\n[hooks]\npre_deploy = \"echo migration failed >&2; exit 7\"\n",
            std::fs::read_to_string(&config).unwrap()
        ),
    )
    .unwrap();
    let o = ops(&[
        "deploy",
        "--config",
        hooked.to_str().unwrap(),
        "--command",
        &command("healthy"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.starts_with("api-3 was not deployed (pre_deploy hook")
            && text.contains("migration failed")
            && text.ends_with("api-1 is still running\n"),
        "{text}"
    );

    let o = ops(&["deploy", "--config", cfg, "--command", &command("healthy")]);
    assert_eq!(o.status.code(), Some(0));
    let o = ops(&["rollback", "--config", cfg, "--json"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["release"], "api-1");

    let o = ops(&["history", "--config", cfg, "--json"]);
    let h: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let outcomes: Vec<&str> = h["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["healthy", "failed", "failed", "rolled_back"]);
    let table = String::from_utf8_lossy(&ops(&["history", "--config", cfg]).stdout).into_owned();
    assert!(
        table.starts_with("RELEASE") && table.contains("api-4") && table.contains("rolled_back"),
        "{table}"
    );
    let o = ops(&["prune", "--config", cfg, "--json"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "[]\n",
        "keep = 5: nothing to prune"
    );

    assert_eq!(
        String::from_utf8_lossy(&ops(&["lock", "status", "--config", cfg]).stdout),
        "unlocked\n"
    );
    let o = ops(&["lock", "release", "--config", cfg]);
    assert_eq!(o.status.code(), Some(2), "release needs --force");

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "service = \"api\"\n").unwrap();
    let o = ops(&[
        "deploy",
        "--config",
        bad.to_str().unwrap(),
        "--command",
        "true",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("bad.toml"));

    // Stop the release left running.
    let current: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("state/current.json")).unwrap(),
    )
    .unwrap();
    let pid: i32 = current["id"].as_str().unwrap().parse().unwrap();
    // SAFETY: signalling the release's process group, which this test started.
    unsafe { libc::kill(-pid, libc::SIGKILL) };
}

/// Two deploys at once: the second fails at once naming the holder (or waits with
/// --lock-wait); a deploy killed with SIGKILL mid-way leaves a history that parses and a lock
/// the next deploy can take.
#[test]
fn concurrent_and_killed_deploys() {
    let dir = tempfile::tempdir().unwrap();
    let port = net::free_port();
    let config = dir.path().join("deploy.toml");
    std::fs::write(
        &config,
        format!(
            "service = \"svc\"\nstate_dir = \"{}\"\nport = {port}\nstop_grace = \"1s\"\n[health]\ninterval = \"200ms\"\ntimeout = \"300ms\"\nretries = 200\n",
            dir.path().join("state").display()
        ),
    )
    .unwrap();
    let cfg = config.to_str().unwrap();
    // A deploy that never becomes healthy keeps the lock while it checks.
    let mut slow = Command::new(env!("CARGO_BIN_EXE_ops"))
        .args([
            "deploy",
            "--config",
            cfg,
            "--command",
            &command("unhealthy"),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let status =
            String::from_utf8_lossy(&ops(&["lock", "status", "--config", cfg]).stdout).into_owned();
        if status.starts_with("locked: pid ") {
            assert!(status.contains("ops deploy --command"), "{status}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the first deploy never took the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let o = ops(&["deploy", "--config", cfg, "--command", &command("healthy")]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("another deploy holds the lock") && err.contains("pid"),
        "{err}"
    );

    // Kill it mid-way (once its release is recorded): the kernel drops its lock; the history
    // still parses.
    let history = dir.path().join("state/history.json");
    while !std::fs::read_to_string(&history).is_ok_and(|h| h.contains("svc-1")) {
        assert!(
            std::time::Instant::now() < deadline,
            "the first deploy never recorded its release"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    slow.kill().unwrap();
    slow.wait().unwrap();
    let o = ops(&[
        "deploy",
        "--config",
        cfg,
        "--command",
        &command("healthy"),
        "--lock-wait",
        "5s",
    ]);
    if o.status.code() != Some(0) {
        let ps = Command::new("sh")
            .args([
                "-c",
                "ps -eo pid,pgid,ppid,stat,args | grep server_child | grep -v grep",
            ])
            .output()
            .unwrap();
        eprintln!("PS:\n{}", String::from_utf8_lossy(&ps.stdout));
        for entry in std::fs::read_dir(dir.path().join("state/logs")).unwrap() {
            let path = entry.unwrap().path();
            eprintln!("{}: {:?}", path.display(), std::fs::read_to_string(&path));
        }
        for f in [
            "state/history.json",
            "state/current.json",
            "state/logs/svc-1.log",
            "state/logs/svc-2.log",
        ] {
            eprintln!("{f}: {:?}", std::fs::read_to_string(dir.path().join(f)));
        }
    }
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let h: serde_json::Value =
        serde_json::from_slice(&ops(&["history", "--config", cfg, "--json"]).stdout).unwrap();
    let outcomes: Vec<&str> = h["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        ["failed", "healthy"],
        "the next deploy records the killed one as interrupted"
    );
    assert!(
        h["releases"][0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("interrupted"),
        "{h}"
    );

    // Stop what is left running (the killed deploy's release was replaced by the next one).
    let current: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("state/current.json")).unwrap(),
    )
    .unwrap();
    let pid: i32 = current["id"].as_str().unwrap().parse().unwrap();
    // SAFETY: signalling the release's process group, which this test started.
    unsafe { libc::kill(-pid, libc::SIGKILL) };
}

/// On a terminal the health-check wait is one line rewritten in place; elsewhere timestamped
/// lines on stderr. `script` (util-linux) gives the command a pseudo-terminal.
#[test]
fn progress_is_a_live_line_on_a_terminal() {
    let test = "progress_is_a_live_line_on_a_terminal";
    if !tools::available(
        test,
        "script (util-linux)",
        tools::runs("script", &["--version"]),
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = net::free_port();
    let config = dir.path().join("deploy.toml");
    std::fs::write(
        &config,
        format!(
            "service = \"tty\"\nstate_dir = \"{}\"\nport = {port}\nstop_grace = \"2s\"\n[health]\ninterval = \"100ms\"\ntimeout = \"500ms\"\nretries = 20\n",
            dir.path().join("state").display()
        ),
    )
    .unwrap();
    // The command line goes through a file: `script -c` takes one shell string.
    let run = dir.path().join("run.sh");
    std::fs::write(
        &run,
        format!(
            "exec '{}' deploy --config '{}' --command \"{}\"\n",
            env!("CARGO_BIN_EXE_ops"),
            config.display(),
            command("healthy")
        ),
    )
    .unwrap();
    let out = Command::new("script")
        .args(["-qec", &format!("sh '{}'", run.display()), "/dev/null"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("\r\x1b[2K  tty-1: health check 1 (")
            && text.contains("tty-1: locked -> starting"),
        "{text:?}"
    );
    assert!(text.contains("tty-1 is running and healthy"), "{text:?}");
    let current: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("state/current.json")).unwrap(),
    )
    .unwrap();
    let pid: i32 = current["id"].as_str().unwrap().parse().unwrap();
    // SAFETY: signalling the release's process group, which this test started.
    unsafe { libc::kill(-pid, libc::SIGKILL) };
}

/// `--json` keeps its shape: the outcome's keys (`outcome`, `release`, `reason`, `running`,
/// `failed`, `restored`) and transitions with `release`, `from`, `to`, `at`, `detail`; the exit
/// code is the outcome's.
#[test]
fn json_outcomes_keep_their_keys() {
    let dir = tempfile::tempdir().unwrap();
    let port = net::free_port();
    let config = dir.path().join("deploy.toml");
    let base = format!(
        "service = \"js\"\nstate_dir = \"{}\"\nport = {port}\nstop_grace = \"2s\"\n[health]\ninterval = \"100ms\"\ntimeout = \"500ms\"\nretries = 3\n",
        dir.path().join("state").display()
    );
    std::fs::write(
        &config,
        format!("{base}[hooks]\npre_deploy = \"echo no >&2; exit 5\"\n"),
    )
    .unwrap();
    let cfg = config.to_str().unwrap();
    let keys = |v: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let o = ops(&[
        "deploy",
        "--config",
        cfg,
        "--command",
        &command("healthy"),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(4), "aborted with nothing running");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        keys(&v),
        ["outcome", "reason", "release", "running", "transitions"]
    );
    assert_eq!(
        (&v["outcome"], &v["release"], &v["running"]),
        (
            &serde_json::json!("aborted"),
            &serde_json::json!("js-1"),
            &serde_json::Value::Null
        )
    );
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .starts_with("pre_deploy hook `echo no >&2; exit 5` failed: exit status: 5"),
        "{v}"
    );
    let t = &v["transitions"][0];
    assert_eq!(keys(t), ["at", "detail", "from", "release", "to"]);
    assert_eq!(
        (&t["from"], &t["to"], &t["release"]),
        (
            &serde_json::json!("locked"),
            &serde_json::json!("failed"),
            &serde_json::json!("js-1")
        )
    );

    std::fs::write(&config, &base).unwrap();
    let o = ops(&[
        "deploy",
        "--config",
        cfg,
        "--command",
        &command("unhealthy"),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(4));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(keys(&v), ["outcome", "reason", "transitions"]);
    assert_eq!(v["outcome"], "nothing_healthy");
    let reason = v["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("js-2: unhealthy after 3 attempts")
            && reason.ends_with("; no healthy release to roll back to"),
        "{reason}"
    );

    let o = ops(&[
        "deploy",
        "--config",
        cfg,
        "--command",
        &command("healthy"),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let o = ops(&[
        "deploy",
        "--config",
        cfg,
        "--command",
        &command("unhealthy"),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        keys(&v),
        ["failed", "outcome", "reason", "restored", "transitions"]
    );
    assert_eq!(
        (&v["outcome"], &v["failed"], &v["restored"]),
        (
            &serde_json::json!("rolled_back"),
            &serde_json::json!("js-4"),
            &serde_json::json!("js-3")
        )
    );

    let current: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("state/current.json")).unwrap(),
    )
    .unwrap();
    let pid: i32 = current["id"].as_str().unwrap().parse().unwrap();
    // SAFETY: signalling the release's process group, which this test started.
    unsafe { libc::kill(-pid, libc::SIGKILL) };
}
