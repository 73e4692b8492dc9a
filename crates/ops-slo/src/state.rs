/*!
The state file: what an engine measured, so a 30-day budget survives restarts.

One JSON document (format `ops-slo-state`, version [`STATE_VERSION`]) holding, per SLO, what
it is (id, objective, window, how its SLI is counted: [`SloMeta`]), the cumulative counts of
its SLI's terms, their one-minute points for the burn-rate windows (the longest alert window,
3 days by default) and the hourly counts of the budget window. Written atomically and durably
(temporary file, fsync, rename, fsync of the directory; mode 0600), so a crash or a `kill -9` at
any moment leaves the previous document or the new one, never a torn one.

[`StateFile::load`] checks what it reads: a document that does not parse, has another
version, or holds figures no engine writes (a negative or non-finite count, a cumulative count
that goes down, a point with the wrong number of terms, more points or buckets than the
windows hold) is [`Error::Corrupt`]. An engine sets such a file aside
([`set_aside`], renamed `<file>.corrupt-<unix seconds>`) and reports it; it never reads it
as zero.

```
# fn docs() -> Result<(), ops_slo::Error> {
let state = ops_slo::StateFile::load("slo-state.json".as_ref())?;
if let Some(state) = state {
    for (slo, budget) in state.budgets(std::time::SystemTime::now()) {
        println!("{}: {:.1} % of the error budget left", slo.id, 100.0 * budget.remaining_ratio);
    }
}
# Ok(())
# }
```
*/

use std::fs::File;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::buckets::HourlyBuckets;
use crate::budget::Budget;
use crate::error::{Error, Result, io};
use crate::window;

/// The state file format version this crate writes and reads.
pub const STATE_VERSION: u32 = 1;

/// The `format` field of a state file.
pub const STATE_FORMAT: &str = "ops-slo-state";

/// The largest state file read (bytes).
pub const MAX_STATE_BYTES: u64 = 512 * 1024 * 1024;

/// The longest burn-rate window (the one-minute points kept): 3 days.
pub const MAX_BURN_WINDOW: Duration = Duration::from_hours(72);

/// One-minute points kept per term: the longest burn-rate window plus a margin of ten minutes.
pub(crate) const MAX_MINUTES: usize = (MAX_BURN_WINDOW.as_secs() / 60) as usize + 10;

/// The longest budget window: 366 days (8,784 hourly buckets).
pub const MAX_WINDOW: Duration = ops_core::duration::MAX;

/// Whether an SLI counts good events or bad ones (the other side is the total).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Numerator {
    /// `good / total`: the error ratio is `1 − good / total`.
    Good,
    /// `bad / total`.
    Bad,
}

/// Which side of the ratio a term counts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The good (or bad) events.
    Numerator,
    /// All events.
    Total,
}

/// One counter of an SLI: a side, a sign (a side is a sum of counters minus others, such as
/// calls − cancelled calls) and the `PromQL` selector it reads (shown by status pages).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TermMeta {
    /// Which side.
    pub side: Side,
    /// `1` or `-1`.
    pub sign: i8,
    /// The counter selector (`http_server_request_duration_seconds_count{status!~"5.."}`).
    pub selector: String,
}

/// One burn-rate alert: fires when both windows burn at `factor` × the budget rate or more.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertMeta {
    /// The alert's name (`QuickstartAvailabilityBurnRate1h5m`).
    #[serde(default)]
    pub name: String,
    /// `page` or `ticket` (the `severity` label).
    pub severity: String,
    /// The long window.
    #[serde(with = "ops_core::duration::serde::nonzero")]
    pub long: Duration,
    /// The short window.
    #[serde(with = "ops_core::duration::serde::nonzero")]
    pub short: Duration,
    /// The burn-rate factor (14.4 for the Workbook's first page pair).
    pub factor: f64,
}

