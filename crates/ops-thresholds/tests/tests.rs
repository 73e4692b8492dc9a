//! Integration tests of ops-thresholds, in one binary.

#![allow(
    clippy::unwrap_used,
    clippy::print_stderr,
    clippy::float_cmp,
    clippy::duration_suboptimal_units,
    clippy::unnecessary_literal_bound,
    clippy::write_with_newline,
    clippy::assigning_clones,
    clippy::doc_markdown,
    missing_docs
)]

mod it;

/// Counts allocations per thread, so a test can prove a code path allocates nothing.
mod counting {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    pub(crate) struct Counting;

    thread_local! {
        pub(crate) static ALLOCS: Cell<u64> = const { Cell::new(0) };
    }

    // SAFETY: forwards to the system allocator; only counts.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
            // SAFETY: same contract as ours.
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: same contract as ours.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[global_allocator]
    static GLOBAL: Counting = Counting;

    pub(crate) fn allocations() -> u64 {
        ALLOCS.with(Cell::get)
    }
}
