/*!
The per-series storage of counters and histograms: one shard per thread slot, allocated on the
slot's first write, plus one shared shard for threads without a slot; merged when read.

A shard is a run of cache lines (128 bytes, so two shards never share a line even with
adjacent-line prefetching) of 16 cells each: a counter uses one cell, a histogram its sum and one
cell per bucket. A thread that owns its slot updates a cell with a load and a store, since no
other thread writes it; the shared shard takes atomic read-modify-writes. Readers load cells with
relaxed atomics: each cell only ever grows (counts) or is a float sum, and every update is kept.
*/

use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

use crate::slot::{self, SLOTS};

/// Cells per cache line.
pub(crate) const CELLS_PER_LINE: usize = 16;

/// One cache line of cells.
#[repr(align(128))]
pub(crate) struct Line([AtomicU64; CELLS_PER_LINE]);

/// The shards of one series.
pub(crate) struct Cells {
    /// Lines per shard.
    lines: usize,
    /// The shard of each thread slot; null until the slot's thread first writes.
    owned: [AtomicPtr<Line>; SLOTS],
    /// The shard of threads without a slot; null until one writes.
    shared: AtomicPtr<Line>,
}

impl std::fmt::Debug for Cells {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cells")
            .field("cells", &(self.lines * CELLS_PER_LINE))
            .field("shards", &self.shards().count())
            .finish_non_exhaustive()
    }
}

/// The calling thread's shard of a series.
pub(crate) struct Shard<'a> {
    lines: &'a [Line],
    /// Written by this thread alone: plain load and store.
    owned: bool,
}

impl Shard<'_> {
    #[inline]
    fn cell(&self, cell: usize) -> &AtomicU64 {
        &self.lines[cell / CELLS_PER_LINE].0[cell % CELLS_PER_LINE]
    }

    /// Adds `v` to an integer cell (wrapping at 2^64).
    #[inline]
    pub(crate) fn add_u64(&self, cell: usize, v: u64) {
        let c = self.cell(cell);
        if self.owned {
            c.store(c.load(Ordering::Relaxed).wrapping_add(v), Ordering::Relaxed);
        } else {
            c.fetch_add(v, Ordering::Relaxed);
        }
    }

    /// Adds `v` to a float cell.
    #[inline]
    pub(crate) fn add_f64(&self, cell: usize, v: f64) {
        let c = self.cell(cell);
        if self.owned {
            let sum = f64::from_bits(c.load(Ordering::Relaxed)) + v;
            c.store(sum.to_bits(), Ordering::Relaxed);
        } else {
            let _ = c.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + v).to_bits())
            });
        }
    }
}

fn alloc(lines: usize) -> *mut Line {
    let shard: Box<[Line]> = (0..lines)
        .map(|_| Line(std::array::from_fn(|_| AtomicU64::new(0))))
        .collect();
    Box::into_raw(shard).cast::<Line>()
}

/// Frees a shard made by [`alloc`].
///
/// # Safety
/// `p` comes from `alloc(lines)` and is not used afterwards.
unsafe fn free(p: *mut Line, lines: usize) {
    // SAFETY: the caller's contract: `p` is the start of a boxed slice of `lines` lines.
    drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(p, lines)) });
}

impl Cells {
    /// Storage for `cells` cells per shard (at least one line).
    pub(crate) fn new(cells: usize) -> Cells {
        Cells {
            lines: cells.div_ceil(CELLS_PER_LINE).max(1),
            owned: std::array::from_fn(|_| AtomicPtr::new(std::ptr::null_mut())),
            shared: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// The calling thread's shard, allocated on its first write.
    #[inline]
    pub(crate) fn shard(&self) -> Shard<'_> {
        let slot = slot::current();
        let (cell, owned) = match self.owned.get(slot) {
            Some(cell) => (cell, true),
            None => (&self.shared, false),
        };
        let mut p = cell.load(Ordering::Acquire);
        if p.is_null() {
            p = self.install(cell);
        }
        // SAFETY: non-null pointers in `owned` and `shared` come from `alloc(self.lines)` in
        // `install` and are freed only in `Drop`, which needs `&mut self`: the shard lives as
        // long as `&self`.
        let lines = unsafe { std::slice::from_raw_parts(p, self.lines) };
        Shard { lines, owned }
    }

    #[cold]
    fn install(&self, cell: &AtomicPtr<Line>) -> *mut Line {
        let fresh = alloc(self.lines);
        match cell.compare_exchange(
            std::ptr::null_mut(),
            fresh,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => fresh,
            Err(existing) => {
                // SAFETY: `fresh` was never shared.
                unsafe { free(fresh, self.lines) };
                existing
            }
        }
    }

    /// Every allocated shard.
    fn shards(&self) -> impl Iterator<Item = &[Line]> {
        self.owned
            .iter()
            .chain(std::iter::once(&self.shared))
            .filter_map(|cell| {
                let p = cell.load(Ordering::Acquire);
                // SAFETY: as in `shard`.
                (!p.is_null()).then(|| unsafe { std::slice::from_raw_parts(p, self.lines) })
            })
    }

    /// The sum of an integer cell over the shards.
    pub(crate) fn sum_u64(&self, cell: usize) -> u64 {
        self.shards()
            .map(|lines| {
                lines[cell / CELLS_PER_LINE].0[cell % CELLS_PER_LINE].load(Ordering::Relaxed)
            })
            .fold(0, u64::wrapping_add)
    }

    /// The sum of a float cell over the shards, `0` when there is none. (From `+0.0`: float
    /// `Sum` starts at `-0.0`, which a series no thread recorded would render as `-0`.)
    pub(crate) fn sum_f64(&self, cell: usize) -> f64 {
        self.shards()
            .map(|lines| {
                f64::from_bits(
                    lines[cell / CELLS_PER_LINE].0[cell % CELLS_PER_LINE].load(Ordering::Relaxed),
                )
            })
            .fold(0.0, |sum, v| sum + v)
    }

    /// Adds integer cells `first..first + out.len()` of every shard into `out`.
    pub(crate) fn sum_u64_into(&self, first: usize, out: &mut [u64]) {
        for lines in self.shards() {
            for (i, acc) in out.iter_mut().enumerate() {
                let cell = first + i;
                let v =
                    lines[cell / CELLS_PER_LINE].0[cell % CELLS_PER_LINE].load(Ordering::Relaxed);
                *acc = acc.wrapping_add(v);
            }
        }
    }
}

impl Drop for Cells {
    fn drop(&mut self) {
        let lines = self.lines;
        for cell in self
            .owned
            .iter_mut()
            .chain(std::iter::once(&mut self.shared))
        {
            let p = *cell.get_mut();
            if !p.is_null() {
                // SAFETY: from `alloc(lines)`; `&mut self` means no `Shard` is alive.
                unsafe { free(p, lines) };
            }
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn shards_merge_exactly() {
        let cells = Cells::new(20);
        assert_eq!(cells.lines, 2);
        cells.shard().add_u64(17, 5);
        cells.shard().add_f64(0, 0.5);
        std::thread::scope(|s| {
            s.spawn(|| {
                cells.shard().add_u64(17, 7);
                cells.shard().add_f64(0, 0.25);
            });
        });
        assert_eq!(cells.sum_u64(17), 12);
        assert_eq!(cells.sum_f64(0), 0.75);
        let mut out = [0; 3];
        cells.sum_u64_into(16, &mut out);
        assert_eq!(out, [0, 12, 0]);
        assert!(cells.shards().count() >= 2);
    }
}
