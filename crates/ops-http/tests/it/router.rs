//! A real axum router in-process (`oneshot`): series for matched routes, unmatched requests,
//! methods, statuses, requests in flight, abandoned and panicking requests.

use std::pin::pin;
use std::task::Poll;

use axum::Router;
use axum::body::Body;
use axum::http::StatusCode;
use axum::routing::{any, get};
use ops_http::HttpMetricsLayer;
use ops_registry::Registry;
use tower::ServiceExt as _;

use super::{finished_lines, layer_lines, poll_once, send};

fn layer(registry: &Registry) -> HttpMetricsLayer {
    let layer = HttpMetricsLayer::new(registry).unwrap();
    #[cfg(feature = "access-log")]
    let layer = layer.access_log(false);
    layer
}

fn shop(registry: &Registry) -> Router {
    Router::new()
        .route(
            "/orders/{id}",
            get(|| async { "an order" }).post(|| async { (StatusCode::CREATED, "placed") }),
        )
        .route("/fail", get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
        .nest(
            "/api",
            Router::new().route("/users/{id}", get(|| async { "a user" })),
        )
        .layer(layer(registry))
        .route("/metrics", get(|| async { "not measured" }))
}

#[test]
fn routes_statuses_and_methods_have_exact_series() {
    let registry = Registry::new();
    let app = shop(&registry);
    let sent: Vec<u16> = [
        ("GET", "/orders/1"),
        ("GET", "/orders/2?expand=items&token=secret"),
        ("POST", "/orders/3"),
        ("HEAD", "/orders/4"),
        ("DELETE", "/orders/5"),
        ("GET", "/fail"),
        ("GET", "/api/users/9"),
        ("GET", "/nope"),
        ("PURGE", "/orders/6"),
        ("GET", "/metrics"),
    ]
    .iter()
    .map(|(m, u)| send(&app, m, u))
    .collect();
    assert_eq!(sent, [200, 200, 201, 200, 405, 503, 200, 404, 405, 200]);
    assert_eq!(
        layer_lines(&registry),
        finished_lines(
            &[
                ("GET", "/orders/{id}", 200, 2),
                ("POST", "/orders/{id}", 201, 1),
                ("HEAD", "/orders/{id}", 200, 1),
                ("DELETE", "/orders/{id}", 405, 1),
                ("GET", "/fail", 503, 1),
                ("GET", "/api/users/{id}", 200, 1),
                ("GET", "unmatched", 404, 1),
                ("_OTHER", "/orders/{id}", 405, 1),
            ],
            0
        )
    );
}

#[test]
fn a_flood_of_random_uris_and_methods_makes_one_route_value() {
    let registry = Registry::new();
    let app = shop(&registry);
    // A deterministic stream of paths and methods a scanner might send.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let methods = [
        "GET",
        "get",
        "PURGE",
        "PROPFIND",
        "BREW",
        "Post",
        "X-ANYTHING",
    ];
    for i in 0..2_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let uri = format!("/{x:x}/{i}/..%2f?q={x}");
        let method = methods[(x % methods.len() as u64) as usize];
        assert_eq!(send(&app, method, &uri), 404, "{method} {uri}");
    }
    let durations = registry
        .histogram_vec(
            ops_http::DURATION_FAMILY,
            "",
            &["method", "route", "status"],
            ops_registry::Buckets::HTTP,
        )
        .unwrap();
    assert_eq!(durations.len(), 2, "{}", layer_lines(&registry));
    assert_eq!(durations.refused(), 0);
    let get = durations.with(&["GET", "unmatched", "404"]).count();
    let other = durations.with(&["_OTHER", "unmatched", "404"]).count();
    assert_eq!(get + other, 2_000);
    assert!(get > 0 && other > 0, "{get} {other}");
    let lines = layer_lines(&registry);
    let mut active: Vec<&str> = lines
        .lines()
        .filter(|l| l.starts_with("http_server_active_requests{"))
        .collect();
    active.sort_unstable();
    assert_eq!(
        active,
        [
            "http_server_active_requests{method=\"GET\",route=\"unmatched\"} 0",
            "http_server_active_requests{method=\"_OTHER\",route=\"unmatched\"} 0",
        ]
    );
    let page = ops_registry::Exposition::to_prometheus(&registry);
    assert!(!page.contains("{overflow=\"true\"}"), "{page}");
}

#[test]
fn every_method_is_its_own_or_other() {
    let registry = Registry::new();
    let app = Router::new()
        .route("/any", any(|| async { "ok" }))
        .layer(layer(&registry));
    for method in [
        "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "TRACE", "PURGE", "get",
        "MKCOL",
    ] {
        assert_eq!(send(&app, method, "/any"), 200, "{method}");
    }
    let lines = layer_lines(&registry);
    let counts: Vec<&str> = lines.lines().filter(|l| l.contains("_count{")).collect();
    assert_eq!(
        counts,
        [
            "http_server_request_duration_seconds_count{method=\"GET\",route=\"/any\",status=\"200\"} 1",
            "http_server_request_duration_seconds_count{method=\"POST\",route=\"/any\",status=\"200\"} 1",
            "http_server_request_duration_seconds_count{method=\"PUT\",route=\"/any\",status=\"200\"} 1",
            "http_server_request_duration_seconds_count{method=\"DELETE\",route=\"/any\",status=\"200\"} 1",
            "http_server_request_duration_seconds_count{method=\"HEAD\",route=\"/any\",status=\"200\"} 1",
            "http_server_request_duration_seconds_count{method=\"OPTIONS\",route=\"/any\",status=\"200\"} 1",
            "http_server_request_duration_seconds_count{method=\"PATCH\",route=\"/any\",status=\"200\"} 1",
            "http_server_request_duration_seconds_count{method=\"TRACE\",route=\"/any\",status=\"200\"} 1",
            "http_server_request_duration_seconds_count{method=\"_OTHER\",route=\"/any\",status=\"200\"} 3",
        ]
    );
}

