//! Streams, rotation through the logger, permissions, write errors, shutdown.

use std::os::unix::fs::PermissionsExt as _;

use tracing::dispatcher::with_default;

use super::util::{log_padded, logger, one_file, read_lines};

#[test]
fn events_are_routed_to_their_streams() {
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = logger(dir.path()).build().unwrap();
    with_default(&dispatch, || {
        tracing::info!("plain info");
        tracing::warn!("a warning");
        tracing::error!("an error");
        tracing::info!(target: "audit", actor = "admin", action = "delete_user", "audit event");
        ops_logging::log_request("GET", "/", 200, 1.0, None);
        tracing::debug!("debug line");
    });
    guard.flush().unwrap();
    let messages = |file: &str| -> Vec<String> {
        read_lines(&dir.path().join(file))
            .iter()
            .map(|l| l.get("message").as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        messages("svc.log"),
        ["plain info", "a warning", "an error", "debug line"]
    );
    assert_eq!(messages("error.log"), ["a warning", "an error"]);
    assert_eq!(messages("audit.log"), ["audit event"]);
    assert_eq!(messages("access.log"), ["HTTP Request"]);
    let mode = |f: &str| {
        std::fs::metadata(dir.path().join(f))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("audit.log"), 0o600);
    assert_eq!(mode("svc.log"), 0o640);
    let stats = guard.stats();
    assert_eq!(stats.stream(ops_logging::Stream::Main).written, 4);
    assert_eq!(stats.total().written, 8);
}

#[test]
fn level_filter_applies() {
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = logger(dir.path())
        .level("warn,chatty=error")
        .build()
        .unwrap();
    with_default(&dispatch, || {
        tracing::info!("dropped by the filter");
        tracing::warn!("kept");
        tracing::warn!(target: "chatty", "filtered by target");
    });
    guard.flush().unwrap();
    assert_eq!(read_lines(&dir.path().join("svc.log")).len(), 1);
    let err = ops_logging::Logging::builder("x")
        .dir(dir.path())
        .ignore_env()
        .level("info,=[")
        .build()
        .unwrap_err();
    assert!(
        matches!(
            err,
            ops_logging::Error::Filter {
                origin: "builder",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn rotation_through_the_logger_keeps_whole_lines() {
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = one_file(dir.path(), 2_000, 3);
    log_padded(&dispatch, 100, &"x".repeat(48), "line");
    guard.flush().unwrap();
    let mut seen = Vec::new();
    for name in ["svc.log.3", "svc.log.2", "svc.log.1", "svc.log"] {
        let path = dir.path().join(name);
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(size < 2_000, "{name} is {size} bytes");
        assert!(size > 0, "{name} is empty");
        for l in read_lines(&path) {
            seen.push(l.get("i").as_u64().unwrap());
        }
    }
    assert!(!dir.path().join("svc.log.4").exists());
    // The newest lines survive, in order, with none missing in between.
    let first = seen[0];
    assert_eq!(seen, (first..100).collect::<Vec<_>>());
    assert!(guard.stats().total().rotations >= 3);
}

#[test]
fn write_errors_are_counted_reported_and_survived() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/dev/full", dir.path().join("svc.log")).unwrap();
    let (dispatch, guard) = logger(dir.path()).max_bytes(0).build().unwrap();
    with_default(&dispatch, || {
        for i in 0..10 {
            tracing::info!(i, "to a full disk");
        }
        tracing::warn!("this one also goes to error.log");
    });
    guard.flush().unwrap();
    let main = guard.stats().stream(ops_logging::Stream::Main);
    assert_eq!(main.accepted, 11);
    assert_eq!(main.written, 0);
    assert_eq!(main.lost, 11);
    assert!(main.write_errors >= 1);
    // Other streams are unaffected.
    assert_eq!(read_lines(&dir.path().join("error.log")).len(), 1);
}

#[test]
fn dropping_the_guard_writes_everything() {
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = logger(dir.path()).build().unwrap();
    with_default(&dispatch, || {
        for i in 0..20_000 {
            tracing::info!(i, "before shutdown");
        }
    });
    drop(guard);
    assert_eq!(read_lines(&dir.path().join("svc.log")).len(), 20_000);
}

#[test]
fn bad_settings_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = logger(dir.path()).queue_bytes(0).build().unwrap_err();
    assert!(matches!(
        err,
        ops_logging::Error::Config {
            field: "queue_bytes",
            ..
        }
    ));
    let file = dir.path().join("plain-file");
    std::fs::write(&file, "").unwrap();
    let err = logger(&file).build().unwrap_err();
    assert!(matches!(err, ops_logging::Error::CreateDir { .. }), "{err}");
}

/// Regression: `flush` and the guard's drop waited for lines logged after the call, so a thread
/// logging in a loop kept them waiting forever.
#[test]
fn flush_and_drop_return_while_another_thread_keeps_logging() {
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = logger(dir.path()).build().unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let logger_thread = {
        let (dispatch, stop) = (dispatch.clone(), std::sync::Arc::clone(&stop));
        std::thread::spawn(move || {
            with_default(&dispatch, || {
                let mut i = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    tracing::info!(i, "busy");
                    i += 1;
                }
            });
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(100));
    let started = std::time::Instant::now();
    for _ in 0..5 {
        guard.flush().unwrap();
    }
    drop(guard);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "flush/drop waited for later lines"
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    logger_thread.join().unwrap();
}

/// Regression: after the guard was dropped, lines were counted as accepted and callers
/// eventually blocked forever; now they are counted as lost at once.
#[test]
fn logging_after_the_guard_is_gone_never_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = logger(dir.path()).queue_bytes(1024).build().unwrap();
    let shared_stats = {
        with_default(&dispatch, || tracing::info!("before"));
        guard.flush().unwrap();
        guard.stats()
    };
    assert_eq!(shared_stats.stream(ops_logging::Stream::Main).written, 1);
    drop(guard);
    let started = std::time::Instant::now();
    with_default(&dispatch, || {
        for i in 0..10_000 {
            tracing::info!(i, "after the guard");
        }
    });
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(read_lines(&dir.path().join("svc.log")).len(), 1);
}

/// An event logged from inside another event's field formatting: `tracing` itself does not
/// dispatch re-entrant events (its dispatcher is busy), so only the outer line exists; the
/// outer event must still be written whole.
#[test]
fn an_event_logged_while_formatting_another_leaves_the_outer_line_whole() {
    struct Chatty;
    impl std::fmt::Display for Chatty {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            tracing::info!("from inside Display");
            f.write_str("chatty")
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = logger(dir.path()).build().unwrap();
    with_default(&dispatch, || tracing::info!(value = %Chatty, "outer"));
    guard.flush().unwrap();
    let lines = read_lines(&dir.path().join("svc.log"));
    let outer = lines.iter().find(|l| l.get("message") == "outer").unwrap();
    assert_eq!(outer.get("value"), "chatty");
}

#[test]
fn fsync_on_flush_syncs_even_when_the_batch_was_already_written() {
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = logger(dir.path()).fsync_on_flush(true).build().unwrap();
    with_default(&dispatch, || tracing::info!("durable"));
    std::thread::sleep(std::time::Duration::from_millis(50));
    guard.flush().unwrap();
    assert_eq!(read_lines(&dir.path().join("svc.log")).len(), 1);
}

/// A log file removed (or renamed away) under the logger is recreated at its path: no line
/// goes to an unlinked file.
#[test]
fn a_removed_log_file_is_recreated() {
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = logger(dir.path()).separate_streams(false).build().unwrap();
    with_default(&dispatch, || tracing::info!("first"));
    guard.flush().unwrap();
    std::fs::rename(dir.path().join("svc.log"), dir.path().join("moved.log")).unwrap();
    with_default(&dispatch, || tracing::info!("second"));
    guard.flush().unwrap();
    std::fs::remove_file(dir.path().join("svc.log")).unwrap();
    with_default(&dispatch, || tracing::info!("third"));
    guard.flush().unwrap();
    let message = |file: &str| -> Vec<String> {
        read_lines(&dir.path().join(file))
            .iter()
            .map(|l| l.get("message").as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(message("moved.log"), ["first"]);
    assert_eq!(message("svc.log"), ["third"]);
    let mode = std::fs::metadata(dir.path().join("svc.log"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o640);
}
