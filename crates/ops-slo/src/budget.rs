//! The error-budget arithmetic: from the events of the budget window to the SLI, the share
//! of the budget spent and left, the minutes of full outage left, and the time to exhaustion
//! at a burn rate. Total functions: whatever the inputs (zero events, more bad events than
//! events, NaN), the figures are finite where they say so and never negative.

use std::time::Duration;

use serde::Serialize;

/// The error budget of one SLO over its window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Budget {
    /// Events in the window.
    pub events: f64,
    /// Bad events in the window (at most `events`).
    pub bad_events: f64,
    /// The share of good events (`None` without events).
    pub sli: Option<f64>,
    /// The share of the error budget spent: `(bad / events) / (1 − objective)`; above 1 when
    /// overspent, 0 without events.
    pub consumed_ratio: f64,
    /// The share left: `1 − consumed`, at least 0.
    pub remaining_ratio: f64,
    /// What is left, as minutes of full outage (every event bad) at the window's traffic:
    /// `remaining × (1 − objective) × window in minutes`.
    pub remaining_minutes: f64,
    /// Whether the budget is spent (`consumed ≥ 1`).
    pub exhausted: bool,
}

impl Budget {
    /// The budget for `bad` bad events out of `events` in `window`, for an SLO whose error
    /// budget (`1 − objective`) is `error_budget` (in `(0, 1)`; taken as at least 1e-12).
    pub fn new(bad: f64, events: f64, error_budget: f64, window: Duration) -> Budget {
        let events = finite_non_negative(events);
        let bad = finite_non_negative(bad).min(events);
        // A budget is at least 1e-12 (an objective has at most 12 decimals), so the share
        // spent stays finite.
        let error_budget = if error_budget.is_nan() {
            1.0
        } else {
            error_budget.clamp(1e-12, 1.0)
        };
        let (sli, consumed) = if events > 0.0 {
            let error_ratio = bad / events;
            (Some(1.0 - error_ratio), error_ratio / error_budget)
        } else {
            (None, 0.0)
        };
        let remaining = (1.0 - consumed).max(0.0);
        let minutes = window.as_secs_f64() / 60.0;
        Budget {
            events,
            bad_events: bad,
            sli,
            consumed_ratio: consumed,
            remaining_ratio: remaining,
            remaining_minutes: remaining * error_budget * minutes,
            exhausted: consumed >= 1.0,
        }
    }

    /// How long the budget left lasts at `burn_rate` (1 spends a whole budget in one
    /// `window`): `remaining × window / burn_rate`; `Some(ZERO)` when spent, `None` when not
    /// burning (a burn rate of 0, negative or not a number).
    pub fn time_to_exhaustion(&self, burn_rate: f64, window: Duration) -> Option<Duration> {
        if self.exhausted {
            return Some(Duration::ZERO);
        }
        if !(burn_rate.is_finite() && burn_rate > 0.0) {
            return None;
        }
        let secs = self.remaining_ratio * window.as_secs_f64() / burn_rate;
        Some(Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX))
    }
}

fn finite_non_negative(v: f64) -> f64 {
    if v.is_finite() && v > 0.0 { v } else { 0.0 }
}

#[cfg(test)]
mod test {
    use proptest::prelude::*;

    use super::*;

    const DAYS_30: Duration = Duration::from_hours(720);

    #[test]
    fn the_playbook_budget() {
        // 99.5 % over 30 days: 216 minutes of full outage.
        let b = Budget::new(0.0, 1_000.0, 0.005, DAYS_30);
        assert_eq!(b.remaining_minutes, 216.0);
        assert_eq!((b.remaining_ratio, b.consumed_ratio), (1.0, 0.0));
        // Half of it spent.
        let b = Budget::new(25.0, 10_000.0, 0.005, DAYS_30);
        assert_eq!(b.sli, Some(0.9975));
        assert!((b.consumed_ratio - 0.5).abs() < 1e-12);
        assert!((b.remaining_minutes - 108.0).abs() < 1e-9);
        assert!(!b.exhausted);
        // At a burn rate of 1 the half left lasts half the window.
        let t = b.time_to_exhaustion(1.0, DAYS_30).unwrap();
        assert!((t.as_secs_f64() - 15.0 * 86_400.0).abs() < 1e-3);
        // Overspent: nothing left, exhausted, time to exhaustion zero.
        let b = Budget::new(100.0, 10_000.0, 0.005, DAYS_30);
        assert_eq!((b.remaining_ratio, b.exhausted), (0.0, true));
        assert_eq!(b.time_to_exhaustion(0.0, DAYS_30), Some(Duration::ZERO));
        // No events: nothing spent, no SLI.
        let b = Budget::new(0.0, 0.0, 0.005, DAYS_30);
        assert_eq!((b.sli, b.remaining_ratio), (None, 1.0));
        assert_eq!(b.time_to_exhaustion(0.0, DAYS_30), None);
    }

    proptest! {
        /// The budget is never NaN or negative, whatever the counts; what is left and what is
        /// spent add up to 1 until it is exhausted; the time to exhaustion is consistent with
        /// the burn rate.
        #[test]
        fn never_nan_or_negative(
            bad in prop_oneof![any::<f64>(), 0.0..1e9f64],
            events in prop_oneof![any::<f64>(), 0.0..1e9f64],
            budget in prop_oneof![any::<f64>(), 1e-6..0.5f64],
            hours in 1u64..9000,
            burn in prop_oneof![any::<f64>(), 0.0..100.0f64],
        ) {
            let window = Duration::from_hours(hours);
            let b = Budget::new(bad, events, budget, window);
            for v in [b.events, b.bad_events, b.consumed_ratio, b.remaining_ratio, b.remaining_minutes] {
                prop_assert!(v.is_finite() && v >= 0.0, "{b:?}");
            }
            prop_assert!(b.remaining_ratio <= 1.0);
            prop_assert!(b.bad_events <= b.events);
            if let Some(sli) = b.sli {
                prop_assert!((0.0..=1.0).contains(&sli));
            }
            if !b.exhausted {
                prop_assert!((b.remaining_ratio + b.consumed_ratio - 1.0).abs() < 1e-9);
            }
            match b.time_to_exhaustion(burn, window) {
                None => prop_assert!(!(b.exhausted || burn > 0.0 && burn.is_finite())),
                Some(t) if b.exhausted => prop_assert_eq!(t, Duration::ZERO),
                Some(t) => {
                    let expect = b.remaining_ratio * window.as_secs_f64() / burn;
                    if expect < 1e15 {
                        prop_assert!((t.as_secs_f64() - expect).abs() <= 1e-6 * expect.max(1.0));
                    }
                }
            }
        }
    }
}
