//! The store: its bounds (points and bytes per series, number of series, sources), retention,
//! staleness per source, and ingestion of what `ops_core`'s encoder writes.

use std::time::Duration;

use ops_core::exposition::{Encoder, MetricType};
use ops_promql::{AppendError, Labels, MAX_LABELS_PER_SERIES, STALE_NAN, Store, is_stale_nan};

use super::at;

fn labels(text: &str) -> Labels {
    text.parse().unwrap()
}

#[test]
fn a_series_never_holds_more_than_its_points_and_bytes() {
    // One hour at one point a second: 3,601 points. Points come ten times faster than that.
    let mut store = Store::builder(Duration::from_hours(1))
        .max_label_bytes(256)
        .build();
    assert_eq!(store.limits().max_points_per_series, 3601);
    let big = "v".repeat(256 - "__name__".len() - "x".len() - "k".len());
    let series = Labels::new([("__name__", "x"), ("k", big.as_str())]);
    assert_eq!(series.text_bytes(), 256);
    for i in 0..20_000u32 {
        store
            .append(&series, at(f64::from(i) / 10.0), f64::from(i))
            .unwrap();
    }
    let points = store.points(&series).unwrap();
    assert_eq!(points.len(), 3601);
    // The newest are kept: the oldest went first.
    assert_eq!(points.last(), Some(&(1_999_900, 19_999.0)));
    assert_eq!(points[0], (1_639_900, 16_399.0));
    let stats = store.stats();
    assert_eq!(stats.points_evicted, 20_000 - 3601);
    assert_eq!(stats.points_expired, 0);
    assert!(
        store.largest_series_bytes() <= store.max_series_bytes(),
        "{} > {}",
        store.largest_series_bytes(),
        store.max_series_bytes()
    );
    // The documented figure: 3,601 × 16 + 16 + 64 × 64 + 256 + 256.
    assert_eq!(
        store.max_series_bytes(),
        3601 * 16 + 16 + 64 * 64 + 256 + 256
    );

    // Labels past the limits are refused and counted.
    let too_big = Labels::new([("__name__", "x"), ("k", "w".repeat(300).as_str())]);
    assert!(matches!(
        store.append(&too_big, at(0.0), 1.0),
        Err(AppendError::LabelsTooLarge {
            bytes: 310,
            limit: 256
        })
    ));
    let many: Vec<(String, String)> = (0..=MAX_LABELS_PER_SERIES)
        .map(|i| (format!("l{i}"), "v".to_owned()))
        .chain([("__name__".to_owned(), "x".to_owned())])
        .collect();
    assert!(matches!(
        store.append(&Labels::new(many), at(0.0), 1.0),
        Err(AppendError::TooManyLabels {
            count: 66,
            limit: 64
        })
    ));
    assert_eq!(store.stats().samples_rejected, 2);
}

#[test]
fn new_series_past_the_cap_are_refused_and_counted() {
    let mut store = Store::builder(Duration::from_mins(10))
        .max_series(100)
        .build();
    let mut page = String::new();
    let mut enc = Encoder::new(&mut page);
    enc.family("requests_total", "Requests.", MetricType::Counter);
    for i in 0..150 {
        enc.sample("requests_total", &[("id", &i.to_string())], 1u64);
    }
    let stats = store.ingest(&page, at(0.0));
    assert_eq!((stats.samples, stats.series_refused), (100, 50));
    assert_eq!(store.series_count(), 100);
    // Again: the 100 known ones are appended, the others refused again.
    let stats = store.ingest(&page, at(1.0));
    assert_eq!((stats.samples, stats.series_refused), (100, 50));
    let s = store.stats();
    assert_eq!((s.series, s.points, s.series_refused), (100, 200, 100));
    // Both bounds together: every series under its maximum, the whole store under the
    // documented total (series × their maximum + the source's index of its last page).
    let index_bound = 150 * (2 * store.limits().max_label_bytes + 320 + 48);
    assert!(store.memory_bytes() <= 100 * store.max_series_bytes() + index_bound + 100 * 64);
    assert!(store.largest_series_bytes() <= store.max_series_bytes());
    assert!(matches!(
        store.append(&labels("other"), at(2.0), 1.0),
        Err(AppendError::SeriesLimit { limit: 100, .. })
    ));
}

