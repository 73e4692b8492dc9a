//! Rendered pages, compared to the exact expected text.

use ops_registry::{Buckets, Error, Exposition, Registry, Unit};

use super::util::{checkout_visits, histogram, overflow_section};

#[test]
fn every_kind_renders_in_registration_order() {
    let reg = Registry::new();
    let visits = checkout_visits(&reg);
    let orders = reg.counter("shop_orders_total", "Orders placed.").unwrap();
    let queue = reg.gauge("jobs_queued", "Jobs waiting.").unwrap();
    let pools = reg
        .gauge_vec(
            "db_pool_connections",
            "Open connections.",
            &["pool", "role"],
        )
        .unwrap();
    let size = reg
        .histogram(
            "body_bytes",
            "Body sizes.",
            Buckets::new(&[100.0, 1000.0]).unwrap(),
        )
        .unwrap();
    let lat = reg
        .histogram_vec(
            "rpc_duration_seconds",
            "RPC latency.",
            &["rpc"],
            Buckets::new(&[0.01, 0.1, 1.0]).unwrap(),
        )
        .unwrap();

    visits.with(&["payment"]).inc();
    visits.with(&["cart"]).add(2);
    visits.with(&["payment"]).inc();
    orders.add(3);
    queue.set(7.0);
    queue.add(1.5);
    queue.sub(0.5);
    pools.with(&["main", "primary"]).set(12.0);
    pools.with(&["main", "replica"]).set(-1.0);
    size.record(50.0);
    size.record(5000.0);
    let get = lat.with(&["get"]);
    for v in [0.005, 0.01, 0.05, 2.0] {
        get.record(v);
    }
    lat.with(&["put"]).record(0.5);

    let mut want = String::from(
        r#"# HELP shop_checkout_visits_total Checkout page views.
# TYPE shop_checkout_visits_total counter
shop_checkout_visits_total{step="payment"} 2
shop_checkout_visits_total{step="cart"} 2
# HELP shop_orders_total Orders placed.
# TYPE shop_orders_total counter
shop_orders_total 3
# HELP jobs_queued Jobs waiting.
# TYPE jobs_queued gauge
jobs_queued 8
# HELP db_pool_connections Open connections.
# TYPE db_pool_connections gauge
db_pool_connections{pool="main",role="primary"} 12
db_pool_connections{pool="main",role="replica"} -1
# HELP body_bytes Body sizes.
# TYPE body_bytes histogram
"#,
    );
    want += &histogram("body_bytes", "", &["100", "1000"], &[1, 1, 2], "5050");
    want += "# HELP rpc_duration_seconds RPC latency.\n# TYPE rpc_duration_seconds histogram\n";
    let les = ["0.01", "0.1", "1"];
    want += &histogram(
        "rpc_duration_seconds",
        r#"rpc="get""#,
        &les,
        &[2, 3, 3, 4],
        "2.065",
    );
    want += &histogram(
        "rpc_duration_seconds",
        r#"rpc="put""#,
        &les,
        &[0, 0, 1, 1],
        "0.5",
    );
    want += &overflow_section(&[
        ("shop_checkout_visits_total", 0),
        ("db_pool_connections", 0),
        ("rpc_duration_seconds", 0),
    ]);
    assert_eq!(reg.to_prometheus(), want);
}

#[test]
fn an_empty_registry_and_unused_vecs_write_nothing() {
    let reg = Registry::new();
    assert_eq!(reg.to_prometheus(), "");
    let reg = Registry::new();
    reg.counter_vec("a_total", "A.", &["x"]).unwrap();
    reg.counter("b_total", "B.").unwrap();
    assert_eq!(
        reg.to_prometheus(),
        "# HELP b_total B.\n# TYPE b_total counter\nb_total 0\n".to_owned()
            + &overflow_section(&[("a_total", 0)])
    );
}

/// A histogram no thread recorded into sums to 0, not `-0` (float `Sum` starts at -0.0).
#[test]
fn an_unrecorded_histogram_sums_to_zero() {
    let reg = Registry::new();
    reg.histogram("wait_seconds", "Waits.", Buckets::new(&[1.0]).unwrap())
        .unwrap();
    let want = "# HELP wait_seconds Waits.\n# TYPE wait_seconds histogram\n".to_owned()
        + &histogram("wait_seconds", "", &["1"], &[0, 0], "0");
    assert_eq!(reg.to_prometheus(), want);
}

#[test]
fn values_and_help_are_escaped() {
    let reg = Registry::new();
    let c = reg
        .counter_vec("paths_total", "Paths seen,\nby \\ path.", &["path"])
        .unwrap();
    c.with(&["/a\"b\\c\nd"]).inc();
    c.with(&["é"]).inc();
    c.with(&[""]).inc();
    let page = reg.to_prometheus();
    let lines: Vec<&str> = page.lines().take(5).collect();
    assert_eq!(
        lines,
        [
            "# HELP paths_total Paths seen,\\nby \\\\ path.",
            "# TYPE paths_total counter",
            "paths_total{path=\"/a\\\"b\\\\c\\nd\"} 1",
            "paths_total{path=\"é\"} 1",
            "paths_total{path=\"\"} 1",
        ]
    );
}

