//! Helpers the tests share: polling a future by hand, sending a request through a router, and
//! the layer's lines of a page.

#[cfg(feature = "access-log")]
mod access_log;
#[cfg(feature = "axum")]
mod perf_monitor;
mod promtool;
#[cfg(feature = "axum")]
mod router;
#[cfg(feature = "axum")]
mod tcp;
mod tower;

use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use ops_registry::{Exposition as _, Registry};

/// Polls `fut` once (with a waker that does nothing).
pub(crate) fn poll_once<F: Future>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// Runs a future that needs no I/O and no timer to completion on this thread (so a scoped
/// tracing dispatch sees everything it does).
pub(crate) fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    for _ in 0..1_000 {
        if let Poll::Ready(out) = poll_once(fut.as_mut()) {
            return out;
        }
    }
    panic!("the future was still pending after 1,000 polls");
}

/// Sends `method uri` through `router` (in-process) and returns the status.
#[cfg(feature = "axum")]
pub(crate) fn send(router: &axum::Router, method: &str, uri: &str) -> u16 {
    use ::tower::ServiceExt as _;
    let request = http::Request::builder()
        .method(method)
        .uri(uri)
        .body(axum::body::Body::empty())
        .unwrap();
    let response = block_on(router.clone().oneshot(request)).unwrap();
    response.status().as_u16()
}

/// The page's lines of the layer's families, without the histogram's `_bucket` and `_sum`
/// lines (their values are timings) — `# HELP` lines shortened to their name.
pub(crate) fn layer_lines(registry: &Registry) -> String {
    let page = registry.to_prometheus();
    let mut out = String::new();
    for line in page.lines() {
        let name = line
            .strip_prefix("# HELP ")
            .or_else(|| line.strip_prefix("# TYPE "))
            .unwrap_or(line);
        if !name.starts_with("http_server_") {
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        if line.contains("_bucket{") || line.contains("_sum{") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// What [`layer_lines`] shows once every request has finished: one `_count` line per
/// `(method, route, status, requests)` of `seen` (in the order the layer first saw them), then
/// each method and route with 0 requests in flight, then with `cancelled` cancelled.
pub(crate) fn finished_lines(seen: &[(&str, &str, u16, u64)], cancelled: u64) -> String {
    let mut out = String::from("# TYPE http_server_request_duration_seconds histogram\n");
    for (method, route, status, n) in seen {
        writeln!(
            out,
            "http_server_request_duration_seconds_count{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
        )
        .unwrap();
    }
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for &(method, route, ..) in seen {
        if !pairs.contains(&(method, route)) {
            pairs.push((method, route));
        }
    }
    for (name, kind, value) in [
        ("http_server_active_requests", "gauge", 0),
        ("http_server_requests_cancelled_total", "counter", cancelled),
    ] {
        writeln!(out, "# TYPE {name} {kind}").unwrap();
        for (method, route) in &pairs {
            writeln!(
                out,
                "{name}{{method=\"{method}\",route=\"{route}\"}} {value}"
            )
            .unwrap();
        }
    }
    out
}
