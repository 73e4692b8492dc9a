//! Burn-rate alerts end to end: an axum service with ops-http's layer, a monitor with the SLO
//! engine as its recording, errors injected for a while: the page alert fires through the
//! sink while they last and resolves soon after they stop; abandoned requests count in
//! neither side of the SLI.

use std::future::Future as _;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use ops_metrics::SystemMetrics;
use ops_slo::{Slo, SloEngine, SloSet};
use ops_testkit::promtool;
use ops_thresholds::{AlertState, FakeSink, Monitor, RuleSet};
use tower::ServiceExt as _;

use super::at;

const ALERT: &str = "ShopAvailabilityBurnRate1h5m";

/// Sends `ok` requests that succeed, `failed` that answer 500 and `abandoned` that the client
/// gives up on.
fn traffic(rt: &tokio::runtime::Runtime, app: &Router, ok: u32, failed: u32, abandoned: u32) {
    for (path, n) in [("/ok", ok), ("/fail", failed)] {
        for _ in 0..n {
            let req = Request::get(path).body(Body::empty()).unwrap();
            rt.block_on(app.clone().oneshot(req)).unwrap();
        }
    }
    let _enter = rt.enter();
    for _ in 0..abandoned {
        let req = Request::get("/hang").body(Body::empty()).unwrap();
        let mut fut = pin!(app.clone().oneshot(req));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(matches!(fut.as_mut().poll(&mut cx), Poll::Pending));
        // Dropped unanswered: the client went away.
    }
}

#[test]
fn a_burn_rate_alert_fires_on_injected_errors_and_clears_when_they_stop() {
    let registry = ops_registry::Registry::new();
    let app = Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route("/fail", get(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
        .route("/hang", get(std::future::pending::<&'static str>))
        .layer(ops_http::HttpMetricsLayer::new(&registry).unwrap());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let engine = SloEngine::builder(SloSet::new(vec![Slo::availability("shop")]))
        .build()
        .unwrap();
    let sink = FakeSink::new();
    let mut rules = RuleSet::defaults();
    rules.rules.clear();
    rules.interval = Duration::from_mins(1);
    let monitor = Monitor::builder()
        .rules(rules)
        .log(false)
        .profiler(false)
        .sink(sink.clone())
        .section(registry.clone())
        .recording(engine.clone())
        .build()
        .unwrap();
    assert_eq!(monitor.rules().len(), 4, "the SLO's four burn-rate alerts");
    // 30 quiet minutes (with abandoned requests), 10 minutes with half the requests failing,
    // then 20 quiet minutes again.
    let (errors_from, errors_to) = (30u64, 40u64);
    let mut firing_at = Vec::new();
    let mut notes = 0;
    for m in 0..=60u64 {
        let failing = (errors_from..errors_to).contains(&m);
        traffic(
            &rt,
            &app,
            80,
            if failing { 80 } else { 0 },
            if failing { 0 } else { 5 },
        );
        monitor.observe(SystemMetrics::empty(at(m)));
        let firing = monitor
            .statuses()
            .iter()
            .any(|s| s.alertname == ALERT && s.state == AlertState::Firing);
        if firing {
            firing_at.push(m);
        }
        let recent = monitor.recent();
        for n in &recent[notes..] {
            if n.alertname == ALERT {
                eprintln!(
                    "minute {m}: {} {}",
                    if n.resolved { "resolved" } else { "firing" },
                    n.message()
                );
            }
        }
        notes = recent.len();
    }
    // It fires while the errors last (the 1 h window needs a few minutes of them to pass
    // 14.4 × 0.5 %), and resolves within five minutes of their end (the 5 m window).
    // Minute 32: 240 of 2,800 requests in the hour failed (8.6 % > 7.2 %), and the last five
    // minutes burn too. Minute 43 is the last whose 5 m window holds failures.
    let (first, last) = (32, 43);
    assert_eq!(
        firing_at,
        (first..=last).collect::<Vec<u64>>(),
        "{:#?}",
        engine.status()
    );
    // Delivered through the sink: firing (re-sent every resend delay, as Prometheus does),
    // then resolved (re-sent for 15 minutes), with the SLO's labels.
    let sent = monitor.recent().len();
    assert!(sink.wait_for(sent, Duration::from_secs(10)));
    let ours: Vec<_> = sink
        .notifications()
        .into_iter()
        .filter(|n| n.alertname == ALERT)
        .collect();
    let resolved_from = ours.iter().position(|n| n.resolved).expect("a resolution");
    assert!(
        resolved_from > 0 && ours[resolved_from..].iter().all(|n| n.resolved),
        "{ours:?}"
    );
    assert_eq!(ours[0].starts_at, at(first));
    assert_eq!(ours[resolved_from].ends_at, at(last + 1));
    for (k, v) in [
        ("severity", "page"),
        ("sloth_id", "shop-availability"),
        ("sloth_service", "shop"),
        ("sloth_slo", "availability"),
        ("long_window", "1h"),
        ("short_window", "5m"),
    ] {
        assert_eq!(ours[0].label(k), Some(v), "{k}: {:?}", ours[0].labels);
    }
    assert_eq!(
        ours[0].message(),
        "shop availability: error budget burning at 14.4x or faster over 1h and 5m"
    );
    // The abandoned requests are in neither side: 80 a minute, and 80 more that failed during
    // the errors.
    let s = &engine.status()[0];
    assert_eq!(s.budget.events, 61.0 * 80.0 + 10.0 * 80.0);
    assert_eq!(s.budget.bad_events, 800.0);
    let page = monitor.page();
    assert!(
        page.contains("http_server_requests_cancelled_total{method=\"GET\",route=\"/hang\"} 255\n"),
        "{page}"
    );
    assert!(page.contains("ops_slo_burn_rate{"), "{page}");
    if let Some(promtool) =
        promtool::find("a_burn_rate_alert_fires_on_injected_errors_and_clears_when_they_stop")
    {
        promtool::assert_clean_metrics(&promtool, &page);
    }
    monitor.stop(Duration::from_secs(5));
}
