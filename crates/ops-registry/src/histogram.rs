//! Histograms: counts per bucket and a sum, sharded per thread.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cells::Cells;

/// Cell 0 of a histogram shard: the sum of finite observations.
const SUM: usize = 0;

/// The storage of one histogram series: per shard, the sum then one count per bucket (the
/// bounds' buckets, then `+Inf`), not cumulative.
#[derive(Debug)]
pub(crate) struct HistogramSeries {
    bounds: Arc<[f64]>,
    cells: Cells,
}

/// Merged figures of a histogram series.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HistogramSnapshot {
    /// Count per bucket, not cumulative; the last is `+Inf`.
    pub(crate) counts: Vec<u64>,
    pub(crate) sum: f64,
}

impl HistogramSeries {
    pub(crate) fn new(bounds: Arc<[f64]>) -> HistogramSeries {
        let cells = Cells::new(bounds.len() + 2);
        HistogramSeries { bounds, cells }
    }

    pub(crate) fn bounds(&self) -> &[f64] {
        &self.bounds
    }

    #[inline]
    pub(crate) fn record(&self, v: f64) {
        // The first bucket whose bound is >= v: the number of bounds below v, the bounds being
        // sorted (a branch-free count the compiler vectorises, quicker than a binary search
        // over at most 64 bounds). NaN (and anything above the last bound) goes to `+Inf`.
        let bucket = if v.is_nan() {
            self.bounds.len()
        } else {
            self.bounds.iter().map(|&b| usize::from(b < v)).sum()
        };
        let shard = self.cells.shard();
        shard.add_u64(1 + bucket, 1);
        if v.is_finite() {
            shard.add_f64(SUM, v);
        }
    }

    pub(crate) fn snapshot(&self) -> HistogramSnapshot {
        let mut counts = Vec::new();
        let sum = self.snapshot_into(&mut counts);
        HistogramSnapshot { counts, sum }
    }

    /// The counts per bucket into `counts` (replacing what it held), and the sum.
    pub(crate) fn snapshot_into(&self, counts: &mut Vec<u64>) -> f64 {
        counts.clear();
        counts.resize(self.bounds.len() + 1, 0);
        self.cells.sum_u64_into(1, counts);
        self.cells.sum_f64(SUM)
    }
}

/// A handle to one histogram series: cheap to clone, `Send + Sync`.
///
/// Recording takes no lock (sharded per thread as [`Counter`](crate::Counter) is). An
/// observation `v` is counted in the first bucket whose bound is `>= v` (`le` = less or equal),
/// or in `+Inf`, and added to the sum. Non-finite observations are counted but not summed, so
/// one bad value cannot turn `_sum` into NaN or infinity for good: NaN and `+Inf` count in the
/// `+Inf` bucket, `-Inf` in the first.
///
/// ```
/// use ops_registry::{Buckets, Registry};
/// let reg = Registry::new();
/// let lat = reg.histogram("rpc_duration_seconds", "RPC latency.", Buckets::HTTP)?;
/// lat.record(0.012);
/// lat.record_duration(std::time::Duration::from_millis(250));
/// assert_eq!(lat.count(), 2);
/// assert_eq!(lat.sum(), 0.262);
/// # Ok::<(), ops_registry::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Histogram(pub(crate) Arc<HistogramSeries>);

impl Histogram {
    /// Records one observation.
    #[inline]
    pub fn record(&self, v: f64) {
        self.0.record(v);
    }

    /// Records a duration, in seconds.
    #[inline]
    pub fn record_duration(&self, d: Duration) {
        self.0.record(d.as_secs_f64());
    }

    /// A timer that records the time until it is dropped (or [`stop`](HistogramTimer::stop)ped),
    /// in seconds.
    pub fn start_timer(&self) -> HistogramTimer {
        HistogramTimer {
            histogram: Some(self.clone()),
            started: Instant::now(),
        }
    }

    /// Observations recorded, merged over the threads' shards.
    pub fn count(&self) -> u64 {
        self.0.snapshot().counts.iter().sum()
    }

    /// Sum of the finite observations.
    pub fn sum(&self) -> f64 {
        self.0.snapshot().sum
    }

    /// Cumulative counts per bucket bound, `+Inf` last: what `_bucket{le}` shows.
    ///
    /// ```
    /// let reg = ops_registry::Registry::new();
    /// let h = reg.histogram("size_bytes", "Sizes.", ops_registry::Buckets::new(&[10.0, 100.0])?)?;
    /// for v in [5.0, 50.0, 500.0, 7.0] { h.record(v); }
    /// assert_eq!(h.buckets(), vec![(10.0, 2), (100.0, 3), (f64::INFINITY, 4)]);
    /// # Ok::<(), ops_registry::Error>(())
    /// ```
    pub fn buckets(&self) -> Vec<(f64, u64)> {
        let snap = self.0.snapshot();
        let mut total = 0;
        self.0
            .bounds()
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(snap.counts)
            .map(|(bound, n)| {
                total += n;
                (bound, total)
            })
            .collect()
    }

    /// Whether two handles update the same series.
    pub fn same_series(&self, other: &Histogram) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Records the time since [`Histogram::start_timer`] when dropped.
#[must_use = "the timer records when it drops"]
#[derive(Debug)]
pub struct HistogramTimer {
    histogram: Option<Histogram>,
    started: Instant,
}

impl HistogramTimer {
    /// Records now and returns what was recorded.
    pub fn stop(mut self) -> Duration {
        let elapsed = self.started.elapsed();
        if let Some(h) = self.histogram.take() {
            h.record_duration(elapsed);
        }
        elapsed
    }

    /// Drops the timer without recording.
    pub fn discard(mut self) {
        self.histogram = None;
    }
}

impl Drop for HistogramTimer {
    fn drop(&mut self) {
        if let Some(h) = self.histogram.take() {
            h.record_duration(self.started.elapsed());
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn observations_land_in_the_first_bucket_not_below_them() {
        let h = HistogramSeries::new(Arc::from(&[1.0, 2.0][..]));
        for v in [
            0.5,
            1.0,
            1.5,
            2.0,
            3.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -7.0,
        ] {
            h.record(v);
        }
        let snap = h.snapshot();
        assert_eq!(snap.counts, vec![4, 2, 3]);
        assert_eq!(snap.sum, 0.5 + 1.0 + 1.5 + 2.0 + 3.0 - 7.0);
    }
}
