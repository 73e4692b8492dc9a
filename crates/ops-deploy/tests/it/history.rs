//! The history survives `kill -9` at any moment: it always parses and never loses a release
//! whose write was reported complete.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use ops_deploy::{History, Outcome, ReleaseRecord};

const CHILD_ENV: &str = "OPS_DEPLOY_TEST_HISTORY_WRITER";

/// Not a test on its own: when the variable is set, this process keeps recording releases and
/// prints `committed N` after each completed save, until it is killed.
#[test]
fn history_writer_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let path = std::path::PathBuf::from(path);
    let mut history = History::load(&path, "web").unwrap();
    let mut n = history.releases.len();
    loop {
        n += 1;
        let mut r = ReleaseRecord::new(format!("web-{n}"), format!("web:{n}"), "stop-start");
        r.outcome = if n.is_multiple_of(3) {
            Outcome::Failed
        } else {
            Outcome::Healthy
        };
        history.upsert(r);
        history.save(&path).unwrap();
        println!("committed {n}");
    }
}

#[test]
fn kill_9_at_any_moment_never_corrupts_or_loses_a_release() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.json");
    let mut committed = 0usize;
    for round in 0..25u64 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "it::history::history_writer_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Let it commit a few releases, then kill it at a moment that moves every round.
        let target = 2 + (round % 4) as usize;
        let mut seen = 0;
        for line in lines.by_ref() {
            let line = line.unwrap();
            // libtest prints "test NAME ... " without a newline before the child's first line.
            if let Some(n) = line.rsplit_once("committed ").map(|(_, n)| n) {
                committed = committed.max(n.parse().unwrap());
                seen += 1;
                if seen >= target {
                    break;
                }
            }
        }
        std::thread::sleep(Duration::from_micros(round * 137 % 900));
        child.kill().unwrap();
        let _ = child.wait();
        let history = History::load(&path, "web").unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert!(
            history.releases.len() >= committed,
            "round {round}: lost releases"
        );
        for (i, r) in history.releases.iter().enumerate() {
            assert_eq!(
                r.id,
                format!("web-{}", i + 1),
                "round {round}: releases out of order"
            );
        }
        let stray: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n != "history.json" && !n.starts_with(".history.json.tmp."))
            .collect();
        assert!(stray.is_empty(), "{stray:?}");
    }
    assert!(committed >= 50, "the writer made progress ({committed})");
}

#[test]
fn rollback_target_is_the_newest_healthy_release() {
    let mut h = History::new("web");
    for (id, outcome) in [
        ("v1", Outcome::Healthy),
        ("v2", Outcome::Healthy),
        ("v3", Outcome::Failed),
        ("v4", Outcome::Failed),
        ("v5", Outcome::InProgress),
    ] {
        let mut r = ReleaseRecord::new(id, format!("web:{id}"), "stop-start");
        r.outcome = outcome;
        h.upsert(r);
    }
    assert_eq!(h.last_healthy().unwrap().id, "v2");
    let mut v2 = h.get("v2").unwrap().clone();
    v2.outcome = Outcome::RolledBack;
    h.upsert(v2);
    assert_eq!(h.last_healthy().unwrap().id, "v1");
    assert_eq!(h.releases.len(), 5, "upsert replaces by id");
}

#[test]
fn a_foreign_or_future_file_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.json");
    std::fs::write(&path, r#"{"version": 9, "service": "web", "releases": []}"#).unwrap();
    let err = History::load(&path, "web").unwrap_err().to_string();
    assert!(err.contains("version 9"), "{err}");
    std::fs::write(&path, "not json").unwrap();
    assert!(History::load(&path, "web").is_err());
    assert!(
        History::load(&dir.path().join("none.json"), "web")
            .unwrap()
            .releases
            .is_empty()
    );
}
