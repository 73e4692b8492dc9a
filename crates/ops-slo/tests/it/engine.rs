//! The engine over long windows with an injected clock: exact ratios and burn rates, the
//! minimum-traffic guard, counter resets, new series, a 30-day budget that rolls over by the
//! hour, the latency bound check, recorded events, and the page section.

use std::time::Duration;

use ops_core::exposition::Exposition as _;
use ops_slo::{Sli, Slo, SloEngine, SloSet, SloStatus};
use ops_testkit::promtool;

use super::{at, close, http_page, orders};

const HOUR: Duration = Duration::from_hours(1);
const FIVE_MIN: Duration = Duration::from_mins(5);

fn engine(slos: Vec<Slo>) -> SloEngine {
    SloEngine::builder(SloSet::new(slos)).build().unwrap()
}

fn window(status: &SloStatus, w: Duration) -> (Option<f64>, Option<f64>, f64) {
    let s = status.window(w).unwrap();
    (s.error_ratio, s.burn_rate, s.events)
}

#[test]
fn ratios_and_burn_rates_are_exact_over_minute_points() {
    let e = engine(vec![Slo::availability("shop")]);
    // 120 minutes: 200 requests a minute, 1 failed a minute, then 10 failed a minute.
    let (mut ok, mut failed) = (0, 0);
    for m in 0..=120 {
        e.record(&http_page(ok, failed), at(m));
        let bad = if m < 60 { 1 } else { 10 };
        ok += 200 - bad;
        failed += bad;
    }
    let s = &e.status()[0];
    assert_eq!(s.as_of, Some(at(120)));
    // The last hour: 600 failed of 12,000.
    let (ratio, burn, events) = window(s, HOUR);
    assert!(close(Some(events), 12_000.0), "{events}");
    assert!(close(ratio, 0.05), "{ratio:?}");
    assert!(close(burn, 10.0), "{burn:?}");
    assert_eq!(burn, ratio.map(|r| r / 0.005));
    // 5 minutes: 50 of 1,000; the 2 h window, exactly since the start (the first value is 0).
    assert!(close(window(s, FIVE_MIN).0, 0.05));
    assert!(close(Some(window(s, Duration::from_hours(2)).2), 24_000.0));
    assert!(close(
        window(s, Duration::from_hours(6)).0,
        660.0 / 24_000.0
    ));
    // The budget: 660 bad of 24,000 (2.75 %) is 5.5 × the budget.
    assert_eq!(s.budget.events, 24_000.0);
    assert_eq!(s.budget.bad_events, 660.0);
    assert!(s.budget.exhausted);
    assert_eq!(s.time_to_exhaustion, Some(Duration::ZERO));
    // 1h and 5m at 5 % (10×): under 14.4×. 30m at 5 % but 6h at 2.75 % (5.5×): under 6×. 2h
    // and 1d at 2.75 %: over 3× and 1×, the two tickets.
    let burning: Vec<&str> = s.burning().map(|a| a.alertname.as_str()).collect();
    assert_eq!(
        burning,
        [
            "ShopAvailabilityBurnRate1d2h",
            "ShopAvailabilityBurnRate3d6h"
        ]
    );
}

#[test]
fn too_little_traffic_is_no_data_not_zero() {
    let e = engine(vec![orders()]);
    // Four orders in five minutes, all failed: under one a minute, so no ratio, no alert.
    for m in 0..=5u64 {
        let n = m.min(4);
        e.record(&format!("orders_total {n}\nfailed_total {n}\n"), at(m));
    }
    let s = &e.status()[0];
    let w = s.window(FIVE_MIN).unwrap();
    assert_eq!((w.error_ratio, w.burn_rate, w.no_data), (None, None, true));
    assert!(close(Some(w.events), 4.0));
    assert_eq!(s.burning().count(), 0);
    let page = e.to_prometheus();
    assert!(page.contains("ops_slo_no_data{sloth_id=\"shop-orders\",sloth_service=\"shop\",sloth_slo=\"orders\",sloth_window=\"5m\"} 1\n"), "{page}");
    assert!(!page.contains("ops_slo_sli_error_ratio{sloth_id=\"shop-orders\",sloth_service=\"shop\",sloth_slo=\"orders\",sloth_window=\"5m\"}"), "{page}");
    let mut recorded = String::new();
    e.recorded(&mut recorded);
    assert!(
        !recorded.contains("slo:sli_error:ratio_rate5m{"),
        "{recorded}"
    );
    // The budget still counts them: every event so far was bad.
    assert_eq!((s.budget.events, s.budget.bad_events), (4.0, 4.0));
    // Five in the next five minutes is one a minute: data.
    for m in 6..=10u64 {
        e.record(
            &format!("orders_total {}\nfailed_total 4\n", 4 + (m - 5)),
            at(m),
        );
    }
    let w = e.status()[0].window(FIVE_MIN).unwrap().clone();
    assert_eq!((w.error_ratio, w.no_data), (Some(0.0), false));
    assert!(close(Some(w.events), 5.0));
}

