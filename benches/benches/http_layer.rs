//! What the HTTP layer adds to a request, beside what a user would pick instead, in one run:
//! one `GET /orders/42` through an axum router in-process (`Router::oneshot`, polled on this
//! thread, no sockets, no runtime) — the bare router, the router with tower's `Identity`
//! layer (what axum's layering itself costs: each route's service boxed once more), with
//! ops-http's `HttpMetricsLayer`, and with axum-prometheus's `PrometheusMetricLayer` (axum
//! 0.8, metrics 0.24, metrics-exporter-prometheus 0.18 with histogram buckets, as its
//! `pair()` sets up; its upkeep runs every 5 s on another thread, as `pair()` spawns it).
//! A layer's cost is its figure minus the bare router's. Every router is finished with
//! `with_state(())`, as `axum::serve` does (a router that is not converts each handler into a
//! route and layers it again on every request). No tracing subscriber is installed, so
//! ops-http's access-log line is off (its cost then is one `enabled!` check).
//!
//! Then, for scale, the registry lookups by label values that the layer's table of handles
//! saves each request: the in-flight gauge's (method, route) and the histogram's (method,
//! route, status), looked up with `with()`.
//!
//! `cargo bench -p ops-benches --bench http_layer`

#![allow(missing_docs, clippy::unwrap_used)]

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use axum_prometheus::{AXUM_HTTP_REQUESTS_DURATION_SECONDS, PrometheusMetricLayer};
use criterion::{Criterion, criterion_group, criterion_main};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use ops_http::HttpMetricsLayer;
use ops_registry::{Buckets, Registry};
use tower::ServiceExt as _;
use tower::layer::util::Identity;

fn routes() -> Router {
    Router::new()
        .route("/orders/{id}", get(|| async { "an order" }))
        .route("/health", get(|| async { "ok" }))
}

/// Polls a future that needs no I/O to completion on this thread.
fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

/// One request through `router`, response dropped.
fn serve(router: &Router) -> u16 {
    let request = Request::get("/orders/42").body(Body::empty()).unwrap();
    let response = block_on(router.clone().oneshot(request)).unwrap();
    response.status().as_u16()
}

/// axum-prometheus's layer with the recorder its `pair()` installs (histogram buckets, upkeep
/// every 5 s), the upkeep on a thread of its own instead of a tokio task.
fn axum_prometheus_router() -> Router {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(AXUM_HTTP_REQUESTS_DURATION_SECONDS.to_owned()),
            axum_prometheus::utils::SECONDS_DURATION_BUCKETS,
        )
        .unwrap()
        .build_recorder();
    let handle = recorder.handle();
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_secs(5));
            handle.run_upkeep();
        }
    });
    metrics::set_global_recorder(recorder).unwrap();
    routes().layer(PrometheusMetricLayer::new()).with_state(())
}

fn bench(c: &mut Criterion) {
    let bare = routes().with_state(());
    let identity = routes().layer(Identity::new()).with_state(());
    let registry = Registry::new();
    let ops = routes()
        .layer(HttpMetricsLayer::new(&registry).unwrap())
        .with_state(());
    let prom = axum_prometheus_router();
    for router in [&bare, &identity, &ops, &prom] {
        assert_eq!(serve(router), 200);
    }

    let mut g = c.benchmark_group("http_layer_request");
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("bare_router", |b| b.iter(|| black_box(serve(&bare))));
    g.bench_function("identity_layer", |b| b.iter(|| black_box(serve(&identity))));
    g.bench_function("ops_http", |b| b.iter(|| black_box(serve(&ops))));
    g.bench_function("axum_prometheus", |b| b.iter(|| black_box(serve(&prom))));
    g.finish();

    let mut g = c.benchmark_group("http_layer_lookups");
    g.measurement_time(Duration::from_secs(3));
    let reg = Registry::new();
    let active = reg
        .gauge_vec("lookup_active_requests", "Bench.", &["method", "route"])
        .unwrap();
    let durations = reg
        .histogram_vec(
            "lookup_duration_seconds",
            "Bench.",
            &["method", "route", "status"],
            Buckets::HTTP,
        )
        .unwrap();
    g.bench_function("registry_with_per_request", |b| {
        b.iter(|| {
            let gauge = active.with(&[black_box("GET"), black_box("/orders/{id}")]);
            gauge.inc();
            durations
                .with(&[
                    black_box("GET"),
                    black_box("/orders/{id}"),
                    black_box("200"),
                ])
                .record(black_box(0.0004));
            gauge.dec();
        });
    });
    g.finish();

    let page = ops_registry::Exposition::to_prometheus(&registry);
    assert!(
        page.contains("http_server_request_duration_seconds_count{method=\"GET\",route=\"/orders/{id}\",status=\"200\"}"),
        "{page}"
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
