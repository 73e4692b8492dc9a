//! ops-slo: the cost of recording one event into an SLO, and of one evaluation of 20 SLOs.
//!
//! * `slo/record_event`: [`SloEvents::good`] (a sharded counter, no lock) beside what
//!   autometrics does per call for an objective — prometheus-client's `Family::get_or_create`
//!   with the objective's labels, then `inc` — and beside a bare ops-registry counter.
//! * `slo/evaluate_20`: 20 SLOs (availability of 10 routes, latency of 5, the outcomes of 3
//!   functions, one probe SLO, one over two `PromQL` counters) over a page of ~500 series (the
//!   HTTP layer's histogram for 10 routes and 2 statuses, the profiler's 3 functions, a
//!   probe), with 3 days of one-minute points already in the engine (from a state file).
//!   `same_minute` is what most evaluations cost (the monitor evaluates every second): the page
//!   read, the counters summed, the hourly buckets; `new_minute` is the first evaluation of a
//!   minute, which adds the points and evaluates the 7 burn-rate windows of the 20 SLOs (140
//!   error ratios, 140 event rates) in `PromQL`. Beside it, the alternative: the same 140 error
//!   ratios as Prometheus evaluates the exported recording rules — ops-promql over the raw
//!   series, 3 days of them at one-minute resolution.
//! * `slo/state/save_20`: writing the state file of those 20 SLOs (3 days of points each),
//!   atomically with two fsyncs, as the engine does once a minute.
//!
//! `cargo bench -p ops-benches --bench slo`

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ops_core::exposition::{Encoder, MetricType};
use ops_promql::{Expr, Store};
use ops_slo::{Sli, Slo, SloEngine, SloSet, export};
use prometheus_client::metrics::counter::Counter as PcCounter;
use prometheus_client::metrics::family::Family as PcFamily;

const ROUTES: u64 = 10;
const HTTP_BOUNDS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];
const FUNCTIONS: [&str; 3] = ["shop::checkout", "shop::pay", "shop::ship"];
const DAYS_3: u64 = 3 * 24 * 60;

fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_hours(466_667)
}

/// The page after `m` minutes: cumulative counts growing by a minute's traffic each.
fn page(m: u64) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let mut e = Encoder::new(&mut out);
    e.family(
        "http_server_request_duration_seconds",
        "Requests.",
        MetricType::Histogram,
    );
    for r in 0..ROUTES {
        let route = format!("/r{r}");
        for (status, per_minute) in [("200", 600 + 10 * r), ("500", 1 + r % 3)] {
            let count = m * per_minute;
            let buckets: Vec<(f64, u64)> = HTTP_BOUNDS
                .iter()
                .enumerate()
                .map(|(i, b)| (*b, count * (i as u64 + 1) / HTTP_BOUNDS.len() as u64))
                .collect();
            let labels = [
                ("method", "GET"),
                ("route", route.as_str()),
                ("status", status),
            ];
            e.histogram(
                "http_server_request_duration_seconds",
                &labels,
                &buckets,
                count,
                count as f64 * 0.05,
            );
        }
    }
    e.family(
        "ops_function_duration_seconds",
        "Calls.",
        MetricType::Histogram,
    );
    for f in FUNCTIONS {
        let count = m * 120;
        let buckets: Vec<(f64, u64)> = ops_profiler::HISTOGRAM_BOUNDS_SECONDS
            .iter()
            .enumerate()
            .map(|(i, b)| (*b, count * (i as u64 + 1) / 22))
            .collect();
        e.histogram(
            "ops_function_duration_seconds",
            &[("function", f)],
            &buckets,
            count,
            count as f64 * 0.01,
        );
    }
    for (name, per_minute) in [
        ("ops_function_errors_total", 2),
        ("ops_function_cancelled_total", 1),
    ] {
        e.family(name, "Calls.", MetricType::Counter);
        for f in FUNCTIONS {
            e.sample(name, &[("function", f)], m * per_minute);
        }
    }
    e.family("ops_probes_total", "Probes.", MetricType::Counter);
    e.sample(
        "ops_probes_total",
        &[("instance", "http://127.0.0.1/")],
        m * 4,
    );
    e.family("ops_probes_failed_total", "Probes.", MetricType::Counter);
    e.sample(
        "ops_probes_failed_total",
        &[("instance", "http://127.0.0.1/"), ("reason", "timeout")],
        m / 10,
    );
    e.family("shop_payments_total", "Payments.", MetricType::Counter);
    for (result, per_minute) in [("ok", 50), ("failed", 1)] {
        e.sample("shop_payments_total", &[("result", result)], m * per_minute);
    }
    out
}

