//! Per-function state: striped shards written without locks, merged when read.

use std::cell::Cell;
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};

use crate::histogram::{self, BUCKETS};

/// Shards per function. A thread writes to shard `thread index % SHARDS`, allocated on its first
/// call, so up to this many threads never share a cache line; more threads share shards with
/// atomic (still exact) updates.
pub(crate) const SHARDS: usize = 16;

/// One stripe of a function's figures. Aligned so two shards never share a cache line (128 B
/// covers adjacent-line prefetching).
#[repr(align(128))]
pub(crate) struct Shard {
    sum: AtomicU64,
    min: AtomicU64,
    max: AtomicU64,
    errors: AtomicU64,
    buckets: [AtomicU64; BUCKETS],
}

impl Shard {
    fn new() -> Box<Shard> {
        Box::new(Shard {
            sum: AtomicU64::new(0),
            min: AtomicU64::new(u64::MAX),
            max: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
        })
    }

    #[inline]
    fn record(&self, ns: u64, error: bool) {
        self.buckets[histogram::index(ns)].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(ns, Ordering::Relaxed);
        if ns < self.min.load(Ordering::Relaxed) {
            self.min.fetch_min(ns, Ordering::Relaxed);
        }
        if ns > self.max.load(Ordering::Relaxed) {
            self.max.fetch_max(ns, Ordering::Relaxed);
        }
        if error {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn reset(&self) {
        self.sum.store(0, Ordering::Relaxed);
        self.min.store(u64::MAX, Ordering::Relaxed);
        self.max.store(0, Ordering::Relaxed);
        self.errors.store(0, Ordering::Relaxed);
        for b in &self.buckets {
            b.store(0, Ordering::Relaxed);
        }
    }
}

static NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
}

#[inline]
fn stripe() -> usize {
    STRIPE.with(|s| {
        let v = s.get();
        if v != usize::MAX {
            return v;
        }
        let v = NEXT_THREAD.fetch_add(1, Ordering::Relaxed) % SHARDS;
        s.set(v);
        v
    })
}

/// Everything recorded for one function name.
pub(crate) struct FunctionStats {
    pub(crate) name: String,
    shards: [AtomicPtr<Shard>; SHARDS],
}

impl std::fmt::Debug for FunctionStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionStats")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Merged figures of one function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub(crate) count: u64,
    pub(crate) errors: u64,
    pub(crate) sum: u64,
    pub(crate) min: u64,
    pub(crate) max: u64,
    pub(crate) buckets: Vec<u64>,
}

impl FunctionStats {
    pub(crate) fn new(name: String) -> Self {
        FunctionStats {
            name,
            shards: std::array::from_fn(|_| AtomicPtr::new(std::ptr::null_mut())),
        }
    }

    #[inline]
    fn shard(&self) -> &Shard {
        let slot = &self.shards[stripe()];
        let p = slot.load(Ordering::Acquire);
        if p.is_null() {
            return Self::install(slot);
        }
        // SAFETY: non-null pointers in `shards` come from `Box::into_raw` in `install` and are
        // freed only in `Drop`, which needs `&mut self`; so it is valid for `&self`'s lifetime.
        unsafe { &*p }
    }

    #[cold]
    fn install(slot: &AtomicPtr<Shard>) -> &Shard {
        let fresh = Box::into_raw(Shard::new());
        match slot.compare_exchange(
            std::ptr::null_mut(),
            fresh,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            // SAFETY: we just published `fresh`; see `shard` for why it stays valid.
            Ok(_) => unsafe { &*fresh },
            Err(existing) => {
                // SAFETY: `fresh` was never shared; take it back to free it.
                drop(unsafe { Box::from_raw(fresh) });
                // SAFETY: as in `shard`.
                unsafe { &*existing }
            }
        }
    }

    /// Records one call.
    #[inline]
    pub(crate) fn record(&self, ns: u64, error: bool) {
        self.shard().record(ns, error);
    }

    fn shards(&self) -> impl Iterator<Item = &Shard> {
        self.shards.iter().filter_map(|slot| {
            let p = slot.load(Ordering::Acquire);
            // SAFETY: as in `shard`.
            (!p.is_null()).then(|| unsafe { &*p })
        })
    }

    /// Merges the shards.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let mut s = Snapshot {
            count: 0,
            errors: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
            buckets: vec![0; BUCKETS],
        };
        for shard in self.shards() {
            for (acc, b) in s.buckets.iter_mut().zip(&shard.buckets) {
                let c = b.load(Ordering::Relaxed);
                *acc += c;
                s.count += c;
            }
            s.sum = s.sum.saturating_add(shard.sum.load(Ordering::Relaxed));
            s.errors += shard.errors.load(Ordering::Relaxed);
            s.min = s.min.min(shard.min.load(Ordering::Relaxed));
            s.max = s.max.max(shard.max.load(Ordering::Relaxed));
        }
        if s.count == 0 {
            s.min = 0;
        } else if s.min > s.max {
            // Caught between a bucket increment and its min/max update: use the extremes seen.
            s.min = s.max;
        }
        s
    }

    pub(crate) fn reset(&self) {
        for shard in self.shards() {
            shard.reset();
        }
    }
}

impl Drop for FunctionStats {
    fn drop(&mut self) {
        for slot in &mut self.shards {
            let p = *slot.get_mut();
            if !p.is_null() {
                // SAFETY: allocated by `Box::into_raw` in `install`; we have `&mut self`, so no
                // reference handed out by `shard` is alive.
                drop(unsafe { Box::from_raw(p) });
            }
        }
    }
}
