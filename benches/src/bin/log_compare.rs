//! Per-call latency percentiles and end-to-end throughput of ops-logging beside
//! `fmt().json()` + tracing-appender `non_blocking`, in one run; lines on disk are counted.
//!
//! `cargo run --release -p ops-benches --bin log-compare -- [LINES]`

#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs)]

use std::path::Path;
use std::time::Instant;

use tracing::Dispatch;

fn event(thread: u64, seq: u64) {
    tracing::info!(
        thread,
        seq,
        method = "GET",
        status_code = 200u16,
        "HTTP Request"
    );
}

fn count_lines(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            std::fs::read_to_string(e.unwrap().path())
                .unwrap()
                .lines()
                .count()
        })
        .sum()
}

/// Keeps the writer alive; dropping it drains the queue.
#[allow(dead_code)]
enum Guard {
    Ops(ops_logging::LogGuard),
    Tracing(tracing_appender::non_blocking::WorkerGuard),
}

fn setup(kind: &str, dir: &Path) -> (Dispatch, Guard) {
    if kind == "ops-logging" {
        let (d, g) = ops_logging::Logging::builder("cmp")
            .dir(dir)
            .console(false)
            .ignore_env()
            .separate_streams(false)
            .backups(1000)
            .build()
            .unwrap();
        return (d, Guard::Ops(g));
    }
    let lossy = kind.ends_with("lossy");
    let file = tracing_appender::rolling::never(dir, "cmp.log");
    let (writer, g) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(lossy)
        .finish(file);
    let sub = tracing_subscriber::fmt()
        .json()
        .with_writer(writer)
        .finish();
    (Dispatch::new(sub), Guard::Tracing(g))
}

fn latency(kind: &str, n: u64) -> (f64, f64, f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = setup(kind, dir.path());
    let mut times: Vec<u64> = Vec::with_capacity(n as usize);
    tracing::dispatcher::with_default(&dispatch, || {
        for seq in 0..n {
            let t = Instant::now();
            event(0, seq);
            times.push(t.elapsed().as_nanos() as u64);
        }
    });
    drop(guard);
    times.sort_unstable();
    let pct = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)] as f64 / 1e3;
    let mean = times.iter().sum::<u64>() as f64 / times.len() as f64 / 1e3;
    (pct(0.5), pct(0.99), pct(0.999), mean)
}

fn throughput(kind: &str, threads: u64, n: u64) -> (f64, usize) {
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = setup(kind, dir.path());
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let dispatch = dispatch.clone();
            s.spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    for seq in 0..n / threads {
                        event(t, seq);
                    }
                });
            });
        }
    });
    drop(dispatch);
    drop(guard);
    let secs = started.elapsed().as_secs_f64();
    (n as f64 / secs, count_lines(dir.path()))
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let kinds = [
        "ops-logging",
        "tracing-json-non_blocking-lossy",
        "tracing-json-non_blocking-lossless",
    ];
    println!("per-call latency, 1 thread, {n} events (µs): p50 / p99 / p99.9 / mean");
    for kind in kinds {
        let (p50, p99, p999, mean) = latency(kind, n);
        println!("  {kind:<38} {p50:>6.2} / {p99:>6.2} / {p999:>7.2} / {mean:>6.2}");
    }
    println!("throughput, 4 threads, {n} lines, until every line is on disk:");
    for kind in kinds {
        let (rate, on_disk) = throughput(kind, 4, n);
        println!(
            "  {kind:<38} {:>6.2} M lines/s, {on_disk} lines on disk ({} lost)",
            rate / 1e6,
            n as usize - on_disk
        );
    }
}