fn slos() -> SloSet {
    let mut slos = Vec::new();
    for r in 0..ROUTES {
        slos.push(Slo::new(
            "shop",
            format!("availability-r{r}"),
            Sli::HttpAvailability {
                route: Some(format!("/r{r}")),
                method: None,
            },
        ));
    }
    for r in 0..5 {
        slos.push(Slo::new(
            "shop",
            format!("latency-r{r}"),
            Sli::HttpLatency {
                threshold: Duration::from_millis(500),
                route: Some(format!("/r{r}")),
                method: None,
            },
        ));
    }
    for f in FUNCTIONS {
        slos.push(Slo::new("shop", f.replace("::", "-"), Sli::function(f)));
    }
    slos.push(Slo::new("shop", "reachable", Sli::probe(None)));
    slos.push(Slo::new(
        "shop",
        "payments",
        Sli::bad_total(
            "shop_payments_total{result=\"failed\"}",
            "shop_payments_total",
        ),
    ));
    SloSet::new(slos)
}

fn record_event(c: &mut Criterion) {
    let mut g = c.benchmark_group("slo/record_event");
    g.measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(20);
    let engine = SloEngine::builder(SloSet::new(vec![Slo::new(
        "shop",
        "checkout",
        Sli::Events {},
    )]))
    .build()
    .unwrap();
    let events = engine.events("shop-checkout").unwrap();
    g.bench_function(BenchmarkId::new("ops_slo_events_good", "1_thread"), |b| {
        b.iter(|| events.good());
    });
    // What it is built on.
    let counter = ops_registry::Registry::new()
        .counter("bench_total", "Bench.")
        .unwrap();
    g.bench_function(BenchmarkId::new("ops_registry_counter", "1_thread"), |b| {
        b.iter(|| counter.inc());
    });
    // autometrics: one counter per call, found by its labels (function, module, caller,
    // result, the objective's name and percentile).
    let family = PcFamily::<Vec<(String, String)>, PcCounter>::default();
    let ok = vec![
        ("function".to_owned(), "checkout".to_owned()),
        ("module".to_owned(), "shop".to_owned()),
        ("caller_function".to_owned(), String::new()),
        ("caller_module".to_owned(), String::new()),
        ("result".to_owned(), "ok".to_owned()),
        ("objective_name".to_owned(), "checkout".to_owned()),
        ("objective_percentile".to_owned(), "99.5".to_owned()),
    ];
    g.bench_function(
        BenchmarkId::new("prometheus_client_objective_labels", "1_thread"),
        |b| {
            b.iter(|| family.get_or_create(black_box(&ok)).inc());
        },
    );
    g.finish();
}

/// A state file holding 3 days of minute points for every SLO of `set`, as an engine that ran
/// on `page` would have written it.
fn three_days_of_state(set: &SloSet, path: &std::path::Path) {
    // Run a scratch engine over one page to learn each term's raw sum per minute.
    let probe = SloEngine::builder(set.clone()).build().unwrap();
    probe.record(&page(1), t0());
    let per_minute: Vec<Vec<f64>> = probe
        .state()
        .slos
        .iter()
        .map(|s| s.cumulative.clone())
        .collect();
    let first = t0()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 60;
    let mut slos = Vec::new();
    for (meta, unit) in set.metas().into_iter().zip(per_minute) {
        let points: Vec<Vec<f64>> = (0..=DAYS_3)
            .map(|m| unit.iter().map(|u| u * m as f64).collect())
            .collect();
        let hours: Vec<[f64; 2]> = (0..=72).map(|_| [60.0, 60.0 * 600.0]).collect();
        slos.push(serde_json::json!({
            "meta": meta,
            "cumulative": points.last().unwrap(),
            "minutes": {"first": first, "points": points},
            "hours": {"newest": first / 60 + 72, "counts": hours},
        }));
    }
    let doc = serde_json::json!({
        "format": "ops-slo-state",
        "version": 1,
        "written_at": humantime::format_rfc3339(t0() + Duration::from_mins(DAYS_3)).to_string(),
        "slos": slos,
    });
    std::fs::write(path, doc.to_string()).unwrap();
}

