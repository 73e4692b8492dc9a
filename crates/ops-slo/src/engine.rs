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

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use ops_core::exposition::{Encoder, Exposition, MetricType};
use ops_promql::{Expr, Labels, Store};

use crate::buckets::HourlyBuckets;
use crate::budget::Budget;
use crate::error::{Error, Result};
use crate::events::{EVENTS_FAMILY, SloEvents};
use crate::promql::{Guard, TERM_SERIES, term_selector, window_exprs};
use crate::spec::{Sli, SloSet};
use crate::state::{
    HourCounts, MAX_BURN_WINDOW, MAX_MINUTES, MinutePoints, Numerator, Side, SloMeta, SloState,
    StateFile,
};
use crate::status::{AlertStatus, SloStatus, WindowStatus};
use crate::window::{self, HOUR, MINUTE};

/// A series unseen this long is forgotten (a series seen again later counts from zero).
const FORGET_AFTER_MINUTES: i64 = (MAX_BURN_WINDOW.as_secs() / 60).cast_signed();

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
        let longest = metas
            .iter()
            .flat_map(SloMeta::windows)
            .max()
            .unwrap_or(Duration::from_hours(1));
        let retention = longest.saturating_add(Duration::from_mins(2));
        let n_terms: usize = metas.iter().map(|m| m.terms.len()).sum();
        let points = Store::builder(retention)
            .min_interval(MINUTE)
            .max_series(n_terms + 1)
            .build();
        let scratch = Store::builder(Duration::from_secs(1))
            .max_points_per_series(2)
            .build();
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
            slos,
            scratch,
            points,
            state_path: self.state,
            save_every: self.save_every.max(MINUTE),
            last_save: None,
            counters_since_start: self.counters_since_start,
            sloth_names: self.sloth_names,
            recorded_once: false,
            last_minute: None,
            last_at: None,
            stats: EngineStats::default(),
            load: StateLoad::NotConfigured,
            recorded: String::new(),
            write_failing: false,
            names: None,
            filtered: String::new(),
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

/// A term's source of samples.
enum Source {
    /// A counter selector over the page.
    Selector(Option<Expr>),
    /// The engine's own event counters (`Sli::Events`): `(result, counter)`.
    Events(Vec<(Labels, ops_registry::Counter)>),
}

struct Term {
    side: Side,
    sign: i8,
    source: Source,
    /// The aggregated series in the points store.
    series: Labels,
    /// The cumulative count (`None` until the first record of a fresh SLO).
    cumulative: Option<f64>,
    /// Each series matched: its last value and the minute it was last seen.
    seen: HashMap<Labels, (f64, i64)>,
    /// The minute of the last point in the points store.
    last_point: Option<i64>,
}

impl Term {
    /// Adds the samples' increases; returns the increase counted.
    fn update(&mut self, samples: &[(Labels, f64)], minute: i64, count_new: bool) -> f64 {
        let mut inc = 0.0;
        let mut raw = 0.0;
        for (labels, v) in samples {
            let v = *v;
            if !(v.is_finite() && v >= 0.0) {
                continue;
            }
            raw += v;
            if let Some((last, seen)) = self.seen.get_mut(labels) {
                inc += if v >= *last { v - *last } else { v };
                *last = v;
                *seen = minute;
            } else {
                if count_new {
                    inc += v;
                }
                self.seen.insert(labels.clone(), (v, minute));
            }
        }
        self.seen
            .retain(|_, (_, seen)| minute.saturating_sub(*seen) <= FORGET_AFTER_MINUTES);
        match self.cumulative {
            // A fresh SLO starts at the raw sum, so its series is the raw counter's when
            // there is one series (as the differential test has it).
            None => {
                self.cumulative = Some(raw);
                if count_new { raw } else { 0.0 }
            }
            Some(c) => {
                self.cumulative = Some(c + inc);
                inc
            }
        }
    }
}

struct WindowRt {
    window: Duration,
    error: Option<Expr>,
    total: Option<Expr>,
    /// The last values: error ratio (`None`: no data), events per second.
    ratio: Option<f64>,
    rate: f64,
}

