//! The shape of a line: flat, typed, no duplicate keys, redacted, one line whatever the value.

use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::json;
use tracing::dispatcher::with_default;

use super::util::{logger, read_lines};

#[test]
fn flat_typed_fields_spans_and_static_fields() {
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = logger(dir.path())
        .static_field("version", "1.2.3")
        .static_field("region", "eu")
        .build()
        .unwrap();
    with_default(&dispatch, || {
        let span = tracing::info_span!("request", request_id = "r-1", user_id = 7, method = "GET");
        let _e = span.enter();
        let inner = tracing::info_span!("db", table = "users", user_id = 8);
        let _i = inner.enter();
        tracing::info!(
            rows = 3u64,
            ratio = 0.5,
            ok = true,
            neg = -4i64,
            method = "POST",
            "query done"
        );
    });
    guard.flush().unwrap();
    let lines = read_lines(&dir.path().join("svc.log"));
    assert_eq!(lines.len(), 1);
    let l = &lines[0];
    l.assert_no_duplicates();
    assert_eq!(
        l.keys(),
        [
            "timestamp",
            "level",
            "message",
            "service",
            "version",
            "region",
            "rows",
            "ratio",
            "ok",
            "neg",
            "method",
            "table",
            "user_id",
            "request_id"
        ]
    );
    assert_eq!(l.get("level"), &json!("info"));
    assert_eq!(l.get("message"), &json!("query done"));
    assert_eq!(l.get("service"), &json!("svc"));
    assert_eq!(l.get("rows"), &json!(3));
    assert_eq!(l.get("ratio"), &json!(0.5));
    assert_eq!(l.get("ok"), &json!(true));
    assert_eq!(l.get("neg"), &json!(-4));
    assert_eq!(
        l.get("method"),
        &json!("POST"),
        "the event's field wins over the span's"
    );
    assert_eq!(l.get("user_id"), &json!(8), "the innermost span wins");
    let ts = l.get("timestamp").as_str().unwrap();
    assert_eq!(ts.len(), 27, "{ts}");
    assert!(ts.ends_with('Z') && ts.as_bytes()[10] == b'T');
}

#[test]
fn reserved_keys_are_renamed_not_duplicated() {
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = logger(dir.path())
        .static_field("env", "prod")
        .build()
        .unwrap();
    with_default(&dispatch, || {
        tracing::warn!(
            level = "custom",
            timestamp = 5,
            service = "other",
            env = "dev",
            "clash"
        );
    });
    guard.flush().unwrap();
    let l = &read_lines(&dir.path().join("svc.log"))[0];
    l.assert_no_duplicates();
    assert_eq!(l.get("level"), &json!("warn"));
    assert_eq!(l.get("fields.level"), &json!("custom"));
    assert_eq!(l.get("fields.timestamp"), &json!(5));
    assert_eq!(l.get("fields.service"), &json!("other"));
    assert_eq!(l.get("env"), &json!("prod"));
    assert_eq!(l.get("fields.env"), &json!("dev"));
}

#[test]
fn secrets_are_redacted_in_events_and_spans() {
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = logger(dir.path()).build().unwrap();
    with_default(&dispatch, || {
        let span = tracing::info_span!("login", session_id = "s-123", user = "bob");
        let _e = span.enter();
        tracing::info!(password = "hunter2", api_key = "k-1", Authorization = "Bearer x", db_password = %"p", "login");
        span.record("user", "alice");
    });
    guard.flush().unwrap();
    let text = std::fs::read_to_string(dir.path().join("svc.log")).unwrap();
    for secret in ["hunter2", "k-1", "Bearer", "s-123"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    let l = &read_lines(&dir.path().join("svc.log"))[0];
    for key in [
        "password",
        "api_key",
        "Authorization",
        "db_password",
        "session_id",
    ] {
        assert_eq!(l.get(key), &json!("[REDACTED]"), "{key}");
    }
    assert_eq!(l.get("user"), &json!("bob"));
}

#[test]
fn field_name_profiles() {
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = logger(dir.path())
        .field_names(ops_logging::FieldNames::Ecs)
        .build()
        .unwrap();
    with_default(&dispatch, || tracing::error!(code = 7, "ecs line"));
    guard.flush().unwrap();
    let l = &read_lines(&dir.path().join("svc.log"))[0];
    assert_eq!(
        l.keys(),
        [
            "@timestamp",
            "log.level",
            "message",
            "service.name",
            "ecs.version",
            "code"
        ]
    );
    assert_eq!(l.get("log.level"), &json!("error"));

    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = logger(dir.path())
        .field_names(ops_logging::FieldNames::OpenTelemetry)
        .build()
        .unwrap();
    with_default(&dispatch, || tracing::warn!("otel line"));
    guard.flush().unwrap();
    let l = &read_lines(&dir.path().join("svc.log"))[0];
    assert_eq!(
        l.keys(),
        [
            "timestamp",
            "severity_text",
            "severity_number",
            "body",
            "service.name"
        ]
    );
    assert_eq!(l.get("severity_text"), &json!("WARN"));
    assert_eq!(l.get("severity_number"), &json!(13));
}

#[derive(Debug)]
struct Outer(std::io::Error);

impl std::fmt::Display for Outer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("loading config failed")
    }
}

