//! The layer's cache of series by route and method: an append-only open-addressing table read
//! without a lock, bounded, so a request costs no registry lookup (no lock) once
//! its (method, route) has been seen.

use std::hash::{BuildHasher as _, RandomState};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use crate::families::Families;
use crate::method;
use crate::series::Series;

/// Routes the table keeps (a router with more route templates than this is rare; beyond
/// it, requests of new routes look their series up in the registry each time: right, slower).
pub(crate) const MAX_ROUTES: usize = 512;

/// Slots: twice the routes, so probe sequences stay short.
const SLOTS: usize = 2 * MAX_ROUTES;

/// One route's series, per method index (created on the first request of each method).
#[derive(Debug)]
struct RouteEntry {
    route: Arc<str>,
    methods: [OnceLock<Arc<Series>>; method::COUNT],
}

/// Series by (route, method).
///
/// Slots are only ever set, never cleared, and a route goes into the first empty slot of its
/// probe sequence under the mutex: a reader that meets an empty slot before its route either
/// has a route that is not there yet or one being added at that moment, and the locked path
/// settles both.
pub(crate) struct RouteTable {
    families: Families,
    seed: u64,
    slots: Box<[OnceLock<Box<RouteEntry>>]>,
    /// Held while adding; counts the routes.
    adding: Mutex<usize>,
}

impl std::fmt::Debug for RouteTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteTable")
            .field("routes", &self.len())
            .finish_non_exhaustive()
    }
}

impl RouteTable {
    pub(crate) fn new(families: Families) -> RouteTable {
        RouteTable {
            families,
            seed: RandomState::new().hash_one(0x6f70_735f_6874_7470_u64),
            slots: (0..SLOTS).map(|_| OnceLock::new()).collect(),
            adding: Mutex::new(0),
        }
    }

    pub(crate) fn families(&self) -> &Families {
        &self.families
    }