#[test]
fn gauges_keep_non_finite_values_and_histograms_do_not_sum_them() {
    let reg = Registry::new();
    let g = reg
        .gauge_vec("temperature_celsius", "T.", &["probe"])
        .unwrap();
    g.with(&["nan"]).set(f64::NAN);
    g.with(&["hot"]).set(f64::INFINITY);
    g.with(&["cold"]).set(f64::NEG_INFINITY);
    let h = reg
        .histogram("lag_seconds", "Lag.", Buckets::new(&[1.0]).unwrap())
        .unwrap();
    for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.5] {
        h.record(v);
    }
    let page = reg.to_prometheus();
    let samples: Vec<&str> = page.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        samples,
        [
            "temperature_celsius{probe=\"nan\"} NaN",
            "temperature_celsius{probe=\"hot\"} +Inf",
            "temperature_celsius{probe=\"cold\"} -Inf",
            "lag_seconds_bucket{le=\"1\"} 2",
            "lag_seconds_bucket{le=\"+Inf\"} 4",
            "lag_seconds_sum 0.5",
            "lag_seconds_count 4",
            "ops_registry_overflow_total{family=\"temperature_celsius\"} 0",
        ]
    );
}

#[test]
fn the_same_family_twice_is_shared_and_anything_else_is_a_conflict() {
    let reg = Registry::new();
    let a = reg
        .counter_vec("visits_total", "Visits.", &["step"])
        .unwrap();
    let b = reg
        .counter_vec("visits_total", "Another help text.", &["step"])
        .unwrap();
    a.with(&["cart"]).inc();
    b.with(&["cart"]).inc();
    assert!(a.with(&["cart"]).same_series(&b.with(&["cart"])));
    assert_eq!(a.with(&["cart"]).get(), 2);
    // A clone of the registry shares it too.
    let c = reg
        .clone()
        .counter_vec("visits_total", "Visits.", &["step"])
        .unwrap();
    assert_eq!(c.with(&["cart"]).get(), 2);

    assert_eq!(
        reg.gauge("visits_total", "Visits.").unwrap_err(),
        Error::NameRule {
            name: "visits_total".into(),
            reason: "only counters' names end in _total"
        }
    );
    assert_eq!(
        reg.counter("visits_total", "Visits.").unwrap_err(),
        Error::Conflict {
            family: "visits_total".into(),
            existing: "counter with labels [step]".into(),
            requested: "counter with labels []".into(),
        }
    );
    assert_eq!(
        reg.counter_vec("visits_total", "Visits.", &["page"])
            .unwrap_err()
            .to_string(),
        "family \"visits_total\" is already registered as counter with labels [step]; refused as counter with labels [page]"
    );
    reg.gauge("queue_depth", "Q.").unwrap();
    assert!(matches!(
        reg.histogram("queue_depth", "Q.", Buckets::HTTP),
        Err(Error::Conflict { .. })
    ));
    reg.histogram("rpc_seconds", "R.", Buckets::HTTP).unwrap();
    assert_eq!(
        reg.histogram("rpc_seconds", "R.", Buckets::DEFAULT)
            .unwrap_err()
            .to_string(),
        "family \"rpc_seconds\" is already registered as histogram with labels [] and buckets [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.0, 2.5, 5.0, 7.5, 10.0]; refused as histogram with labels [] and buckets [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]"
    );
    assert!(reg.histogram("rpc_seconds", "R.", Buckets::HTTP).is_ok());
    // One TYPE line per family whatever was refused.
    let page = reg.to_prometheus();
    assert_eq!(
        ops_core::exposition::families(&page),
        Ok(vec![
            "visits_total",
            "queue_depth",
            "rpc_seconds",
            "ops_registry_overflow_total"
        ])
    );
    assert_eq!(
        reg.family_names(),
        ["visits_total", "queue_depth", "rpc_seconds"]
    );
}

#[test]
fn units_must_be_the_names_suffix() {
    let reg = Registry::new();
    let lat = reg
        .family("rpc_duration_seconds", "RPC latency.")
        .unit(Unit::Seconds)
        .histogram_vec(&["rpc"], Buckets::HTTP)
        .unwrap();
    assert_eq!(lat.unit(), Some(Unit::Seconds));
    reg.family("cpu_seconds_total", "CPU.")
        .unit(Unit::Seconds)
        .counter()
        .unwrap();
    assert_eq!(
        reg.family("rpc_duration_ms", "RPC latency.")
            .unit(Unit::Seconds)
            .histogram(Buckets::HTTP)
            .unwrap_err()
            .to_string(),
        "family \"rpc_duration_ms\": unit seconds needs the name to end in \"_seconds\""
    );
    assert_eq!(
        reg.family("bytes_sent_total", "Sent.")
            .unit(Unit::Bytes)
            .counter()
            .unwrap_err(),
        Error::UnitMismatch {
            family: "bytes_sent_total".into(),
            unit: "bytes".into(),
            expected: "_bytes_total".into()
        }
    );
    // Registering again without the unit keeps it.
    let again = reg
        .histogram_vec(
            "rpc_duration_seconds",
            "RPC latency.",
            &["rpc"],
            Buckets::HTTP,
        )
        .unwrap();
    assert_eq!(again.unit(), Some(Unit::Seconds));
}

#[test]
fn handles_read_back_what_the_page_shows() {
    let reg = Registry::new();
    let h = reg
        .histogram(
            "size_bytes",
            "Sizes.",
            Buckets::new(&[10.0, 100.0]).unwrap(),
        )
        .unwrap();
    for v in [5.0, 50.0, 500.0, 7.0] {
        h.record(v);
    }
    assert_eq!(h.count(), 4);
    assert_eq!(h.sum(), 562.0);
    assert_eq!(h.buckets(), vec![(10.0, 2), (100.0, 3), (f64::INFINITY, 4)]);
    let timer = h.start_timer();
    timer.discard();
    assert_eq!(h.count(), 4);
    let t = reg
        .histogram("op_seconds", "Op.", Buckets::DEFAULT)
        .unwrap();
    let elapsed = t.start_timer().stop();
    assert_eq!(t.count(), 1);
    assert_eq!(t.sum(), elapsed.as_secs_f64());
    {
        let _timer = t.start_timer();
    }
    assert_eq!(t.count(), 2);
}
