/*!
SLO definitions: what an SLO promises ([`Slo`]: service, name, objective, window), how its
SLI counts good and bad events ([`Sli`]), and which burn rates alert ([`BurnAlert`]).

Every SLI is the ratio of the increases of two aggregated counters — good (or bad) events over
all events — so Prometheus can compute it from the same series: [`Sli::terms`] gives the
counter selectors of each side.
*/

mod alert;
mod set;
mod sli;
mod slo;

use std::time::Duration;

pub use self::alert::{AlertSeverity, BurnAlert, Factor};
pub use self::set::SloSet;
pub use self::sli::Sli;
pub(crate) use self::sli::{escape, selector_name};
pub use self::slo::Slo;

/// The HTTP layer's duration histogram (`ops_http::DURATION_FAMILY`).
pub const HTTP_DURATION_FAMILY: &str = "http_server_request_duration_seconds";

/// The playbook's availability objective: 99.5 %.
pub const DEFAULT_AVAILABILITY: f64 = 0.995;
/// The playbook's latency objective: 99 % of requests under the bound.
pub const DEFAULT_LATENCY_OBJECTIVE: f64 = 0.99;
/// The playbook's latency bound: 2 s.
pub const DEFAULT_LATENCY_BOUND: Duration = Duration::from_secs(2);
/// The default budget window: 30 days.
pub const DEFAULT_WINDOW: Duration = Duration::from_hours(720);
/// The default minimum traffic: one event per minute (autometrics' 0.01667 requests per
/// second). Below it a window has no data.
pub const DEFAULT_MIN_EVENTS_PER_MINUTE: f64 = 1.0;

/// `v` rounded to 12 decimals.
pub(crate) fn round12(v: f64) -> f64 {
    format!("{v:.12}").parse().unwrap_or(v)
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::state::Numerator;

    #[test]
    fn workbook_factors_are_exact_for_30_days() {
        let f: Vec<f64> = BurnAlert::workbook()
            .iter()
            .map(|a| a.factor_for(DEFAULT_WINDOW))
            .collect();
        assert_eq!(f, [14.4, 6.0, 3.0, 1.0]);
        // A 7-day SLO spends the same shares in the same windows.
        let week: Vec<f64> = BurnAlert::workbook()
            .iter()
            .map(|a| a.factor_for(Duration::from_hours(168)))
            .collect();
        assert_eq!(week[0], 3.36);
    }

    #[test]
    fn playbook_budgets() {
        let set = SloSet::playbook("quickstart", Duration::from_millis(2500));
        set.validate().unwrap();
        assert_eq!(set.slos[0].error_budget(), 0.005);
        assert_eq!(set.slos[1].error_budget(), 0.01);
        assert_eq!(set.slos[0].id(), "quickstart-availability");
        assert_eq!(set.slos[0].alert_prefix(), "QuickstartAvailability");
        let (num, terms) = set.slos[1].sli.terms("x");
        assert_eq!(num, Numerator::Good);
        assert_eq!(
            terms[0].selector,
            "http_server_request_duration_seconds_bucket{le=\"2.5\"}"
        );
    }

    #[test]
    fn the_latency_bound_must_be_a_bucket_bound() {
        let set = SloSet::playbook("q", Duration::from_millis(1500));
        let err = set.validate().unwrap_err().to_string();
        assert!(
            err.contains("must be one of the bucket bounds of http_server_request_duration_seconds: 0.005s, 0.01s"),
            "{err}"
        );
        assert!(err.contains("field `sli.http_latency.threshold`"), "{err}");
    }

    #[test]
    fn selectors_are_checked() {
        for (bad, reason) in [
            ("rate(x[5m])", "must be a counter selector"),
            ("x offset 5m", "no offset"),
            ("x{", "not PromQL"),
        ] {
            let set = SloSet::new(vec![Slo::new("s", "n", Sli::bad_total(bad, "t_total"))]);
            let err = set.validate().unwrap_err().to_string();
            assert!(
                err.contains(reason) && err.contains("sli.promql.bad"),
                "{bad}: {err}"
            );
        }
    }
}
