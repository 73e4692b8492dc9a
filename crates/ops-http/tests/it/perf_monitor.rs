//! `#[perf_monitor(error_if = …)]` on an axum handler behind the layer: a 404 is an answer for
//! both, a 503 an error for the profiler and a 503 for the layer, an abandoned request
//! cancelled for both.

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use ops_http::HttpMetricsLayer;
use ops_profiler::perf_monitor;
use ops_registry::Registry;
use tower::ServiceExt as _;

use super::{layer_lines, poll_once, send};

#[perf_monitor(
    name = "ops_http_tests::get_order",
    error_if = |r| matches!(r, Err(s) if s.is_server_error())
)]
async fn get_order(Path(id): Path<u32>) -> Result<String, StatusCode> {
    match id {
        0 => Err(StatusCode::NOT_FOUND),
        1 => Err(StatusCode::SERVICE_UNAVAILABLE),
        2 => {
            std::future::pending::<()>().await;
            Ok("never".to_owned())
        }
        _ => Ok(format!("order {id}")),
    }
}

#[test]
fn the_profiler_and_the_layer_agree_on_what_failed() {
    let registry = Registry::new();
    let layer = HttpMetricsLayer::new(&registry).unwrap();
    #[cfg(feature = "access-log")]
    let layer = layer.access_log(false);
    let app = Router::new()
        .route("/orders/{id}", get(get_order))
        .layer(layer);
    assert_eq!(send(&app, "GET", "/orders/0"), 404);
    assert_eq!(send(&app, "GET", "/orders/1"), 503);
    assert_eq!(send(&app, "GET", "/orders/7"), 200);
    let mut abandoned = Box::pin(
        app.clone()
            .oneshot(http::Request::get("/orders/2").body(Body::empty()).unwrap()),
    );
    assert!(poll_once(abandoned.as_mut()).is_pending());
    drop(abandoned);

    let report = ops_profiler::global().report();
    let figures = report
        .iter_named("ops_http_tests::get_order")
        .next()
        .expect("the handler's figures");
    assert_eq!(
        (
            figures.call_count,
            figures.error_count,
            figures.cancelled_count
        ),
        (4, 1, 1)
    );
    let lines = layer_lines(&registry);
    let counts: Vec<&str> = lines.lines().filter(|l| l.contains("_count{")).collect();
    assert_eq!(
        counts,
        [
            "http_server_request_duration_seconds_count{method=\"GET\",route=\"/orders/{id}\",status=\"404\"} 1",
            "http_server_request_duration_seconds_count{method=\"GET\",route=\"/orders/{id}\",status=\"503\"} 1",
            "http_server_request_duration_seconds_count{method=\"GET\",route=\"/orders/{id}\",status=\"200\"} 1",
        ]
    );
    assert!(lines.contains(
        "http_server_requests_cancelled_total{method=\"GET\",route=\"/orders/{id}\"} 1\n"
    ));
}