#[test]
fn points_older_than_the_retention_go_and_empty_series_with_them() {
    let mut store = Store::new(Duration::from_mins(1));
    let a = labels("a");
    for t in 0..=120 {
        store.append(&a, at(f64::from(t)), f64::from(t)).unwrap();
    }
    // On append: everything before 120 - 60 dropped.
    assert_eq!(store.points(&a).unwrap()[0], (60_000, 60.0));
    assert_eq!(store.stats().points_expired, 60);
    store.append(&labels("b"), at(130.0), 1.0).unwrap();
    // A series that stops keeps its points until something expires them.
    store.expire(at(200.0));
    assert_eq!(store.series_count(), 0);
    assert_eq!(store.stats().series_expired, 2);
    // An ingest expires too.
    store.append(&a, at(300.0), 1.0).unwrap();
    store.ingest("b 1\n", at(400.0));
    assert_eq!(store.series_labels(), [labels("b")]);
}

#[test]
fn a_series_that_leaves_its_source_is_stale_at_once() {
    let mut store = Store::new(Duration::from_mins(30));
    let expr = ops_promql::Expr::parse("jobs").unwrap();
    let names = |t: f64, store: &Store| -> Vec<String> {
        let v = expr.eval(store, at(t)).unwrap();
        v.into_samples()
            .iter()
            .map(|s| s.labels.to_string())
            .collect()
    };
    store.ingest_from("a", "jobs{q=\"1\"} 1\njobs{q=\"2\"} 2\n", at(0.0));
    store.ingest_from("b", "jobs{q=\"3\"} 3\n", at(0.0));
    assert_eq!(
        names(10.0, &store),
        ["jobs{q=\"1\"}", "jobs{q=\"2\"}", "jobs{q=\"3\"}"]
    );
    // Source a drops q=2: stale from its next page on; source b's series is not a's business.
    let stats = store.ingest_from("a", "jobs{q=\"1\"} 1\n", at(15.0));
    assert_eq!(stats.stale_markers, 1);
    assert_eq!(names(15.0, &store), ["jobs{q=\"1\"}", "jobs{q=\"3\"}"]);
    // Still there before the marker (the lookback is 5 minutes).
    assert_eq!(names(14.0, &store).len(), 3);
    // A second page without it writes no second marker.
    assert_eq!(
        store
            .ingest_from("a", "jobs{q=\"1\"} 1\n", at(30.0))
            .stale_markers,
        0
    );
    // It comes back.
    store.ingest_from("a", "jobs{q=\"1\"} 1\njobs{q=\"2\"} 5\n", at(45.0));
    assert_eq!(names(45.0, &store).len(), 3);
    let two = store.points(&labels("jobs{q=\"2\"}")).unwrap();
    assert!(is_stale_nan(two[1].1));
    assert_eq!(
        two.iter().map(|p| p.0).collect::<Vec<_>>(),
        [0, 15_000, 45_000]
    );
    // Without its source's pages, b's series is visible for the lookback, then gone.
    assert_eq!(names(300.0, &store).len(), 3);
    assert_eq!(names(301.0, &store).len(), 2);
}

#[test]
fn sources_past_the_cap_are_refused() {
    let mut store = Store::builder(Duration::from_mins(1))
        .max_sources(2)
        .build();
    assert!(!store.ingest_from("a", "x 1\n", at(0.0)).source_refused);
    assert!(!store.ingest_from("b", "y 1\n", at(0.0)).source_refused);
    let refused = store.ingest_from("c", "z 1\n", at(0.0));
    assert!(refused.source_refused);
    assert_eq!(refused.samples, 0);
    assert_eq!(store.stats().sources_refused, 1);
    // Known sources go on.
    assert_eq!(store.ingest_from("a", "x 2\n", at(1.0)).samples, 1);
}

