//! Quantiles from histogram buckets, as Prometheus's `histogram_quantile` computes them, and
//! a fixed-size latency histogram for the access-log source (bounded memory whatever the
//! traffic).

/// The `q` quantile of a classic histogram given as cumulative `(upper bound, count)` pairs
/// (any order; the `+Inf` bucket required), as Prometheus 2.42's `bucketQuantile`: linear
/// interpolation inside the bucket the rank falls in, the lower bound of the first bucket
/// taken as 0, the highest finite bound when the rank falls in the `+Inf` bucket. `None`
/// without observations, without a `+Inf` bucket or with fewer than two buckets.
///
/// ```
/// use ops_deploy::analysis::bucket_quantile;
/// let buckets = [(0.1, 50.0), (0.5, 90.0), (1.0, 100.0), (f64::INFINITY, 100.0)];
/// assert_eq!(bucket_quantile(0.5, &buckets), Some(0.1));
/// assert_eq!(bucket_quantile(0.9, &buckets), Some(0.5));
/// assert!((bucket_quantile(0.7, &buckets).unwrap() - 0.3).abs() < 1e-12);
/// ```
#[must_use]
#[allow(clippy::float_cmp)] // equal bounds are one bucket, as Prometheus coalesces them
pub fn bucket_quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    if q.is_nan() {
        return None;
    }
    let mut b: Vec<(f64, f64)> = buckets
        .iter()
        .copied()
        .filter(|(le, c)| !le.is_nan() && !c.is_nan())
        .collect();
    b.sort_by(|x, y| x.0.total_cmp(&y.0));
    if b.last().is_none_or(|l| l.0 != f64::INFINITY) {
        return None;
    }
    // Coalesce equal bounds; make the counts monotonic (scrapes are not atomic).
    b.dedup_by(|next, prev| {
        if next.0 == prev.0 {
            prev.1 += next.1;
            true
        } else {
            false
        }
    });
    let mut max = f64::NEG_INFINITY;
    for x in &mut b {
        max = max.max(x.1);
        x.1 = max;
    }
    if b.len() < 2 {
        return None;
    }
    if q < 0.0 {
        return Some(f64::NEG_INFINITY);
    }
    if q > 1.0 {
        return Some(f64::INFINITY);
    }
    let observations = b[b.len() - 1].1;
    if observations <= 0.0 {
        return None;
    }
    let mut rank = q * observations;
    let i = b[..b.len() - 1]
        .iter()
        .position(|x| x.1 >= rank)
        .unwrap_or(b.len() - 1);
    if i == b.len() - 1 {
        return Some(b[b.len() - 2].0);
    }
    if i == 0 && b[0].0 <= 0.0 {
        return Some(b[0].0);
    }
    let (mut start, end, mut count) = (0.0, b[i].0, b[i].1);
    if i > 0 {
        start = b[i - 1].0;
        count -= b[i - 1].1;
        rank -= b[i - 1].1;
    }
    Some(start + (end - start) * (rank / count))
}

/// Buckets of the access log's latency histogram: 0.5 ms × 2^(i/4), up to about 2 minutes.
const BUCKETS: usize = 72;

/// A latency histogram with fixed logarithmic buckets (0.5 ms to about 2 minutes, four per
/// doubling: a quantile is within 19 % of the true value) and an overflow bucket.
#[derive(Debug, Clone)]
pub(crate) struct LogHistogram {
    counts: [u64; BUCKETS + 1],
}

impl Default for LogHistogram {
    fn default() -> Self {
        LogHistogram {
            counts: [0; BUCKETS + 1],
        }
    }
}

fn bound(i: usize) -> f64 {
    0.0005 * 2f64.powf(i as f64 / 4.0)
}

impl LogHistogram {
    pub(crate) fn observe(&mut self, seconds: f64) {
        if !seconds.is_finite() || seconds < 0.0 {
            return;
        }
        let i = (0..BUCKETS)
            .find(|&i| seconds <= bound(i))
            .unwrap_or(BUCKETS);
        self.counts[i] = self.counts[i].saturating_add(1);
    }

    pub(crate) fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    pub(crate) fn quantile(&self, q: f64) -> Option<f64> {
        let mut cumulative = 0u64;
        let mut buckets = Vec::with_capacity(BUCKETS + 1);
        for (i, c) in self.counts.iter().enumerate() {
            cumulative += c;
            let le = if i == BUCKETS {
                f64::INFINITY
            } else {
                bound(i)
            };
            buckets.push((le, cumulative as f64));
        }
        bucket_quantile(q, &buckets)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::float_cmp)]
mod test {
    use super::*;

    #[test]
    fn prometheus_cases() {
        assert_eq!(
            bucket_quantile(0.5, &[(1.0, 0.0), (f64::INFINITY, 0.0)]),
            None
        );
        assert_eq!(bucket_quantile(0.5, &[(1.0, 3.0)]), None, "no +Inf bucket");
        // All in +Inf: the highest finite bound.
        assert_eq!(
            bucket_quantile(0.99, &[(1.0, 0.0), (f64::INFINITY, 5.0)]),
            Some(1.0)
        );
        // Non-monotonic counts are made monotonic.
        let q = bucket_quantile(0.5, &[(0.1, 10.0), (0.2, 8.0), (f64::INFINITY, 20.0)]);
        assert_eq!(q, Some(0.1));
    }

    #[test]
    fn the_log_histogram_is_within_a_bucket() {
        let mut h = LogHistogram::default();
        for i in 1..=1000 {
            h.observe(f64::from(i) / 1000.0); // 1 ms .. 1 s, uniform
        }
        assert_eq!(h.count(), 1000);
        let p99 = h.quantile(0.99).unwrap();
        assert!((p99 - 0.99).abs() / 0.99 < 0.19, "{p99}");
        h.observe(f64::NAN);
        h.observe(1e9);
        assert_eq!(h.count(), 1001);
    }
}