    /// Routes in the table.
    pub(crate) fn len(&self) -> usize {
        *self.adding.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The series of (`route`, method `index`): kept ones, or new ones kept for next time, or
    /// — past [`MAX_ROUTES`] — new ones looked up for this request alone.
    #[inline]
    pub(crate) fn series(&self, route: &str, index: usize) -> Arc<Series> {
        let hash = hash(self.seed, route);
        if let Some(entry) = self.find(route, hash) {
            return self.method_series(entry, index);
        }
        self.series_slow(route, hash, index)
    }

    fn method_series(&self, entry: &RouteEntry, index: usize) -> Arc<Series> {
        let slot = &entry.methods[index % method::COUNT];
        if let Some(series) = slot.get() {
            return Arc::clone(series);
        }
        Arc::clone(slot.get_or_init(|| {
            Arc::new(Series::new(
                &self.families,
                method::label_of(index),
                Arc::clone(&entry.route),
            ))
        }))
    }

    /// The probe sequence of `hash`: every slot once, starting at the hash's.
    fn probe(&self, hash: u64) -> impl Iterator<Item = &OnceLock<Box<RouteEntry>>> {
        let start = (hash as usize) % self.slots.len();
        self.slots[start..].iter().chain(&self.slots[..start])
    }

    #[inline]
    fn find(&self, route: &str, hash: u64) -> Option<&RouteEntry> {
        for slot in self.probe(hash) {
            match slot.get() {
                Some(entry) if *entry.route == *route => return Some(entry),
                Some(_) => {}
                None => return None,
            }
        }
        None
    }

    #[cold]
    fn series_slow(&self, route: &str, hash: u64, index: usize) -> Arc<Series> {
        let mut routes = self.adding.lock().unwrap_or_else(PoisonError::into_inner);
        let mut free = None;
        for slot in self.probe(hash) {
            match slot.get() {
                Some(entry) if *entry.route == *route => {
                    drop(routes);
                    return self.method_series(entry, index);
                }
                Some(_) => {}
                None => {
                    free = Some(slot);
                    break;
                }
            }
        }
        let route: Arc<str> = Arc::from(route);
        match free {
            Some(slot) if *routes < MAX_ROUTES => {
                *routes += 1;
                let entry = slot.get_or_init(|| {
                    Box::new(RouteEntry {
                        route,
                        methods: std::array::from_fn(|_| OnceLock::new()),
                    })
                });
                drop(routes);
                self.method_series(entry, index)
            }
            _ => {
                drop(routes);
                Arc::new(Series::new(&self.families, method::label_of(index), route))
            }
        }
    }
}

/// A quick seeded hash of a route: `FxHash`'s rotate-xor-multiply over 8-byte words, the
/// length in the seed, then `MurmurHash3`'s finaliser. Routes come from the router or the user's route function, not from clients, and a
/// probe sequence is bounded whatever the hashes.
#[inline]
fn hash(seed: u64, route: &str) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let bytes = route.as_bytes();
    let mut h = seed ^ bytes.len() as u64;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let mut w = [0_u8; 8];
        w.copy_from_slice(word);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut w = [0_u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    // MurmurHash3's finaliser: every bit of `h` reaches the low bits the slot is taken from.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[cfg(test)]
mod test {
    use std::time::Duration;

    use ops_registry::Registry;

    use super::*;

    #[test]
    fn the_hash_spreads_routes_and_depends_on_every_byte() {
        let mut seen = std::collections::HashSet::new();
        for route in [
            "",
            "a",
            "a\0",
            "/orders/{id}",
            "/orders/{id}/",
            "/orders/{ix}",
            "/0123456",
            "/01234567",
            "/012345678",
        ] {
            assert!(seen.insert(hash(7, route)), "{route:?}");
        }
        assert_ne!(hash(1, "/a"), hash(2, "/a"));
        let mut per_slot = vec![0_u32; SLOTS];
        for i in 0..1_000 {
            per_slot[(hash(3, &format!("/api/v1/items/{i}/{{id}}")) as usize) % SLOTS] += 1;
        }
        // As a uniform hash does: about 640 slots used (1,024 × (1 − e^−0.98)), none by 9.
        let used = per_slot.iter().filter(|&&n| n > 0).count();
        assert!(used > 600, "{used}");
        assert!(
            per_slot.iter().all(|&n| n <= 8),
            "{:?}",
            per_slot.iter().max()
        );
    }

    #[test]
    fn a_route_and_method_get_one_series_and_the_table_stays_bounded() {
        let reg = Registry::builder().cardinality_limit(100_000).build();
        let table = RouteTable::new(Families::register(&reg).unwrap());
        let a = table.series("/a", 0);
        assert!(Arc::ptr_eq(&a, &table.series("/a", 0)));
        assert!(!Arc::ptr_eq(&a, &table.series("/a", 1)));
        assert!(!Arc::ptr_eq(&a, &table.series("/b", 0)));
        for i in 0..MAX_ROUTES + 50 {
            let route = format!("/r{i}");
            let s = table.series(&route, 0);
            s.start();
            s.answered(200, Duration::from_millis(1));
        }
        assert_eq!(table.len(), MAX_ROUTES);
        // Past the table, each request looks its series up: not kept, still right.
        let past = format!("/r{}", MAX_ROUTES + 10);
        assert!(!Arc::ptr_eq(
            &table.series(&past, 0),
            &table.series(&past, 0)
        ));
        let durations = &table.families().durations;
        for i in [0, MAX_ROUTES - 3, MAX_ROUTES + 49] {
            assert_eq!(
                durations.with(&["GET", &format!("/r{i}"), "200"]).count(),
                1,
                "/r{i}"
            );
        }
        // Every route still found (the first ones in the table, the last ones in the registry).
        let find = |route: &str| table.find(route, hash(table.seed, route)).is_some();
        assert!(find("/r0") && find("/a") && !find("/zz"));
    }
}
