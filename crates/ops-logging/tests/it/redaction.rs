//! Secrets in values: messages, request paths, string, `Display` and `Debug` fields, span
//! fields, `RawJson` members, `log_error` context; and a property that no generated secret
//! reaches any written byte.

use proptest::prelude::*;
use serde_json::json;
use tracing::dispatcher::with_default;

use super::util::{logger, read_lines};

#[derive(Debug)]
#[allow(dead_code)] // read through Debug
struct Config {
    user: &'static str,
    password: String,
}

#[derive(Debug)]
struct Failure(String);

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failure {}

/// Every byte of every file in `dir`.
fn all_bytes(dir: &std::path::Path) -> String {
    let mut out = String::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        out.push_str(&String::from_utf8_lossy(
            &std::fs::read(entry.unwrap().path()).unwrap(),
        ));
    }
    out
}

#[test]
fn secret_values_are_redacted_wherever_they_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = logger(dir.path()).build().unwrap();
    let nested = ops_logging::RawJson::new(
        r#"{"outer":{"jwt":"J-SECRET","list":[{"access_key":"AK-SECRET"}],"note":"Bearer BT-SECRET","n":1}}"#,
    )
    .unwrap();
    with_default(&dispatch, || {
        tracing::info!("calling upstream with Authorization: Bearer M1-SECRET now");
        tracing::info!("login password=M2-SECRET user=bob");
        tracing::info!(
            url = "postgres://app:F1-SECRET@db:5432/orders",
            header = %"X-Api-Key: F2-SECRET",
            config = ?Config { user: "bob", password: "F3-SECRET".into() },
            pwd = "K1-SECRET",
            pass = "K2-SECRET",
            auth = "K3-SECRET",
            jwt = "K4-SECRET",
            access_key = "K5-SECRET",
            data = %nested,
            "fields"
        );
        let span = tracing::info_span!("db", dsn = "mysql://root:S1-SECRET@h/db");
        let _entered = span.enter();
        tracing::info!("inside the span");
        ops_logging::log_request(
            "GET",
            "https://u:P1-SECRET@api.example/cb?code=ok&token=P2-SECRET&page=2",
            200,
            1.0,
            None,
        );
        ops_logging::log_error(
            &Failure("connect redis://:E1-SECRET@cache:6379 failed".into()),
            &[
                ("api_key", &"E2-SECRET"),
                ("detail", &"refresh_token=E3-SECRET"),
            ],
        );
    });
    guard.flush().unwrap();
    let text = all_bytes(dir.path());
    let leaked: Vec<&str> = text
        .match_indices("-SECRET")
        .map(|(i, _)| &text[i.saturating_sub(12)..i + 7])
        .collect();
    assert!(leaked.is_empty(), "leaked: {leaked:?}");

    let main = read_lines(&dir.path().join("svc.log"));
    let message = |i: usize| main[i].get("message").as_str().unwrap().to_owned();
    assert_eq!(
        message(0),
        "calling upstream with Authorization: Bearer [REDACTED] now"
    );
    assert_eq!(message(1), "login password=[REDACTED] user=bob");
    let f = &main[2];
    assert_eq!(f.get("url"), "postgres://app:[REDACTED]@db:5432/orders");
    assert_eq!(f.get("header"), "X-Api-Key: [REDACTED]");
    assert_eq!(
        f.get("config"),
        "Config { user: \"bob\", password: \"[REDACTED]\" }"
    );
    for key in ["pwd", "pass", "auth", "jwt", "access_key"] {
        assert_eq!(f.get(key), "[REDACTED]", "{key}");
    }
    assert_eq!(
        f.get("data"),
        &json!({"outer":{"jwt":"[REDACTED]","list":[{"access_key":"[REDACTED]"}],"note":"Bearer [REDACTED]","n":1}})
    );
    assert_eq!(main[3].get("dsn"), "mysql://root:[REDACTED]@h/db");
    let access = read_lines(&dir.path().join("access.log"));
    assert_eq!(
        access[0].get("path"),
        "https://u:[REDACTED]@api.example/cb?code=ok&token=[REDACTED]&page=2"
    );
    let error = &read_lines(&dir.path().join("error.log"))[0];
    assert_eq!(
        error.get("message"),
        "connect redis://:[REDACTED]@cache:6379 failed"
    );
    assert_eq!(
        error.get("context"),
        &json!({"api_key": "[REDACTED]", "detail": "refresh_token=[REDACTED]"})
    );
}

#[test]
fn value_redaction_can_be_turned_off_and_the_list_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = logger(dir.path()).redact_values(false).build().unwrap();
    with_default(&dispatch, || {
        tracing::info!(
            password = "hidden",
            note = "password=shown",
            "Bearer shown-too"
        );
    });
    guard.flush().unwrap();
    let l = &read_lines(&dir.path().join("svc.log"))[0];
    assert_eq!(l.get("password"), "[REDACTED]", "names are still matched");
    assert_eq!(l.get("note"), "password=shown");
    assert_eq!(l.get("message"), "Bearer shown-too");

    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = logger(dir.path()).redact(["otp"]).build().unwrap();
    with_default(&dispatch, || {
        tracing::info!(
            otp = 123_456,
            password = "listed-no-more",
            "sent otp=654321 and Bearer t0k"
        );
    });
    guard.flush().unwrap();
    let l = &read_lines(&dir.path().join("svc.log"))[0];
    assert_eq!(l.get("otp"), "[REDACTED]");
    assert_eq!(l.get("password"), "listed-no-more");
    assert_eq!(
        l.get("message"),
        "sent otp=[REDACTED] and Bearer [REDACTED]"
    );
}