struct Runtime {
    meta: SloMeta,
    terms: Vec<Term>,
    hours: HourlyBuckets,
    windows: Vec<WindowRt>,
    events: Option<SloEvents>,
    /// A latency SLI: its good bucket must exist when its total does.
    latency: bool,
    budget: Budget,
    as_of: Option<SystemTime>,
    error: Option<String>,
    source_errors: u64,
}

impl Runtime {
    fn new(meta: SloMeta, events: Option<SloEvents>, latency: bool) -> Runtime {
        let id = meta.id.clone();
        let terms = meta
            .terms
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let source = match &events {
                    Some(ev) => {
                        let l = |r: &str| Labels::new([("sloth_id", id.as_str()), ("result", r)]);
                        let mut v = vec![(l("bad"), ev.bad.clone())];
                        if t.side == Side::Total {
                            v.insert(0, (l("good"), ev.good.clone()));
                        }
                        Source::Events(v)
                    }
                    None => Source::Selector(Expr::parse(&t.selector).ok()),
                };
                Term {
                    side: t.side,
                    sign: t.sign,
                    source,
                    series: Labels::new([
                        ("__name__", TERM_SERIES),
                        ("sloth_id", id.as_str()),
                        ("term", i.to_string().as_str()),
                    ]),
                    cumulative: None,
                    seen: HashMap::new(),
                    last_point: None,
                }
            })
            .collect();
        let guard = Guard::PerMinute(meta.min_events_per_minute);
        let windows = meta
            .windows()
            .into_iter()
            .map(|w| {
                let e = window_exprs(&meta, w, guard, &|i| term_selector(&id, i));
                WindowRt {
                    window: w,
                    error: Expr::parse(&e.error_ratio).ok(),
                    total: Expr::parse(&e.total_rate).ok(),
                    ratio: None,
                    rate: 0.0,
                }
            })
            .collect();
        let budget = Budget::new(0.0, 0.0, meta.error_budget, meta.window);
        Runtime {
            hours: HourlyBuckets::new(meta.hours()),
            terms,
            windows,
            events,
            latency,
            budget,
            as_of: None,
            error: None,
            source_errors: 0,
            meta,
        }
    }

    /// The bad events share over the budget window (`None` without events).
    fn period_error_ratio(&self) -> Option<f64> {
        (self.budget.events > 0.0).then(|| self.budget.bad_events / self.budget.events)
    }

    fn burn(&self, ratio: f64) -> f64 {
        ratio / self.meta.error_budget
    }

    fn status(&self) -> SloStatus {
        let windows: Vec<WindowStatus> = self
            .windows
            .iter()
            .map(|w| WindowStatus {
                window: w.window,
                error_ratio: w.ratio,
                burn_rate: w.ratio.map(|r| self.burn(r)),
                events: w.rate * w.window.as_secs_f64(),
                no_data: w.ratio.is_none(),
            })
            .collect();
        let ratio_of = |d: Duration| {
            windows
                .iter()
                .find(|w| w.window == d)
                .and_then(|w| w.error_ratio)
        };
        let alerts = self
            .meta
            .alerts
            .iter()
            .map(|a| {
                let threshold = a.factor * self.meta.error_budget;
                let burns = |d| ratio_of(d).is_some_and(|r| r > threshold);
                AlertStatus {
                    alertname: a.name.clone(),
                    severity: a.severity.clone(),
                    long: a.long,
                    short: a.short,
                    factor: a.factor,
                    burning: burns(a.long) && burns(a.short),
                }
            })
            .collect();
        let burn_window = self.meta.current_burn_window();
        let time_to_exhaustion = burn_window.and_then(|w| {
            let r = ratio_of(w)?;
            self.budget
                .time_to_exhaustion(self.burn(r), self.meta.window)
        });
        SloStatus {
            id: self.meta.id.clone(),
            service: self.meta.service.clone(),
            slo: self.meta.slo.clone(),
            description: self.meta.description.clone(),
            objective: self.meta.objective,
            error_budget: self.meta.error_budget,
            window: self.meta.window,
            as_of: self.as_of,
            budget: self.budget,
            windows,
            alerts,
            burn_window,
            time_to_exhaustion,
            error: self.error.clone(),
        }
    }
}

