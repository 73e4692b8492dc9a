//! Budgets that survive restarts: the state file across a clean restart, a `kill -9` of a
//! process writing it (this test binary re-executed), and a corrupt file (set aside and
//! reported, never read as zero).

use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Stdio};

use ops_core::exposition::Exposition as _;
use ops_slo::{Error, Slo, SloEngine, SloSet, StateFile, StateLoad};

use super::{at, http_page, orders};

fn set() -> SloSet {
    SloSet::new(vec![Slo::availability("shop"), orders()])
}

fn engine(path: &Path) -> SloEngine {
    SloEngine::builder(set()).state_file(path).build().unwrap()
}

/// An engine of `shop-orders` alone, keeping `path`.
fn orders_engine(path: impl AsRef<Path>) -> SloEngine {
    SloEngine::builder(SloSet::new(vec![orders()]))
        .state_file(path)
        .build()
        .unwrap()
}

/// The page at minute `m` of a process that has run since minute `since`.
fn page(m: u64, since: u64) -> String {
    let n = m - since;
    let mut p = http_page(100 * n, n / 10);
    let _ = write!(p, "orders_total {}\nfailed_total {}\n", 10 * n, n / 3);
    p
}

#[test]
fn budgets_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state").join("slo-state.json");
    let a = engine(&path);
    assert_eq!(a.state_load(), StateLoad::Missing);
    for m in 0..=180 {
        a.record(&page(m, 0), at(m));
    }
    a.stop();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(a.stats().state_writes >= 3, "{:?}", a.stats());
    // A restarted process: the same counts, the same points, the same buckets.
    let b = engine(&path);
    assert_eq!(
        b.state_load(),
        StateLoad::Loaded {
            slos: 2,
            dropped: Vec::new()
        }
    );
    assert_eq!(b.state().slos, a.state().slos);
    // Its counters start again from zero; the old process's went on. Same events, same figures.
    a.record(&page(181, 0), at(181));
    // The events of minute 181, counted by a process started at minute 180.
    let restarted = {
        let mut p = http_page(100, 181 / 10 - 180 / 10);
        let _ = write!(p, "orders_total 10\nfailed_total {}\n", 181 / 3 - 180 / 3);
        p
    };
    b.record(&restarted, at(181));
    assert_eq!(a.status(), b.status());
    assert_eq!(a.state().slos, b.state().slos);
    // An SLO no longer defined is left out, and said so.
    let fewer = SloEngine::builder(SloSet::new(vec![Slo::availability("shop")]))
        .state_file(&path)
        .build()
        .unwrap();
    assert_eq!(
        fewer.state_load(),
        StateLoad::Loaded {
            slos: 1,
            dropped: vec!["shop-orders: no longer defined".into()]
        }
    );
}

#[test]
fn a_corrupt_state_file_is_set_aside_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slo-state.json");
    std::fs::write(
        &path,
        "{\"format\":\"ops-slo-state\",\"version\":1,\"slos\":[",
    )
    .unwrap();
    let e = engine(&path);
    let StateLoad::SetAside { to, reason } = e.state_load() else {
        panic!("{:?}", e.state_load());
    };
    assert!(
        reason.starts_with("not JSON: EOF while parsing"),
        "{reason}"
    );
    assert!(!path.exists());
    let name = to.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("slo-state.json.corrupt-"), "{name}");
    assert_eq!(
        std::fs::read_to_string(&to).unwrap(),
        "{\"format\":\"ops-slo-state\",\"version\":1,\"slos\":["
    );
    assert!(
        e.to_prometheus()
            .contains("ops_slo_state_set_aside_total 1\n")
    );
    // The engine goes on and writes a good file.
    e.record(&page(0, 0), at(0));
    e.record(&page(1, 0), at(1));
    e.stop();
    assert!(StateFile::load(&path).unwrap().is_some());
    assert!(matches!(
        engine(&path).state_load(),
        StateLoad::Loaded { slos: 2, .. }
    ));

    // Figures no engine writes are corruption too, each named.
    let good = std::fs::read_to_string(&path).unwrap();
    for (from, to, what) in [
        (
            "\"version\":1",
            "\"version\":2",
            "version 2 (this ops-slo reads version 1)",
        ),
        (
            "\"objective\":0.995",
            "\"objective\":1.5",
            "objective 1.5 is not in (0, 1)",
        ),
        (
            "\"format\":\"ops-slo-state\"",
            "\"format\":\"other\"",
            "format \"other\"",
        ),
    ] {
        assert!(good.contains(from), "{from}");
        std::fs::write(&path, good.replacen(from, to, 1)).unwrap();
        let err = StateFile::load(&path).unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains(what), "{what}: {err}");
    }
    let mut doc: serde_json::Value = serde_json::from_str(&good).unwrap();
    doc["slos"][1]["cumulative"][0] = serde_json::json!(-1.0);
    std::fs::write(&path, doc.to_string()).unwrap();
    let err = StateFile::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("a cumulative count is negative or not finite"),
        "{err}"
    );
    let mut doc: serde_json::Value = serde_json::from_str(&good).unwrap();
    doc["slos"][0]["cumulative"][0] = serde_json::json!(50.0);
    std::fs::write(&path, doc.to_string()).unwrap();
    let err = StateFile::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("the cumulative counts are below the last minute point"),
        "{err}"
    );
    // An unreadable file (not corrupt) stops the engine from starting rather than being
    // set aside.
    std::fs::write(&path, &good).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&path).is_err() {
        let err = SloEngine::builder(set())
            .state_file(&path)
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
        assert!(path.exists());
    }
}

const CHILD: &str = "OPS_SLO_STATE_WRITER";

/// Not a test on its own: with `OPS_SLO_STATE_WRITER=<file>` it records a minute at a time
/// into an engine keeping that file (written every minute of its clock), printing each minute
/// recorded, until killed.
#[test]
fn state_writer_child() {
    let Ok(path) = std::env::var(CHILD) else {
        return;
    };
    let e = orders_engine(&path);
    for k in 1..=1_000_000u64 {
        e.record(
            &format!("orders_total {}\nfailed_total {k}\n", 10 * k),
            at(k),
        );
        println!("{k}");
    }
}

#[test]
fn kill_9_never_leaves_a_torn_state_file() {
    for after in [1u64, 7, 40, 150] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("slo-state.json");
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "it::state::state_writer_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut last = 0;
        while last < after {
            let line = lines
                .next()
                .expect("the writer prints each minute")
                .unwrap();
            if let Ok(k) = line.trim().parse::<u64>() {
                last = k;
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // The file parses and holds a whole minute: `k` failed of `10 k`, k at least the last
        // minute printed (the writer may have gone on before the kill).
        let state = StateFile::load(&path)
            .unwrap_or_else(|e| panic!("after {after}: {e}"))
            .expect("a state file");
        let c = &state.slos[0].cumulative;
        assert!(c[0] >= last as f64, "after {after}: {c:?}");
        assert_eq!(c[1], 10.0 * c[0], "after {after}: {c:?}");
        assert_eq!(state.slos[0].budget(at(c[0] as u64)).events, 10.0 * c[0]);
        // And an engine starts from it.
        let e = orders_engine(&path);
        assert_eq!(
            e.state_load(),
            StateLoad::Loaded {
                slos: 1,
                dropped: Vec::new()
            }
        );
    }
}
