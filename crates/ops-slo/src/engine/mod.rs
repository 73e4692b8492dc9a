/*!
The engine: fed a Prometheus page at each evaluation, it keeps each SLO's counts and computes
its burn rates and budget.

# What happens at each [`record`](SloEngine::record)

1. The page goes into a scratch series store (only its latest samples are kept).
2. For each SLO, each counter selector of its SLI is evaluated over it; each matched series'
   increase since the last record is added to the term's cumulative count. Counter resets are
   handled as Prometheus does (a value below the last one is a reset: its increase is the new
   value); a series first seen after the engine's first record counts from zero; on the
   engine's first record the counts since the process started count
   ([`SloEngineBuilder::counters_since_start`], on by default — turn it off for pages of
   counters that live longer than the engine).
3. The increases go into the hour's bucket of the budget window.
4. At the first record of each minute, every term's cumulative count is appended to a small
   series store at the start of the minute, and the burn-rate windows are evaluated there in
   `PromQL` ([`crate::promql`]) — the same expressions, over the same numbers, as the
   exported recording rules over the raw counters — along with the budget, the gauges and the
   series the alert rules read. The state file is written (at most every `save_every`).

# Resolution and memory

| what | resolution | kept | memory per SLO |
|---|---|---|---|
| burn-rate windows | 1 minute | the longest long window (3 d by default) + 2 min | 16 bytes × 4,322 points × terms (2 or 3) |
| budget window | 1 hour | the window (720 h for 30 d) | 16 bytes × 720 |
| series seen per term | — | until unseen for 3 days | one entry per matched series |

So the burn rates move once a minute, and the budget window spans the current hour so far
and the `window − 1 h` before it (between 29 d 23 h and 30 d of events for 30 days).
*/

mod exposition;
mod inner;
mod runtime;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use self::inner::Inner;
use self::runtime::Runtime;
use crate::error::{Error, Result};
use crate::events::{EVENTS_FAMILY, SloEvents};
use crate::spec::{Sli, SloSet};
use crate::state::StateFile;
use crate::status::SloStatus;
use crate::window::{self, MINUTE};

/// What happened to the state file when the engine started.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateLoad {
    /// No state file was configured: nothing survives a restart.
    NotConfigured,
    /// The file did not exist yet.
    Missing,
    /// The file was read: `slos` SLOs restored; `dropped` lists the SLOs it held that are no
    /// longer defined or whose SLI is now counted differently (their counts were left out,
    /// and logged).
    Loaded {
        /// SLOs restored.
        slos: usize,
        /// SLOs whose saved counts were not used, with the reason.
        dropped: Vec<String>,
    },
    /// The file was unusable: it was renamed to `to` and the engine started empty. Logged at
    /// ERROR and counted in `ops_slo_state_set_aside_total`.
    SetAside {
        /// Where the file is now.
        to: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
}

/// The engine's own counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EngineStats {
    /// Pages recorded.
    pub records: u64,
    /// Minutes computed.
    pub minutes: u64,
    /// State files written.
    pub state_writes: u64,
    /// State files that could not be written (logged at WARN when writing starts failing).
    pub state_write_errors: u64,
    /// Unusable state files set aside (0 or 1: only at start).
    pub state_set_aside: u64,
    /// One-minute points refused by the series store (the clock went back).
    pub points_refused: u64,
    /// Hourly counts dropped because their hour had left the window (the clock went back).
    pub counts_dropped: u64,
}

/// Builds an [`SloEngine`].
///
/// | setting | default |
/// |---|---|
/// | [`state_file`](Self::state_file) | none: nothing survives a restart |
/// | [`save_every`](Self::save_every) | 1 minute (and at [`stop`](SloEngine::stop)) |
/// | [`counters_since_start`](Self::counters_since_start) | on |
/// | [`sloth_names`](Self::sloth_names) | off |
/// | minimum traffic | the set's `min_events_per_minute` (1) |
#[derive(Debug, Clone)]
#[must_use]
pub struct SloEngineBuilder {
    set: SloSet,
    state: Option<PathBuf>,
    save_every: Duration,
    counters_since_start: bool,
    sloth_names: bool,
}

impl SloEngineBuilder {
    /// Keeps the counts in this file: read at [`build`](Self::build) (an unusable file is set
    /// aside and reported, never read as zero), written atomically at most every
    /// [`save_every`](Self::save_every) and at [`stop`](SloEngine::stop).
    pub fn state_file(mut self, path: impl AsRef<Path>) -> Self {
        self.state = Some(path.as_ref().to_path_buf());
        self
    }

    /// How often the state file is written, by the recorded pages' clock (default 1 minute;
    /// at least one minute passes between writes whatever is set, as the counts change once a
    /// minute).
    pub fn save_every(mut self, every: Duration) -> Self {
        self.save_every = every;
        self
    }