#[test]
fn raw_json_must_be_one_value_on_one_line() {
    let forged = ops_logging::RawJson::new("{\"a\":1}\n{\"forged\":true}").unwrap_err();
    assert_eq!(
        forged.to_string(),
        "invalid raw JSON at byte 7: raw newline (JSON lines are one line each: use compact JSON)"
    );
    for (text, offset, reason) in [
        ("{\"a\":1} {\"b\":2}", 8, "text after the value"),
        ("{\"a\":1,}", 7, "expected a member name"),
        ("", 0, "expected a value, found the end"),
        ("\"unterminated", 13, "unterminated string"),
    ] {
        match ops_logging::RawJson::new(text) {
            Err(ops_logging::Error::InvalidJson {
                offset: o,
                reason: r,
            }) => {
                assert_eq!((o, r), (offset, reason), "{text:?}");
            }
            other => panic!("{text:?}: {other:?}"),
        }
    }
    let ok = ops_logging::RawJson::new(" { \"a\" : [ 1 , 2 ] } ").unwrap();
    assert_eq!(ok.as_str(), "{\"a\":[1,2]}");
    assert_eq!(ops_logging::RawJson::new("42").unwrap().as_str(), "42");
}

/// Key names a secret hides behind, as they appear in text and JSON.
const KEYS: &[&str] = &[
    "password",
    "pwd",
    "pass",
    "passwd",
    "auth",
    "Authorization",
    "jwt",
    "access_key",
    "api_key",
    "apiKey",
    "X-Api-Key",
    "token",
    "refresh_token",
    "client_secret",
    "db.password",
    "session_id",
    "cookie",
    "private_key",
    "credentials",
    "AWS_SECRET_ACCESS_KEY",
    "x-amz-signature",
];

/// Writes `secret` through one of the carriers, with `key` where a carrier has a key.
fn emit(carrier: usize, key: &str, secret: &str) {
    // URL user information is percent-encoded: `/` cannot appear raw in it.
    let in_url = secret.replace('/', "%2F");
    match carrier {
        0 => tracing::info!("retrying with {key}={secret} after 3 tries"),
        1 => tracing::info!("{key}: {secret}"),
        2 => tracing::info!("sent Authorization: Bearer {secret}, got 401"),
        3 => tracing::info!("got bearer {secret}"),
        4 => ops_logging::log_request("GET", &format!("/p?x=1&{key}={secret}&y=2"), 200, 1.0, None),
        5 => tracing::info!(
            url = format!("https://user:{in_url}@host/p").as_str(),
            "url"
        ),
        6 => match secret.len() % 5 {
            0 => tracing::info!(password = secret, "by name"),
            1 => tracing::info!(pwd = secret, "by name"),
            2 => tracing::info!(access_key = secret, "by name"),
            3 => tracing::info!(jwt = %secret, "by name"),
            _ => tracing::info!(auth = ?secret, "by name"),
        },
        7 => {
            let map = std::collections::BTreeMap::from([(key, secret), ("user", "bob")]);
            tracing::info!(headers = ?map, "debug map");
        }
        8 => {
            let raw = ops_logging::RawJson::new(json!({"data": {key: secret, "n": 1}}).to_string())
                .unwrap();
            tracing::info!(body = %raw, "raw json");
        }
        9 => {
            let raw =
                ops_logging::RawJson::new(json!({"note": format!("Bearer {secret}")}).to_string())
                    .unwrap();
            tracing::info!(body = ?raw, "raw json");
        }
        10 => {
            let span =
                tracing::info_span!("s", dsn = format!("postgres://app:{in_url}@db/x").as_str());
            let _e = span.enter();
            tracing::info!("in span");
        }
        11 => ops_logging::log_error(
            &Failure(format!("login failed for {key}={secret}")),
            &[(key, &secret)],
        ),
        12 => tracing::info!(detail = %format!("{key}={secret}"), "display"),
        13 => tracing::info!("body {{\"{key}\":\"{secret}\"}}"),
        14 => tracing::info!(cfg = ?Config { user: "u", password: secret.to_owned() }, "debug"),
        _ => tracing::info!(target: "audit", "{key}: \"{secret}\""),
    }
}

const CARRIERS: usize = 16;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// No secret from the generated set, sent through any carrier under any secret key name,
    /// survives in any byte of any file.
    #[test]
    fn no_generated_secret_survives_in_any_written_byte(
        secret in "[A-Za-z0-9]{6}[A-Za-z0-9._~+/=-]{4,40}",
        carrier in 0..CARRIERS,
        key in prop::sample::select(KEYS),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (dispatch, guard) = logger(dir.path()).build().unwrap();
        with_default(&dispatch, || emit(carrier, key, &secret));
        drop(guard);
        let text = all_bytes(dir.path());
        prop_assert!(text.contains("[REDACTED]"), "nothing redacted: {text}");
        prop_assert!(!text.contains(&secret), "{secret} survived carrier {carrier} key {key}: {text}");
        prop_assert!(!text.contains(&secret.replace('/', "%2F")), "{secret} survived: {text}");
        prop_assert!(!text.contains(&secret.replace('/', "\\/")), "{secret} survived: {text}");
    }
}