impl std::error::Error for Outer {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[test]
fn log_request_and_log_error_have_the_playbooks_fields() {
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = logger(dir.path()).build().unwrap();
    with_default(&dispatch, || {
        ops_logging::log_request("GET", "/api/users", 200, 12.5, Some("u-42"));
        ops_logging::log_request("POST", "/login", 401, 3.0, None);
        let err = Outer(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "config.toml missing",
        ));
        ops_logging::log_error(
            &err,
            &[
                ("path", &"/etc/app"),
                ("attempt", &3),
                ("token", &"t-secret"),
            ],
        );
    });
    guard.flush().unwrap();
    let access = read_lines(&dir.path().join("access.log"));
    assert_eq!(access.len(), 2);
    assert_eq!(
        access[0].keys(),
        [
            "timestamp",
            "level",
            "message",
            "service",
            "method",
            "path",
            "status_code",
            "response_time_ms",
            "user_id"
        ]
    );
    assert_eq!(access[0].get("message"), &json!("HTTP Request"));
    assert_eq!(access[0].get("status_code"), &json!(200));
    assert_eq!(access[0].get("response_time_ms"), &json!(12.5));
    assert_eq!(access[1].get("response_time_ms"), &json!(3.0));
    assert!(!access[1].keys().contains(&"user_id"));

    let errors = read_lines(&dir.path().join("error.log"));
    assert_eq!(errors.len(), 1);
    let e = &errors[0];
    assert_eq!(e.get("level"), &json!("error"));
    assert_eq!(e.get("message"), &json!("loading config failed"));
    assert!(e.get("error_type").as_str().unwrap().ends_with("Outer"));
    assert_eq!(e.get("error_chain"), &json!(["config.toml missing"]));
    assert_eq!(
        e.get("context"),
        &json!({"path": "/etc/app", "attempt": "3", "token": "[REDACTED]"})
    );
    assert_eq!(
        read_lines(&dir.path().join("svc.log")).len(),
        1,
        "errors are in the main log too"
    );
}

struct Shared {
    dispatch: tracing::Dispatch,
    guard: ops_logging::LogGuard,
    dir: tempfile::TempDir,
}

fn shared() -> &'static Shared {
    static S: OnceLock<Shared> = OnceLock::new();
    S.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let (dispatch, guard) = logger(dir.path())
            .max_bytes(0)
            .redact(Vec::<String>::new())
            .build()
            .unwrap();
        Shared {
            dispatch,
            guard,
            dir,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Any value (quotes, newlines, control characters, any Unicode) yields one valid JSON line
    /// that reads back to the same value.
    #[test]
    fn any_value_is_one_valid_line(value in "\\PC*|[\\x00-\\x1f\"\\\\\u{7f}\u{2028}é😀]{0,40}", message in ".*") {
        let s = shared();
        let marker = format!("{:?}", std::time::Instant::now());
        with_default(&s.dispatch, || tracing::info!(value = value.as_str(), debug = ?value, marker = marker.as_str(), "{}", message));
        s.guard.flush().unwrap();
        let text = std::fs::read_to_string(s.dir.path().join("svc.log")).unwrap();
        let line = text.lines().rev().find(|l| l.contains(&marker.replace('"', "\\\""))).unwrap();
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        prop_assert_eq!(v["value"].as_str().unwrap(), value.as_str());
        prop_assert_eq!(v["debug"].as_str().unwrap(), format!("{value:?}"));
        prop_assert_eq!(v["message"].as_str().unwrap(), message.as_str());
    }
}

/// Regression: a value starting with the raw-JSON marker character was written unquoted.
#[test]
fn user_text_cannot_inject_raw_json() {
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = logger(dir.path()).build().unwrap();
    let forged = "\u{1e}0000000000000000\u{1e}{\"admin\":true}";
    with_default(&dispatch, || {
        tracing::info!(a = "\u{1e}", b = forged, c = %forged, d = ?forged, "forgery");
    });
    guard.flush().unwrap();
    let l = &read_lines(&dir.path().join("svc.log"))[0];
    assert_eq!(l.get("a"), &json!("\u{1e}"));
    assert_eq!(l.get("b"), &json!(forged));
    assert_eq!(l.get("c"), &json!(forged));
    assert_eq!(l.get("d"), &json!(format!("{forged:?}")));
}
