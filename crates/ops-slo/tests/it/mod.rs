use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use ops_slo::{Sli, Slo};

mod alerts;
mod differential;
mod engine;
mod export;
mod probe;
mod state;

/// An hour-aligned start time (466,667 hours after the epoch).
pub(crate) fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_hours(466_667)
}

/// Whether two ratios are equal but for rounding (`a / b` and `(a / w) / (b / w)`).
pub(crate) fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() <= 1e-12 * b.abs().max(1.0))
}

/// `shop-orders`: `failed_total` bad events of `orders_total`, the defaults otherwise.
pub(crate) fn orders() -> Slo {
    Slo::new(
        "shop",
        "orders",
        Sli::bad_total("failed_total", "orders_total"),
    )
}

/// `t0` plus `minutes`.
pub(crate) fn at(minutes: u64) -> SystemTime {
    t0() + Duration::from_secs(minutes * 60)
}

/// Cumulative counters of the HTTP layer's histogram for one route: `ok` requests answered
/// 200 within 0.1 s and `failed` answered 500 (each `(count, le="2.5")` the same).
pub(crate) fn http_page(ok: u64, failed: u64) -> String {
    let mut page = String::from("# TYPE http_server_request_duration_seconds histogram\n");
    for (status, n) in [("200", ok), ("500", failed)] {
        for le in ["0.1", "2.5", "+Inf"] {
            let _ = writeln!(
                page,
                "http_server_request_duration_seconds_bucket{{method=\"GET\",route=\"/\",status=\"{status}\",le=\"{le}\"}} {n}"
            );
        }
        let _ = writeln!(
            page,
            "http_server_request_duration_seconds_count{{method=\"GET\",route=\"/\",status=\"{status}\"}} {n}"
        );
    }
    page
}