/// What an SLO is, as the state file records it: enough to compute its budget and burn rates
/// from the saved counts without the definitions file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SloMeta {
    /// `service-name`: the `sloth_id` label.
    pub id: String,
    /// The service (`sloth_service`).
    pub service: String,
    /// The SLO's name (`sloth_slo`).
    pub slo: String,
    /// What it promises, in words.
    #[serde(default)]
    pub description: String,
    /// The objective: the share of events that must be good (0.995).
    pub objective: f64,
    /// `1 − objective`, rounded to 12 decimals (0.005).
    pub error_budget: f64,
    /// The budget window (30 days), whole hours.
    #[serde(with = "ops_core::duration::serde::nonzero")]
    pub window: Duration,
    /// Whether the numerator counts good or bad events.
    pub numerator: Numerator,
    /// The counters, numerator terms first.
    pub terms: Vec<TermMeta>,
    /// The burn-rate alerts.
    pub alerts: Vec<AlertMeta>,
    /// Below this many events per minute in a window, the window has no data.
    pub min_events_per_minute: f64,
}

impl SloMeta {
    /// The burn-rate windows: every alert's long and short window, shortest first, once each.
    pub fn windows(&self) -> Vec<Duration> {
        let mut w: Vec<Duration> = self.alerts.iter().flat_map(|a| [a.short, a.long]).collect();
        w.sort();
        w.dedup();
        w
    }

    /// The window whose burn rate gives the time to exhaustion: the shortest long window of
    /// the alerts (1 h by default).
    pub fn current_burn_window(&self) -> Option<Duration> {
        self.alerts.iter().map(|a| a.long).min()
    }

    /// The number of hourly buckets of the budget window.
    pub fn hours(&self) -> usize {
        usize::try_from(self.window.as_secs().div_ceil(3600)).unwrap_or(usize::MAX)
    }

    /// Checks what a state file (or a definition) says; `Err(reason)`.
    pub(crate) fn check(&self) -> std::result::Result<(), String> {
        if !(self.objective > 0.0 && self.objective < 1.0) {
            return Err(format!("objective {} is not in (0, 1)", self.objective));
        }
        if !(self.error_budget > 0.0 && self.error_budget < 1.0) {
            return Err(format!(
                "error budget {} is not in (0, 1)",
                self.error_budget
            ));
        }
        if self.window.is_zero()
            || self.window > MAX_WINDOW
            || !self.window.as_secs().is_multiple_of(3600)
            || self.window.subsec_nanos() != 0
        {
            return Err(format!(
                "window {} is not a whole number of hours up to 366 days",
                ops_core::duration::format(self.window)
            ));
        }
        if !(self.min_events_per_minute.is_finite() && self.min_events_per_minute >= 0.0) {
            return Err(format!(
                "min_events_per_minute {} is not a number at least 0",
                self.min_events_per_minute
            ));
        }
        let has = |side| self.terms.iter().any(|t| t.side == side && t.sign == 1);
        if !has(Side::Numerator) || !has(Side::Total) {
            return Err("the SLI needs a counter on each side".into());
        }
        if self.terms.iter().any(|t| t.sign != 1 && t.sign != -1) {
            return Err("a term's sign is 1 or -1".into());
        }
        if self.terms.len() > 16 {
            return Err(format!("{} terms (at most 16)", self.terms.len()));
        }
        for a in &self.alerts {
            if a.short >= a.long
                || a.long > MAX_BURN_WINDOW
                || !a.short.as_secs().is_multiple_of(60)
                || !a.long.as_secs().is_multiple_of(60)
                || a.short.subsec_nanos() != 0
                || a.long.subsec_nanos() != 0
                || !(a.factor.is_finite() && a.factor > 0.0)
            {
                return Err(format!(
                    "alert {} {}/{} ×{}: windows are whole minutes, short < long ≤ 3d, factor > 0",
                    a.severity,
                    window::prom(a.long),
                    window::prom(a.short),
                    a.factor
                ));
            }
        }
        Ok(())
    }
}

/// One-minute points of the terms' cumulative counts: minute `first`, `first + 1`, …; `None`
/// where nothing was recorded (the engine was not running).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinutePoints {
    /// The minute (since the Unix epoch) of the first point.
    pub first: i64,
    /// One entry per minute: each term's cumulative count, or `null`.
    pub points: Vec<Option<Vec<f64>>>,
}

