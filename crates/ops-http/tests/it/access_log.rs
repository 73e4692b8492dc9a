//! The access-log line, written by ops-logging into a temporary directory under a scoped
//! dispatch.

use std::borrow::Cow;
use std::path::Path;

use http::{Request, Response, StatusCode};
use ops_http::{HttpMetricsLayer, RequestUser};
use ops_registry::Registry;
use serde_json::Value;
use tower::{Layer as _, Service as _, ServiceExt as _, service_fn};
use tracing::dispatcher::with_default;

use super::{block_on, poll_once};

fn logger(dir: &Path) -> (tracing::Dispatch, ops_logging::LogGuard) {
    ops_logging::Logging::builder("svc")
        .dir(dir)
        .console(false)
        .ignore_env()
        .level("info")
        .build()
        .unwrap()
}

/// The access lines, without their timestamps and times (both vary), and the times apart.
fn access_lines(dir: &Path) -> (Vec<Value>, Vec<f64>) {
    let text = std::fs::read_to_string(dir.join("access.log")).unwrap_or_default();
    let mut times = Vec::new();
    let lines = text
        .lines()
        .map(|line| {
            let mut v: Value = serde_json::from_str(line).unwrap();
            let obj = v.as_object_mut().unwrap();
            obj.remove("timestamp").unwrap();
            times.push(obj.remove("response_time_ms").unwrap().as_f64().unwrap());
            v
        })
        .collect();
    (lines, times)
}

/// Answers `/users/me` as the user the request names in `x-user` (put in the response's
/// extensions), `/missing` with 404, anything else with 200.
async fn app(req: Request<String>) -> Result<Response<String>, std::convert::Infallible> {
    let mut response = Response::new(String::new());
    match req.uri().path() {
        "/users/me" => {
            if let Some(user) = req.headers().get("x-user").and_then(|v| v.to_str().ok()) {
                response
                    .extensions_mut()
                    .insert(RequestUser::new(user.to_owned()));
            }
        }
        "/missing" => *response.status_mut() = StatusCode::NOT_FOUND,
        "/slow" => std::future::pending::<()>().await,
        _ => {}
    }
    Ok(response)
}

/// Routes named by their path (fine here: the test sends a handful), `/health` unrouted.
fn route(req: &Request<String>) -> Option<Cow<'_, str>> {
    let path = req.uri().path();
    (path != "/health").then_some(Cow::Borrowed(path))
}

#[test]
fn each_request_is_logged_with_its_path_status_and_user() {
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = logger(dir.path());
    let registry = Registry::new();
    let service = HttpMetricsLayer::new(&registry)
        .unwrap()
        .route_fn(route)
        .layer(service_fn(app));
    with_default(&dispatch, || {
        let send = |req: Request<String>| block_on(service.clone().oneshot(req)).unwrap();
        send(
            Request::get("/orders?token=s3cr3t&page=2")
                .body(String::new())
                .unwrap(),
        );
        send(
            Request::get("/users/me")
                .header("x-user", "u-42")
                .body(String::new())
                .unwrap(),
        );
        let mut by_request = Request::post("/missing").body(String::new()).unwrap();
        by_request.extensions_mut().insert(RequestUser::new("u-7"));
        send(by_request);
        send(
            Request::builder()
                .method("PURGE")
                .uri("/cache")
                .body(String::new())
                .unwrap(),
        );
        // A request abandoned by its client: logged as 499.
        let mut abandoned = Box::pin(
            service
                .clone()
                .oneshot(Request::get("/slow").body(String::new()).unwrap()),
        );
        assert!(poll_once(abandoned.as_mut()).is_pending());
        drop(abandoned);
    });
    guard.flush().unwrap();
    let (lines, times) = access_lines(dir.path());
    let expected = [
        r#"{"level":"info","message":"HTTP Request","service":"svc","method":"GET","path":"/orders","status_code":200}"#,
        r#"{"level":"info","message":"HTTP Request","service":"svc","method":"GET","path":"/users/me","status_code":200,"user_id":"u-42"}"#,
        r#"{"level":"info","message":"HTTP Request","service":"svc","method":"POST","path":"/missing","status_code":404,"user_id":"u-7"}"#,
        r#"{"level":"info","message":"HTTP Request","service":"svc","method":"PURGE","path":"/cache","status_code":200}"#,
        r#"{"level":"info","message":"HTTP Request","service":"svc","method":"GET","path":"/slow","status_code":499}"#,
    ];
    let expected: Vec<Value> = expected
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines, expected);
    assert!(times.iter().all(|t| *t >= 0.0), "{times:?}");
    assert!(
        !std::fs::read_to_string(dir.path().join("access.log"))
            .unwrap()
            .contains("s3cr3t")
    );
    // The metrics do not change with the log: the abandoned request is cancelled.
    let l = HttpMetricsLayer::new(&registry).unwrap();
    assert_eq!(l.cancelled().with(&["GET", "/slow"]).get(), 1);
    assert_eq!(l.durations().with(&["_OTHER", "/cache", "200"]).count(), 1);
}

#[test]
fn the_response_user_wins_over_the_request_user() {
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = logger(dir.path());
    let registry = Registry::new();
    let mut service = HttpMetricsLayer::new(&registry)
        .unwrap()
        .layer(service_fn(app));
    with_default(&dispatch, || {
        let mut req = Request::get("/users/me")
            .header("x-user", "from-response")
            .body(String::new())
            .unwrap();
        req.extensions_mut()
            .insert(RequestUser::new("from-request"));
        block_on(service.call(req)).unwrap();
    });
    guard.flush().unwrap();
    let (lines, _) = access_lines(dir.path());
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["user_id"], "from-response");
    assert_eq!(lines[0]["path"], "/users/me");
}

#[test]
fn access_log_false_logs_nothing_and_still_records() {
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = logger(dir.path());
    let registry = Registry::new();
    let layer = HttpMetricsLayer::new(&registry).unwrap().access_log(false);
    let service = layer.layer(service_fn(app));
    with_default(&dispatch, || {
        for _ in 0..3 {
            block_on(
                service
                    .clone()
                    .oneshot(Request::get("/x").body(String::new()).unwrap()),
            )
            .unwrap();
        }
        // The service's own access lines still go through.
        ops_logging::log_request("GET", "/by-hand", 200, 1.0, None);
    });
    guard.flush().unwrap();
    let (lines, _) = access_lines(dir.path());
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["path"], "/by-hand");
    assert_eq!(
        layer.durations().with(&["GET", "unmatched", "200"]).count(),
        3
    );
}

#[test]
fn without_a_subscriber_for_access_events_nothing_is_kept_or_logged() {
    let dir = tempfile::tempdir().unwrap();
    // A logger that wants WARN and above only: the access events are off.
    let (dispatch, guard) = ops_logging::Logging::builder("svc")
        .dir(dir.path())
        .console(false)
        .ignore_env()
        .level("warn")
        .build()
        .unwrap();
    let registry = Registry::new();
    let service = HttpMetricsLayer::new(&registry)
        .unwrap()
        .layer(service_fn(app));
    with_default(&dispatch, || {
        block_on(
            service
                .clone()
                .oneshot(Request::get("/x").body(String::new()).unwrap()),
        )
        .unwrap();
    });
    guard.flush().unwrap();
    assert_eq!(access_lines(dir.path()).0.len(), 0);
}
