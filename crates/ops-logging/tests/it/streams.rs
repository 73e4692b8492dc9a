//! Streams, rotation through the logger, permissions, write errors, shutdown.

use std::os::unix::fs::PermissionsExt as _;

use tracing::dispatcher::with_default;

use super::util::{logger, read_lines};

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
    let (dispatch, guard) = logger(dir.path())
        .max_bytes(2_000)
        .backups(3)
        .separate_streams(false)
        .build()
        .unwrap();
    with_default(&dispatch, || {
        for i in 0..100 {
            tracing::info!(
                i,
                pad = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                "line"
            );
        }
    });
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
