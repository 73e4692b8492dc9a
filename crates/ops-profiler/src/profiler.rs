//! The profiler: a registry of functions and their figures.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use crate::outcome::Outcome;
use crate::report::{FunctionReport, Report};
use crate::stats::FunctionStats;

/// Collects per-function call figures: the playbook's `PerformanceProfiler`.
///
/// `#[perf_monitor]` records into the [`global`] instance; a local instance (tests, separate
/// subsystems) is fed through [`profile_function`](Self::profile_function) or a
/// [`FunctionHandle`]. Recording takes no lock: each function's figures are kept in shards
/// written by different threads and merged when a [`report`](Self::report) is taken. Memory is
/// fixed per function (18.75 KiB per shard a thread has written to, at most 16), whatever the
/// number of calls.
///
/// ```
/// use std::time::Duration;
/// let profiler = ops_profiler::PerformanceProfiler::new();
/// profiler.profile_function("load_user", Duration::from_millis(12));
/// profiler.profile_function("load_user", Duration::from_millis(8));
/// let report = profiler.report();
/// let f = report.get("load_user").unwrap();
/// assert_eq!(f.call_count, 2);
/// assert_eq!(f.average_time_ms, 10.0);
/// assert_eq!(f.max_time_ms, 12.0);
/// ```
#[derive(Default)]
pub struct PerformanceProfiler {
    registry: Mutex<HashMap<String, Arc<FunctionStats>>>,
}

impl std::fmt::Debug for PerformanceProfiler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self
            .registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("PerformanceProfiler")
            .field("functions", &n)
            .finish()
    }
}

/// A cheap handle to one function's figures, for timing code by hand (no name lookup per call).
///
/// ```
/// let profiler = ops_profiler::PerformanceProfiler::new();
/// let handle = profiler.handle("parse");
/// let started = std::time::Instant::now();
/// // ... the work ...
/// handle.record(started.elapsed(), true);
/// assert_eq!(profiler.report().get("parse").unwrap().call_count, 1);
/// ```
///
/// Code that can tell a cancelled call (a request whose client went away) from a failed one
/// records the [`Outcome`]:
///
/// ```
/// use std::time::Duration;
/// use ops_profiler::Outcome;
/// let profiler = ops_profiler::PerformanceProfiler::new();
/// let handle = profiler.handle("GET /orders");
/// handle.record_outcome(Duration::from_millis(3), Outcome::Ok);
/// handle.record_outcome(Duration::from_millis(9), Outcome::Error);
/// handle.record_outcome(Duration::from_millis(40), Outcome::Cancelled);
/// let report = profiler.report();
/// let f = report.get("GET /orders").unwrap();
/// assert_eq!((f.call_count, f.error_count, f.cancelled_count), (3, 1, 1));
/// ```
#[derive(Debug, Clone)]
pub struct FunctionHandle {
    stats: Arc<FunctionStats>,
}

impl FunctionHandle {
    /// Records one call of `duration`; `success = false` counts it as an error.
    #[inline]
    pub fn record(&self, duration: Duration, success: bool) {
        self.record_outcome(duration, Outcome::from_success(success));
    }

    /// Records one call of `nanos` nanoseconds.
    #[inline]
    pub fn record_nanos(&self, nanos: u64, success: bool) {
        self.stats.record(nanos, Outcome::from_success(success));
    }

    /// Records one call of `duration` that ended with `outcome`: a cancelled call is counted as a
    /// call and in `cancelled_count`, not as an error.
    #[inline]
    pub fn record_outcome(&self, duration: Duration, outcome: Outcome) {
        self.record_outcome_nanos(
            u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX),
            outcome,
        );
    }

    /// Records one call of `nanos` nanoseconds that ended with `outcome`.
    #[inline]
    pub fn record_outcome_nanos(&self, nanos: u64, outcome: Outcome) {
        self.stats.record(nanos, outcome);
    }

    /// The function's name.
    pub fn name(&self) -> &str {
        &self.stats.name
    }

    pub(crate) fn stats(&self) -> &Arc<FunctionStats> {
        &self.stats
    }
}

impl PerformanceProfiler {
    /// An empty profiler.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The handle of `name`, registering it on first use.
    pub fn handle(&self, name: impl Into<String>) -> FunctionHandle {
        let name = name.into();
        let mut registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        let stats = registry
            .entry(name)
            .or_insert_with_key(|name| Arc::new(FunctionStats::new(name.clone())));
        FunctionHandle {
            stats: Arc::clone(stats),
        }
    }

    /// Records one successful call of `func_name` that took `execution_time` (the playbook's
    /// `profile_function`). Looks the name up: for hot paths keep a [`FunctionHandle`].
    pub fn profile_function(&self, func_name: &str, execution_time: Duration) {
        self.profile_call(func_name, execution_time, true);
    }

    /// Records one call, successful or not.
    pub fn profile_call(&self, func_name: &str, execution_time: Duration, success: bool) {
        self.profile_outcome(func_name, execution_time, Outcome::from_success(success));
    }

    /// Records one call that ended with `outcome` (successful, failed or cancelled).
    pub fn profile_outcome(&self, func_name: &str, execution_time: Duration, outcome: Outcome) {
        let stats = {
            let registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
            registry.get(func_name).cloned()
        };
        let handle = match stats {
            Some(stats) => FunctionHandle { stats },
            None => self.handle(func_name),
        };
        handle.record_outcome(execution_time, outcome);
    }

    /// Figures for every function called at least once since creation or the last
    /// [`reset`](Self::reset), sorted by total time, largest first.
    pub fn report(&self) -> Report {
        let all: Vec<Arc<FunctionStats>> = {
            let registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
            registry.values().cloned().collect()
        };
        let mut functions: Vec<FunctionReport> = all
            .iter()
            .map(|s| FunctionReport::from_snapshot(&s.name, &s.snapshot()))
            .filter(|f| f.call_count > 0)
            .collect();
        functions.sort_by(|a, b| {
            b.total_time_ms
                .total_cmp(&a.total_time_ms)
                .then_with(|| a.function.cmp(&b.function))
        });
        Report { functions }
    }

    /// Sets every figure back to zero. Calls recorded while the reset runs may be kept or lost.
    pub fn reset(&self) {
        let registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        for stats in registry.values() {
            stats.reset();
        }
    }
}

static GLOBAL: OnceLock<PerformanceProfiler> = OnceLock::new();

/// The process-wide profiler `#[perf_monitor]` records into.
pub fn global() -> &'static PerformanceProfiler {
    GLOBAL.get_or_init(PerformanceProfiler::new)
}

/// Calibrates the clock now instead of on the first timed call (with the `tsc` feature this
/// takes 10–200 ms once). Call it at start-up if the first call's latency matters.
pub fn calibrate() {
    crate::clock::calibrate();
}

/// Which clock times calls: `"tsc (quanta)"` or `"std::time::Instant"`.
pub fn clock_name() -> &'static str {
    crate::clock::NAME
}
