//! Over a real socket on 127.0.0.1: `axum::serve` (hyper) drops the request of a client that
//! disconnects, and the layer counts it as cancelled, not as a server error.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use ops_http::HttpMetricsLayer;
use ops_registry::Registry;
use tokio::io::AsyncWriteExt as _;
use tokio::sync::{Notify, mpsc};

use super::layer_lines;

/// Waits until `done` says so, up to 10 s.
async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..1_000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_disconnects_is_counted_as_cancelled() {
    let registry = Registry::new();
    let layer = HttpMetricsLayer::new(&registry).unwrap();
    #[cfg(feature = "access-log")]
    let layer = layer.access_log(false);
    let (started_tx, mut started) = mpsc::unbounded_channel::<()>();
    let never = Arc::new(Notify::new());
    let app = Router::new()
        .route("/fast", get(|| async { "fast" }))
        .route(
            "/slow",
            get(move || {
                let started_tx = started_tx.clone();
                let never = Arc::clone(&never);
                async move {
                    let _ = started_tx.send(());
                    never.notified().await;
                    "never sent"
                }
            }),
        )
        .layer(layer.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    // An answered request over the socket.
    let answer =
        tokio::task::spawn_blocking(move || ops_testkit::net::http(addr, "GET", "/fast", ""))
            .await
            .unwrap();
    assert_eq!(answer.map(|(status, _)| status), Some(200));

    // A client that sends its request, waits until the handler runs, and goes away.
    let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
    client
        .write_all(b"GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), started.recv())
        .await
        .expect("the handler never started")
        .unwrap();
    let active = layer.active().with(&["GET", "/slow"]);
    assert_eq!(active.get(), 1.0);
    drop(client);

    let cancelled = layer.cancelled().with(&["GET", "/slow"]);
    wait_for("the cancelled request to be counted", || {
        cancelled.get() == 1
    })
    .await;
    assert_eq!(active.get(), 0.0);
    server.abort();
    let lines = layer_lines(&registry);
    let counts: Vec<&str> = lines.lines().filter(|l| l.contains("_count{")).collect();
    assert_eq!(
        counts,
        [
            "http_server_request_duration_seconds_count{method=\"GET\",route=\"/fast\",status=\"200\"} 1"
        ],
        "{lines}"
    );
    assert!(
        lines.contains("http_server_requests_cancelled_total{method=\"GET\",route=\"/slow\"} 1\n")
    );
}
