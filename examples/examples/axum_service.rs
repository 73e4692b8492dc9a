//! An axum service with ops-rs: JSON logs, `#[perf_monitor]` handlers, system alert rules and a
//! promtool-clean `/metrics`, in under 30 lines. `cargo run -p ops-examples --example axum_service`

use std::sync::Arc;

use axum::{Router, http::header::CONTENT_TYPE, routing::get};
use ops_profiler::perf_monitor;
use ops_thresholds::Monitor;

#[perf_monitor]
async fn hello() -> &'static str {
    "hello\n"
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let logs = ops_logging::Logging::builder("api").install()?; // logs/api.log, access.log, …
    let monitor = Arc::new(Monitor::builder().section(logs.section()).start()?); // CPU, memory, disks
    let page = Arc::clone(&monitor);
    let app = Router::new().route("/", get(hello)).route(
        "/metrics",
        get(move || async move {
            (
                [(CONTENT_TYPE, ops_core::exposition::CONTENT_TYPE)],
                page.page(),
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    axum::serve(listener, app)
        .with_graceful_shutdown(async { tokio::signal::ctrl_c().await.unwrap_or(()) })
        .await?;
    monitor.stop(std::time::Duration::from_secs(5)); // deliver the queued alerts
    Ok(())
}
