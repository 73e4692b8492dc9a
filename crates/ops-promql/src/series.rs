/*!
One series' points: a ring of `(timestamp ms, value)` that never holds more than its cap, drops
what is older than the retention as new points come, and refuses points out of order.
*/

use std::collections::VecDeque;

use crate::labels::Labels;

/// The bit pattern of Prometheus's staleness marker (`value.StaleNaN`): a NaN no arithmetic
/// produces, written when a series disappears from its source.
pub(crate) const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Prometheus's staleness marker as a value.
pub const STALE_NAN: f64 = f64::from_bits(STALE_NAN_BITS);

/// Whether `v` is the staleness marker (and not any other NaN).
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// Bytes one point takes in a ring.
pub(crate) const POINT_BYTES: usize = std::mem::size_of::<Point>();

/// One point: milliseconds since the Unix epoch and a value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Point {
    pub(crate) t: i64,
    pub(crate) v: f64,
}

/// Why a point was not appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Older than the series' last point.
    OutOfOrder { last: i64 },
    /// Same timestamp as the last point, another value.
    Duplicate,
}

/// What an append did besides appending.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Appended {
    /// Points dropped because they fell out of the retention.
    pub(crate) expired: usize,
    /// Points dropped before their time because the ring was full.
    pub(crate) evicted: usize,
    /// The point was the same as the last one (same time, same value): nothing stored.
    pub(crate) repeated: bool,
}

#[derive(Debug)]
pub(crate) struct Series {
    pub(crate) labels: Labels,
    /// The labels without `__name__`, made once: most functions return them.
    pub(crate) labels_without_name: Labels,
    /// Creation number: selectors return series in this order.
    pub(crate) id: u64,
    points: VecDeque<Point>,
    /// How many of `points` are staleness markers.
    stale: usize,
}

impl Series {
    pub(crate) fn new(labels: Labels, id: u64) -> Series {
        Series {
            labels_without_name: labels.without_metric_name(),
            labels,
            id,
            points: VecDeque::new(),
            stale: 0,
        }
    }

    /// Appends `p`, first dropping points older than `p.t - retention` and, when the ring
    /// holds `cap` points, the oldest.
    pub(crate) fn push(
        &mut self,
        p: Point,
        retention: i64,
        cap: usize,
    ) -> Result<Appended, Refused> {
        let mut out = Appended::default();
        if let Some(last) = self.points.back() {
            if p.t < last.t {
                return Err(Refused::OutOfOrder { last: last.t });
            }
            if p.t == last.t {
                if p.v.to_bits() == last.v.to_bits() {
                    out.repeated = true;
                    return Ok(out);
                }
                return Err(Refused::Duplicate);
            }
        }
        out.expired = self.expire_before(p.t.saturating_sub(retention));
        while self.points.len() >= cap.max(1) {
            self.pop_front();
            out.evicted += 1;
        }
        if self.points.len() == self.points.capacity() {
            // Grow by doubling, never past the cap: a short series stays small.
            let len = self.points.len();
            self.points.reserve_exact(len.max(4).min(cap.max(1) - len));
        }
        if is_stale_nan(p.v) {
            self.stale += 1;
        }
        self.points.push_back(p);
        Ok(out)
    }

    /// Drops the points older than `mint`; returns how many.
    pub(crate) fn expire_before(&mut self, mint: i64) -> usize {
        let mut n = 0;
        while self.points.front().is_some_and(|p| p.t < mint) {
            self.pop_front();
            n += 1;
        }
        if n > 0 && self.points.len() < self.points.capacity() / 4 {
            self.points.shrink_to(self.points.len() * 2);
        }
        n
    }