#[allow(clippy::struct_excessive_bools)]
struct Inner {
    slos: Vec<Runtime>,
    scratch: Store,
    points: Store,
    state_path: Option<PathBuf>,
    save_every: Duration,
    last_save: Option<SystemTime>,
    counters_since_start: bool,
    sloth_names: bool,
    recorded_once: bool,
    last_minute: Option<i64>,
    last_at: Option<SystemTime>,
    stats: EngineStats,
    load: StateLoad,
    /// The Sloth-named series of the last minute.
    recorded: String,
    write_failing: bool,
    /// The metric names the SLIs read (`None`: some selector reads several, so every line).
    names: Option<std::collections::HashSet<String>>,
    /// The page's lines of those names.
    filtered: String,
}

impl Inner {
    fn load_state(&mut self) -> Result<()> {
        let Some(path) = self.state_path.clone() else {
            return Ok(());
        };
        let state = match StateFile::load(&path) {
            Ok(Some(s)) => s,
            Ok(None) => {
                self.load = StateLoad::Missing;
                return Ok(());
            }
            Err(Error::Corrupt { reason, .. }) => {
                let to = crate::state::set_aside(&path, SystemTime::now())?;
                tracing::error!(
                    target: "ops_slo",
                    file = %path.display(),
                    set_aside = %to.display(),
                    %reason,
                    "the SLO state file is unusable: set aside, the budgets start empty"
                );
                self.stats.state_set_aside = 1;
                self.load = StateLoad::SetAside { to, reason };
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let mut dropped = Vec::new();
        let mut restored = 0;
        for saved in &state.slos {
            let Some(i) = self.slos.iter().position(|s| s.meta.id == saved.meta.id) else {
                dropped.push(format!("{}: no longer defined", saved.meta.id));
                continue;
            };
            let layout = |m: &SloMeta| -> Vec<(Side, i8)> {
                m.terms.iter().map(|t| (t.side, t.sign)).collect()
            };
            let rt = &self.slos[i];
            if rt.meta.numerator != saved.meta.numerator || layout(&rt.meta) != layout(&saved.meta)
            {
                dropped.push(format!(
                    "{}: its SLI is counted differently now",
                    saved.meta.id
                ));
                continue;
            }
            self.restore(i, saved);
            restored += 1;
        }
        for d in &dropped {
            tracing::warn!(target: "ops_slo", file = %path.display(), "saved SLO counts not used: {d}");
        }
        self.load = StateLoad::Loaded {
            slos: restored,
            dropped,
        };
        Ok(())
    }

    fn restore(&mut self, i: usize, saved: &SloState) {
        let rt = &mut self.slos[i];
        for (t, c) in rt.terms.iter_mut().zip(&saved.cumulative) {
            t.cumulative = Some(*c);
        }
        // The window may have changed: keep the newest hours that fit.
        let hours = rt.meta.hours();
        let mut counts = saved.hours.counts.clone();
        if counts.len() > hours {
            counts.drain(..counts.len() - hours);
        }
        if let Some(b) = HourlyBuckets::from_parts(hours, saved.hours.newest, counts) {
            rt.hours = b;
        }
        for (k, p) in saved.minutes.points.iter().enumerate() {
            let Some(values) = p else { continue };
            let minute = saved
                .minutes
                .first
                .saturating_add(i64::try_from(k).unwrap_or(i64::MAX));
            let at = window::start_of(minute, MINUTE);
            for (t, v) in rt.terms.iter_mut().zip(values) {
                if self.points.append(&t.series, at, *v).is_ok() {
                    t.last_point = Some(minute);
                } else {
                    self.stats.points_refused += 1;
                }
            }
        }
    }

    /// Records a page; returns the state to write when a write is due.
    fn record(&mut self, page: &str, at: SystemTime) -> Option<(PathBuf, StateFile)> {
        self.stats.records += 1;
        self.last_at = Some(self.last_at.map_or(at, |l| l.max(at)));
        // Only the families the SLIs read go into the scratch store.
        let page = match &self.names {
            Some(names) => {
                self.filtered.clear();
                for line in page.lines() {
                    let name = line.split(['{', ' ']).next().unwrap_or("");
                    if !line.starts_with('#') && names.contains(name) {
                        self.filtered.push_str(line);
                        self.filtered.push('\n');
                    }
                }
                self.filtered.as_str()
            }
            None => page,
        };
        self.scratch.ingest_from("page", page, at);
        let minute = window::index(at, MINUTE);
        let hour = window::index(at, HOUR);
        let count_new = self.recorded_once || self.counters_since_start;
        let mut samples: Vec<(Labels, f64)> = Vec::new();
        for rt in &mut self.slos {
            let (mut num, mut total) = (0.0, 0.0);
            let mut matched = Vec::with_capacity(rt.terms.len());
            for t in &mut rt.terms {
                samples.clear();
                match &t.source {
                    Source::Selector(Some(expr)) => {
                        if let Ok(ops_promql::Value::Vector(v)) = expr.eval(&self.scratch, at) {
                            samples.extend(v.into_iter().map(|s| (s.labels, s.value)));
                        }
                    }
                    Source::Selector(None) => {}
                    Source::Events(counters) => {
                        samples.extend(counters.iter().map(|(l, c)| (l.clone(), c.get() as f64)));
                    }
                }
                matched.push(!samples.is_empty());
                let inc = t.update(&samples, minute, count_new) * f64::from(t.sign);
                match t.side {
                    Side::Numerator => num += inc,
                    Side::Total => total += inc,
                }
            }
            rt.error = if rt.latency && !matched[0] && matched.get(1).copied().unwrap_or(false) {
                rt.source_errors += 1;
                Some(missing_bucket(&rt.meta, &self.scratch))
            } else {
                None
            };
            if !rt.hours.add(hour, num.max(0.0), total.max(0.0)) {
                self.stats.counts_dropped += 1;
            }
        }
        self.recorded_once = true;
        if self.last_minute.is_none_or(|m| minute > m) {
            self.last_minute = Some(minute);
            self.minute(window::start_of(minute, MINUTE), at);
            let due = self
                .last_save
                .is_none_or(|s| at.duration_since(s).unwrap_or_default() >= self.save_every);
            if due {
                return self.snapshot(at);
            }
        }
        None
    }

    /// The first record of a minute: the points, then the windows, budget and recorded
    /// series.
    fn minute(&mut self, t: SystemTime, at: SystemTime) {
        let minute = window::index(t, MINUTE);
        for rt in &mut self.slos {
            for term in &mut rt.terms {
                let Some(c) = term.cumulative else { continue };
                if term.last_point.is_some_and(|m| m >= minute) {
                    // Restored from the state file for this very minute.
                    continue;
                }
                if self.points.append(&term.series, t, c).is_ok() {
                    term.last_point = Some(minute);
                } else {
                    self.stats.points_refused += 1;
                }
            }
        }
        self.compute(t, at);
    }

    /// The windows at minute `t`, the budget at `at`'s hour, the recorded series.
    fn compute(&mut self, t: SystemTime, at: SystemTime) {
        self.stats.minutes += 1;
        let hour = window::index(at, HOUR);
        for rt in &mut self.slos {
            for w in &mut rt.windows {
                w.ratio = w
                    .error
                    .as_ref()
                    .and_then(|e| single(e.eval(&self.points, t)));
                w.rate = w
                    .total
                    .as_ref()
                    .and_then(|e| single(e.eval(&self.points, t)))
                    .unwrap_or(0.0);
            }
            rt.hours.roll_to(hour);
            let [num, total] = rt.hours.window_sum(hour);
            let bad = match rt.meta.numerator {
                Numerator::Bad => num,
                Numerator::Good => total - num,
            };
            rt.budget = Budget::new(bad, total, rt.meta.error_budget, rt.meta.window);
            rt.as_of = Some(t);
        }
        self.recorded.clear();
        encode_sloth(&self.slos, &mut self.recorded);
    }

    fn state(&self) -> StateFile {
        let mut file = StateFile::new(self.last_at.unwrap_or_else(SystemTime::now));
        file.as_of = self.last_minute.map(|m| window::start_of(m, MINUTE));
        for rt in &self.slos {
            // Every term's points, by minute from the first to the last (`None` where a term
            // lacks one), at most the last MAX_MINUTES minutes.
            let series: Vec<Vec<(i64, f64)>> = rt
                .terms
                .iter()
                .map(|t| self.points.points(&t.series).unwrap_or_default())
                .collect();
            let minute_of = |ms: i64| ms.div_euclid(60_000);
            let last = series
                .iter()
                .filter_map(|p| p.last().map(|(ms, _)| minute_of(*ms)))
                .max();
            let oldest = series
                .iter()
                .filter_map(|p| p.first().map(|(ms, _)| minute_of(*ms)))
                .min();
            let (first, points) = match (oldest, last) {
                (Some(oldest), Some(last)) => {
                    let span = i64::try_from(MAX_MINUTES).unwrap_or(i64::MAX);
                    let first = oldest.max(last - span + 1);
                    let len = usize::try_from(last - first + 1).unwrap_or(0);
                    let mut grid: Vec<Vec<Option<f64>>> = vec![vec![None; rt.terms.len()]; len];
                    for (i, pts) in series.iter().enumerate() {
                        for &(ms, v) in pts {
                            if let Ok(k) = usize::try_from(minute_of(ms) - first)
                                && let Some(row) = grid.get_mut(k)
                            {
                                row[i] = Some(v);
                            }
                        }
                    }
                    let points = grid
                        .into_iter()
                        .map(|row| row.into_iter().collect::<Option<Vec<f64>>>())
                        .collect();
                    (first, points)
                }
                _ => (0, Vec::new()),
            };
            file.slos.push(SloState {
                meta: rt.meta.clone(),
                cumulative: rt
                    .terms
                    .iter()
                    .map(|t| t.cumulative.unwrap_or(0.0))
                    .collect(),
                minutes: MinutePoints { first, points },
                hours: HourCounts {
                    newest: rt.hours.newest(),
                    counts: rt.hours.counts().collect(),
                },
            });
        }
        file
    }

    /// The state to write now, with its file, noting the time of the write.
    fn snapshot(&mut self, at: SystemTime) -> Option<(PathBuf, StateFile)> {
        let path = self.state_path.clone()?;
        self.last_save = Some(at);
        Some((path, self.state()))
    }

    /// Counts (and logs a change in) the outcome of a write.
    fn saved(&mut self, path: &Path, result: &Result<()>) {
        match result {
            Ok(()) => {
                self.stats.state_writes += 1;
                if std::mem::replace(&mut self.write_failing, false) {
                    tracing::info!(target: "ops_slo", file = %path.display(), "the SLO state file is written again");
                }
            }
            Err(e) => {
                self.stats.state_write_errors += 1;
                if !std::mem::replace(&mut self.write_failing, true) {
                    tracing::warn!(target: "ops_slo", file = %path.display(), error = %crate::error::chain(e), "cannot write the SLO state file; the counts are kept in memory and the write is retried every minute");
                }
            }
        }
    }
}

/// The one sample of a result (a sum without labels), if any.
fn single(v: std::result::Result<ops_promql::Value, ops_promql::EvalError>) -> Option<f64> {
    match v {
        Ok(ops_promql::Value::Vector(v)) => v.first().map(|s| s.value).filter(|x| !x.is_nan()),
        Ok(ops_promql::Value::Scalar(x)) => Some(x),
        Err(_) => None,
    }
}

/// Why a latency SLI's good bucket is missing: the histogram's bounds as the page has them.
fn missing_bucket(meta: &SloMeta, scratch: &Store) -> String {
    let bucket = format!("{}_bucket", crate::spec::HTTP_DURATION_FAMILY);
    let mut les: Vec<(f64, String)> = scratch
        .series_labels()
        .iter()
        .filter(|l| l.metric_name() == Some(bucket.as_str()))
        .filter_map(|l| l.get("le").map(str::to_owned))
        .filter(|le| le != "+Inf")
        .filter_map(|le| le.parse::<f64>().ok().map(|v| (v, le)))
        .collect();
    les.sort_by(|a, b| a.0.total_cmp(&b.0));
    les.dedup_by(|a, b| a.1 == b.1);
    let bounds: Vec<String> = les.into_iter().map(|(_, le)| le).collect();
    format!(
        "{}: the histogram has no bucket at this bound; its bounds: {}",
        meta.terms[0].selector,
        if bounds.is_empty() {
            "none".to_owned()
        } else {
            bounds.join(", ")
        }
    )
}

/// The labels every SLO series carries.
fn ids(meta: &SloMeta) -> [(&'static str, &str); 3] {
    [
        ("sloth_id", meta.id.as_str()),
        ("sloth_service", meta.service.as_str()),
        ("sloth_slo", meta.slo.as_str()),
    ]
}

/// One family with one sample per SLO that has a value.
fn per_slo<V: ops_core::exposition::ExpositionValue>(
    enc: &mut Encoder<'_>,
    slos: &[Runtime],
    name: &str,
    help: &str,
    kind: MetricType,
    value: impl Fn(&Runtime) -> Option<V>,
) {
    let values: Vec<(&Runtime, V)> = slos
        .iter()
        .filter_map(|r| value(r).map(|v| (r, v)))
        .collect();
    if values.is_empty() {
        return;
    }
    enc.family(name, help, kind);
    for (r, v) in values {
        enc.sample(name, &ids(&r.meta), v);
    }
}

/// One family with one sample per SLO and window that has a value.
fn per_window<V: ops_core::exposition::ExpositionValue>(
    enc: &mut Encoder<'_>,
    slos: &[Runtime],
    name: &str,
    help: &str,
    value: impl Fn(&Runtime, &WindowRt) -> Option<V>,
) {
    let mut first = true;
    for r in slos {
        for w in &r.windows {
            let Some(v) = value(r, w) else { continue };
            if first {
                enc.family(name, help, MetricType::Gauge);
                first = false;
            }
            let label = window::prom(w.window);
            let [a, b, c] = ids(&r.meta);
            enc.sample(name, &[a, b, c, ("sloth_window", label.as_str())], v);
        }
    }
}

/// One family with one sample per SLO that has a value, labelled with a window.
fn per_slo_window(
    enc: &mut Encoder<'_>,
    slos: &[Runtime],
    name: &str,
    help: &str,
    value: impl Fn(&Runtime) -> Option<(Duration, f64)>,
) {
    let mut first = true;
    for r in slos {
        let Some((window, v)) = value(r) else {
            continue;
        };
        if first {
            enc.family(name, help, MetricType::Gauge);
            first = false;
        }
        let label = window::prom(window);
        let [id, service, slo] = ids(&r.meta);
        enc.sample(
            name,
            &[id, service, slo, ("sloth_window", label.as_str())],
            v,
        );
    }
}

/// The Sloth-named series: what Sloth's recording rules record, as the alert rules read them.
#[allow(clippy::too_many_lines)] // one family after another
fn encode_sloth(slos: &[Runtime], out: &mut String) {
    if slos.iter().all(|r| r.as_of.is_none()) {
        return;
    }
    let mut enc = Encoder::new(out);
    // Every burn-rate window and the budget window in one family per name.
    let mut names: Vec<Duration> = slos
        .iter()
        .flat_map(|r| r.windows.iter().map(|w| w.window))
        .collect();
    names.extend(slos.iter().map(|r| r.meta.window));
    names.sort();
    names.dedup();
    for d in names {
        let name = crate::alerts::ratio_series(d);
        let label = window::prom(d);
        let mut first = true;
        for r in slos {
            let v = if d == r.meta.window {
                r.period_error_ratio()
            } else {
                r.windows
                    .iter()
                    .find(|w| w.window == d)
                    .and_then(|w| w.ratio)
            };
            let Some(v) = v else { continue };
            if first {
                enc.family(
                    &name,
                    "The SLI's error ratio over the window (Sloth's name).",
                    MetricType::Gauge,
                );
                first = false;
            }
            let [a, b, c] = ids(&r.meta);
            enc.sample(&name, &[a, b, c, ("sloth_window", label.as_str())], v);
        }
    }
    per_slo(
        &mut enc,
        slos,
        "slo:objective:ratio",
        "The SLO's objective (Sloth's name).",
        MetricType::Gauge,
        |r| Some(r.meta.objective),
    );
    per_slo(
        &mut enc,
        slos,
        "slo:error_budget:ratio",
        "The SLO's error budget, 1 - objective (Sloth's name).",
        MetricType::Gauge,
        |r| Some(r.meta.error_budget),
    );
    per_slo(
        &mut enc,
        slos,
        "slo:time_period:days",
        "The SLO's window in days (Sloth's name).",
        MetricType::Gauge,
        |r| Some(r.meta.window.as_secs_f64() / 86_400.0),
    );
    // As Sloth's rules record them, these keep the window of the ratio they divide.
    per_slo_window(
        &mut enc,
        slos,
        "slo:current_burn_rate:ratio",
        "The burn rate over the shortest window (Sloth's name).",
        |r| {
            let w = r.windows.first()?;
            w.ratio.map(|x| (w.window, r.burn(x)))
        },
    );
    per_slo_window(
        &mut enc,
        slos,
        "slo:period_burn_rate:ratio",
        "The burn rate over the SLO's window (Sloth's name).",
        |r| r.period_error_ratio().map(|x| (r.meta.window, r.burn(x))),
    );
    per_slo_window(
        &mut enc,
        slos,
        "slo:period_error_budget_remaining:ratio",
        "The error budget left over the SLO's window; negative when overspent (Sloth's name).",
        |r| {
            r.period_error_ratio()
                .map(|x| (r.meta.window, 1.0 - r.burn(x)))
        },
    );
    let mut first = true;
    for r in slos {
        if first {
            enc.family(
                "sloth_slo_info",
                "The SLO (Sloth's info series).",
                MetricType::Gauge,
            );
            first = false;
        }
        let objective = crate::promql::num(crate::spec::round12(r.meta.objective * 100.0));
        let [a, b, c] = ids(&r.meta);
        enc.sample(
            "sloth_slo_info",
            &[
                a,
                b,
                c,
                ("sloth_mode", "ops-rs"),
                ("sloth_objective", objective.as_str()),
            ],
            1u64,
        );
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

impl Exposition for SloEngine {
    /// The `ops_slo_*` gauges (promtool-clean), the recorded events, the engine's counters,
    /// and, with [`SloEngineBuilder::sloth_names`], the Sloth-named series.
    #[allow(clippy::too_many_lines)] // one family after another
    fn encode_prometheus(&self, out: &mut String) {
        let s = self.lock();
        let slos = &s.slos;
        let mut e = Encoder::new(out);
        per_slo(
            &mut e,
            slos,
            "ops_slo_objective_ratio",
            "The SLO's objective: the share of events that must be good.",
            MetricType::Gauge,
            |r| Some(r.meta.objective),
        );
        per_slo(
            &mut e,
            slos,
            "ops_slo_error_budget_ratio",
            "The SLO's error budget: 1 - objective.",
            MetricType::Gauge,
            |r| Some(r.meta.error_budget),
        );
        per_slo(
            &mut e,
            slos,
            "ops_slo_window_seconds",
            "The SLO's rolling budget window.",
            MetricType::Gauge,
            |r| Some(r.meta.window.as_secs_f64()),
        );
        per_window(
            &mut e,
            slos,
            "ops_slo_sli_error_ratio",
            "The share of bad events over the burn-rate window; absent without data (fewer events than the minimum traffic).",
            |_, w| w.ratio,
        );
        per_window(
            &mut e,
            slos,
            "ops_slo_burn_rate",
            "The error ratio over the window divided by the error budget: 1 spends the budget exactly over the SLO's window.",
            |r, w| w.ratio.map(|x| r.burn(x)),
        );
        per_window(
            &mut e,
            slos,
            "ops_slo_window_events",
            "Events in the burn-rate window.",
            |r, w| r.as_of.map(|_| w.rate * w.window.as_secs_f64()),
        );
        per_window(
            &mut e,
            slos,
            "ops_slo_no_data",
            "1 when the window had fewer events than the minimum traffic, so no ratio and no alert.",
            |r, w| r.as_of.map(|_| u64::from(w.ratio.is_none())),
        );
        per_slo(
            &mut e,
            slos,
            "ops_slo_sli_ratio",
            "The share of good events over the SLO's window; absent without events.",
            MetricType::Gauge,
            |r| r.budget.sli,
        );
        per_slo(
            &mut e,
            slos,
            "ops_slo_error_budget_remaining_ratio",
            "The share of the error budget left over the SLO's window (0 when spent).",
            MetricType::Gauge,
            |r| Some(r.budget.remaining_ratio),
        );
        per_slo(
            &mut e,
            slos,
            "ops_slo_error_budget_consumed_ratio",
            "The share of the error budget spent over the SLO's window (above 1 when overspent).",
            MetricType::Gauge,
            |r| Some(r.budget.consumed_ratio),
        );
        per_slo(
            &mut e,
            slos,
            "ops_slo_error_budget_remaining_seconds",
            "The error budget left, as seconds of full outage at the window's traffic.",
            MetricType::Gauge,
            |r| Some(r.budget.remaining_minutes * 60.0),
        );
        per_slo(
            &mut e,
            slos,
            "ops_slo_time_to_exhaustion_seconds",
            "How long the budget left lasts at the burn rate of the shortest long alert window (+Inf when not burning); absent without data.",
            MetricType::Gauge,
            |r| {
                let w = r.meta.current_burn_window()?;
                let ratio = r.windows.iter().find(|x| x.window == w)?.ratio?;
                Some(
                    r.budget
                        .time_to_exhaustion(r.burn(ratio), r.meta.window)
                        .map_or(f64::INFINITY, |d| d.as_secs_f64()),
                )
            },
        );
        per_slo(
            &mut e,
            slos,
            "ops_slo_sli_source_errors_total",
            "Records where the SLI could not be read (a latency bound missing from the histogram's buckets).",
            MetricType::Counter,
            |r| Some(r.source_errors),
        );
        let events: Vec<&Runtime> = slos.iter().filter(|r| r.events.is_some()).collect();
        if !events.is_empty() {
            e.family(
                EVENTS_FAMILY,
                "Events the service recorded into its SLOs, by result.",
                MetricType::Counter,
            );
            for r in events {
                if let Some(ev) = &r.events {
                    e.sample(
                        EVENTS_FAMILY,
                        &[("sloth_id", r.meta.id.as_str()), ("result", "good")],
                        ev.good.get(),
                    );
                    e.sample(
                        EVENTS_FAMILY,
                        &[("sloth_id", r.meta.id.as_str()), ("result", "bad")],
                        ev.bad.get(),
                    );
                }
            }
        }
        if s.state_path.is_some() {
            e.single(
                "ops_slo_state_writes_total",
                "SLO state files written.",
                MetricType::Counter,
                s.stats.state_writes,
            );
            e.single(
                "ops_slo_state_write_errors_total",
                "SLO state files that could not be written.",
                MetricType::Counter,
                s.stats.state_write_errors,
            );
            e.single(
                "ops_slo_state_set_aside_total",
                "Unusable SLO state files set aside at start (the budgets started empty).",
                MetricType::Counter,
                s.stats.state_set_aside,
            );
        }
        if s.sloth_names {
            out.push_str(&s.recorded);
        }
    }
}

/// The status of every SLO of a state file, as of its last minute: what `ops slo status` shows
/// without a running engine.
pub fn status_of(state: &StateFile) -> Vec<SloStatus> {
    let metas: Vec<SloMeta> = state.slos.iter().map(|s| s.meta.clone()).collect();
    let longest = metas
        .iter()
        .flat_map(SloMeta::windows)
        .max()
        .unwrap_or(Duration::from_hours(1));
    let mut inner = Inner {
        slos: metas
            .into_iter()
            .map(|m| Runtime::new(m, None, false))
            .collect(),
        scratch: Store::new(Duration::from_secs(1)),
        points: Store::builder(longest.saturating_add(Duration::from_mins(2)))
            .min_interval(MINUTE)
            .build(),
        state_path: None,
        save_every: MINUTE,
        last_save: None,
        counters_since_start: false,
        sloth_names: false,
        recorded_once: true,
        last_minute: None,
        last_at: None,
        stats: EngineStats::default(),
        load: StateLoad::NotConfigured,
        recorded: String::new(),
        write_failing: false,
        names: None,
        filtered: String::new(),
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
