//! Business rules end to end, as a service writes them: an axum router with ops-http's layer
//! and the shop's counters in an ops-registry, a `Monitor` evaluating `PromQL` rules over its
//! page, one evaluation a simulated minute (the clock is the samples' timestamps; requests go
//! through the router in-process):
//!
//! - "checkout conversion below 2 % for 10m" fires once the conversion has been low for ten
//!   minutes, not before;
//! - "no orders for 15m" fires when orders stop — also when all traffic stops — and does not
//!   go silent;
//! - "p99 of POST /orders above 500 ms" fires when orders get slow.

#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::{get, post};
use ops_http::HttpMetricsLayer;
use ops_metrics::SystemMetrics;
use ops_registry::{Counter, Registry};
use ops_thresholds::{Monitor, Rule, RuleSet};
use tower::ServiceExt as _;

struct Shop {
    router: Router,
    visits: Counter,
    orders: Counter,
}

/// `/checkout` counts a visit; `POST /orders` places an order and takes `?ms=N` to answer.
fn shop(registry: &Registry) -> Shop {
    let visits = registry
        .counter("shop_checkout_visits_total", "Checkout page views.")
        .unwrap();
    let orders = registry
        .counter("shop_orders_total", "Orders placed.")
        .unwrap();
    let (v, o) = (visits.clone(), orders.clone());
    let router = Router::new()
        .route(
            "/checkout",
            get(move || {
                v.inc();
                async { StatusCode::OK }
            }),
        )
        .route(
            "/orders",
            post(move |request: Request<Body>| {
                o.inc();
                let ms: u64 = request
                    .uri()
                    .query()
                    .and_then(|q| q.strip_prefix("ms="))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                async move {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    StatusCode::CREATED
                }
            }),
        )
        .layer(HttpMetricsLayer::new(registry).unwrap().access_log(false));
    Shop {
        router,
        visits,
        orders,
    }
}

fn rules() -> RuleSet {
    let mut set = RuleSet::defaults();
    set.rules = vec![
        Rule::promql(
            "LowConversion",
            "sum(rate(shop_orders_total[10m])) / sum(rate(shop_checkout_visits_total[10m])) * 100 < 2",
        )
        .unwrap()
        .for_duration(Duration::from_mins(10)),
        Rule::promql(
            "NoOrders",
            "sum(increase(shop_orders_total[15m])) == 0 or absent(shop_orders_total)",
        )
        .unwrap(),
        Rule::promql(
            "SlowOrders",
            r#"histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket{method="POST",route="/orders"}[5m]))) > 0.5"#,
        )
        .unwrap(),
    ];
    set.interval = Duration::from_mins(1);
    set
}

fn at(minute: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + minute * 60)
}

struct Run {
    shop: Shop,
    monitor: Monitor,
    rt: tokio::runtime::Runtime,
    minute: u64,
}

impl Run {
    fn new() -> Run {
        let registry = Registry::new();
        let shop = shop(&registry);
        let monitor = Monitor::builder()
            .rules(rules())
            .log(false)
            .profiler(false)
            .section(registry)
            .build()
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        Run {
            shop,
            monitor,
            rt,
            minute: 0,
        }
    }

    /// One simulated minute: `visits` checkout visits, `orders` orders taking `ms` each
    /// (concurrently), then one evaluation. Returns the alerts firing after it.
    fn minute(&mut self, visits: u32, orders: u32, ms: u64) -> BTreeSet<String> {
        let router = self.shop.router.clone();
        self.rt.block_on(async {
            for _ in 0..visits {
                let request = Request::get("/checkout").body(Body::empty()).unwrap();
                router.clone().oneshot(request).await.unwrap();
            }
            let orders: Vec<_> = (0..orders)
                .map(|_| {
                    let request = Request::post(format!("/orders?ms={ms}"))
                        .body(Body::empty())
                        .unwrap();
                    router.clone().oneshot(request)
                })
                .collect();
            for order in orders {
                assert_eq!(order.await.unwrap().status(), StatusCode::CREATED);
            }
        });
        self.monitor.observe(SystemMetrics::empty(at(self.minute)));
        self.minute += 1;
        self.monitor
            .statuses()
            .into_iter()
            .filter(|s| s.state == ops_thresholds::AlertState::Firing)
            .map(|s| s.alertname)
            .collect()
    }
}