    /// Whether the counts a page shows at the engine's first record count as events (default
    /// on: the counters live in the same process as the engine, so they started with it).
    /// Off, the first page is a baseline.
    pub fn counters_since_start(mut self, on: bool) -> Self {
        self.counters_since_start = on;
        self
    }

    /// Also puts the Sloth-named series (`slo:sli_error:ratio_rate5m`, `slo:objective:ratio`…)
    /// on the page section, for Sloth's and Pyrra's dashboards without the recording rules
    /// (default off: `promtool check metrics` objects to `:` in exposed names; the alert
    /// rules read them either way).
    pub fn sloth_names(mut self, on: bool) -> Self {
        self.sloth_names = on;
        self
    }

    /// Sets the minimum traffic: below this many events per minute in a burn-rate window the
    /// window has no data (default: the set's, 1).
    pub fn min_events_per_minute(mut self, events: f64) -> Self {
        self.set.min_events_per_minute = events;
        self
    }

    /// The engine, with the state file read.
    ///
    /// # Errors
    /// An invalid set ([`Error::Invalid`], [`Error::Setting`]); a state file that exists but
    /// cannot be read ([`Error::Io`]: permissions), or that is unusable and cannot be renamed.
    pub fn build(self) -> Result<SloEngine> {
        self.set.validate()?;
        let metas = self.set.metas();
        let events_registry = ops_registry::Registry::new();
        let mut slos = Vec::with_capacity(metas.len());
        for (slo, meta) in self.set.slos.iter().zip(metas) {
            let events = match &slo.sli {
                Sli::Events {} => {
                    let family = events_registry
                        .counter_vec(EVENTS_FAMILY, "SLO events.", &["sloth_id", "result"])
                        .map_err(|e| Error::Invalid {
                            origin: self.set.origin.clone(),
                            slo: meta.id.clone(),
                            field: "sli.events",
                            value: EVENTS_FAMILY.into(),
                            reason: e.to_string(),
                        })?;
                    Some(SloEvents {
                        good: family.with(&[meta.id.as_str(), "good"]),
                        bad: family.with(&[meta.id.as_str(), "bad"]),
                    })
                }
                _ => None,
            };
            let latency = matches!(slo.sli, Sli::HttpLatency { .. });
            slos.push(Runtime::new(meta, events, latency));
        }
        let mut inner = Inner {
            state_path: self.state,
            save_every: self.save_every.max(MINUTE),
            counters_since_start: self.counters_since_start,
            sloth_names: self.sloth_names,
            ..Inner::new(slos)
        };
        inner.names = inner
            .slos
            .iter()
            .flat_map(|r| &r.meta.terms)
            .map(|t| crate::spec::selector_name(&t.selector))
            .collect();
        inner.load_state()?;
        let engine = SloEngine {
            inner: Arc::new(Mutex::new(inner)),
            writing: Arc::new(Mutex::new(())),
            set: Arc::new(self.set),
        };
        // The alert rules are checked now, so a monitor never gets fewer than it should.
        #[cfg(feature = "monitor")]
        engine.rules()?;
        Ok(engine)
    }
}

/// The handle on the engine: cheap to clone, every clone the same engine.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use ops_slo::{Slo, SloEngine, SloSet, Sli};
///
/// let set = SloSet::new(vec![Slo::new("shop", "orders", Sli::bad_total(
///     "orders_failed_total", "orders_total",
/// ))]);
/// let engine = SloEngine::builder(set).build()?;
/// let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 / 60 * 60);
/// for minute in 0..=60u64 {
///     // 100 orders a minute, 1 failed: a 1 % error ratio against a 0.5 % budget.
///     let page = format!(
///         "orders_total {}\norders_failed_total {}\n",
///         minute * 100,
///         minute
///     );
///     engine.record(&page, t0 + Duration::from_secs(minute * 60));
/// }
/// let status = &engine.status()[0];
/// let hour = status.window(Duration::from_secs(3600)).unwrap();
/// assert_eq!(hour.error_ratio, Some(0.01));
/// assert_eq!(hour.burn_rate, Some(2.0));
/// assert_eq!(status.budget.events, 6000.0);
/// # Ok::<(), ops_slo::Error>(())
/// ```
#[derive(Clone)]
pub struct SloEngine {
    inner: Arc<Mutex<Inner>>,
    /// Held while a state file is written (outside `inner`: pages keep rendering), so writes
    /// happen one at a time and in order.
    writing: Arc<Mutex<()>>,
    set: Arc<SloSet>,
}

impl std::fmt::Debug for SloEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.lock();
        f.debug_struct("SloEngine")
            .field(
                "slos",
                &s.slos
                    .iter()
                    .map(|r| r.meta.id.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("state", &s.state_path)
            .field("stats", &s.stats)
            .finish_non_exhaustive()
    }
}