/// The saved hourly buckets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HourCounts {
    /// The hour (since the Unix epoch) of the last bucket.
    pub newest: Option<i64>,
    /// `[numerator, total]` per hour, oldest first, ending at `newest`.
    pub counts: Vec<[f64; 2]>,
}

/// What the state file holds for one SLO.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SloState {
    /// What the SLO is.
    pub meta: SloMeta,
    /// Each term's cumulative count (events counted since the state began).
    pub cumulative: Vec<f64>,
    /// The burn-rate windows' points.
    pub minutes: MinutePoints,
    /// The budget window's buckets.
    pub hours: HourCounts,
}

impl SloState {
    /// The budget window's buckets as a ring.
    pub fn buckets(&self) -> HourlyBuckets {
        HourlyBuckets::from_parts(
            self.meta.hours(),
            self.hours.newest,
            self.hours.counts.clone(),
        )
        .unwrap_or_else(|| HourlyBuckets::new(self.meta.hours()))
    }

    /// The budget at `at`, from the hourly buckets.
    pub fn budget(&self, at: SystemTime) -> Budget {
        let [num, total] = self.buckets().window_sum(window::index(at, window::HOUR));
        let bad = match self.meta.numerator {
            Numerator::Bad => num,
            Numerator::Good => total - num,
        };
        Budget::new(bad, total, self.meta.error_budget, self.meta.window)
    }

    fn check(&self) -> std::result::Result<(), String> {
        let id = &self.meta.id;
        self.meta.check().map_err(|e| format!("SLO {id:?}: {e}"))?;
        let n = self.meta.terms.len();
        if self.cumulative.len() != n {
            return Err(format!(
                "SLO {id:?}: {} cumulative counts for {n} terms",
                self.cumulative.len()
            ));
        }
        let bad = |v: &f64| !v.is_finite() || *v < 0.0;
        if self.cumulative.iter().any(bad) {
            return Err(format!(
                "SLO {id:?}: a cumulative count is negative or not finite"
            ));
        }
        if self.minutes.points.len() > MAX_MINUTES {
            return Err(format!(
                "SLO {id:?}: {} one-minute points (at most {MAX_MINUTES})",
                self.minutes.points.len()
            ));
        }
        let mut last: Option<&Vec<f64>> = None;
        for (i, p) in self.minutes.points.iter().enumerate() {
            let Some(p) = p else { continue };
            if p.len() != n || p.iter().any(bad) {
                return Err(format!("SLO {id:?}: minute point {i} is malformed"));
            }
            if let Some(prev) = last
                && prev.iter().zip(p).any(|(a, b)| b < a)
            {
                return Err(format!(
                    "SLO {id:?}: minute point {i} goes down (cumulative counts never do)"
                ));
            }
            last = Some(p);
        }
        if let Some(p) = last
            && p.iter().zip(&self.cumulative).any(|(a, b)| b < a)
        {
            return Err(format!(
                "SLO {id:?}: the cumulative counts are below the last minute point"
            ));
        }
        if HourlyBuckets::from_parts(
            self.meta.hours(),
            self.hours.newest,
            self.hours.counts.clone(),
        )
        .is_none()
        {
            return Err(format!(
                "SLO {id:?}: the hourly buckets are malformed (more than {} hours, or a negative or non-finite count)",
                self.meta.hours()
            ));
        }
        Ok(())
    }
}

/// The whole state file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct StateFile {
    /// [`STATE_FORMAT`].
    pub format: String,
    /// [`STATE_VERSION`].
    pub version: u32,
    /// When it was written (the engine's clock).
    #[serde(with = "ops_core::time::rfc3339")]
    pub written_at: SystemTime,
    /// The time the figures are as of: the last minute the engine computed.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "ops_core::time::rfc3339_opt"
    )]
    pub as_of: Option<SystemTime>,
    /// One entry per SLO.
    pub slos: Vec<SloState>,
}

