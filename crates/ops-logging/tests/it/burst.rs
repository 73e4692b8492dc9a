//! Many threads at once: nothing lost, nothing split, nothing duplicated; drop mode counts
//! exactly what it dropped.

use tracing::dispatcher::with_default;

use super::util::logger;

/// Reads every file of a stream (the live one and its backups), checking each line is whole.
fn all_lines(dir: &std::path::Path, base: &str) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name == base || name.starts_with(&format!("{base}.")) {
            let text = std::fs::read_to_string(dir.join(&name)).unwrap();
            assert!(
                text.is_empty() || text.ends_with('\n'),
                "{name} ends mid-line"
            );
            out.extend(text.lines().map(str::to_owned));
        }
    }
    out
}

fn field(line: &str, key: &str) -> u64 {
    let start = line
        .find(&format!("\"{key}\":"))
        .unwrap_or_else(|| panic!("{key} missing: {line}"))
        + key.len()
        + 3;
    let end = line[start..].find([',', '}']).unwrap() + start;
    line[start..end]
        .parse()
        .unwrap_or_else(|_| panic!("bad {key} in {line}"))
}

#[test]
fn four_threads_a_million_lines_with_rotation_none_lost_or_split() {
    const THREADS: u64 = 4;
    const PER_THREAD: u64 = 250_000;
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = logger(dir.path())
        .max_bytes(8 * 1024 * 1024)
        .backups(100)
        .separate_streams(false)
        .build()
        .unwrap();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let dispatch = dispatch.clone();
            s.spawn(move || {
                with_default(&dispatch, || {
                    for seq in 0..PER_THREAD {
                        tracing::info!(thread = t, seq, method = "GET", status = 200u16, "burst");
                    }
                });
            });
        }
    });
    drop(guard);
    let lines = all_lines(dir.path(), "svc.log");
    assert_eq!(lines.len() as u64, THREADS * PER_THREAD);
    let mut seen = vec![vec![false; PER_THREAD as usize]; THREADS as usize];
    for (i, line) in lines.iter().enumerate() {
        assert!(
            line.starts_with("{\"timestamp\":") && line.ends_with('}'),
            "split line: {line}"
        );
        if i % 10_007 == 0 {
            serde_json::from_str::<serde_json::Value>(line).unwrap();
        }
        let (t, seq) = (field(line, "thread") as usize, field(line, "seq") as usize);
        assert!(!seen[t][seq], "duplicate line thread {t} seq {seq}");
        seen[t][seq] = true;
    }
    assert!(seen.iter().flatten().all(|&s| s), "a line is missing");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().count() > 2,
        "rotation happened"
    );
}

#[test]
fn drop_mode_counts_exactly_what_it_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = logger(dir.path())
        .overflow(ops_logging::Overflow::Drop)
        .queue_bytes(4 * 1024)
        .separate_streams(false)
        .max_bytes(0)
        .build()
        .unwrap();
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let dispatch = dispatch.clone();
            s.spawn(move || {
                with_default(&dispatch, || {
                    for seq in 0..50_000u64 {
                        tracing::info!(thread = t, seq, "maybe dropped");
                    }
                });
            });
        }
    });
    guard.flush().unwrap();
    let stats = guard.stats().stream(ops_logging::Stream::Main);
    drop(guard);
    let lines = all_lines(dir.path(), "svc.log");
    let notices: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("\"message\":\"dropped "))
        .collect();
    let regular = lines.len() - notices.len();
    let noted: u64 = notices.iter().map(|l| field(l, "dropped")).sum();
    assert!(
        stats.dropped > 0,
        "the tiny queue must have overflowed: {stats:?}"
    );
    assert_eq!(
        regular as u64 + stats.dropped,
        200_000,
        "every line is either written or counted as dropped"
    );
    assert_eq!(
        noted, stats.dropped,
        "the notices account for every dropped line"
    );
    assert_eq!(stats.written, lines.len() as u64);
}

#[test]
fn audit_never_drops() {
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = logger(dir.path())
        .overflow(ops_logging::Overflow::Drop)
        .queue_bytes(2 * 1024)
        .build()
        .unwrap();
    std::thread::scope(|s| {
        for _ in 0..2 {
            let dispatch = dispatch.clone();
            s.spawn(move || {
                with_default(&dispatch, || {
                    for seq in 0..20_000u64 {
                        tracing::info!(target: "audit", seq, "audited");
                    }
                });
            });
        }
    });
    drop(guard);
    assert_eq!(all_lines(dir.path(), "audit.log").len(), 40_000);
}
