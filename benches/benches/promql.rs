//! ops-promql: evaluating 100 windowed rules over 1,000 series (target: ≤ 5 ms for all 100),
//! parsing those rules, and ingesting a 10,000-series page. There is no in-process `PromQL`
//! evaluator in Rust to set beside it (promql-parser only parses), so each figure stands
//! alone.
//!
//! The series: 1,000 of them, ingested as pages once a second for 10 minutes — request
//! counters per route, method and status (120), a latency histogram per route and method
//! (40 × 12 buckets + `_sum` + `_count` = 560), orders and checkout visits per region (20),
//! queue depths (50) and per-worker job counters (250). The rules: 100 expressions with
//! `[5m]` windows of the kinds an alert file holds (error ratios, p99 latencies, conversion
//! rates, absent series, `*_over_time` thresholds, `topk`).
//!
//! `cargo bench -p ops-benches --bench promql`

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ops_core::exposition::{Encoder, MetricType};
use ops_promql::{Expr, Store};

const BOUNDS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The page at second `s`: 1,000 series.
fn page(s: u64) -> String {
    let mut out = String::with_capacity(96 * 1024);
    let mut enc = Encoder::new(&mut out);
    enc.family("http_requests_total", "Requests.", MetricType::Counter);
    for r in 0..20u64 {
        let route = format!("/r{r}");
        for method in ["GET", "POST"] {
            for (k, status) in ["200", "404", "500"].into_iter().enumerate() {
                let per_second = [20, 2, 1][k] + r % 3;
                let labels = [
                    ("route", route.as_str()),
                    ("method", method),
                    ("status", status),
                ];
                enc.sample("http_requests_total", &labels, s * per_second);
            }
        }
    }
    enc.family(
        "http_request_duration_seconds",
        "Latency.",
        MetricType::Histogram,
    );
    for r in 0..20u64 {
        let route = format!("/r{r}");
        for method in ["GET", "POST"] {
            let buckets: Vec<(f64, u64)> = BOUNDS
                .iter()
                .enumerate()
                .map(|(i, b)| (*b, s * (2 + i as u64 + r % 4)))
                .collect();
            let count = s * (14 + r % 4);
            let labels = [("route", route.as_str()), ("method", method)];
            enc.histogram(
                "http_request_duration_seconds",
                &labels,
                &buckets,
                count,
                s as f64 * 0.8,
            );
        }
    }
    enc.family("orders_total", "Orders.", MetricType::Counter);
    for region in 0..10u64 {
        enc.sample(
            "orders_total",
            &[("region", &format!("eu{region}"))],
            s * (1 + region % 2),
        );
    }
    enc.family(
        "checkout_visits_total",
        "Checkout visits.",
        MetricType::Counter,
    );
    for region in 0..10u64 {
        enc.sample(
            "checkout_visits_total",
            &[("region", &format!("eu{region}"))],
            s * 40,
        );
    }
    enc.family("queue_depth", "Queue depth.", MetricType::Gauge);
    for q in 0..50u64 {
        enc.sample(
            "queue_depth",
            &[("queue", &format!("q{q}"))],
            (s * 7 + q) % 30,
        );
    }
    enc.family("jobs_processed_total", "Jobs.", MetricType::Counter);
    for w in 0..250u64 {
        enc.sample(
            "jobs_processed_total",
            &[("worker", &format!("w{w}"))],
            s * (w % 5 + 1),
        );
    }
    out
}

/// 100 rules with `[5m]` windows.
fn rules() -> Vec<Expr> {
    let mut texts = Vec::new();
    for i in 0..20 {
        let r = format!("/r{i}");
        texts.push(format!(
            "sum by (route) (rate(http_requests_total{{route=\"{r}\",status=~\"5..\"}}[5m])) / sum by (route) (rate(http_requests_total{{route=\"{r}\"}}[5m])) > 0.02"
        ));
        texts.push(format!(
            "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{{route=\"{r}\",method=\"POST\"}}[5m]))) > 0.5"
        ));
        texts.push(format!(
            "avg_over_time(queue_depth{{queue=~\"q{i}|q{}\"}}[5m]) > 20",
            i + 20
        ));
        texts.push(format!(
            "increase(orders_total{{region=\"eu{}\"}}[5m]) / increase(checkout_visits_total{{region=\"eu{}\"}}[5m]) < 0.02",
            i % 10,
            i % 10
        ));
        texts.push(match i % 4 {
            0 => format!("absent(orders_total{{region=\"eu{i}\"}})"),
            1 => "sum(rate(jobs_processed_total[5m])) < 100".to_owned(),
            2 => "topk(5, rate(jobs_processed_total[5m]))".to_owned(),
            _ => format!(
                "sum without (method, status) (increase(http_requests_total{{route=\"{r}\"}}[5m])) == bool 0"
            ),
        });
    }
    texts.iter().map(|t| Expr::parse(t).unwrap()).collect()
}

fn bench_rules(c: &mut Criterion) {
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut store = Store::new(Duration::from_mins(10));
    for s in 0..600u64 {
        let stats = store.ingest(&page(s), start + Duration::from_secs(s));
        assert_eq!(stats.samples, 1000);
    }
    assert_eq!(store.series_count(), 1000);
    let rules = rules();
    assert_eq!(rules.len(), 100);
    let at = start + Duration::from_secs(599);
    let mut g = c.benchmark_group("promql/evaluate");
    g.throughput(Throughput::Elements(100));
    g.bench_function("100_rules_1000_series_5m", |b| {
        b.iter(|| {
            for rule in &rules {
                black_box(rule.eval(black_box(&store), at).unwrap());
            }
        });
    });
    g.finish();

    let texts: Vec<String> = rules.iter().map(ToString::to_string).collect();
    c.bench_function("promql/parse/100_rules", |b| {
        b.iter(|| {
            for t in &texts {
                black_box(Expr::parse(black_box(t)).unwrap());
            }
        });
    });
}

fn bench_ingest(c: &mut Criterion) {
    let mut page = String::new();
    let mut enc = Encoder::new(&mut page);
    enc.family("app_requests_total", "Requests.", MetricType::Counter);
    for i in 0..10_000u32 {
        let labels = [
            ("route", format!("/route/{}", i / 10)),
            ("code", format!("{}", 200 + i % 10)),
        ];
        let labels: Vec<(&str, &str)> = labels.iter().map(|(n, v)| (*n, v.as_str())).collect();
        enc.sample("app_requests_total", &labels, u64::from(i));
    }
    let mut store = Store::builder(Duration::from_mins(1))
        .max_series(10_000)
        .build();
    let mut t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    store.ingest(&page, t);
    assert_eq!(store.series_count(), 10_000);
    let mut g = c.benchmark_group("promql/ingest");
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("page_10000_series", |b| {
        b.iter(|| {
            t += Duration::from_secs(1);
            let stats = store.ingest(black_box(&page), t);
            debug_assert_eq!(stats.samples, 10_000);
        });
    });
    g.bench_function("first_page_10000_new_series", |b| {
        b.iter_batched(
            || {
                Store::builder(Duration::from_mins(1))
                    .max_series(10_000)
                    .build()
            },
            |mut fresh| {
                fresh.ingest(black_box(&page), t);
                fresh
            },
            criterion::BatchSize::LargeInput,
        );
    });
    g.finish();
}

criterion_group!(benches, bench_rules, bench_ingest);
criterion_main!(benches);