#[test]
fn resets_count_the_new_value_and_new_series_count_from_zero() {
    let e = engine(vec![orders()]);
    e.record(
        "orders_total{pod=\"a\"} 1000\nfailed_total{pod=\"a\"} 10\n",
        at(0),
    );
    e.record(
        "orders_total{pod=\"a\"} 1100\nfailed_total{pod=\"a\"} 10\n",
        at(1),
    );
    // A restart of pod a (reset to 30), and pod b appears with 50 orders, 5 failed.
    e.record(
        "orders_total{pod=\"a\"} 30\nfailed_total{pod=\"a\"} 3\norders_total{pod=\"b\"} 50\nfailed_total{pod=\"b\"} 5\n",
        at(2),
    );
    let s = &e.status()[0];
    // 100 + 30 + 50 orders, 0 + 3 + 5 failed since minute 0 — plus minute 0's counts, as the
    // engine started with the process (counters_since_start).
    assert_eq!(s.budget.events, 1000.0 + 100.0 + 30.0 + 50.0);
    assert_eq!(s.budget.bad_events, 10.0 + 8.0);
    // A baseline engine does not count the first page.
    let base = SloEngine::builder(SloSet::new(vec![orders()]))
        .counters_since_start(false)
        .build()
        .unwrap();
    base.record("orders_total 1000\nfailed_total 10\n", at(0));
    base.record("orders_total 1100\nfailed_total 11\n", at(1));
    let b = &base.status()[0].budget;
    assert_eq!((b.events, b.bad_events), (100.0, 1.0));
}

#[test]
fn thirty_day_budget_rolls_over_by_the_hour() {
    let e = engine(vec![orders()]);
    // A page every 10 minutes for 32 days, 1,000 more orders each; 500 failed orders show from
    // minute 1,810 on (hour 30). Hour h holds the pages of minutes 60h..=60h+50: 6,000 orders
    // (hour 0: 5,000, as the first page is the start).
    let budget_at = |m: u64, orders: &mut u64, failed: u64| {
        e.record(
            &format!("orders_total {orders}\nfailed_total {failed}\n"),
            at(m),
        );
        *orders += 1000;
        e.status()[0].budget
    };
    let mut orders = 0;
    let mut seen = Vec::new();
    for step in 0..=(32 * 24 * 6) {
        let m = step * 10;
        let failed = if m >= 1810 { 500 } else { 0 };
        let b = budget_at(m, &mut orders, failed);
        if matches!(m, 600 | 1860 | 43_200 | 44_990 | 45_000) {
            seen.push((m, b));
        }
    }
    let get = |m: u64| seen.iter().find(|(x, _)| *x == m).unwrap().1;
    // Before the failures: the full budget, 216 minutes of full outage (0.5 % of 30 days).
    let b = get(600);
    assert_eq!(
        (b.events, b.remaining_ratio, b.remaining_minutes),
        (60_000.0, 1.0, 216.0)
    );
    // Hour 31: 500 bad of 186,000.
    let b = get(1860);
    assert_eq!((b.events, b.bad_events), (186_000.0, 500.0));
    assert!((b.consumed_ratio - 500.0 / 186_000.0 / 0.005).abs() < 1e-12);
    assert!((b.remaining_minutes - (1.0 - b.consumed_ratio) * 216.0).abs() < 1e-9);
    // Minute 43,200 (hour 720): the window is hours 1..=720 — 719 whole hours and the first
    // page of hour 720.
    let b = get(43_200);
    assert_eq!((b.events, b.bad_events), (719.0 * 6000.0 + 1000.0, 500.0));
    // Hour 30 is in the window up to hour 749 (minute 44,990), out from hour 750.
    assert_eq!(get(44_990).bad_events, 500.0);
    let b = get(45_000);
    assert_eq!(
        (b.bad_events, b.remaining_ratio, b.exhausted),
        (0.0, 1.0, false)
    );
    assert_eq!(b.events, 719.0 * 6000.0 + 1000.0);
    let last = e.status()[0].budget;
    assert_eq!(last.events, 719.0 * 6000.0 + 1000.0);
}

