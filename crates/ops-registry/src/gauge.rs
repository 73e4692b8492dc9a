//! Gauges: a value that goes up and down, one atomic float.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The storage of one gauge series: a float in one atomic, alone on its cache line.
#[derive(Debug)]
#[repr(align(128))]
pub(crate) struct GaugeSeries {
    bits: AtomicU64,
}

impl GaugeSeries {
    pub(crate) fn new() -> GaugeSeries {
        GaugeSeries {
            bits: AtomicU64::new(0f64.to_bits()),
        }
    }

    #[inline]
    pub(crate) fn set(&self, v: f64) {
        self.bits.store(v.to_bits(), Ordering::Relaxed);
    }

    #[inline]
    pub(crate) fn add(&self, d: f64) {
        let _ = self
            .bits
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + d).to_bits())
            });
    }

    pub(crate) fn get(&self) -> f64 {
        f64::from_bits(self.bits.load(Ordering::Relaxed))
    }
}

/// A handle to one gauge series: cheap to clone, `Send + Sync`.
///
/// A gauge is one atomic `f64`, so every operation is atomic and they are totally ordered:
/// [`set`](Gauge::set) is last-writer-wins, and [`add`](Gauge::add)/[`sub`](Gauge::sub) are
/// read-modify-writes applied to whatever value is current — `set(7)` then `add(1)` from one
/// thread gives 8 unless another thread's `set` comes between them, and concurrent adds are
/// never lost. The cost: adds from many threads contend on one cache line (a compare-and-swap
/// each); for per-request up/down counting at high rates prefer two counters (started,
/// finished) and let the query subtract.
///
/// ```
/// let reg = ops_registry::Registry::new();
/// let queue = reg.gauge("jobs_queued", "Jobs waiting.")?;
/// queue.set(7.0);
/// queue.add(1.0);
/// queue.sub(2.0);
/// assert_eq!(queue.get(), 6.0);
/// {
///     let _working = queue.inc_guard();
///     assert_eq!(queue.get(), 7.0);
/// }
/// assert_eq!(queue.get(), 6.0);
/// # Ok::<(), ops_registry::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Gauge(pub(crate) Arc<GaugeSeries>);

impl Gauge {
    /// Sets the value (NaN and infinities are kept and shown as `NaN`, `+Inf`, `-Inf`).
    #[inline]
    pub fn set(&self, v: f64) {
        self.0.set(v);
    }

    /// Adds `d` (atomically).
    #[inline]
    pub fn add(&self, d: f64) {
        self.0.add(d);
    }

    /// Subtracts `d` (atomically).
    #[inline]
    pub fn sub(&self, d: f64) {
        self.0.add(-d);
    }

    /// Adds 1.
    #[inline]
    pub fn inc(&self) {
        self.0.add(1.0);
    }

    /// Subtracts 1.
    #[inline]
    pub fn dec(&self) {
        self.0.add(-1.0);
    }

    /// Adds 1 now and subtracts it when the guard drops: work in progress, requests in flight.
    pub fn inc_guard(&self) -> GaugeGuard {
        self.inc();
        GaugeGuard(self.clone())
    }

    /// The current value.
    pub fn get(&self) -> f64 {
        self.0.get()
    }

    /// Whether two handles update the same series.
    pub fn same_series(&self, other: &Gauge) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Subtracts 1 from its gauge when dropped: [`Gauge::inc_guard`].
#[must_use = "the gauge goes back down when the guard drops"]
#[derive(Debug)]
pub struct GaugeGuard(Gauge);

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}
