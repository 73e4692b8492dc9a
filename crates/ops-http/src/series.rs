//! The handles of one (method, route): its in-flight gauge, its cancelled counter and its
//! duration histograms by status, looked up in the registry once and kept.

use std::sync::Arc;
use std::time::Duration;

use ops_registry::{Counter, Gauge};

use crate::families::Families;
use crate::status::StatusTable;

/// What a request of one (method, route) records into.
#[derive(Debug)]
pub(crate) struct Series {
    method: &'static str,
    route: Arc<str>,
    active: Gauge,
    cancelled: Counter,
    durations: ops_registry::HistogramVec,
    statuses: StatusTable,
}

impl Series {
    /// Looks the (method, route) series up in `families` (creating them at 0).
    pub(crate) fn new(families: &Families, method: &'static str, route: Arc<str>) -> Series {
        let labels = [method, &*route];
        Series {
            active: families.active.with(&labels),
            cancelled: families.cancelled.with(&labels),
            durations: families.durations.clone(),
            statuses: StatusTable::new(),
            method,
            route,
        }
    }

    /// A request starts.
    #[inline]
    pub(crate) fn start(&self) {
        self.active.inc();
    }

    /// A request was answered with `status` after `elapsed`.
    #[inline]
    pub(crate) fn answered(&self, status: u16, elapsed: Duration) {
        self.statuses.record(
            status,
            elapsed.as_secs_f64(),
            &self.durations,
            self.method,
            &self.route,
        );
        self.active.dec();
    }

    /// A request was abandoned before its answer was ready.
    pub(crate) fn cancelled(&self) {
        self.cancelled.inc();
        self.active.dec();
    }
}
