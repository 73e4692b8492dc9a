//! Per-call latency percentiles and end-to-end throughput of ops-logging beside
//! `fmt().json()` + tracing-appender `non_blocking`, in one run; lines on disk are counted. Then
//! what value redaction costs: ops-logging with it on and off, alternating, on the 4-field
//! event and on a string-heavy one.
//!
//! `cargo run --release -p ops-benches --bin log-compare -- [LINES]`

#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs)]

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use tracing::Dispatch;

const OPS: &str = "ops-logging";
const OPS_NO_VALUES: &str = "ops-logging, value redaction off";

fn event(thread: u64, seq: u64) {
    tracing::info!(
        thread,
        seq,
        method = "GET",
        status_code = 200u16,
        "HTTP Request"
    );
}

/// An access line with the strings a real one carries: a path with a query, a user agent, a
/// referrer, a user id.
fn string_heavy_event(seq: u64) {
    tracing::info!(
        target: "access",
        method = "GET",
        path = "/api/v2/users/42/orders?page=2&sort=created_at&include=items,payments",
        status_code = 200u16,
        response_time_ms = black_box(seq) as f64 * 0.001,
        user_agent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
        referer = "https://shop.example.com/account/orders",
        user_id = "u-1842",
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

fn ops(dir: &Path, values: bool) -> ops_logging::LoggingBuilder {
    ops_logging::Logging::builder("cmp")
        .dir(dir)
        .console(false)
        .ignore_env()
        .redact_values(values)
}

fn setup(kind: &str, dir: &Path) -> (Dispatch, Guard) {
    if kind == OPS || kind == OPS_NO_VALUES {
        let (d, g) = ops(dir, kind == OPS)
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

struct Latency {
    p50: f64,
    p99: f64,
    p999: f64,
    mean: f64,
}

/// Caller-side time of each of `n` calls of `emit` (µs).
fn time_calls(dispatch: &Dispatch, n: u64, emit: impl Fn(u64)) -> Latency {
    let mut times: Vec<u64> = Vec::with_capacity(n as usize);
    tracing::dispatcher::with_default(dispatch, || {
        for seq in 0..n {
            let t = Instant::now();
            emit(seq);
            times.push(t.elapsed().as_nanos() as u64);
        }
    });
    times.sort_unstable();
    let pct = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)] as f64 / 1e3;
    Latency {
        p50: pct(0.5),
        p99: pct(0.99),
        p999: pct(0.999),
        mean: times.iter().sum::<u64>() as f64 / times.len() as f64 / 1e3,
    }
}

fn latency(kind: &str, n: u64) -> Latency {
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = setup(kind, dir.path());
    let l = time_calls(&dispatch, n, |seq| event(0, seq));
    drop(guard);
    l
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

/// Mean ns per call of `emit` over `n` calls, one `Instant` pair around the whole loop.
fn mean_ns(dispatch: &Dispatch, from: u64, n: u64, emit: &dyn Fn(u64)) -> f64 {
    tracing::dispatcher::with_default(dispatch, || {
        let t = Instant::now();
        for seq in from..from + n {
            emit(seq);
        }
        t.elapsed().as_nanos() as f64 / n as f64
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn pct(ratio: f64) -> String {
    format!("{:+.1} %", (ratio - 1.0) * 100.0)
}

/// Value redaction on against off on a busy machine: both loggers live side by side and take
/// turns in short rounds (on-off, then off-on), so what the machine does to one it does to the
/// other; each round pair gives a ratio, and the median ratio is reported beside the median
/// figures. Caller p50 to files, and formatting alone (a logger with no files) as a mean.
fn redaction_cost(name: &str, per_side: u64, emit: &dyn Fn(u64)) {
    const ROUND: u64 = 20_000;
    let rounds = (per_side / ROUND).max(1);
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let to_files = [true, false].map(|values| {
        let i = usize::from(!values);
        ops(dirs[i].path(), values).build().unwrap()
    });
    let alone =
        [true, false].map(|values| ops(dirs[0].path(), values).files(false).build().unwrap());
    for side in 0..2 {
        time_calls(&to_files[side].0, ROUND, emit);
        mean_ns(&alone[side].0, 0, ROUND, emit);
    }
    let (mut p50, mut fmt) = ([vec![], vec![]], [vec![], vec![]]);
    let (mut p50_ratio, mut fmt_ratio) = (vec![], vec![]);
    for round in 0..rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for side in order {
            p50[side].push(time_calls(&to_files[side].0, ROUND, emit).p50);
            fmt[side].push(mean_ns(&alone[side].0, round * ROUND, ROUND, emit));
        }
        let last = p50[0].len() - 1;
        p50_ratio.push(p50[0][last] / p50[1][last]);
        fmt_ratio.push(fmt[0][last] / fmt[1][last]);
    }
    let [p50_on, p50_off] = p50.map(median);
    let [fmt_on, fmt_off] = fmt.map(median);
    println!(
        "  {name:<20} caller p50 to files {p50_on:.3} / {p50_off:.3} µs ({}); formatting alone {fmt_on:.0} / {fmt_off:.0} ns ({})",
        pct(median(p50_ratio)),
        pct(median(fmt_ratio)),
    );
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let kinds = [
        OPS,
        OPS_NO_VALUES,
        "tracing-json-non_blocking-lossy",
        "tracing-json-non_blocking-lossless",
    ];
    println!("per-call latency, 1 thread, {n} events (µs): p50 / p99 / p99.9 / mean");
    for kind in kinds {
        let l = latency(kind, n);
        println!(
            "  {kind:<38} {:>6.2} / {:>6.2} / {:>7.2} / {:>6.2}",
            l.p50, l.p99, l.p999, l.mean
        );
    }
    let per_side = (n / 2).max(1);
    println!(
        "value redaction on / off, {per_side} events each in alternating rounds of 20000 (medians; the change is the median of the round pairs' ratios):"
    );
    redaction_cost("4-field event", per_side, &|seq| event(0, seq));
    redaction_cost("string-heavy event", per_side, &string_heavy_event);
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
