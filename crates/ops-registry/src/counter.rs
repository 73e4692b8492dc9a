//! Counters: a value that only goes up, sharded per thread.

use std::sync::Arc;

use crate::cells::Cells;

/// The storage of one counter series.
#[derive(Debug)]
pub(crate) struct CounterSeries {
    cells: Cells,
}

impl CounterSeries {
    pub(crate) fn new() -> CounterSeries {
        CounterSeries {
            cells: Cells::new(1),
        }
    }

    #[inline]
    pub(crate) fn add(&self, n: u64) {
        self.cells.shard().add_u64(0, n);
    }

    pub(crate) fn get(&self) -> u64 {
        self.cells.sum_u64(0)
    }
}

/// A handle to one counter series: cheap to clone, `Send + Sync`; keep it (in a `static`, a
/// struct field) rather than looking the series up per event.
///
/// Updating takes no lock: the first 32 threads alive at once that update counters each write
/// their own shard with a plain load and store; later threads share one shard with atomic adds.
/// Values wrap at 2^64.
///
/// ```
/// let reg = ops_registry::Registry::new();
/// let orders = reg.counter("shop_orders_total", "Orders placed.")?;
/// orders.inc();
/// orders.add(3);
/// assert_eq!(orders.get(), 4);
/// # Ok::<(), ops_registry::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Counter(pub(crate) Arc<CounterSeries>);

impl Counter {
    /// Adds 1.
    #[inline]
    pub fn inc(&self) {
        self.0.add(1);
    }

    /// Adds `n`.
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.add(n);
    }

    /// The current value, merged over the threads' shards.
    pub fn get(&self) -> u64 {
        self.0.get()
    }

    /// Whether two handles update the same series.
    pub fn same_series(&self, other: &Counter) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
