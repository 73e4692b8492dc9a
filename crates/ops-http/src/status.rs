//! The duration histograms of one (method, route) by status code: a short append-only table
//! read without a lock.

use std::sync::{Mutex, OnceLock, PoisonError};

use ops_registry::{Histogram, HistogramVec};

/// Status codes a (method, route) keeps handles for; more (a route answering with more than
/// 16 distinct codes) are looked up in the registry per request: right, slower.
const SLOTS: usize = 16;

/// Histogram handles by status code, filled in order and never emptied: a reader scans the
/// filled slots with plain acquire loads and stops at the first empty one; writers add under
/// a mutex, so a reader that misses a code being added finds it on the locked path.
pub(crate) struct StatusTable {
    slots: [OnceLock<(u16, Histogram)>; SLOTS],
    adding: Mutex<()>,
}

impl std::fmt::Debug for StatusTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let codes: Vec<u16> = self.filled().map(|(code, _)| *code).collect();
        f.debug_struct("StatusTable")
            .field("codes", &codes)
            .finish()
    }
}

impl StatusTable {
    pub(crate) fn new() -> StatusTable {
        StatusTable {
            slots: std::array::from_fn(|_| OnceLock::new()),
            adding: Mutex::new(()),
        }
    }

    fn filled(&self) -> impl Iterator<Item = &(u16, Histogram)> {
        self.slots.iter().map_while(OnceLock::get)
    }

    #[inline]
    fn find(&self, code: u16) -> Option<&Histogram> {
        self.filled().find(|(c, _)| *c == code).map(|(_, h)| h)
    }

    /// Records `seconds` in the histogram of `code`, found in the table or added to it (from
    /// `family` with the labels `method`, `route` and the code).
    #[inline]
    pub(crate) fn record(
        &self,
        code: u16,
        seconds: f64,
        family: &HistogramVec,
        method: &str,
        route: &str,
    ) {
        if let Some(h) = self.find(code) {
            h.record(seconds);
            return;
        }
        self.record_slow(code, seconds, family, method, route);
    }

    #[cold]
    fn record_slow(
        &self,
        code: u16,
        seconds: f64,
        family: &HistogramVec,
        method: &str,
        route: &str,
    ) {
        let lookup = || family.with(&[method, route, status_label(code).as_str()]);
        let _adding = self.adding.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(h) = self.find(code) {
            h.record(seconds);
            return;
        }
        match self.slots.iter().find(|slot| slot.get().is_none()) {
            Some(slot) => slot.get_or_init(|| (code, lookup())).1.record(seconds),
            // Full: no handle kept, the registry looked up for each such request.
            None => lookup().record(seconds),
        }
    }
}

/// The `status` label of a code: its three digits (any `u16` written in decimal).
fn status_label(code: u16) -> String {
    code.to_string()
}

#[cfg(test)]
mod test {
    use ops_registry::{Buckets, Registry};

    use super::*;

    #[test]
    fn codes_get_their_own_series_past_the_table_too() {
        let reg = Registry::new();
        let family = reg
            .histogram_vec(
                "d_seconds",
                "D.",
                &["method", "route", "status"],
                Buckets::HTTP,
            )
            .unwrap();
        let table = StatusTable::new();
        for round in 0..3 {
            for code in 200..230 {
                table.record(code, 0.001, &family, "GET", "/r");
            }
            assert_eq!(table.filled().count(), SLOTS, "round {round}");
        }
        for code in 200..230 {
            assert_eq!(
                family.with(&["GET", "/r", &code.to_string()]).count(),
                3,
                "{code}"
            );
        }
        assert_eq!(family.len(), 30);
        assert_eq!(family.refused(), 0);
        let codes: Vec<u16> = table.filled().map(|(c, _)| *c).collect();
        assert_eq!(codes, (200..216).collect::<Vec<_>>());
    }
}
