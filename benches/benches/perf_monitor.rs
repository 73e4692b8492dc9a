//! What `#[perf_monitor]` adds to a call, beside what a user would pick instead, in one run:
//! the same empty function unannotated, with `#[autometrics]`, timed into a `metrics`
//! histogram, under `tracing`'s `#[instrument]` with a registry, and into a
//! `Mutex<hdrhistogram>`; then per-thread cost at 2, 4 and 8 threads. `perf_monitor_error_if`
//! is the attribute with an `error_if` predicate (the value inspected through a closure).
//!
//! `cargo bench -p ops-benches --bench perf_monitor`

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use autometrics::autometrics;
use criterion::{Criterion, criterion_group, criterion_main};
use ops_profiler::perf_monitor;

#[inline(never)]
fn plain(x: u64) -> u64 {
    black_box(x)
}

#[perf_monitor]
#[inline(never)]
fn with_perf_monitor(x: u64) -> u64 {
    black_box(x)
}

/// The same with an `error_if` predicate: the returned value is inspected through a closure.
#[perf_monitor(error_if = |r| *r == u64::MAX)]
#[inline(never)]
fn with_perf_monitor_error_if(x: u64) -> u64 {
    black_box(x)
}

#[autometrics]
#[inline(never)]
fn with_autometrics(x: u64) -> u64 {
    black_box(x)
}

#[tracing::instrument(skip_all)]
#[inline(never)]
fn with_instrument(x: u64) -> u64 {
    black_box(x)
}

fn with_metrics(x: u64) -> u64 {
    let started = Instant::now();
    let r = plain(x);
    metrics::histogram!("plain_duration_seconds").record(started.elapsed());
    r
}

static HDR: Mutex<Option<hdrhistogram::Histogram<u64>>> = Mutex::new(None);

fn with_mutex_hdr(x: u64) -> u64 {
    let started = Instant::now();
    let r = plain(x);
    let ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
    if let Some(h) = HDR.lock().unwrap().as_mut() {
        h.saturating_record(ns);
    }
    r
}

fn handle() -> &'static ops_profiler::FunctionHandle {
    static HANDLE: std::sync::OnceLock<ops_profiler::FunctionHandle> = std::sync::OnceLock::new();
    HANDLE.get_or_init(|| ops_profiler::global().handle("instant_handle"))
}

/// ops-profiler's recording with `std::time::Instant` as the clock (the fallback without TSC).
fn with_instant_handle(x: u64) -> u64 {
    let started = Instant::now();
    let r = plain(x);
    handle().record(started.elapsed(), true);
    r
}

fn setup() {
    use tracing_subscriber::layer::SubscriberExt as _;
    ops_profiler::calibrate();
    *HDR.lock().unwrap() =
        Some(hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000_000, 2).unwrap());
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let _ = metrics::set_global_recorder(recorder);
    // autometrics records into its own prometheus-client registry; `#[instrument]` needs a
    // subscriber to do any work: a bare registry, the cheapest real one. `#[perf_monitor]`'s
    // events are filtered out, as in production (DEBUG successes, nothing listening), so its
    // figure is the recording alone; a registry that took them would add the event.
    let filter = tracing_subscriber::filter::Targets::new()
        .with_target("perf_monitor", tracing::level_filters::LevelFilter::OFF)
        .with_default(tracing::Level::TRACE);
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(filter));
}

type Subject = (&'static str, fn(u64) -> u64);

const SUBJECTS: [Subject; 7] = [
    ("plain", plain),
    ("perf_monitor", with_perf_monitor),
    ("ops_profiler_instant_handle", with_instant_handle),
    ("autometrics", with_autometrics),
    ("metrics_histogram", with_metrics),
    ("tracing_instrument", with_instrument),
    ("mutex_hdrhistogram", with_mutex_hdr),
];

fn one_thread(c: &mut Criterion) {
    setup();
    let mut g = c.benchmark_group("perf_monitor/1_thread");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    for (name, f) in SUBJECTS {
        g.bench_function(name, |b| {
            let mut i = 0u64;
            b.iter(|| {
                i += 1;
                f(black_box(i))
            });
        });
    }
    g.bench_function("perf_monitor_error_if", |b| {
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            with_perf_monitor_error_if(black_box(i))
        });
    });
    // The event's own cost, separately: the same call with a `fmt` subscriber that accepts
    // DEBUG, writing each "Function execution" event to a sink.
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(std::io::sink)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        g.bench_function("perf_monitor_event_enabled_fmt", |b| {
            let mut i = 0u64;
            b.iter(|| {
                i += 1;
                with_perf_monitor(black_box(i))
            });
        });
    });
    g.finish();
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut ts) };
    assert_eq!(rc, 0);
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// `threads` threads each make `iters` calls at once; the figure is the mean per-thread CPU
/// time per call, so contention (cache-line bouncing, lock waits spinning) shows while the
/// machine's two cores being shared by more threads does not.
fn per_thread_cost(threads: usize, iters: u64, f: fn(u64) -> u64) -> Duration {
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                let start = thread_cpu();
                for i in 0..iters {
                    black_box(f(black_box(i)));
                }
                thread_cpu().saturating_sub(start)
            })
        })
        .collect();
    let total: Duration = handles.into_iter().map(|h| h.join().unwrap()).sum();
    total / u32::try_from(threads).unwrap()
}

fn many_threads(c: &mut Criterion) {
    setup();
    for threads in [1, 2, 4, 8] {
        let mut g = c.benchmark_group(format!("perf_monitor/{threads}_threads_per_thread_cpu"));
        g.measurement_time(Duration::from_secs(3))
            .warm_up_time(Duration::from_secs(1))
            .sample_size(20);
        for (name, f) in SUBJECTS {
            if name == "tracing_instrument" || name == "ops_profiler_instant_handle" {
                continue;
            }
            g.bench_function(name, |b| {
                b.iter_custom(|iters| per_thread_cost(threads, iters, f));
            });
        }
        g.finish();
    }
}

criterion_group!(benches, one_thread, many_threads);
criterion_main!(benches);
