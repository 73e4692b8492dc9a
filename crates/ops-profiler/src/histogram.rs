//! The log-linear bucket layout behind the percentiles.
//!
//! Durations in nanoseconds below 128 have a bucket each (exact). Above, every power of two
//! `[2^e, 2^(e+1))` is split into 64 equal buckets, so a bucket is at most 1/64 of its lower
//! bound wide and its midpoint is within 1/128 (0.78 %) of any value in it. The range ends at
//! 2^42 ns (about 73 minutes; longer calls land in the last bucket, and `max` stays exact):
//! 2,368 buckets, 18.5 KiB of counters per shard, whatever the number of calls.

/// Values below this have a bucket each.
const LINEAR: u64 = 128;
/// Sub-buckets per power of two above the linear range (`2^SUB_BITS`).
const SUB_BITS: u32 = 6;
/// The largest exponent covered: values up to `2^(MAX_EXP+1) − 1`.
const MAX_EXP: u32 = 41;
/// First exponent above the linear range.
const FIRST_EXP: u32 = 7;

/// Number of buckets.
pub(crate) const BUCKETS: usize =
    LINEAR as usize + ((MAX_EXP - FIRST_EXP + 1) << SUB_BITS) as usize;

/// The largest value kept apart from the others.
pub(crate) const MAX_TRACKED: u64 = (1 << (MAX_EXP + 1)) - 1;

/// The bucket of a duration in nanoseconds.
#[inline]
pub(crate) fn index(ns: u64) -> usize {
    if ns < LINEAR {
        return ns as usize;
    }
    let v = ns.min(MAX_TRACKED);
    let e = v.ilog2();
    let sub = (v >> (e - SUB_BITS)) & ((1 << SUB_BITS) - 1);
    LINEAR as usize + (((e - FIRST_EXP) << SUB_BITS) as usize) + sub as usize
}

/// The values a bucket holds: `[low, high)`.
pub(crate) const fn bounds(i: usize) -> (u64, u64) {
    let i = i as u64;
    if i < LINEAR {
        return (i, i + 1);
    }
    let k = i - LINEAR;
    let e = (k >> SUB_BITS) as u32 + FIRST_EXP;
    let sub = k & ((1 << SUB_BITS) - 1);
    let width = 1u64 << (e - SUB_BITS);
    let low = (1u64 << e) + sub * width;
    (low, low + width)
}

/// The value reported for a bucket: exact in the linear range, the midpoint above.
pub(crate) fn representative(i: usize) -> u64 {
    let (low, high) = bounds(i);
    if high - low == 1 {
        low
    } else {
        low + (high - low) / 2
    }
}

/// The `q`-quantile (0 ≤ q ≤ 1) of merged bucket counts by nearest rank, clamped to the exact
/// `[min, max]`. `None` when there are no calls.
pub(crate) fn quantile(counts: &[u64], total: u64, q: f64, min: u64, max: u64) -> Option<u64> {
    if total == 0 {
        return None;
    }
    let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).clamp(1, total);
    let mut seen = 0u64;
    for (i, &c) in counts.iter().enumerate() {
        seen += c;
        if seen >= rank {
            // `max(min).min(max)`, not `clamp`: a report taken while another thread records
            // may see min > max for an instant, and must not panic.
            return Some(representative(i).max(min).min(max));
        }
    }
    Some(max)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod test {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn layout() {
        assert_eq!(BUCKETS, 2368);
        assert_eq!(index(0), 0);
        assert_eq!(index(127), 127);
        assert_eq!(index(128), 128);
        assert_eq!(bounds(128), (128, 130));
        assert_eq!(index(MAX_TRACKED), BUCKETS - 1);
        assert_eq!(index(u64::MAX), BUCKETS - 1);
        assert_eq!(bounds(BUCKETS - 1).1, MAX_TRACKED + 1);
        // Buckets tile the range with no gap or overlap.
        for i in 1..BUCKETS {
            assert_eq!(bounds(i - 1).1, bounds(i).0, "gap before bucket {i}");
        }
    }

    /// Regression: a report racing a first call saw min > max and `clamp` panicked.
    #[test]
    fn inconsistent_min_max_do_not_panic() {
        let mut counts = vec![0u64; BUCKETS];
        counts[index(500)] = 1;
        assert_eq!(quantile(&counts, 1, 0.5, u64::MAX, 0), Some(0));
    }

    proptest! {
        #[test]
        fn every_value_is_in_its_bucket_within_1_percent(v in 0u64..MAX_TRACKED) {
            let i = index(v);
            let (low, high) = bounds(i);
            prop_assert!(low <= v && v < high);
            let r = representative(i);
            let err = r.abs_diff(v) as f64 / v.max(1) as f64;
            prop_assert!(err <= 1.0 / 128.0, "value {v} bucket [{low},{high}) rep {r} err {err}");
        }

        #[test]
        fn quantiles_within_1_percent_of_exact(mut values in proptest::collection::vec(1u64..3_600_000_000_000, 1..400), q in 0.0f64..=1.0) {
            let mut counts = vec![0u64; BUCKETS];
            for &v in &values {
                counts[index(v)] += 1;
            }
            values.sort_unstable();
            let n = values.len() as u64;
            let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
            let exact = values[(rank - 1) as usize];
            let got = quantile(&counts, n, q, values[0], values[values.len() - 1]).unwrap();
            let err = got.abs_diff(exact) as f64 / exact as f64;
            prop_assert!(err <= 0.01, "q {q}: exact {exact}, got {got}, err {err}");
        }
    }
}