/// A router whose `/wait` handler waits for a message (never, when the sender is dropped).
fn waiting_app(registry: &Registry) -> (Router, tokio::sync::mpsc::UnboundedSender<StatusCode>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<StatusCode>();
    let rx = std::sync::Arc::new(tokio::sync::Mutex::new(rx));
    let app = Router::new()
        .route(
            "/wait",
            get(move || {
                let rx = std::sync::Arc::clone(&rx);
                async move {
                    let status = rx.lock().await.recv().await;
                    status.unwrap_or(StatusCode::GONE)
                }
            }),
        )
        .layer(layer(registry));
    (app, tx)
}

fn wait_request() -> http::Request<Body> {
    http::Request::get("/wait").body(Body::empty()).unwrap()
}

#[test]
fn requests_in_flight_are_counted_until_answered() {
    let registry = Registry::new();
    let (app, tx) = waiting_app(&registry);
    let l = HttpMetricsLayer::new(&registry).unwrap();
    let active = l.active().with(&["GET", "/wait"]);
    let mut first = pin!(app.clone().oneshot(wait_request()));
    let mut second = pin!(app.clone().oneshot(wait_request()));
    assert!(poll_once(first.as_mut()).is_pending());
    assert_eq!(active.get(), 1.0);
    assert!(poll_once(second.as_mut()).is_pending());
    assert_eq!(active.get(), 2.0);
    tx.send(StatusCode::OK).unwrap();
    let Poll::Ready(Ok(response)) = poll_once(first.as_mut()) else {
        panic!("the first request was not answered");
    };
    assert_eq!(response.status(), 200);
    assert_eq!(active.get(), 1.0);
    tx.send(StatusCode::ACCEPTED).unwrap();
    assert!(poll_once(second.as_mut()).is_ready());
    assert_eq!(active.get(), 0.0);
    let durations = l.durations();
    assert_eq!(durations.with(&["GET", "/wait", "200"]).count(), 1);
    assert_eq!(durations.with(&["GET", "/wait", "202"]).count(), 1);
    assert_eq!(l.cancelled().with(&["GET", "/wait"]).get(), 0);
}

#[test]
fn an_abandoned_request_is_cancelled_not_an_error() {
    let registry = Registry::new();
    let (app, tx) = waiting_app(&registry);
    {
        let mut abandoned = Box::pin(app.clone().oneshot(wait_request()));
        assert!(poll_once(abandoned.as_mut()).is_pending());
        let mut kept = Box::pin(app.clone().oneshot(wait_request()));
        assert!(poll_once(kept.as_mut()).is_pending());
        // The client goes away: the server drops the first request's future.
        drop(abandoned);
        tx.send(StatusCode::OK).unwrap();
        assert!(poll_once(kept.as_mut()).is_ready());
    }
    assert_eq!(
        layer_lines(&registry),
        finished_lines(&[("GET", "/wait", 200, 1)], 1)
    );
}

#[test]
fn a_panicking_handler_is_a_server_error() {
    let registry = Registry::new();
    let app = Router::new()
        .route(
            "/boom",
            get(|| async {
                assert!(std::hint::black_box(false), "handler bug");
                "unreachable"
            }),
        )
        .layer(layer(&registry));
    let mut request =
        Box::pin(app.oneshot(http::Request::get("/boom").body(Body::empty()).unwrap()));
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = poll_once(request.as_mut());
    }));
    assert!(unwound.is_err());
    // The runtime drops the task after the panic (tokio while unwinding, others later).
    drop(request);
    assert_eq!(
        layer_lines(&registry),
        finished_lines(&[("GET", "/boom", 500, 1)], 0)
    );
}

#[test]
fn the_unmatched_label_can_be_changed_and_layers_share_families() {
    let registry = Registry::new();
    let app = Router::new()
        .route("/a", get(|| async { "a" }))
        .layer(layer(&registry).unmatched_route("other"));
    let second = Router::new()
        .route("/a", get(|| async { "a" }))
        .layer(layer(&registry));
    assert_eq!(send(&app, "GET", "/x"), 404);
    assert_eq!(send(&app, "GET", "/a"), 200);
    assert_eq!(send(&second, "GET", "/a"), 200);
    assert_eq!(send(&second, "GET", "/y"), 404);
    let counts: Vec<String> = layer_lines(&registry)
        .lines()
        .filter(|l| l.contains("_count{"))
        .map(str::to_owned)
        .collect();
    assert_eq!(
        counts,
        [
            "http_server_request_duration_seconds_count{method=\"GET\",route=\"other\",status=\"404\"} 1",
            "http_server_request_duration_seconds_count{method=\"GET\",route=\"/a\",status=\"200\"} 2",
            "http_server_request_duration_seconds_count{method=\"GET\",route=\"unmatched\",status=\"404\"} 1",
        ]
    );
}

#[test]
fn names_taken_by_something_else_are_a_conflict() {
    let registry = Registry::new();
    registry
        .gauge(ops_http::DURATION_FAMILY, "Not a histogram.")
        .unwrap();
    let err = HttpMetricsLayer::new(&registry).unwrap_err();
    assert!(
        matches!(&err, ops_registry::Error::Conflict { family, .. } if family == ops_http::DURATION_FAMILY),
        "{err:?}"
    );
    let registry = Registry::new();
    registry
        .counter_vec(ops_http::CANCELLED_FAMILY, "Other labels.", &["path"])
        .unwrap();
    assert!(HttpMetricsLayer::new(&registry).is_err());
}
