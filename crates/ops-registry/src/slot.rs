/*!
Thread slots: the first [`SLOTS`] threads alive at once that record get a slot of their own,
which only they write, so their updates are a plain load and store (no atomic read-modify-write,
no cache line shared with a writer). A slot is handed back when its thread exits and goes to the
next thread that records. Threads beyond [`SLOTS`] (and a thread recording from another
thread-local's destructor after its own slot was handed back) are [`SHARED`]: they update one
shared shard per series with atomic read-modify-writes — exact, only slower.
*/

use std::cell::Cell;
use std::sync::{Mutex, PoisonError};

/// Threads that can own a slot at the same time.
pub(crate) const SLOTS: usize = 32;

/// Not assigned yet: the thread has not recorded.
const UNASSIGNED: usize = usize::MAX;

/// The thread writes the shared shard with atomic read-modify-writes.
pub(crate) const SHARED: usize = usize::MAX - 1;

struct Pool {
    /// Slots never handed out start here.
    next: usize,
    /// Slots handed back by exited threads.
    free: Vec<usize>,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    next: 0,
    free: Vec::new(),
});

/// Hands the thread's slot back when the thread exits.
struct Release;

impl Drop for Release {
    fn drop(&mut self) {
        // From now on this thread (other thread-locals' destructors may still record) writes
        // the shared shards: the slot may be another thread's the moment it is back in the pool.
        let slot = SLOT.with(|s| s.replace(SHARED));
        if slot < SLOTS {
            POOL.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .free
                .push(slot);
        }
    }
}

thread_local! {
    // No destructor: readable while other thread-locals are destroyed.
    static SLOT: Cell<usize> = const { Cell::new(UNASSIGNED) };
    static RELEASE: Release = const { Release };
}

/// The calling thread's slot: below [`SLOTS`], or [`SHARED`].
#[inline]
pub(crate) fn current() -> usize {
    let slot = SLOT.with(Cell::get);
    if slot == UNASSIGNED { assign() } else { slot }
}

#[cold]
fn assign() -> usize {
    let taken = {
        let mut pool = POOL.lock().unwrap_or_else(PoisonError::into_inner);
        pool.free.pop().or_else(|| {
            (pool.next < SLOTS).then(|| {
                pool.next += 1;
                pool.next - 1
            })
        })
    };
    let slot = match taken {
        // Registers the destructor that hands the slot back; fails while the thread's
        // thread-locals are being destroyed, and then the slot cannot be kept.
        Some(slot) if RELEASE.try_with(|_| ()).is_ok() => slot,
        Some(slot) => {
            POOL.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .free
                .push(slot);
            SHARED
        }
        None => SHARED,
    };
    SLOT.with(|s| s.set(slot));
    slot
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn exited_threads_hand_their_slot_back() {
        let first = std::thread::spawn(current).join().unwrap();
        assert!(first < SLOTS);
        // The slot is back in the pool: the next thread may get it (or another free one), and
        // a thread never sees UNASSIGNED twice.
        let second = std::thread::spawn(|| (current(), current()))
            .join()
            .unwrap();
        assert!(second.0 < SLOTS || second.0 == SHARED);
        assert_eq!(second.0, second.1);
    }
}