fn firing(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

#[test]
fn conversion_below_two_percent_for_ten_minutes() {
    let mut run = Run::new();
    // 20 minutes at 5 % conversion: nothing fires.
    for _ in 0..20 {
        assert_eq!(run.minute(100, 5, 0), firing(&[]));
    }
    // Then 1 %. With k of the window's 10 minutes at 1 % and the others at 5 %, the window's
    // conversion is (50 − 4k) / 10 %: under 2 % from k = 8 on (the 8th minute, index 7), and
    // the alert fires 10 minutes after that, not before.
    let mut states = Vec::new();
    for _ in 0..25 {
        states.push(run.minute(100, 1, 0).contains("LowConversion"));
    }
    let below_from = 7;
    let first = states.iter().position(|&f| f).expect("fires");
    assert_eq!(
        first,
        below_from + 10,
        "below from index {below_from}, then `for` 10m"
    );
    assert!(states[first..].iter().all(|&f| f), "and stays firing");
    assert_eq!(run.shop.visits.get(), 20 * 100 + 25 * 100);
}

#[test]
fn no_orders_for_fifteen_minutes_fires_even_when_all_traffic_stops() {
    let mut run = Run::new();
    for _ in 0..10 {
        assert_eq!(run.minute(50, 3, 0), firing(&[]));
    }
    // All traffic stops: the counters stay where they are; their increase over 15 minutes
    // reaches 0 — the alert fires, it does not go silent.
    let mut minutes_quiet = 0;
    loop {
        minutes_quiet += 1;
        let now = run.minute(0, 0, 0);
        if now.contains("NoOrders") {
            break;
        }
        assert!(minutes_quiet < 30, "NoOrders never fired");
    }
    // The last order is in the sample of minute 9; a 15-minute window holds no increase once
    // it starts at or after that sample: the 15th quiet minute.
    assert_eq!(minutes_quiet, 15);
    // Orders again: it resolves at the next evaluation.
    assert!(!run.minute(10, 1, 0).contains("NoOrders"));
    assert_eq!(run.shop.orders.get(), 31);
}

#[test]
fn p99_of_post_orders_above_500_ms() {
    let mut run = Run::new();
    for _ in 0..5 {
        assert!(!run.minute(10, 20, 0).contains("SlowOrders"));
    }
    // A minute where a tenth of the orders take 600 ms: the window's p99 is in the slow bucket.
    let now = run.minute(10, 20, 0);
    assert!(!now.contains("SlowOrders"));
    let now = {
        let router = run.shop.router.clone();
        run.rt.block_on(async {
            let slow: Vec<_> = (0..4)
                .map(|_| {
                    let request = Request::post("/orders?ms=600").body(Body::empty()).unwrap();
                    router.clone().oneshot(request)
                })
                .collect();
            for order in slow {
                order.await.unwrap();
            }
        });
        run.minute(10, 20, 0)
    };
    assert!(now.contains("SlowOrders"), "{now:?}");
    assert!(!now.contains("NoOrders"));
    // Fast again: once the slow ones leave the 5-minute window it resolves.
    let mut resolved_after = 0;
    while run.minute(10, 20, 0).contains("SlowOrders") {
        resolved_after += 1;
        assert!(resolved_after < 10, "SlowOrders never resolved");
    }
    // The slow orders are in the increase from minute 5's sample to minute 6's: 5-minute
    // windows ending at minutes 7 to 10 still hold it; the one ending at 11 does not.
    assert_eq!(resolved_after, 4);
}
