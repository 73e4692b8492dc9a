//! The `metrics` facade: macros land in the registry, on the same page.

use std::fmt::Write as _;

use ops_registry::{Buckets, Exposition, MetricsRecorder, Registry};

use super::util::{histogram, overflow_section};

#[test]
fn macros_land_in_the_registry_with_sanitised_names() {
    let reg = Registry::new();
    let recorder = MetricsRecorder::builder(&reg)
        .buckets_for("db_query_seconds", Buckets::new(&[0.1, 1.0]).unwrap())
        .build();
    metrics::with_local_recorder(&recorder, || {
        metrics::describe_counter!("orders", "Orders placed.");
        metrics::counter!("orders", "status" => "ok").increment(1);
        metrics::counter!("orders", "status" => "ok").increment(2);
        metrics::counter!("orders", "status" => "failed").increment(1);
        // Label sets may vary under one name.
        metrics::counter!("orders").increment(5);
        metrics::counter!("orders", "region" => "eu", "status" => "ok").increment(1);
        // The same labels in another order, or with an empty value, are the same series.
        metrics::counter!("orders", "status" => "ok", "region" => "eu").increment(1);
        metrics::counter!("orders", "status" => "ok", "region" => "eu", "shard" => "").increment(1);
        metrics::gauge!("jobs.queued").set(3.0);
        metrics::gauge!("jobs.queued").increment(2.0);
        metrics::gauge!("jobs.queued").decrement(1.0);
        metrics::histogram!("db.query.seconds", "table" => "users").record(0.05);
        metrics::histogram!("db.query.seconds", "table" => "users").record(2.0);
        metrics::histogram!("rpc_duration_seconds").record(0.02);
        metrics::describe_gauge!("jobs.queued", "Jobs waiting.");
        // Labels named as the page's own, or invalid, are renamed.
        metrics::counter!("odd", "le" => "1", "http.method" => "GET", "__x" => "y").increment(1);
    });
    let facade_help = "Recorded through the metrics facade; no description was given.";
    let mut want = format!(
        r#"# HELP orders_total Orders placed.
# TYPE orders_total counter
orders_total{{status="ok"}} 3
orders_total{{status="failed"}} 1
orders_total 5
orders_total{{region="eu",status="ok"}} 3
# HELP jobs_queued Jobs waiting.
# TYPE jobs_queued gauge
jobs_queued 4
# HELP db_query_seconds {facade_help}
# TYPE db_query_seconds histogram
"#
    );
    want += &histogram(
        "db_query_seconds",
        r#"table="users""#,
        &["0.1", "1"],
        &[1, 1, 2],
        "2.05",
    );
    // The facade's default buckets: Buckets::HTTP.
    let http = [
        "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
    ];
    let counts = [0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1];
    write!(
        want,
        "# HELP rpc_duration_seconds {facade_help}\n# TYPE rpc_duration_seconds histogram\n"
    )
    .unwrap();
    want += &histogram("rpc_duration_seconds", "", &http, &counts, "0.02");
    write!(
        want,
        "# HELP odd_total {facade_help}\n# TYPE odd_total counter\n\
         odd_total{{_x=\"y\",exported_le=\"1\",http_method=\"GET\"}} 1\n"
    )
    .unwrap();
    want += &overflow_section(&[
        ("orders_total", 0),
        ("jobs_queued", 0),
        ("db_query_seconds", 0),
        ("rpc_duration_seconds", 0),
        ("odd_total", 0),
    ]);
    want += "# HELP ops_registry_facade_refused_total Registrations through the metrics facade refused (a name used with two types, or a name that cannot be made valid); their updates are dropped and each name is logged once at WARN.\n\
             # TYPE ops_registry_facade_refused_total counter\n\
             ops_registry_facade_refused_total 0\n";
    assert_eq!(reg.to_prometheus(), want);
}

