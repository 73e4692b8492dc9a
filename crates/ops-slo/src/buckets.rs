/*!
The budget window at one-hour resolution: the events counted in each hour, for as many hours as
the SLO's window has (720 for 30 days), in a ring that rolls over exactly.

An hour is `[k × 3600 s, (k + 1) × 3600 s)` since the Unix epoch. The window at time `t` is the
hour `t` falls in and the `hours − 1` before it: between `window − 1 h` and `window` of
history. A count added for an hour older than the window is dropped (and said so by
[`HourlyBuckets::add`]); a count for an hour newer than the newest rolls the ring forward,
emptying the hours in between.
*/

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// Event counts per hour, oldest first, for a fixed number of hours: the memory is
/// `hours × 16` bytes whatever happens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HourlyBuckets {
    /// How many hours the ring holds (the window in hours).
    hours: usize,
    /// The hour index (hours since the epoch) of the newest bucket.
    newest: Option<i64>,
    /// `[numerator, total]` per hour, oldest first; the last one is `newest`.
    counts: VecDeque<[f64; 2]>,
}

impl HourlyBuckets {
    /// An empty ring of `hours` buckets (at least 1).
    pub fn new(hours: usize) -> HourlyBuckets {
        HourlyBuckets {
            hours: hours.max(1),
            newest: None,
            counts: VecDeque::new(),
        }
    }

    /// The ring's length in hours.
    pub fn hours(&self) -> usize {
        self.hours
    }

    /// The newest hour with a bucket.
    pub fn newest(&self) -> Option<i64> {
        self.newest
    }

    /// Adds `numerator` and `total` events to hour `hour`. Returns `false` when the hour is
    /// older than the ring (the counts are then dropped).
    pub fn add(&mut self, hour: i64, numerator: f64, total: f64) -> bool {
        self.roll_to(hour);
        let Some(newest) = self.newest else {
            return false;
        };
        let back = newest.saturating_sub(hour);
        let Ok(back) = usize::try_from(back) else {
            return false;
        };
        if back >= self.hours {
            return false;
        }
        // An hour in the window but before the first bucket: the hours before it were empty.
        while self.counts.len() <= back {
            self.counts.push_front([0.0, 0.0]);
        }
        let i = self.counts.len() - 1 - back;
        self.counts[i][0] += numerator;
        self.counts[i][1] += total;
        true
    }

    /// Moves the newest bucket forward to `hour` (emptying the hours in between, dropping
    /// those that leave the window). A no-op for an older hour.
    pub fn roll_to(&mut self, hour: i64) {
        let Some(newest) = self.newest else {
            self.newest = Some(hour);
            self.counts.push_back([0.0, 0.0]);
            return;
        };
        if hour <= newest {
            return;
        }
        let ahead = hour.saturating_sub(newest);
        if usize::try_from(ahead).map_or(true, |a| a >= self.hours) {
            self.counts.clear();
            self.counts.push_back([0.0, 0.0]);
        } else {
            for _ in 0..ahead {
                self.counts.push_back([0.0, 0.0]);
            }
        }
        while self.counts.len() > self.hours {
            self.counts.pop_front();
        }
        self.newest = Some(hour);
    }

    /// The `[numerator, total]` sums over the window at hour `hour`: the buckets of hours
    /// `hour − hours + 1 ..= hour`.
    pub fn window_sum(&self, hour: i64) -> [f64; 2] {
        if self.newest.is_none() {
            return [0.0, 0.0];
        }
        let oldest_in = hour.saturating_sub(as_i64(self.hours) - 1);
        let mut sum = [0.0, 0.0];
        for (h, c) in self.iter() {
            if h >= oldest_in && h <= hour {
                sum[0] += c[0];
                sum[1] += c[1];
            }
        }
        sum
    }

    /// Each bucket as `(hour, [numerator, total])`, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = (i64, [f64; 2])> + '_ {
        let newest = self.newest.unwrap_or(0);
        let len = self.counts.len();
        self.counts
            .iter()
            .enumerate()
            .map(move |(i, c)| (newest - as_i64(len - 1 - i), *c))
    }

    /// A ring from saved parts; `None` when they are inconsistent (more buckets than hours, a
    /// negative or non-finite count, buckets without a newest hour).
    pub(crate) fn from_parts(
        hours: usize,
        newest: Option<i64>,
        counts: Vec<[f64; 2]>,
    ) -> Option<HourlyBuckets> {
        if hours == 0 || counts.len() > hours || newest.is_none() != counts.is_empty() {
            return None;
        }
        if counts.iter().flatten().any(|v| !v.is_finite() || *v < 0.0) {
            return None;
        }
        Some(HourlyBuckets {
            hours,
            newest,
            counts: counts.into(),
        })
    }

    /// The counts, oldest first (for the state file).
    #[cfg_attr(not(feature = "engine"), allow(dead_code))]
    pub(crate) fn counts(&self) -> impl Iterator<Item = [f64; 2]> + '_ {
        self.counts.iter().copied()
    }
}

/// A count as an hour offset (saturating: a ring never holds `i64::MAX` hours).
fn as_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod test {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn rolls_over_by_the_hour() {
        let mut b = HourlyBuckets::new(3);
        assert!(b.add(10, 1.0, 10.0));
        assert!(b.add(11, 2.0, 20.0));
        assert!(b.add(12, 3.0, 30.0));
        assert_eq!(b.window_sum(12), [6.0, 60.0]);
        assert!(b.add(13, 4.0, 40.0));
        assert_eq!(b.window_sum(13), [9.0, 90.0]);
        assert!(!b.add(10, 1.0, 1.0), "hour 10 left the window");
        assert!(
            b.add(11, 1.0, 1.0),
            "a late count for an hour still in the window"
        );
        assert_eq!(b.window_sum(13), [10.0, 91.0]);
        // Later queries see the old hours leave.
        assert_eq!(b.window_sum(14), [7.0, 70.0]);
        assert_eq!(b.window_sum(16), [0.0, 0.0]);
        // A jump past the ring empties it.
        assert!(b.add(100, 1.0, 2.0));
        assert_eq!(b.iter().collect::<Vec<_>>(), [(100, [1.0, 2.0])]);
    }

    proptest! {
        /// Whatever the order of hours, the window's sums are exactly the sums of the events
        /// added for hours inside it (and still inside the ring when they were added), and the
        /// ring never holds more than its hours.
        #[test]
        fn rollover_is_exact(
            hours in 1usize..50,
            events in proptest::collection::vec((0i64..200, 0u32..1000, 0u32..1000), 0..300),
            query_ahead in 0i64..60,
        ) {
            let mut b = HourlyBuckets::new(hours);
            let mut kept: Vec<(i64, f64, f64)> = Vec::new();
            let mut newest: Option<i64> = None;
            for (hour, n, t) in events {
                let (n, t) = (f64::from(n.min(t)), f64::from(t));
                let top = newest.map_or(hour, |x| x.max(hour));
                let accepted = hour > top - as_i64(hours);
                prop_assert_eq!(b.add(hour, n, t), accepted);
                newest = Some(top);
                if accepted {
                    kept.push((hour, n, t));
                }
                prop_assert!(b.iter().count() <= hours);
            }
            if let Some(top) = newest {
                let at = top + query_ahead;
                let lo = at - as_i64(hours) + 1;
                let expect = kept.iter().filter(|(h, _, _)| *h >= lo && *h <= at).fold(
                    [0.0, 0.0],
                    |acc, (_, n, t)| [acc[0] + n, acc[1] + t],
                );
                prop_assert_eq!(b.window_sum(at), expect);
            }
        }
    }
}
