//! The fixed bounds of the Prometheus histogram `ops_function_duration_seconds`, and how the
//! log-linear buckets behind the percentiles map onto them, exactly.
//!
//! Durations are whole nanoseconds, and the Prometheus bucket `le = b` counts the calls of at
//! most `b`. An internal bucket `[low, high)` either lies inside one Prometheus bucket, and its
//! calls are counted there when a report is taken (nothing to do per call), or it straddles one
//! bound `b` (`low <= b < high - 1`): only for these does `record` compare the duration with `b`,
//! counting the calls at or below it in a counter of its own. No internal bucket straddles two
//! bounds (checked when the tables are built, at compile time), so every count is exact: a call of
//! exactly 1 ms is in `le="0.001"`, one of 1 ms + 1 ns is not.

use crate::histogram::{self, BUCKETS};

/// Number of finite bounds (the `+Inf` bucket is the call count).
pub(crate) const BOUNDS: usize = 22;

/// The upper bounds, in seconds, of the `ops_function_duration_seconds` histogram buckets
/// (`le`), 1 µs to 10 s in 1–2.5–5 steps; calls above 10 s are counted in `+Inf` only. The same
/// bounds are in [`FunctionReport::buckets`](crate::FunctionReport::buckets).
pub const HISTOGRAM_BOUNDS_SECONDS: [f64; BOUNDS] = [
    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The same bounds in nanoseconds: the values compared on the hot path.
pub(crate) const BOUNDS_NS: [u64; BOUNDS] = [
    1_000,
    2_500,
    5_000,
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// In [`STRADDLES`]: the bucket straddles no bound.
pub(crate) const NONE: u8 = u8::MAX;

/// For each internal bucket, the index of the bound it straddles, or [`NONE`].
pub(crate) static STRADDLES: [u8; BUCKETS] = straddles();

/// For each internal bucket, the Prometheus bucket (`0..BOUNDS`, or `BOUNDS` for `+Inf`) of its
/// largest value: where its calls go, except those of a straddling bucket at or below the bound.
static PROMETHEUS_BUCKET: [u8; BUCKETS] = prometheus_buckets();

/// The bound that the call of `ns` nanoseconds, in internal bucket `i`, is at or below and must
/// be counted for, if its bucket straddles one: the only per-call work of the exact counts (a
/// byte read and, rarely, one comparison).
#[inline]
pub(crate) fn straddled_bound(i: usize, ns: u64) -> Option<usize> {
    let p = usize::from(STRADDLES[i]);
    match BOUNDS_NS.get(p) {
        Some(&b) if ns <= b => Some(p),
        _ => None,
    }
}

/// The Prometheus bucket of a duration: the first bound it does not exceed.
const fn bucket_of(ns: u64) -> u8 {
    let mut p = 0;
    while p < BOUNDS {
        if ns <= BOUNDS_NS[p] {
            return p as u8;
        }
        p += 1;
    }
    BOUNDS as u8
}

const fn straddles() -> [u8; BUCKETS] {
    let mut table = [NONE; BUCKETS];
    let mut i = 0;
    while i < BUCKETS {
        let (low, high) = histogram::bounds(i);
        let mut p = 0;
        while p < BOUNDS {
            let b = BOUNDS_NS[p];
            if low <= b && b < high - 1 {
                assert!(
                    table[i] == NONE,
                    "an internal bucket straddles two Prometheus bounds"
                );
                table[i] = p as u8;
            }
            p += 1;
        }
        i += 1;
    }
    table
}

const fn prometheus_buckets() -> [u8; BUCKETS] {
    let mut table = [0; BUCKETS];
    let mut i = 0;
    while i < BUCKETS {
        table[i] = bucket_of(histogram::bounds(i).1 - 1);
        i += 1;
    }
    table
}

/// The cumulative count of each bound, from merged internal bucket counts and the merged counts
/// of calls at or below each straddled bound (each already clamped to its bucket's count).
pub(crate) fn cumulative(internal: &[u64], at_or_below: &[u64; BOUNDS]) -> [u64; BOUNDS] {
    let mut per = [0u64; BOUNDS + 1];
    for (&c, &p) in internal.iter().zip(&PROMETHEUS_BUCKET) {
        per[usize::from(p)] += c;
    }
    for (p, &low) in at_or_below.iter().enumerate() {
        // The straddling bucket's calls were all put above the bound: move those at or below.
        let moved = low.min(per[p + 1]);
        per[p] += moved;
        per[p + 1] -= moved;
    }
    let mut out = [0u64; BOUNDS];
    let mut running = 0u64;
    for (slot, c) in out.iter_mut().zip(per) {
        running += c;
        *slot = running;
    }
    out
}

#[cfg(test)]
mod test {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn bounds_agree() {
        for (s, ns) in HISTOGRAM_BOUNDS_SECONDS.iter().zip(BOUNDS_NS) {
            assert_eq!(
                s.to_bits(),
                (ns as f64 / 1e9).to_bits(),
                "{s} s against {ns} ns"
            );
        }
        assert!(BOUNDS_NS.windows(2).all(|w| w[0] < w[1]));
        // Every bound is straddled by exactly one bucket, and it is the bucket of the bound.
        for (p, &b) in BOUNDS_NS.iter().enumerate() {
            let straddling: Vec<usize> = (0..BUCKETS)
                .filter(|&i| usize::from(STRADDLES[i]) == p)
                .collect();
            assert_eq!(straddling, [histogram::index(b)], "bound {b}");
            assert_eq!(
                usize::from(PROMETHEUS_BUCKET[histogram::index(b)]),
                p + 1,
                "bound {b}"
            );
        }
    }

    /// What `record` does per call, on one shard.
    fn record(internal: &mut [u64], at_or_below: &mut [u64; BOUNDS], ns: u64) {
        let i = histogram::index(ns);
        internal[i] += 1;
        if let Some(p) = straddled_bound(i, ns) {
            at_or_below[p] += 1;
        }
    }

    fn exact(values: &[u64]) -> [u64; BOUNDS] {
        std::array::from_fn(|p| values.iter().filter(|&&v| v <= BOUNDS_NS[p]).count() as u64)
    }

    fn through_buckets(values: &[u64]) -> [u64; BOUNDS] {
        let mut internal = vec![0; BUCKETS];
        let mut at_or_below = [0; BOUNDS];
        for &v in values {
            record(&mut internal, &mut at_or_below, v);
        }
        cumulative(&internal, &at_or_below)
    }

    #[test]
    fn each_bound_and_its_neighbours() {
        let mut values = vec![0, 1, u64::MAX, histogram::MAX_TRACKED + 1];
        for b in BOUNDS_NS {
            values.extend([b - 1, b, b + 1]);
        }
        assert_eq!(through_buckets(&values), exact(&values));
        // A call of exactly 1 ms is in le="0.001", 1 ms + 1 ns is not.
        let at = through_buckets(&[1_000_000]);
        let after = through_buckets(&[1_000_001]);
        assert_eq!((at[9], at[10]), (1, 1));
        assert_eq!((after[9], after[10]), (0, 1));
    }

    #[test]
    fn both_ends_of_every_bucket() {
        let values: Vec<u64> = (0..BUCKETS)
            .flat_map(|i| {
                let (low, high) = histogram::bounds(i);
                [low, high - 1]
            })
            .collect();
        assert_eq!(through_buckets(&values), exact(&values));
    }

    #[test]
    fn counts_above_their_bucket_are_clamped() {
        // A report racing a call may read an at-or-below count before the bucket's: clamped, the
        // buckets stay monotone and end at the call count.
        let mut internal = vec![0; BUCKETS];
        internal[histogram::index(2_000)] = 1;
        let mut at_or_below = [0; BOUNDS];
        at_or_below[0] = 5;
        let c = cumulative(&internal, &at_or_below);
        assert!(c.windows(2).all(|w| w[0] <= w[1]), "{c:?}");
        assert_eq!(c[BOUNDS - 1], 1);
    }

    proptest! {
        #[test]
        fn counts_are_exact(values in proptest::collection::vec(
            prop_oneof![
                0u64..20_000_000_000,
                proptest::sample::select(BOUNDS_NS.to_vec()).prop_flat_map(|b| (b - 3)..(b + 3)),
                any::<u64>(),
            ],
            0..300,
        )) {
            prop_assert_eq!(through_buckets(&values), exact(&values));
        }
    }
}