#[test]
fn the_facade_shares_families_registered_in_code() {
    let reg = Registry::new();
    let orders = reg
        .counter_vec("orders_total", "Orders placed.", &["status", "region"])
        .unwrap();
    let lat = reg
        .histogram("rpc_seconds", "RPC.", Buckets::new(&[1.0]).unwrap())
        .unwrap();
    let recorder = MetricsRecorder::new(&reg);
    metrics::with_local_recorder(&recorder, || {
        // Same label names, any order: the typed family's series.
        metrics::counter!("orders_total", "region" => "eu", "status" => "ok").increment(2);
        // Other label names: its overflow series, counted.
        metrics::counter!("orders_total", "status" => "ok").increment(1);
        metrics::counter!("orders", "status" => "ok", "region" => "eu", "x" => "1").increment(1);
        // The family's buckets, not the facade's default.
        metrics::histogram!("rpc_seconds").record(0.5);
    });
    assert_eq!(orders.with(&["ok", "eu"]).get(), 2);
    assert_eq!(orders.overflow().get(), 2);
    assert_eq!(orders.refused(), 2);
    assert_eq!(lat.buckets(), vec![(1.0, 1), (f64::INFINITY, 1)]);
    // The typed help text stays.
    assert!(
        reg.to_prometheus()
            .starts_with("# HELP orders_total Orders placed.\n")
    );
}

#[test]
fn refused_names_record_nothing_and_are_counted() {
    let reg = Registry::new();
    reg.gauge("temperature", "T.").unwrap();
    let recorder = MetricsRecorder::new(&reg);
    metrics::with_local_recorder(&recorder, || {
        // A counter under a gauge's name (after `_total` is added it is another name: fine).
        metrics::counter!("temperature").increment(1);
        // A histogram under a gauge's name: refused.
        metrics::histogram!("temperature").record(1.0);
        metrics::histogram!("temperature").record(1.0);
        // A gauge ending in `_total`: refused.
        metrics::gauge!("done_total").set(1.0);
        // Empty name.
        metrics::gauge!("").set(1.0);
    });
    let page = reg.to_prometheus();
    assert!(page.contains("\ntemperature_total 1\n"), "{page}");
    assert!(
        page.ends_with("ops_registry_facade_refused_total 4\n"),
        "{page}"
    );
    assert_eq!(reg.family_names(), ["temperature", "temperature_total"]);
}

#[test]
fn the_cardinality_limit_applies_to_the_facade() {
    let reg = Registry::builder().cardinality_limit(2).build();
    let recorder = MetricsRecorder::new(&reg);
    metrics::with_local_recorder(&recorder, || {
        for user in ["a", "b", "c", "d", "a", "c"] {
            metrics::counter!("logins", "user" => user).increment(1);
        }
    });
    let page = reg.to_prometheus();
    let samples: Vec<&str> = page.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        samples,
        [
            "logins_total{user=\"a\"} 2",
            "logins_total{user=\"b\"} 1",
            "logins_total{overflow=\"true\"} 3",
            "ops_registry_overflow_total{family=\"logins_total\"} 3",
            "ops_registry_facade_refused_total 0",
        ]
    );
}

#[test]
fn absolute_raises_a_counter() {
    let reg = Registry::new();
    let recorder = MetricsRecorder::new(&reg);
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("bytes_read").absolute(10);
        metrics::counter!("bytes_read").absolute(4);
        metrics::counter!("bytes_read").absolute(12);
    });
    assert!(reg.to_prometheus().contains("\nbytes_read_total 12\n"));
}

/// Installs the global recorder in a child process (the `metrics` global is set once per
/// process): the macros without a local recorder land in the registry, and a second install is
/// refused.
#[test]
fn install_sets_the_global_recorder_once() {
    if std::env::var_os("OPS_REGISTRY_INSTALL_CHILD").is_some() {
        MetricsRecorder::new(Registry::global()).install().unwrap();
        metrics::counter!("installed", "via" => "global").increment(7);
        let again = MetricsRecorder::new(&Registry::new()).install();
        assert_eq!(again, Err(ops_registry::Error::RecorderAlreadySet));
        let page = Registry::global().to_prometheus();
        assert!(
            page.contains("installed_total{via=\"global\"} 7\n"),
            "{page}"
        );
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "it::recorder::install_sets_the_global_recorder_once",
            "--test-threads=1",
        ])
        .env("OPS_REGISTRY_INSTALL_CHILD", "1")
        .output()
        .unwrap();
    let text = ops_testkit::tools::output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 passed"), "{text}");
}
