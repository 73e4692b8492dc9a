//! Many threads updating at once: every update is kept, and the page shows the exact sums.

use std::sync::{Arc, Barrier};

use ops_registry::{Buckets, Exposition, Registry};
use proptest::prelude::*;

/// The value of the sample line that starts with `series ` on the page.
fn sample(page: &str, series: &str) -> Option<String> {
    page.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(str::to_owned)
}

#[test]
fn eight_threads_update_counters_gauges_and_histograms_exactly() {
    let reg = Registry::new();
    let orders = reg.counter("orders_total", "Orders.").unwrap();
    let visits = reg
        .counter_vec("visits_total", "Visits.", &["step"])
        .unwrap();
    let inflight = reg.gauge("inflight", "In flight.").unwrap();
    let lat = reg
        .histogram_vec(
            "lat_seconds",
            "Latency.",
            &["rpc"],
            Buckets::new(&[1.0, 10.0]).unwrap(),
        )
        .unwrap();
    let barrier = Arc::new(Barrier::new(8));
    std::thread::scope(|s| {
        for t in 0..8u64 {
            let (orders, visits, inflight, lat, barrier) =
                (&orders, &visits, &inflight, &lat, Arc::clone(&barrier));
            s.spawn(move || {
                let step = visits.with(&[if t % 2 == 0 { "even" } else { "odd" }]);
                let rpc = lat.with(&["get"]);
                barrier.wait();
                for i in 0..50_000u64 {
                    orders.inc();
                    step.add(2);
                    inflight.add(1.0);
                    rpc.record((i % 20) as f64);
                    inflight.sub(1.0);
                }
            });
        }
    });
    assert_eq!(orders.get(), 400_000);
    assert_eq!(inflight.get(), 0.0);
    let page = reg.to_prometheus();
    assert_eq!(sample(&page, "orders_total").as_deref(), Some("400000"));
    assert_eq!(
        sample(&page, "visits_total{step=\"even\"}").as_deref(),
        Some("400000")
    );
    assert_eq!(
        sample(&page, "visits_total{step=\"odd\"}").as_deref(),
        Some("400000")
    );
    // Per thread: 0..=1 (2 values), 2..=10 (9), 11..=19 (9) per 20 observations.
    assert_eq!(
        sample(&page, "lat_seconds_bucket{rpc=\"get\",le=\"1\"}").as_deref(),
        Some("40000")
    );
    assert_eq!(
        sample(&page, "lat_seconds_bucket{rpc=\"get\",le=\"10\"}").as_deref(),
        Some("220000")
    );
    assert_eq!(
        sample(&page, "lat_seconds_bucket{rpc=\"get\",le=\"+Inf\"}").as_deref(),
        Some("400000")
    );
    assert_eq!(
        sample(&page, "lat_seconds_count{rpc=\"get\"}").as_deref(),
        Some("400000")
    );
    // 8 threads × 2,500 rounds × (0 + 1 + … + 19).
    assert_eq!(
        sample(&page, "lat_seconds_sum{rpc=\"get\"}").as_deref(),
        Some("3800000")
    );
    assert_eq!(sample(&page, "inflight").as_deref(), Some("0"));
}

#[test]
fn more_threads_than_slots_share_a_shard_and_lose_nothing() {
    // 32 threads can own a slot at once; 48 at once means at least 16 write the shared shard
    // with atomic adds, beside the owners' plain stores.
    let reg = Registry::new();
    let c = reg.counter("many_total", "Many.").unwrap();
    let h = reg
        .histogram("many_seconds", "Many.", Buckets::new(&[0.5]).unwrap())
        .unwrap();
    let barrier = Arc::new(Barrier::new(48));
    std::thread::scope(|s| {
        for _ in 0..48 {
            let (c, h, barrier) = (&c, &h, Arc::clone(&barrier));
            s.spawn(move || {
                barrier.wait();
                for _ in 0..20_000 {
                    c.inc();
                    h.record(1.0);
                }
                // Hold the slot until every thread has written, so all 48 are alive at once.
                barrier.wait();
            });
        }
    });
    assert_eq!(c.get(), 960_000);
    assert_eq!(h.count(), 960_000);
    assert_eq!(h.sum(), 960_000.0);
    // Slots were handed back: later threads write as before.
    for _ in 0..3 {
        std::thread::scope(|s| {
            for _ in 0..40 {
                s.spawn(|| c.add(5));
            }
        });
    }
    assert_eq!(c.get(), 960_600);
}

