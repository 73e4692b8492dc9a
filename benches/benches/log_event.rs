//! Caller cost of one log event (4 fields) to a file: ops-logging (value redaction on, the
//! default, and off) beside tracing-subscriber's `fmt().json()` behind tracing-appender's
//! `non_blocking` (lossy default and lossless), in one run, same event, files in the same
//! temporary directory.
//!
//! `cargo bench -p ops-benches --bench log_event`

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use tracing::dispatcher::with_default;

fn event(i: u64) {
    tracing::info!(
        method = "GET",
        path = "/api/users",
        status_code = 200u16,
        response_time_ms = black_box(i) as f64 * 0.5,
        "HTTP Request"
    );
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut g = c.benchmark_group("log_event");
    g.measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));

    for (name, values) in [
        ("ops_logging", true),
        ("ops_logging_value_redaction_off", false),
    ] {
        let (dispatch, guard) = ops_logging::Logging::builder(name)
            .dir(dir.path())
            .console(false)
            .ignore_env()
            .redact_values(values)
            .build()
            .unwrap();
        with_default(&dispatch, || {
            let mut i = 0u64;
            g.bench_function(name, |b| {
                b.iter(|| {
                    i += 1;
                    event(i);
                });
            });
        });
        drop(guard);
    }

    for (name, lossy) in [
        ("tracing_json_non_blocking_lossy", true),
        ("tracing_json_non_blocking_lossless", false),
    ] {
        let file = tracing_appender::rolling::never(dir.path(), format!("{name}.log"));
        let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
            .lossy(lossy)
            .finish(file);
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_writer(writer)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let mut i = 0u64;
            g.bench_function(name, |b| {
                b.iter(|| {
                    i += 1;
                    event(i);
                });
            });
        });
        drop(guard);
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
