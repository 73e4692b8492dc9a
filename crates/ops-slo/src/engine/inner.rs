//! The engine's state behind its lock: the SLOs, the two series stores, the state file's
//! bookkeeping; what a record, a minute and a restore do (see the [module docs](super)).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use ops_promql::{Labels, Store};

use super::exposition::encode_sloth;
use super::runtime::{Runtime, Source};
use super::{EngineStats, StateLoad};
use crate::buckets::HourlyBuckets;
use crate::budget::Budget;
use crate::error::{Error, Result};
use crate::state::{
    HourCounts, MAX_MINUTES, MinutePoints, Numerator, Side, SloMeta, SloState, StateFile,
};
use crate::window::{self, HOUR, MINUTE};

/// The engine behind [`SloEngine`](super::SloEngine)'s lock.
#[allow(clippy::struct_excessive_bools)]
pub(super) struct Inner {
    pub(super) slos: Vec<Runtime>,
    pub(super) scratch: Store,
    pub(super) points: Store,
    pub(super) state_path: Option<PathBuf>,
    pub(super) save_every: Duration,
    pub(super) last_save: Option<SystemTime>,
    pub(super) counters_since_start: bool,
    pub(super) sloth_names: bool,
    pub(super) recorded_once: bool,
    pub(super) last_minute: Option<i64>,
    pub(super) last_at: Option<SystemTime>,
    pub(super) stats: EngineStats,
    pub(super) load: StateLoad,
    /// The Sloth-named series of the last minute.
    pub(super) recorded: String,
    pub(super) write_failing: bool,
    /// The metric names the SLIs read (`None`: some selector reads several, so every line).
    pub(super) names: Option<std::collections::HashSet<String>>,
    /// The page's lines of those names.
    pub(super) filtered: String,
}

impl Inner {
    /// The state of an engine of `slos` with nothing recorded and no state file: the points
    /// store keeps the longest burn-rate window and two minutes more, one series per term;
    /// the scratch store a page's latest samples.
    pub(super) fn new(slos: Vec<Runtime>) -> Inner {
        let longest = slos
            .iter()
            .flat_map(|r| r.meta.windows())
            .max()
            .unwrap_or(Duration::from_hours(1));
        let n_terms: usize = slos.iter().map(|r| r.terms.len()).sum();
        let points = Store::builder(longest.saturating_add(Duration::from_mins(2)))
            .min_interval(MINUTE)
            .max_series(n_terms + 1)
            .build();
        let scratch = Store::builder(Duration::from_secs(1))
            .max_points_per_series(2)
            .build();
        Inner {
            slos,
            scratch,
            points,
            state_path: None,
            save_every: MINUTE,
            last_save: None,
            counters_since_start: false,
            sloth_names: false,
            recorded_once: false,
            last_minute: None,
            last_at: None,
            stats: EngineStats::default(),
            load: StateLoad::NotConfigured,
            recorded: String::new(),
            write_failing: false,
            names: None,
            filtered: String::new(),
        }
    }

    pub(super) fn load_state(&mut self) -> Result<()> {
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

    pub(super) fn restore(&mut self, i: usize, saved: &SloState) {
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
    pub(super) fn record(&mut self, page: &str, at: SystemTime) -> Option<(PathBuf, StateFile)> {
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
    pub(super) fn compute(&mut self, t: SystemTime, at: SystemTime) {
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

    pub(super) fn state(&self) -> StateFile {
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
    pub(super) fn snapshot(&mut self, at: SystemTime) -> Option<(PathBuf, StateFile)> {
        let path = self.state_path.clone()?;
        self.last_save = Some(at);
        Some((path, self.state()))
    }

    /// Counts (and logs a change in) the outcome of a write.
    pub(super) fn saved(&mut self, path: &Path, result: &Result<()>) {
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