#[test]
fn time_to_exhaustion_follows_the_hour_burn_rate() {
    let e = engine(vec![orders()]);
    // 1,000 orders a minute; 0.25 % fail for 60 minutes: burn 0.5 over the hour.
    for m in 0..=60u64 {
        e.record(
            &format!("orders_total {}\nfailed_total {}\n", m * 1000, m * 5 / 2),
            at(m),
        );
    }
    let s = &e.status()[0];
    assert!(close(window(s, HOUR).1, 0.5));
    assert_eq!(s.burn_window, Some(HOUR));
    // Half the budget is spent (0.25 % of 0.5 %): the half left lasts 0.5 × 30 d / 0.5 = 30 d.
    assert!((s.budget.remaining_ratio - 0.5).abs() < 1e-12);
    let t = s.time_to_exhaustion.unwrap().as_secs_f64();
    assert!((t - 30.0 * 86_400.0).abs() < 1e-3, "{t}");
}

#[test]
fn a_latency_bound_missing_from_the_page_is_an_error_naming_the_bounds() {
    // 2.5 s is a bound of ops-http's buckets, but this page's histogram lacks it.
    let e = engine(vec![Slo::latency("shop", Duration::from_millis(2500))]);
    let page = "http_server_request_duration_seconds_bucket{status=\"200\",le=\"0.5\"} 10\nhttp_server_request_duration_seconds_bucket{status=\"200\",le=\"1\"} 10\nhttp_server_request_duration_seconds_bucket{status=\"200\",le=\"+Inf\"} 10\nhttp_server_request_duration_seconds_count{status=\"200\"} 10\n";
    e.record(page, at(0));
    let s = &e.status()[0];
    assert_eq!(
        s.error.as_deref(),
        Some(
            "http_server_request_duration_seconds_bucket{le=\"2.5\"}: the histogram has no bucket at this bound; its bounds: 0.5, 1"
        )
    );
    assert!(e.to_prometheus().contains("ops_slo_sli_source_errors_total{sloth_id=\"shop-latency\",sloth_service=\"shop\",sloth_slo=\"latency\"} 1\n"));
    // With the bucket, no error, and the slow requests are bad.
    e.record(&http_page(90, 10), at(1));
    assert_eq!(e.status()[0].error, None);
}

#[test]
fn ops_http_buckets_are_the_ones_the_latency_check_knows() {
    // The layer registers its histogram with the bounds SloSet::validate checks against.
    let registry = ops_registry::Registry::new();
    let _layer = ops_http::HttpMetricsLayer::new(&registry).unwrap();
    registry
        .histogram_vec(
            ops_slo::HTTP_DURATION_FAMILY,
            "",
            &["method", "route", "status"],
            ops_registry::Buckets::HTTP,
        )
        .expect("ops-http's histogram has Buckets::HTTP's bounds");
    assert_eq!(ops_http::DURATION_FAMILY, ops_slo::HTTP_DURATION_FAMILY);
    // 2 s, the playbook's bound, is one of them: the playbook's SLOs validate as they are.
    SloSet::playbook("shop", ops_slo::DEFAULT_LATENCY_BOUND)
        .validate()
        .expect("2 s is a bucket bound of the layer's histogram");
    assert!(ops_registry::Buckets::HTTP.bounds().contains(&2.0));
    // A bound between buckets is refused, naming them.
    let err = SloSet::playbook("shop", Duration::from_millis(1500))
        .validate()
        .unwrap_err()
        .to_string();
    assert!(err.contains("must be one of the bucket bounds"), "{err}");
}

