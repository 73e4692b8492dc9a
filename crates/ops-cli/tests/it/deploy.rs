//! `ops deploy`, `ops rollback`, `ops history` and `ops lock` with local-process releases.

use ops_testkit::health_server::Health::{Healthy, Unhealthy};
use ops_testkit::tools;
use serde_json::{Value, json};

use std::process::Command;

use super::service::{Service, checked, release};
use super::{assert_exit, each, json, ops, stderr, stdout};

#[test]
fn deploy_rollback_history_and_lock() {
    let svc = Service::new("api");
    svc.configure(&checked(20));
    let cfg = svc.config();

    let plan = svc.deploy("true", &["--dry-run"]);
    assert_eq!(plan.status.code(), Some(0));
    let text = stdout(&plan);
    assert!(
        text.starts_with(
            "plan for api: release api-1 (true, stop-start strategy, runtime process)\n  1. take the deploy lock "
        ),
        "{text}"
    );
    let v = json(&svc.deploy("true", &["--dry-run", "--json"]));
    assert_eq!(
        (v["release"].as_str(), v["port"].as_u64()),
        (Some("api-1"), Some(u64::from(svc.port())))
    );
    // blue-green needs a second port and a proxy: a usage error naming the setting.
    let o = svc.deploy("true", &["--strategy", "blue-green"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("alt_port"));
    let o = svc.deploy("true", &["--strategy", "canary"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        !svc.dir().join("state/history.json").exists(),
        "--dry-run touches nothing"
    );

    let o = svc.deploy(&release(Healthy), &["--json"]);
    assert_exit(&o, 0);
    let v = json(&o);
    assert_eq!(
        (v["outcome"].as_str(), v["release"].as_str()),
        (Some("healthy"), Some("api-1"))
    );
    assert_eq!(
        each(&v["transitions"], "to"),
        ["starting", "checking", "done"]
    );
    assert!(stderr(&o).is_empty(), "--json prints no progress");

    let o = svc.deploy(&release(Unhealthy), &[]);
    assert_exit(&o, 1);
    let text = stdout(&o);
    assert!(
        text.starts_with("api-2 failed (") && text.ends_with("; api-1 is running and healthy\n"),
        "{text}"
    );
    let progress = stderr(&o);
    for needle in [
        "api-2: locked -> starting",
        "api-2: health check 1 (1 of 20 failures allowed)",
        "api-2: checking -> rolling_back",
        "api-2: rolling_back -> rolled_back",
    ] {
        assert!(progress.contains(needle), "{needle:?} not in\n{progress}");
    }

    // A failing pre-deploy hook aborts: exit 1, api-1 still running.
    let hooked = svc.write_config(
        "hooked.toml",
        &format!(
            "{}[hooks]\npre_deploy = \"echo migration failed >&2; exit 7\"\n",
            checked(20)
        ),
    );
    let o = ops(&[
        "deploy",
        "--config",
        &hooked,
        "--command",
        &release(Healthy),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert!(
        text.starts_with("api-3 was not deployed (pre_deploy hook")
            && text.contains("migration failed")
            && text.ends_with("api-1 is still running\n"),
        "{text}"
    );

    let o = svc.deploy(&release(Healthy), &[]);
    assert_eq!(o.status.code(), Some(0));
    let o = ops(&["rollback", "--config", cfg, "--json"]);
    assert_exit(&o, 0);
    assert_eq!(json(&o)["release"], "api-1");

    let h = json(&ops(&["history", "--config", cfg, "--json"]));
    assert_eq!(
        each(&h["releases"], "outcome"),
        ["healthy", "failed", "failed", "rolled_back"]
    );
    let table = stdout(&ops(&["history", "--config", cfg]));
    assert!(
        table.starts_with("RELEASE") && table.contains("api-4") && table.contains("rolled_back"),
        "{table}"
    );
    let o = ops(&["prune", "--config", cfg, "--json"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stdout(&o), "[]\n", "keep = 5: nothing to prune");

    assert_eq!(
        stdout(&ops(&["lock", "status", "--config", cfg])),
        "unlocked\n"
    );
    let o = ops(&["lock", "release", "--config", cfg]);
    assert_eq!(o.status.code(), Some(2), "release needs --force");

    let bad = svc.dir().join("bad.toml");
    std::fs::write(&bad, "service = \"api\"\n").unwrap();
    let o = ops(&[
        "deploy",
        "--config",
        bad.to_str().unwrap(),
        "--command",
        "true",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bad.toml"));
}

/// Two deploys at once: the second fails at once naming the holder (or waits with
/// --lock-wait); a deploy killed with SIGKILL mid-way leaves a history that parses and a lock
/// the next deploy can take.
#[test]
fn concurrent_and_killed_deploys() {
    let svc = Service::new("svc");
    svc.configure(
        "stop_grace = \"1s\"\n[health]\ninterval = \"200ms\"\ntimeout = \"300ms\"\nretries = 200\n",
    );
    let cfg = svc.config();
    // A deploy that never becomes healthy keeps the lock while it checks.
    let mut slow = Command::new(env!("CARGO_BIN_EXE_ops"))
        .args(["deploy", "--config", cfg, "--command", &release(Unhealthy)])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let status = stdout(&ops(&["lock", "status", "--config", cfg]));
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
    let o = svc.deploy(&release(Healthy), &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("another deploy holds the lock") && err.contains("pid"),
        "{err}"
    );

    // Kill it mid-way (once its release is recorded): the kernel drops its lock; the history
    // still parses.
    let history = svc.dir().join("state/history.json");
    while !std::fs::read_to_string(&history).is_ok_and(|h| h.contains("svc-1")) {
        assert!(
            std::time::Instant::now() < deadline,
            "the first deploy never recorded its release"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    slow.kill().unwrap();
    slow.wait().unwrap();
    let o = svc.deploy(&release(Healthy), &["--lock-wait", "5s"]);
    if o.status.code() != Some(0) {
        let ps = Command::new("sh")
            .args([
                "-c",
                "ps -eo pid,pgid,ppid,stat,args | grep server_child | grep -v grep",
            ])
            .output()
            .unwrap();
        eprintln!("PS:\n{}", String::from_utf8_lossy(&ps.stdout));
        for entry in std::fs::read_dir(svc.dir().join("state/logs")).unwrap() {
            let path = entry.unwrap().path();
            eprintln!("{}: {:?}", path.display(), std::fs::read_to_string(&path));
        }
        for f in [
            "state/history.json",
            "state/current.json",
            "state/logs/svc-1.log",
            "state/logs/svc-2.log",
        ] {
            eprintln!("{f}: {:?}", std::fs::read_to_string(svc.dir().join(f)));
        }
    }
    assert_exit(&o, 0);
    let h = json(&ops(&["history", "--config", cfg, "--json"]));
    assert_eq!(
        each(&h["releases"], "outcome"),
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
    // What is left running (the killed deploy's release was replaced by the next one) stops
    // with `svc`.
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
    let svc = Service::new("tty");
    svc.configure(&checked(20));
    // The command line goes through a file: `script -c` takes one shell string.
    let run = svc.dir().join("run.sh");
    std::fs::write(
        &run,
        format!(
            "exec '{}' deploy --config '{}' --command \"{}\"\n",
            env!("CARGO_BIN_EXE_ops"),
            svc.config(),
            release(Healthy)
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
}

/// `--json` keeps its shape: the outcome's keys (`outcome`, `release`, `reason`, `running`,
/// `failed`, `restored`) and transitions with `release`, `from`, `to`, `at`, `detail`; the exit
/// code is the outcome's.
#[test]
fn json_outcomes_keep_their_keys() {
    let svc = Service::new("js");
    svc.configure(&format!(
        "{}[hooks]\npre_deploy = \"echo no >&2; exit 5\"\n",
        checked(3)
    ));
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let o = svc.deploy(&release(Healthy), &["--json"]);
    assert_eq!(o.status.code(), Some(4), "aborted with nothing running");
    let v = json(&o);
    assert_eq!(
        keys(&v),
        ["outcome", "reason", "release", "running", "transitions"]
    );
    assert_eq!(
        (&v["outcome"], &v["release"], &v["running"]),
        (&json!("aborted"), &json!("js-1"), &Value::Null)
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
        (&json!("locked"), &json!("failed"), &json!("js-1"))
    );

    svc.configure(&checked(3));
    let o = svc.deploy(&release(Unhealthy), &["--json"]);
    assert_eq!(o.status.code(), Some(4));
    let v = json(&o);
    assert_eq!(keys(&v), ["outcome", "reason", "transitions"]);
    assert_eq!(v["outcome"], "nothing_healthy");
    let reason = v["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("js-2: unhealthy after 3 attempts")
            && reason.ends_with("; no healthy release to roll back to"),
        "{reason}"
    );

    let o = svc.deploy(&release(Healthy), &["--json"]);
    assert_eq!(o.status.code(), Some(0));
    let o = svc.deploy(&release(Unhealthy), &["--json"]);
    assert_eq!(o.status.code(), Some(1));
    let v = json(&o);
    assert_eq!(
        keys(&v),
        ["failed", "outcome", "reason", "restored", "transitions"]
    );
    assert_eq!(
        (&v["outcome"], &v["failed"], &v["restored"]),
        (&json!("rolled_back"), &json!("js-4"), &json!("js-3"))
    );
}