#[test]
fn pages_rendered_during_updates_never_go_backwards() {
    let reg = Registry::new();
    let c = reg.counter("ticks_total", "Ticks.").unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..200_000 {
                    c.inc();
                }
            });
        }
        let reader = s.spawn(|| {
            let mut last = 0u64;
            let mut pages = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) || pages == 0 {
                let page = reg.to_prometheus();
                let v: u64 = sample(&page, "ticks_total").unwrap().parse().unwrap();
                assert!(v >= last, "{v} after {last}");
                last = v;
                pages += 1;
            }
            last
        });
        // The writers are joined when the scope ends; tell the reader after them.
        s.spawn(|| {
            while c.get() < 800_000 {
                std::thread::yield_now();
            }
            done.store(true, std::sync::atomic::Ordering::Relaxed);
        });
        assert!(reader.join().unwrap() <= 800_000);
    });
    assert_eq!(
        sample(&reg.to_prometheus(), "ticks_total").as_deref(),
        Some("800000")
    );
}

#[test]
fn gauge_sets_are_last_writer_wins_and_adds_are_never_lost() {
    let reg = Registry::new();
    let g = reg.gauge("level", "Level.").unwrap();
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for _ in 0..10_000 {
                    g.add(1.0);
                }
            });
        }
    });
    assert_eq!(g.get(), 80_000.0);
    g.set(7.0);
    g.add(1.0);
    assert_eq!(g.get(), 8.0);
    // Concurrent sets: the value is one of the values set, never a mix.
    std::thread::scope(|s| {
        for t in 0..4 {
            let g = &g;
            s.spawn(move || {
                for _ in 0..10_000 {
                    g.set(f64::from(t) * 1000.0);
                }
            });
        }
    });
    assert!(
        [0.0, 1000.0, 2000.0, 3000.0].contains(&g.get()),
        "{}",
        g.get()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any sequence of concurrent increments and observations, on several threads and label
    /// sets, renders the exact sums.
    #[test]
    fn any_concurrent_increments_render_the_exact_sum(
        threads in proptest::collection::vec(
            proptest::collection::vec((0usize..3, 0u64..1_000), 0..200),
            1..6,
        )
    ) {
        let reg = Registry::new();
        let c = reg.counter_vec("events_total", "Events.", &["kind"]).unwrap();
        let h = reg
            .histogram("sizes_bytes", "Sizes.", Buckets::new(&[10.0, 100.0]).unwrap())
            .unwrap();
        let kinds = ["a", "b", "c"];
        let barrier = Arc::new(Barrier::new(threads.len()));
        std::thread::scope(|s| {
            for ops in &threads {
                let (c, h, barrier) = (&c, &h, Arc::clone(&barrier));
                s.spawn(move || {
                    barrier.wait();
                    for &(kind, n) in ops {
                        c.with(&[kinds[kind]]).add(n);
                        h.record(n as f64);
                    }
                });
            }
        });
        let page = reg.to_prometheus();
        for (k, kind) in kinds.iter().enumerate() {
            let expected: u64 = threads.iter().flatten().filter(|(i, _)| *i == k).map(|(_, n)| n).sum();
            let any = threads.iter().flatten().any(|(i, _)| *i == k);
            let got = sample(&page, &format!("events_total{{kind=\"{kind}\"}}"));
            prop_assert_eq!(got, any.then(|| expected.to_string()));
        }
        let all: Vec<u64> = threads.iter().flatten().map(|&(_, n)| n).collect();
        let sum: u64 = all.iter().sum();
        prop_assert_eq!(sample(&page, "sizes_bytes_sum"), Some(sum.to_string()));
        prop_assert_eq!(sample(&page, "sizes_bytes_count"), Some(all.len().to_string()));
        let le10 = all.iter().filter(|&&n| n <= 10).count();
        prop_assert_eq!(sample(&page, "sizes_bytes_bucket{le=\"10\"}"), Some(le10.to_string()));
        let le100 = all.iter().filter(|&&n| n <= 100).count();
        prop_assert_eq!(sample(&page, "sizes_bytes_bucket{le=\"100\"}"), Some(le100.to_string()));
    }
}