    fn pop_front(&mut self) {
        if let Some(p) = self.points.pop_front()
            && is_stale_nan(p.v)
        {
            self.stale -= 1;
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.points.len()
    }

    pub(crate) fn last(&self) -> Option<Point> {
        self.points.back().copied()
    }

    pub(crate) fn has_stale_markers(&self) -> bool {
        self.stale > 0
    }

    /// The latest point at or before `t`.
    pub(crate) fn at_or_before(&self, t: i64) -> Option<Point> {
        let last = *self.points.back()?;
        if last.t <= t {
            return Some(last);
        }
        let i = self.points.partition_point(|p| p.t <= t);
        i.checked_sub(1).and_then(|i| self.points.get(i).copied())
    }

    /// The points with `mint <= t <= maxt`, as the ring's two slices (staleness markers
    /// included: see [`has_stale_markers`](Self::has_stale_markers)).
    pub(crate) fn range(&self, mint: i64, maxt: i64) -> (&[Point], &[Point]) {
        let start = self.first_at_or_after(mint);
        let end = match maxt.checked_add(1) {
            Some(after) => self.first_at_or_after(after),
            None => self.points.len(),
        };
        let (a, b) = self.points.as_slices();
        let end = end.max(start);
        let cut = |from: usize, to: usize| -> (&[Point], &[Point]) {
            let n = a.len();
            (
                &a[from.min(n)..to.min(n)],
                &b[from.saturating_sub(n)..to.saturating_sub(n)],
            )
        };
        cut(start, end)
    }

    /// The index of the first point at or after `t` (`len()` if none). Points usually come
    /// at a steady interval, so the index is first guessed from the series' span and then
    /// walked to: a few reads instead of a binary search's scattered ones (the rings of a
    /// thousand series do not fit in a cache).
    fn first_at_or_after(&self, t: i64) -> usize {
        let p = &self.points;
        let n = p.len();
        let (Some(first), Some(last)) = (p.front(), p.back()) else {
            return 0;
        };
        if t <= first.t {
            return 0;
        }
        if t > last.t {
            return n;
        }
        // first.t < t <= last.t, so n >= 2 and the span is positive.
        let span = i128::from(last.t) - i128::from(first.t);
        let guess = (i128::from(t) - i128::from(first.t)) * (n as i128 - 1) / span;
        let mut i = usize::try_from(guess).unwrap_or(0).clamp(1, n - 1);
        for _ in 0..8 {
            let here = p[i].t >= t;
            let before = p[i - 1].t >= t;
            match (before, here) {
                (false, true) => return i,
                (true, _) if i > 1 => i -= 1,
                (false, false) if i + 1 < n => i += 1,
                _ => break,
            }
        }
        p.partition_point(|q| q.t < t)
    }

    pub(crate) fn points(&self) -> impl Iterator<Item = Point> + '_ {
        self.points.iter().copied()
    }

    /// Heap bytes held by the ring (its capacity, not only its length).
    pub(crate) fn ring_bytes(&self) -> usize {
        self.points.capacity() * POINT_BYTES
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn p(t: i64, v: f64) -> Point {
        Point { t, v }
    }

    #[test]
    fn keeps_order_retention_and_cap() {
        let mut s = Series::new(Labels::empty(), 0);
        for t in 0..10 {
            assert_eq!(
                s.push(p(t * 10, t as f64), 1000, 4).map(|a| a.evicted),
                Ok(usize::from(t >= 4))
            );
        }
        assert_eq!(s.len(), 4);
        assert!(s.ring_bytes() <= 4 * POINT_BYTES);
        assert_eq!(
            s.push(p(5, 0.0), 1000, 4),
            Err(Refused::OutOfOrder { last: 90 })
        );
        assert_eq!(s.push(p(90, 1.0), 1000, 4), Err(Refused::Duplicate));
        assert!(s.push(p(90, 9.0), 1000, 4).is_ok_and(|a| a.repeated));
        // Retention: a point at 150 with retention 60 drops everything before 90.
        let a = s.push(p(150, 1.0), 60, 4);
        assert_eq!(
            a,
            Ok(Appended {
                expired: 3,
                evicted: 0,
                repeated: false
            })
        );
        assert_eq!(s.points().map(|p| p.t).collect::<Vec<_>>(), [90, 150]);
    }

    #[test]
    fn lookups_and_ranges() {
        let mut s = Series::new(Labels::empty(), 0);
        for t in 0..8 {
            s.push(p(t * 10, t as f64), 1000, 5).unwrap();
        }
        // The ring wrapped: 30..70 in two slices maybe; ranges are inclusive.
        let (a, b) = s.range(40, 60);
        let ts: Vec<i64> = a.iter().chain(b).map(|p| p.t).collect();
        assert_eq!(ts, [40, 50, 60]);
        assert_eq!(s.at_or_before(45).map(|p| p.t), Some(40));
        assert_eq!(s.at_or_before(29), None);
        assert_eq!(s.at_or_before(1000).map(|p| p.t), Some(70));
        let (a, b) = s.range(71, 100);
        assert!(a.is_empty() && b.is_empty());
        // Irregular spacing: the guess is far off, the search still finds the bounds.
        let mut s = Series::new(Labels::empty(), 0);
        for t in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1000, 1001] {
            s.push(p(t, 0.0), 10_000, 100).unwrap();
        }
        for (mint, maxt, want) in [
            (5, 1000, vec![5, 6, 7, 8, 9, 10, 1000]),
            (11, 999, vec![]),
            (1001, 5000, vec![1001]),
            (-5, 0, vec![0]),
            (
                0,
                i64::MAX,
                vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1000, 1001],
            ),
        ] {
            let (a, b) = s.range(mint, maxt);
            let ts: Vec<i64> = a.iter().chain(b).map(|p| p.t).collect();
            assert_eq!(ts, want, "[{mint}, {maxt}]");
        }
    }

    #[test]
    fn counts_staleness_markers() {
        let mut s = Series::new(Labels::empty(), 0);
        s.push(p(0, STALE_NAN), 1000, 2).unwrap();
        assert!(s.has_stale_markers());
        s.push(p(1, 1.0), 1000, 2).unwrap();
        s.push(p(2, 1.0), 1000, 2).unwrap();
        assert!(!s.has_stale_markers());
        assert!(is_stale_nan(STALE_NAN) && !is_stale_nan(f64::NAN));
    }
}