fn evaluate_20(c: &mut Criterion) {
    let mut g = c.benchmark_group("slo/evaluate_20");
    g.measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(20);
    let set = slos();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slo-state.json");
    three_days_of_state(&set, &path);
    let engine = SloEngine::builder(set.clone())
        .state_file(&path)
        .save_every(Duration::from_hours(24 * 365))
        .build()
        .unwrap();
    assert!(
        matches!(
            engine.state_load(),
            ops_slo::StateLoad::Loaded { slos: 20, .. }
        ),
        "{:?}",
        engine.state_load()
    );
    let pages: Vec<String> = (DAYS_3..DAYS_3 + 240).map(page).collect();
    // The first record after the load counts the page's totals as the process's; from then on,
    // pages one minute apart.
    let start = t0() + Duration::from_mins(DAYS_3);
    engine.record(&pages[0], start);
    let mut minute = 0u64;
    let mut ms = 1u64;
    g.bench_function(BenchmarkId::new("ops_slo_engine", "same_minute"), |b| {
        b.iter(|| {
            // One evaluation a millisecond, within minute `minute`.
            ms = ms % 59_999 + 1;
            let at = start + Duration::from_mins(minute) + Duration::from_millis(ms);
            engine.record(black_box(&pages[(minute % 240) as usize]), at);
        });
    });
    g.bench_function(BenchmarkId::new("ops_slo_engine", "new_minute"), |b| {
        b.iter(|| {
            minute += 1;
            let at = start + Duration::from_mins(minute);
            engine.record(black_box(&pages[(minute % 240) as usize]), at);
        });
    });
    let s = &engine.status()[0];
    assert!(s.windows.iter().all(|w| w.error_ratio.is_some()), "{s:?}");

    // Prometheus's way: the exported recording rules' error ratios over the raw series.
    let rules = export::prometheus_rules(&set);
    let exprs: Vec<Expr> = rules
        .lines()
        .zip(rules.lines().skip(1))
        .filter(|(a, _)| a.contains("record: \"slo:sli_error:ratio_rate") && !a.contains("30d"))
        .map(|(_, b)| {
            let text: String =
                serde_json::from_str(b.trim().strip_prefix("expr: ").unwrap()).unwrap();
            Expr::parse(&text).unwrap()
        })
        .collect();
    assert_eq!(exprs.len(), 140);
    let mut store = Store::builder(Duration::from_mins(DAYS_3 + 2))
        .min_interval(Duration::from_mins(1))
        .build();
    for m in 0..=DAYS_3 {
        store.ingest(&page(m), t0() + Duration::from_mins(m));
    }
    let at = t0() + Duration::from_mins(DAYS_3);
    g.bench_function(
        BenchmarkId::new("ops_promql_recording_rules_over_raw_series", "140_ratios"),
        |b| {
            b.iter(|| {
                for e in &exprs {
                    black_box(e.eval(&store, at).unwrap());
                }
            });
        },
    );
    g.finish();

    let mut g = c.benchmark_group("slo/state");
    g.measurement_time(Duration::from_secs(5)).sample_size(10);
    engine.save().unwrap();
    let bytes = std::fs::metadata(&path).unwrap().len();
    g.bench_function(
        BenchmarkId::new("save_20_slos_3_days", format!("{} KiB", bytes / 1024)),
        |b| b.iter(|| engine.save().unwrap()),
    );
    g.finish();
    #[allow(clippy::print_stderr)]
    {
        eprintln!("state file: {bytes} bytes for 20 SLOs with 3 days of points");
    }
}

criterion_group!(benches, record_event, evaluate_20);
criterion_main!(benches);