impl StateFile {
    /// An empty state written at `at`.
    pub fn new(at: SystemTime) -> StateFile {
        StateFile {
            format: STATE_FORMAT.to_owned(),
            version: STATE_VERSION,
            written_at: at,
            as_of: None,
            slos: Vec::new(),
        }
    }

    /// Reads and checks `path`; `Ok(None)` when it does not exist.
    ///
    /// # Errors
    /// [`Error::Io`] when it cannot be read, [`Error::Corrupt`] when it is unusable (see the
    /// module docs).
    pub fn load(path: &Path) -> Result<Option<StateFile>> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("cannot read", path)(e)),
        };
        let mut bytes = Vec::new();
        file.take(MAX_STATE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io("cannot read", path))?;
        let corrupt = |reason: String| Error::Corrupt {
            path: path.to_path_buf(),
            reason,
        };
        if bytes.len() as u64 > MAX_STATE_BYTES {
            return Err(corrupt(format!("larger than {MAX_STATE_BYTES} bytes")));
        }
        StateFile::parse(&bytes).map(Some).map_err(corrupt)
    }

    /// Parses and checks a state document; `Err(reason)`.
    pub(crate) fn parse(bytes: &[u8]) -> std::result::Result<StateFile, String> {
        // The version first, so a newer file is named as such rather than as a parse error.
        #[derive(Deserialize)]
        struct Head {
            format: Option<String>,
            version: Option<u32>,
        }
        let head: Head = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
        if head.format.as_deref() != Some(STATE_FORMAT) {
            return Err(format!(
                "format {:?} (expected {STATE_FORMAT:?})",
                head.format.unwrap_or_default()
            ));
        }
        if head.version != Some(STATE_VERSION) {
            return Err(format!(
                "version {} (this ops-slo reads version {STATE_VERSION})",
                head.version
                    .map_or_else(|| "missing".into(), |v| v.to_string())
            ));
        }
        let state: StateFile = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        let mut ids = std::collections::HashSet::new();
        for slo in &state.slos {
            slo.check()?;
            if !ids.insert(slo.meta.id.as_str()) {
                return Err(format!("SLO {:?} is in the file twice", slo.meta.id));
            }
        }
        Ok(state)
    }

    /// Writes the state to `path` atomically and durably (see the module docs), with
    /// [`ops_core::fs::write_atomic`].
    ///
    /// # Errors
    /// [`Error::Io`] naming the step and the file when any step fails (the temporary file is
    /// removed).
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_vec(self).map_err(|e| Error::Io {
            action: "cannot encode",
            path: path.to_path_buf(),
            source: std::io::Error::other(e),
        })?;
        ops_core::fs::write_atomic(path, &text).map_err(|e| Error::Io {
            action: e.action,
            path: e.path,
            source: e.source,
        })
    }

    /// Each SLO's budget at `at` (from the hourly buckets alone).
    pub fn budgets(&self, at: SystemTime) -> Vec<(&SloMeta, Budget)> {
        self.slos.iter().map(|s| (&s.meta, s.budget(at))).collect()
    }

    /// An SLO's state by id.
    pub fn get(&self, id: &str) -> Option<&SloState> {
        self.slos.iter().find(|s| s.meta.id == id)
    }
}

/// Renames an unusable state file out of the way: `<file>.corrupt-<unix seconds of at>` (with
/// `-2`, `-3`… if taken). Returns the new path.
///
/// # Errors
/// The rename fails.
pub fn set_aside(path: &Path, at: SystemTime) -> Result<PathBuf> {
    let secs = window::index(at, Duration::from_secs(1));
    let name = path
        .file_name()
        .map_or_else(|| "slo-state".into(), |n| n.to_string_lossy().into_owned());
    let mut target = path.with_file_name(format!("{name}.corrupt-{secs}"));
    let mut n = 2;
    while target.exists() && n < 1000 {
        target = path.with_file_name(format!("{name}.corrupt-{secs}-{n}"));
        n += 1;
    }
    std::fs::rename(path, &target).map_err(io("cannot set aside", path))?;
    Ok(target)
}
