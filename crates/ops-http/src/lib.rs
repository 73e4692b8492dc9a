//! Per-route HTTP request metrics for a tower service — axum's router first — recorded into an
//! [ops-registry](ops_registry) [`Registry`](ops_registry::Registry) and so on the same
//! Prometheus page as everything else ops-rs exposes: OpenTelemetry's request-duration
//! histogram by method, route template and status, the requests in flight, the requests
//! clients abandoned (counted apart, never as server errors), and each request's access-log
//! line through ops-logging.
//!
//! ```
//! # #[cfg(feature = "axum")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use axum::{Router, body::Body, http::Request, routing::get};
//! use ops_http::HttpMetricsLayer;
//! use ops_registry::{Exposition, Registry};
//! use tower::ServiceExt as _; // oneshot
//!
//! let registry = Registry::new();
//! let page = registry.clone();
//! let app = Router::new()
//!     .route("/orders/{id}", get(|| async { "an order" }))
//!     .layer(HttpMetricsLayer::new(&registry)?)
//!     // Added after the layer, so not measured.
//!     .route("/metrics", get(move || async move { page.to_prometheus() }));
//!
//! // Requests in-process; a server gets the same (below).
//! let rt = tokio::runtime::Builder::new_current_thread().build()?;
//! for uri in ["/orders/1", "/orders/2?expand=items", "/wp-login.php", "/.env"] {
//!     rt.block_on(app.clone().oneshot(Request::get(uri).body(Body::empty())?))?;
//! }
//!
//! let page = registry.to_prometheus();
//! for series in [
//!     r#"http_server_request_duration_seconds_count{method="GET",route="/orders/{id}",status="200"} 2"#,
//!     r#"http_server_request_duration_seconds_count{method="GET",route="unmatched",status="404"} 2"#,
//!     r#"http_server_active_requests{method="GET",route="/orders/{id}"} 0"#,
//!     r#"http_server_requests_cancelled_total{method="GET",route="/orders/{id}"} 0"#,
//! ] {
//!     assert!(page.contains(series), "{series}\n{page}");
//! }
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "axum"))]
//! # fn main() {}
//! ```
//!
//! Served:
//!
//! ```no_run
//! # async fn serve(app: axum::Router) -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await
//! # }
//! ```
//!
//! Add the layer with `Router::layer` after the routes it measures, and after the other
//! layers (it is then the outermost: it sees every request, and the time of the layers inside
//! it). Routes added after it are not measured.
//!
//! # Series
//! | family | type | labels |
//! |---|---|---|
//! | [`http_server_request_duration_seconds`](DURATION_FAMILY) | histogram, [`Buckets::HTTP`](ops_registry::Buckets::HTTP) (OpenTelemetry's advised bounds, 5 ms to 10 s, plus the playbook's 2 s), seconds | `method`, `route`, `status` |
//! | [`http_server_active_requests`](ACTIVE_FAMILY) | gauge | `method`, `route` |
//! | [`http_server_requests_cancelled_total`](CANCELLED_FAMILY) | counter | `method`, `route` |
//!
//! The duration is from the call of the wrapped service to its response head (the service's
//! future resolving), not to the last byte of the body: for a streamed body (server-sent
//! events, a large download) it is the time to start answering. A (method, route) gets its
//! gauge and its counter, at 0, with its first request.
//!
//! # What each request counts in
//! Every request that reaches the layer is counted exactly once, in one of:
//! - **answered** — the service's future resolved to a response: one observation in
//!   `http_server_request_duration_seconds{method, route, status}`, `status` the response's
//!   code, whatever it is (a 404 is a 404, a 503 a 503);
//! - **failed** — the service's future resolved to an `Err` (no response; hyper closes the
//!   connection) or the service panicked: one observation with `status="500"`;
//! - **abandoned** — the response future was dropped before it resolved (hyper drops it when
//!   the client disconnects; so does a timeout layer outside this one):
//!   `http_server_requests_cancelled_total{method, route}` + 1, nothing in the histogram. Not a
//!   server error: the server was never asked for an answer to the end.
//!
//! `http_server_active_requests{method, route}` is 1 higher from the request's arrival until
//! it is counted in one of those. So, over a window: requests answered or failed =
//! `http_server_request_duration_seconds_count`; all requests = that plus the cancelled
//! counter; for an availability SLO, good = `_count{status!~"5.."}` and total = `_count`
//! (abandoned requests are neither); for a latency SLO, good = `_bucket{le="0.25"}` and total =
//! `_count`. A timeout layer inside this one (added before it) answers with its status, which
//! is then what is counted.
//!
//! # Labels
//! Every label has a bounded set of values, whatever clients send:
//! - `method`: `GET`, `POST`, `PUT`, `DELETE`, `HEAD`, `OPTIONS`, `PATCH`, `CONNECT`, `TRACE`
//!   as they are, any other method [`_OTHER`](OTHER_METHOD) (OpenTelemetry's convention;
//!   [`method_label`]);
//! - `route`: the route template from axum's `MatchedPath` (`/orders/{id}`; feature `axum`,
//!   [`DefaultRoute`]) or a [route function](HttpMetricsLayer::route_fn); requests no route
//!   matched (the router's fallback: unknown paths, scanners' probes) all get **one** value,
//!   [`unmatched`](UNMATCHED_ROUTE) ([`HttpMetricsLayer::unmatched_route`]) — never the URI, so
//!   a flood of random URLs adds one series, not one per URL;
//! - `status`: the response's numeric code (`200`, `404`).
//!
//! The gauge and the counter have `method` and `route`, no `status` (not known yet).
//! OpenTelemetry's `http.server.active_requests` has the method and the scheme; here the
//! route replaces the scheme (nearly always `http` behind a proxy): it says which endpoint the
//! requests in flight are stuck in. The registry's cardinality limit (default 1,000 label
//! sets per family) still applies: label sets past it go to the family's `overflow="true"`
//! series, counted in `ops_registry_overflow_total`.
//!
//! # The access log
//! With the feature `access-log` (default), each request recorded is also logged with
//! [`ops_logging::log_request`] (target `access`, so ops-logging writes it to `access.log`):
//! the method as sent, the path without its query string (ops-logging redacts secrets in it),
//! the status — 500 for a failed request, [`CANCELLED_LOG_STATUS`] (499, nginx's "client
//! closed request") for an abandoned one — the time in milliseconds, and the user when a
//! [`RequestUser`] is in the request's or the response's extensions. The request's method and
//! URI are only kept when INFO events of target `access` are enabled, so a service that logs
//! nothing pays nothing. Off per layer with [`HttpMetricsLayer::access_log`]`(false)`, or at
//! build time without the feature: `ops-http = { version = "0.1", default-features = false,
//! features = ["axum"] }`.
//!
//! # Other tower services
//! Any `Service<http::Request<B>, Response = http::Response<B2>>` works; routes come from a
//! function of the request (every request is [`unmatched`](UNMATCHED_ROUTE) without one):
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::borrow::Cow;
//! use http::{Request, Response};
//! use ops_http::HttpMetricsLayer;
//! use tower::{ServiceBuilder, ServiceExt as _, service_fn};
//!
//! let registry = ops_registry::Registry::new();
//! let layer = HttpMetricsLayer::new(&registry)?.route_fn(|req: &Request<String>| {
//!     req.uri().path().starts_with("/users/").then_some(Cow::Borrowed("/users/:id"))
//! });
//! let service = ServiceBuilder::new().layer(layer).service(service_fn(|req: Request<String>| async move {
//!     Ok::<_, std::convert::Infallible>(Response::new(format!("{} bytes", req.body().len())))
//! }));
//! let rt = tokio::runtime::Builder::new_current_thread().build()?;
//! rt.block_on(service.oneshot(Request::post("/users/7").body("{}".to_owned())?))?;
//! assert_eq!(registry.histogram_vec(
//!     ops_http::DURATION_FAMILY, "", &["method", "route", "status"], ops_registry::Buckets::HTTP,
//! )?.with(&["POST", "/users/:id", "200"]).count(), 1);
//! # Ok(())
//! # }
//! ```
//!
//! # Which outcomes are errors, per function
//! The layer counts statuses; [`#[perf_monitor]`](https://docs.rs/ops-profiler) counts a
//! handler's calls, and its `error_if` says which of them are errors — a handler's 404 is an
//! answer, not a failure, and a handler whose request was abandoned is counted as cancelled:
//!
//! ```
//! use axum::{extract::Path, http::StatusCode};
//!
//! #[ops_profiler::perf_monitor(error_if = |r| matches!(r, Err(s) if s.is_server_error()))]
//! async fn get_order(Path(id): Path<u32>) -> Result<String, StatusCode> {
//!     match id {
//!         0 => Err(StatusCode::NOT_FOUND),           // a success for the profiler
//!         1 => Err(StatusCode::SERVICE_UNAVAILABLE), // an error
//!         _ => Ok(format!("order {id}")),
//!     }
//! }
//! # let _ = get_order;
//! ```
//!
//! # Cost
//! A request costs no registry lookup once its (method, route) has been seen: the layer keeps
//! the handles of each (method, route) and each status in a bounded table read without a
//! lock (512 routes, 16 statuses per (method, route); beyond, the registry is asked per
//! request — right, slower). What remains is two clock reads, a hash of the route, a
//! histogram record (no lock, no atomic read-modify-write), the gauge's two atomic updates and
//! one reference count. Counted by callgrind, one `GET` through an axum router in-process is
//! 6,376 instructions bare; any layer adds 1,132 (tower's `Identity`: axum boxes each route
//! once more), this one 1,722 in all, axum-prometheus 0.10's 12,785. Timed beside them:
//! `cargo bench -p ops-benches --bench http_layer`.
//!
//! # Features
//! | feature | default | what |
//! |---|---|---|
//! | `axum` | yes | the `route` label from axum's `MatchedPath` ([`DefaultRoute`]) |
//! | `access-log` | yes | the access-log line through `ops_logging::log_request` |

#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]
// The docs link items of both features; without them those links have nothing to point at.
#![cfg_attr(
    not(all(feature = "axum", feature = "access-log")),
    allow(rustdoc::broken_intra_doc_links)
)]

#[cfg(feature = "access-log")]
mod access_log;
mod families;
mod future;
mod layer;
mod method;
mod route;
mod routes;
mod series;
mod service;
mod status;

#[cfg(feature = "access-log")]
pub use crate::access_log::RequestUser;
pub use crate::families::{ACTIVE_FAMILY, CANCELLED_FAMILY, DURATION_FAMILY};
#[cfg(feature = "access-log")]
pub use crate::future::CANCELLED_LOG_STATUS;
pub use crate::future::ResponseFuture;
pub use crate::layer::HttpMetricsLayer;
pub use crate::method::{OTHER_METHOD, method_label};
pub use crate::route::{DefaultRoute, RouteFn, RouteLabel, UNMATCHED_ROUTE};
pub use crate::service::HttpMetrics;
