//! promtool check metrics on a page with every outcome the layer records (skipped without
//! promtool unless `OPS_REQUIRE_TOOLS=1`).

use std::borrow::Cow;

use http::{Request, Response, StatusCode};
use ops_http::HttpMetricsLayer;
use ops_registry::{Exposition as _, Registry};
use tower::{Layer as _, Service as _, ServiceExt as _, service_fn};

use super::{block_on, poll_once};

#[test]
fn the_layers_page_has_no_promtool_finding() {
    let Some(promtool) = ops_testkit::promtool::find("the_layers_page_has_no_promtool_finding")
    else {
        return;
    };
    let registry = Registry::new();
    let layer = HttpMetricsLayer::new(&registry).unwrap();
    #[cfg(feature = "access-log")]
    let layer = layer.access_log(false);
    let mut service = layer
        .route_fn(|req: &Request<String>| match req.uri().path() {
            "/unmatched" => None,
            // Route values the exposition must escape.
            "/odd" => Some(Cow::Borrowed("/odd/\"quoted\"\\{x}\nline")),
            path => Some(Cow::Borrowed(path)),
        })
        .layer(service_fn(|req: Request<String>| async move {
            let status = match req.uri().path() {
                "/err" => return Err("failed"),
                "/slow" => std::future::pending().await,
                "/missing" => StatusCode::NOT_FOUND,
                _ => StatusCode::OK,
            };
            let mut response = Response::new(String::new());
            *response.status_mut() = status;
            Ok(response)
        }));
    for (method, path) in [
        ("GET", "/a"),
        ("POST", "/a"),
        ("PURGE", "/a"),
        ("GET", "/missing"),
        ("GET", "/unmatched"),
        ("GET", "/odd"),
        ("GET", "/err"),
    ] {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(String::new())
            .unwrap();
        let _ = block_on(service.clone().oneshot(request));
    }
    let mut abandoned = Box::pin(service.call(Request::get("/slow").body(String::new()).unwrap()));
    assert!(poll_once(abandoned.as_mut()).is_pending());
    drop(abandoned);
    let mut in_flight = Box::pin(service.call(Request::get("/slow").body(String::new()).unwrap()));
    assert!(poll_once(in_flight.as_mut()).is_pending());
    let page = registry.to_prometheus();
    assert!(
        page.contains("http_server_active_requests{method=\"GET\",route=\"/slow\"} 1\n"),
        "{page}"
    );
    assert!(
        page.contains("http_server_requests_cancelled_total{method=\"GET\",route=\"/slow\"} 1\n"),
        "{page}"
    );
    assert!(page.contains("status=\"500\""), "{page}");
    ops_testkit::promtool::assert_clean_metrics(&promtool, &page);
}