#[test]
fn recorded_events_and_the_page_section() {
    let set = SloSet::new(vec![
        Slo::new("shop", "signups", Sli::Events {}),
        Slo::availability("shop"),
    ]);
    let e = SloEngine::builder(set).build().unwrap();
    let signups = e.events("shop-signups").unwrap();
    assert!(e.events("shop-availability").is_none());
    for m in 0..=10u64 {
        for i in 0..20 {
            signups.record(i != 0);
        }
        e.record(&http_page(m * 100, 0), at(m));
    }
    let s = &e.status()[0];
    // 20 events a minute, 1 bad: the first page already held the first minute's.
    assert_eq!((s.budget.events, s.budget.bad_events), (220.0, 11.0));
    assert!(close(window(s, FIVE_MIN).0, 0.05));
    let page = e.to_prometheus();
    assert!(
        page.contains("ops_slo_events_total{sloth_id=\"shop-signups\",result=\"bad\"} 11\n"),
        "{page}"
    );
    assert!(page.contains("ops_slo_error_budget_remaining_ratio{sloth_id=\"shop-availability\",sloth_service=\"shop\",sloth_slo=\"availability\"} 1\n"), "{page}");
    assert!(page.contains("ops_slo_time_to_exhaustion_seconds{sloth_id=\"shop-availability\",sloth_service=\"shop\",sloth_slo=\"availability\"} +Inf\n"), "{page}");
    assert!(
        !page.contains("slo:"),
        "Sloth's names are off the page by default"
    );
    assert_eq!(
        ops_core::exposition::families(&page).map(|f| f.len() > 10),
        Ok(true)
    );
    if let Some(promtool) = promtool::find("recorded_events_and_the_page_section") {
        promtool::assert_clean_metrics(&promtool, &page);
    }
    // With sloth_names, the recorded series are on the page too.
    let sloth = SloEngine::builder(SloSet::new(vec![Slo::availability("shop")]))
        .sloth_names(true)
        .build()
        .unwrap();
    sloth.record(&http_page(0, 0), at(0));
    sloth.record(&http_page(100, 1), at(1));
    let page = sloth.to_prometheus();
    assert!(page.contains("slo:objective:ratio{sloth_id=\"shop-availability\",sloth_service=\"shop\",sloth_slo=\"availability\"} 0.995\n"), "{page}");
    assert!(page.contains("sloth_slo_info{sloth_id=\"shop-availability\",sloth_service=\"shop\",sloth_slo=\"availability\",sloth_mode=\"ops-rs\",sloth_objective=\"99.5\"} 1\n"), "{page}");
}

mod proptests {
    use std::time::Duration;

    use proptest::prelude::*;

    use super::{Sli, Slo, SloEngine, SloSet, at};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Over any traffic, each window's error ratio is the bad share of the events in it,
        /// its burn rate that ratio over the budget, a window with fewer than one event a
        /// minute has no data (and no burn rate), the budget counts every event, and an alert
        /// burns exactly when both its windows pass its threshold.
        #[test]
        fn burn_rates_are_consistent_with_the_sli(
            minutes in proptest::collection::vec((0u32..40, 0u32..6), 121..200),
        ) {
            let e = SloEngine::builder(SloSet::new(vec![Slo::new(
                "p", "q", Sli::bad_total("bad_total", "events_total"),
            )]))
            .build()
            .unwrap();
            let (mut total, mut bad) = (0u64, 0u64);
            e.record("events_total 0\nbad_total 0\n", at(0));
            for (m, &(good, b)) in minutes.iter().enumerate() {
                let b = u64::from(b.min(good));
                total += u64::from(good);
                bad += b;
                e.record(&format!("events_total {total}\nbad_total {bad}\n"), at(m as u64 + 1));
            }
            let last = minutes.len();
            let s = &e.status()[0];
            prop_assert_eq!(s.budget.events, total as f64);
            prop_assert_eq!(s.budget.bad_events, bad as f64);
            for w in &s.windows {
                let span = (w.window.as_secs() / 60) as usize;
                if span > last {
                    continue;
                }
                let slice = &minutes[last - span..];
                let n: u64 = slice.iter().map(|(g, _)| u64::from(*g)).sum();
                let k: u64 = slice.iter().map(|(g, b)| u64::from((*b).min(*g))).sum();
                prop_assert!((w.events - n as f64).abs() <= 1e-9 * (n as f64).max(1.0), "{w:?} {n}");
                if n as usize >= span {
                    let expect = k as f64 / n as f64;
                    let got = w.error_ratio.unwrap();
                    prop_assert!((got - expect).abs() <= 1e-12, "{w:?} {expect}");
                    prop_assert_eq!(w.burn_rate, Some(got / 0.005));
                    prop_assert!(!w.no_data);
                } else {
                    prop_assert_eq!((w.error_ratio, w.burn_rate, w.no_data), (None, None, true));
                }
            }
            for a in &s.alerts {
                let over = |d: Duration| {
                    s.window(d)
                        .and_then(|w| w.error_ratio)
                        .is_some_and(|r| r > a.factor * 0.005)
                };
                prop_assert_eq!(a.burning, over(a.long) && over(a.short));
            }
        }
    }
}
