//! Counts stay exact when many threads record at once, shards or not.

use std::time::Duration;

use ops_profiler::{PerformanceProfiler, perf_monitor};

#[perf_monitor(event = false)]
fn hammered(i: u64) -> Result<u64, String> {
    if i.is_multiple_of(10) {
        Err(format!("multiple of ten: {i}"))
    } else {
        Ok(i)
    }
}

#[test]
fn exact_totals_under_contention() {
    const THREADS: u64 = 24; // more threads than shards: some share, with atomic updates
    const CALLS: u64 = 20_000;
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for i in 0..CALLS {
                    let _ = hammered(i);
                }
            });
        }
    });
    let report = ops_profiler::global().report();
    let f = report.iter_named("hammered").next().unwrap();
    assert_eq!(f.call_count, THREADS * CALLS);
    assert_eq!(f.error_count, THREADS * CALLS / 10);
}

#[test]
fn local_profiler_sums_and_percentiles_are_exact_enough() {
    let profiler = PerformanceProfiler::new();
    let handle = profiler.handle("work");
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let handle = handle.clone();
            s.spawn(move || {
                // Thread t records 1..=1000 µs once each, offset so the union is 1..=4000 µs.
                for v in 1..=1000u64 {
                    handle.record(Duration::from_micros(t * 1000 + v), v % 100 != 0);
                }
            });
        }
    });
    let report = profiler.report();
    let f = report.get("work").unwrap();
    assert_eq!((f.call_count, f.error_count), (4000, 40));
    // Sum of 1..=4000 µs = 8,002,000 µs.
    assert!(
        (f.total_time_ms - 8_002.0).abs() < 1e-6,
        "{}",
        f.total_time_ms
    );
    assert_eq!(f.min_time_ms, 0.001);
    assert_eq!(f.max_time_ms, 4.0);
    for (got, exact) in [(f.p50_ms, 2.0), (f.p90_ms, 3.6), (f.p99_ms, 3.96)] {
        assert!(
            (got - exact).abs() / exact <= 0.01,
            "got {got}, exact {exact}"
        );
    }
    profiler.reset();
    assert!(profiler.report().functions.is_empty());
    handle.record(Duration::from_millis(1), true);
    assert_eq!(profiler.report().get("work").unwrap().call_count, 1);
}
