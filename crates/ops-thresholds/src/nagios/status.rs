//! Plugin states and the state of a value against warning and critical ranges.

use std::fmt;

use super::Range;

/// A plugin state, as the exit code tells Nagios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Exit code 0: the check ran and the service is fine.
    Ok,
    /// Exit code 1: a warning threshold was crossed.
    Warning,
    /// Exit code 2: a critical threshold was crossed.
    Critical,
    /// Exit code 3: the check could not decide (bad arguments, NaN value, internal failure).
    Unknown,
}

impl Status {
    /// The exit code: 0, 1, 2 or 3.
    pub fn code(self) -> i32 {
        match self {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Critical => 2,
            Status::Unknown => 3,
        }
    }

    /// The upper-case label used in the output line: `OK`, `WARNING`, `CRITICAL`, `UNKNOWN`.
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
            Status::Unknown => "UNKNOWN",
        }
    }

    /// The more severe of two states, for aggregating several checks into one result, ordered
    /// `Critical > Warning > Unknown > Ok`.
    ///
    /// This is Monitoring Plugins' `max_state_alt` (`lib/states.h`, also
    /// `Monitoring::Plugin::Functions::max_state_alt`), which their newer output API uses to
    /// combine subchecks. The older `max_state` ranks `Ok` above `Unknown`, which lets one good
    /// metric hide a metric that could not be checked; `max_state_alt` reports any non-OK state.
    /// The numeric exit codes do not follow this order (`Unknown` is 3).
    #[must_use]
    pub fn worst(self, other: Status) -> Status {
        fn rank(s: Status) -> u8 {
            match s {
                Status::Ok => 0,
                Status::Unknown => 1,
                Status::Warning => 2,
                Status::Critical => 3,
            }
        }
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

impl fmt::Display for Status {
    /// Writes [`Status::label`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The state of `value` against optional warning and critical ranges, as Monitoring Plugins'
/// `get_status`: `Critical` if the critical range alerts, else `Warning` if the warning range
/// alerts, else `Ok`. A NaN value is `Unknown`.
pub fn status(value: f64, warning: Option<&Range>, critical: Option<&Range>) -> Status {
    if value.is_nan() {
        Status::Unknown
    } else if critical.is_some_and(|r| r.alerts(value)) {
        Status::Critical
    } else if warning.is_some_and(|r| r.alerts(value)) {
        Status::Warning
    } else {
        Status::Ok
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::float_cmp)]
mod test {
    use proptest::prelude::*;
    use proptest::sample;

    use super::*;
    use crate::nagios::strategy::{INF, number, r, range_value};

    #[test]
    fn test_utils_thresholds() {
        assert_eq!(status(1.0, None, None), Status::Ok);
        let critical = r("80");
        assert_eq!(critical.end, 80.0);
        assert_eq!(status(81.0, None, Some(&critical)), Status::Critical);
        let warning = r("5:33");
        assert_eq!((warning.start, warning.end), (5.0, 33.0));
        assert_eq!(status(34.0, Some(&warning), None), Status::Warning);
        let (w, c) = (r("30"), r("60"));
        assert_eq!(status(15.3, Some(&w), Some(&c)), Status::Ok);
        assert_eq!(status(30.0001, Some(&w), Some(&c)), Status::Warning);
        assert_eq!(status(69.0, Some(&w), Some(&c)), Status::Critical);
    }

    #[test]
    fn critical_before_warning() {
        let warning = r("10");
        let critical = r("5");
        // 7 alerts only for critical; 11 alerts for both: critical wins.
        assert_eq!(
            status(7.0, Some(&warning), Some(&critical)),
            Status::Critical
        );
        assert_eq!(
            status(11.0, Some(&warning), Some(&critical)),
            Status::Critical
        );
        assert_eq!(status(3.0, Some(&warning), Some(&critical)), Status::Ok);
        // Monitoring::Plugin: w=10: c=5: at 7 is WARNING.
        assert_eq!(
            status(7.0, Some(&r("10:")), Some(&r("5:"))),
            Status::Warning
        );
        // w=80 c=90
        let (w, c) = (r("80"), r("90"));
        assert_eq!(status(79.9, Some(&w), Some(&c)), Status::Ok);
        assert_eq!(status(80.0, Some(&w), Some(&c)), Status::Ok);
        assert_eq!(status(80.01, Some(&w), Some(&c)), Status::Warning);
        assert_eq!(status(95.0, Some(&w), Some(&c)), Status::Critical);
        assert_eq!(status(-1.0, Some(&w), Some(&c)), Status::Critical);
        assert_eq!(status(10.0, Some(&r("~:10")), Some(&r("~:20"))), Status::Ok);
        assert_eq!(status(15.0, Some(&r("@10:20")), None), Status::Warning);
        assert_eq!(status(21.0, Some(&r("@10:20")), None), Status::Ok);
    }

    #[test]
    fn nan_is_unknown() {
        let range = r("10");
        assert_eq!(status(f64::NAN, None, None), Status::Unknown);
        assert_eq!(
            status(f64::NAN, Some(&range), Some(&range)),
            Status::Unknown
        );
        assert!(range.alerts(f64::NAN));
        assert!(!r("@10").alerts(f64::NAN));
        assert_eq!(status(INF, Some(&range), None), Status::Warning);
        assert_eq!(status(-INF, None, Some(&r("~:0"))), Status::Ok);
    }

    #[test]
    fn status_codes_labels_and_worst() {
        use Status::{Critical, Ok, Unknown, Warning};
        let all = [
            Status::Ok,
            Status::Warning,
            Status::Critical,
            Status::Unknown,
        ];
        let codes: Vec<i32> = all.iter().map(|s| s.code()).collect();
        assert_eq!(codes, [0, 1, 2, 3]);
        let labels: Vec<&str> = all.iter().map(|s| s.label()).collect();
        assert_eq!(labels, ["OK", "WARNING", "CRITICAL", "UNKNOWN"]);
        assert_eq!(Status::Warning.to_string(), "WARNING");
        let order = [Ok, Unknown, Warning, Critical];
        for (i, &a) in order.iter().enumerate() {
            for (j, &b) in order.iter().enumerate() {
                let expected = order[i.max(j)];
                assert_eq!(a.worst(b), expected, "{a:?} {b:?}");
            }
        }
        assert_eq!(Ok.worst(Unknown), Unknown);
        assert_eq!(Unknown.worst(Warning), Warning);
        assert_eq!(Critical.worst(Unknown), Critical);
    }

    // ---- properties ----

    /// A warning range, a critical range and a value that is often one of their endpoints,
    /// just beyond one, NaN or infinite.
    fn case() -> impl Strategy<Value = (Range, Range, f64)> {
        (range_value(), range_value()).prop_flat_map(|(w, c)| {
            let edges = vec![
                w.start,
                w.end,
                c.start,
                c.end,
                w.start.next_down(),
                w.end.next_up(),
                c.start.next_down(),
                c.end.next_up(),
                f64::NAN,
                INF,
                -INF,
            ];
            (
                Just(w),
                Just(c),
                prop_oneof![number(), sample::select(edges)],
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5_000))]

        /// One range alone gives `Warning`/`Critical` exactly when it alerts, no range gives
        /// `Ok`, and NaN is `Unknown` whatever the ranges.
        #[test]
        fn one_range_follows_alerts((w, c, value) in case()) {
            if value.is_nan() {
                let (w, c) = (Some(&w), Some(&c));
                for (warning, critical) in [(None, None), (w, None), (None, c), (w, c)] {
                    prop_assert_eq!(status(value, warning, critical), Status::Unknown);
                }
            } else {
                prop_assert_eq!(status(value, None, None), Status::Ok);
                let warning = if w.alerts(value) { Status::Warning } else { Status::Ok };
                prop_assert_eq!(status(value, Some(&w), None), warning, "{} {}", w, value);
                let critical = if c.alerts(value) { Status::Critical } else { Status::Ok };
                prop_assert_eq!(status(value, None, Some(&c)), critical, "{} {}", c, value);
            }
        }

        /// With both ranges the state is the worse of the two alone, so never better than
        /// with either one (critical is checked first, and a warning never hides it).
        #[test]
        fn both_ranges_never_better_than_one((w, c, value) in case()) {
            let both = status(value, Some(&w), Some(&c));
            let warning_only = status(value, Some(&w), None);
            let critical_only = status(value, None, Some(&c));
            prop_assert_eq!(both, warning_only.worst(critical_only), "w={} c={} {}", w, c, value);
            prop_assert_eq!(both.worst(warning_only), both);
            prop_assert_eq!(both.worst(critical_only), both);
        }
    }
}