#[test]
fn malformed_lines_are_skipped_and_counted() {
    let mut store = Store::new(Duration::from_mins(1));
    let page = "# HELP ok A gauge.\n# TYPE ok gauge\nok 1\nok{ 2\n\n  \nbad{a=\"1\"} x\nok{a=\"\\q\"} 1\n9lives 1\nok{b=\"1\"} 1 1700000000000\nok{c=\"1\"} 1 now\n";
    let stats = store.ingest(page, at(0.0));
    assert_eq!(stats.samples, 2);
    assert_eq!(stats.malformed_lines, 5);
    assert_eq!(stats.first_malformed, Some((4, "invalid label name")));
    assert_eq!(store.stats().malformed_lines, 5);
    // The same series twice in a page: the second is refused.
    let stats = store.ingest("ok 1\nok 2\n", at(1.0));
    assert_eq!((stats.samples, stats.samples_rejected), (1, 1));
}

#[test]
fn reads_every_family_the_encoder_writes() {
    let mut page = String::new();
    let mut enc = Encoder::new(&mut page);
    enc.family("rpc_seconds", "RPC latency.", MetricType::Histogram);
    enc.histogram(
        "rpc_seconds",
        &[("rpc", "get")],
        &[(0.1, 2), (1.0, 3)],
        4,
        2.75,
    );
    enc.family("q_seconds", "Quantiles.", MetricType::Summary);
    enc.summary("q_seconds", &[], &[(0.5, 0.25), (0.99, 1.5)], 10, 3.0);
    enc.family("odd", "Odd values and labels.", MetricType::Gauge);
    enc.sample("odd", &[("path", "/a\"b\\c\nd"), ("utf8", "é✓")], f64::NAN);
    enc.sample("odd", &[("v", "inf")], f64::INFINITY);
    enc.sample("odd", &[("v", "-inf")], f64::NEG_INFINITY);
    enc.single("up", "Up.", MetricType::Gauge, 1u64);
    let mut store = Store::new(Duration::from_mins(1));
    let stats = store.ingest(&page, at(0.0));
    assert_eq!((stats.samples, stats.malformed_lines), (13, 0));
    let odd = Labels::new([("__name__", "odd"), ("path", "/a\"b\\c\nd"), ("utf8", "é✓")]);
    let v = store.points(&odd).unwrap()[0].1;
    assert!(v.is_nan() && !is_stale_nan(v));
    assert_eq!(
        store.points(&labels("odd{v=\"inf\"}")),
        Some(vec![(0, f64::INFINITY)])
    );
    assert_eq!(
        store.points(&labels("rpc_seconds_bucket{le=\"+Inf\",rpc=\"get\"}")),
        Some(vec![(0, 4.0)])
    );
    assert_eq!(
        store.points(&labels("q_seconds{quantile=\"0.99\"}")),
        Some(vec![(0, 1.5)])
    );
}

#[test]
fn out_of_order_and_conflicting_samples_are_refused() {
    let mut store = Store::new(Duration::from_mins(1));
    let x = labels("x");
    store.append(&x, at(10.0), 1.0).unwrap();
    assert!(matches!(
        store.append(&x, at(5.0), 1.0),
        Err(AppendError::OutOfOrder {
            last: 10_000,
            at: 5_000,
            ..
        })
    ));
    assert!(matches!(
        store.append(&x, at(10.0), 2.0),
        Err(AppendError::DuplicateTimestamp { at: 10_000, .. })
    ));
    // The same value again is no error and no second point.
    store.append(&x, at(10.0), 1.0).unwrap();
    assert_eq!(store.points(&x).unwrap().len(), 1);
    assert_eq!(store.stats().samples_rejected, 2);
    assert!(matches!(
        store.append(&Labels::new([("a", "1")]), at(0.0), 1.0),
        Err(AppendError::NoMetricName { .. })
    ));
    assert!(matches!(
        store.append(&Labels::new([("__name__", "a-b")]), at(0.0), 1.0),
        Err(AppendError::InvalidMetricName { .. })
    ));
    store.mark_stale(&x, at(11.0)).unwrap();
    assert_eq!(
        store.points(&x).unwrap()[1].1.to_bits(),
        STALE_NAN.to_bits()
    );
}
