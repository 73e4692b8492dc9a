//! promtool check metrics on a page with every kind (skipped without promtool unless
//! `OPS_REQUIRE_TOOLS=1`).

use ops_registry::{Buckets, Exposition, Registry, Unit};

use super::util::checkout_visits;

#[test]
fn a_page_with_every_kind_has_no_promtool_finding() {
    let Some(promtool) =
        ops_testkit::promtool::find("a_page_with_every_kind_has_no_promtool_finding")
    else {
        return;
    };
    let reg = Registry::builder().cardinality_limit(2).build();
    reg.counter("shop_orders_total", "Orders placed.")
        .unwrap()
        .add(3);
    let visits = checkout_visits(&reg);
    for step in ["cart", "payment", "done", "more"] {
        visits.with(&[step]).inc();
    }
    reg.gauge("jobs_queued", "Jobs waiting.").unwrap().set(7.0);
    let pools = reg
        .gauge_vec("db_pool_connections", "Open connections.", &["pool"])
        .unwrap();
    pools.with(&["main"]).set(3.0);
    pools
        .with(&["a \"quoted\\ value\nwith a newline"])
        .set(f64::NAN);
    reg.family("request_size_bytes", "Request sizes.")
        .unit(Unit::Bytes)
        .histogram(Buckets::new(&[100.0, 1e6]).unwrap())
        .unwrap()
        .record(512.0);
    let lat = reg
        .family("rpc_duration_seconds", "RPC latency.\nSecond line.")
        .unit(Unit::Seconds)
        .histogram_vec(&["rpc", "code"], Buckets::HTTP)
        .unwrap();
    lat.with(&["get", "ok"]).record(0.012);
    lat.with(&["get", "error"]).record(f64::INFINITY);
    lat.with(&["put", "ok"]).record(3.0);
    lat.with(&["put"]).record(1.0);
    let page = reg.to_prometheus();
    assert!(page.contains("{overflow=\"true\"}"), "{page}");
    ops_testkit::promtool::assert_clean_metrics(&promtool, &page);
}

#[cfg(feature = "metrics")]
#[test]
fn a_page_fed_by_the_metrics_facade_has_no_promtool_finding() {
    let Some(promtool) =
        ops_testkit::promtool::find("a_page_fed_by_the_metrics_facade_has_no_promtool_finding")
    else {
        return;
    };
    let reg = Registry::new();
    let typed = reg
        .counter_vec("orders_total", "Orders.", &["status"])
        .unwrap();
    typed.with(&["ok"]).inc();
    let recorder = ops_registry::MetricsRecorder::new(&reg);
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("orders_total", "status" => "failed").increment(2);
        metrics::counter!("orders_total", "region" => "eu").increment(1);
        metrics::counter!("http.requests", "http.method" => "GET", "le" => "x").increment(1);
        metrics::counter!("http.requests").increment(1);
        metrics::gauge!("queue.depth").set(4.0);
        metrics::gauge!("bad_total").set(1.0);
        metrics::histogram!("db.query.seconds", "table" => "users").record(0.3);
        metrics::describe_histogram!("db.query.seconds", metrics::Unit::Seconds, "Query time.");
    });
    let page = reg.to_prometheus();
    ops_testkit::promtool::assert_clean_metrics(&promtool, &page);
}