impl SloEngine {
    /// A builder for the SLOs of `set`.
    pub fn builder(set: SloSet) -> SloEngineBuilder {
        SloEngineBuilder {
            set,
            state: None,
            save_every: MINUTE,
            counters_since_start: true,
            sloth_names: false,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a page (Prometheus text: the registry, the profiler's report, the prober's
    /// section…) taken at `at`. See the module docs for what it does; at most one minute's
    /// worth of work per call, never a panic, whatever the page holds.
    pub fn record(&self, page: &str, at: SystemTime) {
        let _writing = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        let due = self.lock().record(page, at);
        // A failed write is counted and logged; the next minute retries.
        let _ = self.write(due);
    }

    /// Writes a snapshot (the engine's lock released: the page keeps rendering meanwhile).
    fn write(&self, snapshot: Option<(PathBuf, StateFile)>) -> Result<()> {
        let Some((path, state)) = snapshot else {
            return Ok(());
        };
        let result = state.save(&path);
        self.lock().saved(&path, &result);
        result
    }

    /// Appends the series the alert rules read — Sloth's names: `slo:sli_error:ratio_rate5m`
    /// … `slo:sli_error:ratio_rate3d`, `slo:sli_error:ratio_rate30d`, `slo:objective:ratio`,
    /// `slo:error_budget:ratio`… with `sloth_id`, `sloth_service`, `sloth_slo` — as of the
    /// last minute computed. A window without data has no series.
    pub fn recorded(&self, out: &mut String) {
        out.push_str(&self.lock().recorded);
    }

    /// Every SLO now.
    pub fn status(&self) -> Vec<SloStatus> {
        let s = self.lock();
        s.slos.iter().map(Runtime::status).collect()
    }

    /// The handle to record events into an SLO whose SLI is [`Sli::Events`].
    pub fn events(&self, id: &str) -> Option<SloEvents> {
        self.lock()
            .slos
            .iter()
            .find(|r| r.meta.id == id)
            .and_then(|r| r.events.clone())
    }

    /// The SLOs.
    pub fn slos(&self) -> &SloSet {
        &self.set
    }

    /// The burn-rate alerts of every SLO, for an `ops_thresholds` monitor (which adds them
    /// itself when the engine is its recording).
    ///
    /// # Errors
    /// An alert expression outside ops-promql's subset (not for SLOs that validated).
    #[cfg(feature = "monitor")]
    pub fn rules(&self) -> Result<Vec<ops_thresholds::Rule>> {
        let mut out = Vec::new();
        for slo in &self.set.slos {
            out.extend(crate::alerts::rules(slo)?);
        }
        Ok(out)
    }

    /// What happened to the state file at start.
    pub fn state_load(&self) -> StateLoad {
        self.lock().load.clone()
    }

    /// The engine's counters.
    pub fn stats(&self) -> EngineStats {
        self.lock().stats
    }

    /// The state as it would be written now.
    pub fn state(&self) -> StateFile {
        self.lock().state()
    }

    /// Writes the state file now (a no-op without one).
    ///
    /// # Errors
    /// The write failed (also counted and logged).
    pub fn save(&self) -> Result<()> {
        let _writing = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        let snapshot = {
            let mut s = self.lock();
            let at = s.last_at.unwrap_or_else(SystemTime::now);
            s.snapshot(at)
        };
        self.write(snapshot)
    }

    /// Writes the state file a last time (errors are logged and counted). For the end of the
    /// process; the engine keeps working afterwards.
    pub fn stop(&self) {
        let _ = self.save();
    }
}

/// The status of every SLO of a state file, as of its last minute: what `ops slo status` shows
/// without a running engine.
pub fn status_of(state: &StateFile) -> Vec<SloStatus> {
    let slos = state
        .slos
        .iter()
        .map(|s| Runtime::new(s.meta.clone(), None, false))
        .collect();
    let mut inner = Inner {
        recorded_once: true,
        ..Inner::new(slos)
    };
    for (i, saved) in state.slos.iter().enumerate() {
        inner.restore(i, saved);
    }
    let at = state.as_of.unwrap_or(state.written_at);
    inner.compute(window::start_of(window::index(at, MINUTE), MINUTE), at);
    inner.slos.iter().map(Runtime::status).collect()
}

#[cfg(feature = "monitor")]
impl ops_thresholds::Recording for SloEngine {
    /// [`SloEngine::rules`] (checked when the engine was built).
    fn rules(&self) -> Vec<ops_thresholds::Rule> {
        SloEngine::rules(self).unwrap_or_else(|e| {
            tracing::error!(target: "ops_slo", error = %e, "the SLO alert rules cannot be built");
            Vec::new()
        })
    }

    /// [`SloEngine::record`], then [`SloEngine::recorded`].
    fn record(&self, page: &str, at: SystemTime, out: &mut String) {
        let _writing = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        let due = {
            let mut s = self.lock();
            let due = s.record(page, at);
            out.push_str(&s.recorded);
            due
        };
        let _ = self.write(due);
    }

    /// [`SloEngine::stop`].
    fn stop(&self) {
        SloEngine::stop(self);
    }
}
