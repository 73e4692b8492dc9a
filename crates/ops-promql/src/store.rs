/*!
The series store: series keyed by their labels, each a bounded ring of points, under a cap on
the number of series, with counters for everything it refused or dropped.
The bounds are documented on [`Store`].
*/

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::ast::Matcher;
use crate::error::AppendError;
use crate::labels::{self, Labels};
use crate::series::{POINT_BYTES, Point, Refused, STALE_NAN, Series};

/// The most points one series may hold, whatever the limits say (1 MiB of points).
pub const MAX_POINTS_PER_SERIES: usize = 65_536;

/// The most labels one series may have (Prometheus's `label_limit` plays this role).
pub const MAX_LABELS_PER_SERIES: usize = 64;

/// Bytes a series costs besides its points and labels (its record and index entries), as
/// [`Store::memory_bytes`] counts it.
pub(crate) const SERIES_OVERHEAD: usize = 256;

/// The store's limits; see the module's table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// How long points are kept.
    pub retention: Duration,
    /// The shortest interval between two points of a series that the ring is sized for.
    pub min_interval: Duration,
    /// Points one series holds at most.
    pub max_points_per_series: usize,
    /// Series the store holds at most.
    pub max_series: usize,
    /// Bytes of label names and values one series may have.
    pub max_label_bytes: usize,
    /// Ingest sources (`ingest_from` ids) the store remembers at most.
    pub max_sources: usize,
}

impl Limits {
    fn derived_points(retention: Duration, min_interval: Duration) -> usize {
        let step = min_interval.as_millis().max(1);
        let n = retention.as_millis() / step + 1;
        usize::try_from(n)
            .unwrap_or(MAX_POINTS_PER_SERIES)
            .clamp(2, MAX_POINTS_PER_SERIES)
    }
}

/// Builds a [`Store`] with other limits than the defaults.
///
/// ```
/// use std::time::Duration;
/// let store = ops_promql::Store::builder(Duration::from_secs(600))
///     .min_interval(Duration::from_secs(10))
///     .max_series(500)
///     .build();
/// assert_eq!(store.limits().max_points_per_series, 61);
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct StoreBuilder {
    limits: Limits,
    explicit_points: Option<usize>,
}

impl StoreBuilder {
    /// The ring size follows `retention ÷ interval + 1` (default interval: 1 s).
    pub fn min_interval(mut self, interval: Duration) -> Self {
        self.limits.min_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// Points per series, instead of the derived figure (at most [`MAX_POINTS_PER_SERIES`],
    /// at least 2).
    pub fn max_points_per_series(mut self, points: usize) -> Self {
        self.explicit_points = Some(points.clamp(2, MAX_POINTS_PER_SERIES));
        self
    }

    /// Series the store holds at most (default 10,000).
    pub fn max_series(mut self, series: usize) -> Self {
        self.limits.max_series = series;
        self
    }

    /// Bytes of label names and values per series (default 4,096).
    pub fn max_label_bytes(mut self, bytes: usize) -> Self {
        self.limits.max_label_bytes = bytes;
        self
    }

    /// Ingest sources remembered at most (default 64).
    pub fn max_sources(mut self, sources: usize) -> Self {
        self.limits.max_sources = sources;
        self
    }

    /// The store.
    pub fn build(self) -> Store {
        let mut limits = self.limits;
        limits.max_points_per_series = self
            .explicit_points
            .unwrap_or_else(|| Limits::derived_points(limits.retention, limits.min_interval));
        Store {
            retention_ms: i64::try_from(limits.retention.as_millis()).unwrap_or(i64::MAX),
            limits,
            slots: Vec::new(),
            free: Vec::new(),
            by_labels: HashMap::new(),
            by_name: HashMap::new(),
            next_id: 0,
            sources: HashMap::new(),
            counters: StoreStats::default(),
        }
    }
}

/// A handle on a series that stays valid while the series exists (slot + generation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct SeriesRef {
    slot: u32,
    generation: u32,
}

#[derive(Debug, Default)]
struct Slot {
    generation: u32,
    series: Option<Series>,
}

/// What the store holds and what it refused or dropped, since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreStats {
    /// Series held now.
    pub series: usize,
    /// Points held now (staleness markers included).
    pub points: usize,
    /// An estimate of the heap bytes held now ([`Store::memory_bytes`]).
    pub memory_bytes: usize,
    /// New series refused because the store held `max_series`.
    pub series_refused: u64,
    /// Samples refused: out of order, a second value for a timestamp, labels too large or
    /// invalid.
    pub samples_rejected: u64,
    /// Points dropped before the end of their retention because a ring was full.
    pub points_evicted: u64,
    /// Points dropped at the end of their retention.
    pub points_expired: u64,
    /// Series removed because their last point expired.
    pub series_expired: u64,
    /// Exposition lines skipped as malformed.
    pub malformed_lines: u64,
    /// Pages refused because the store remembered `max_sources` other sources.
    pub sources_refused: u64,
    /// Staleness markers written for series that left their source's page.
    pub stale_markers: u64,
}

/// In-memory time series, fed by [`ingest`](Store::ingest) (Prometheus text pages) or
/// [`append`](Store::append), read by [`Expr::eval`](crate::Expr::eval).
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use ops_promql::{Labels, Store};
/// let mut store = Store::new(Duration::from_secs(3600));
/// let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
/// let up = Labels::new([("__name__", "up"), ("job", "api")]);
/// store.append(&up, t, 1.0).unwrap();
/// assert_eq!(store.series_count(), 1);
/// assert_eq!(store.points(&up), Some(vec![(1_000_000, 1.0)]));
/// ```
///
/// # Bounds
///
/// | limit | default | what happens past it |
/// |---|---|---|
/// | retention | given to [`Store::new`] | points older than the newest append minus the retention are dropped on append; [`Store::expire`] (run by every ingest) drops them everywhere and removes empty series |
/// | points per series | retention ÷ min interval (1 s) + 1, at most [`MAX_POINTS_PER_SERIES`] | the oldest point is dropped (counted in [`StoreStats::points_evicted`]) |
/// | series | 10,000 | a new series is refused (counted in [`StoreStats::series_refused`]) |
/// | label bytes per series | 4,096 (names + values) | the sample is refused (counted in [`StoreStats::samples_rejected`]) |
/// | labels per series | 64 | the sample is refused |
/// | ingest sources | 64 | the page is refused (counted in [`StoreStats::sources_refused`]) |
///
/// So one series never takes more than [`Store::max_series_bytes`] bytes
/// (`points × 16 + 16 + 64 labels × 64 + label bytes + 256`), and the store never more than
/// `max series × max_series_bytes` plus each source's last-page index (one entry per series it
/// sent, at most `2 × label bytes + 320` bytes each).
#[derive(Debug)]
pub struct Store {
    limits: Limits,
    retention_ms: i64,
    slots: Vec<Slot>,
    free: Vec<u32>,
    by_labels: HashMap<Labels, SeriesRef>,
    /// Per metric name, its series in creation order (the order selectors return them in).
    by_name: HashMap<Arc<str>, BTreeMap<u64, SeriesRef>>,
    /// The creation number of the next new series.
    next_id: u64,
    pub(crate) sources: HashMap<Box<str>, crate::ingest::Source>,
    pub(crate) counters: StoreStats,
}

impl Store {
    /// A store keeping `retention` of points, with the default limits.
    pub fn new(retention: Duration) -> Store {
        Store::builder(retention).build()
    }

    /// A builder for other limits.
    pub fn builder(retention: Duration) -> StoreBuilder {
        StoreBuilder {
            limits: Limits {
                retention,
                min_interval: Duration::from_secs(1),
                max_points_per_series: 0,
                max_series: 10_000,
                max_label_bytes: 4096,
                max_sources: 64,
            },
            explicit_points: None,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The most bytes one series may take: its full ring, its largest label set and its
    /// record.
    pub fn max_series_bytes(&self) -> usize {
        self.limits.max_points_per_series * POINT_BYTES
            + 16
            + MAX_LABELS_PER_SERIES * 64
            + self.limits.max_label_bytes
            + SERIES_OVERHEAD
    }

    /// Appends one sample. A value with the staleness marker's bits ([`crate::STALE_NAN`])
    /// is a staleness marker.
    ///
    /// # Errors
    ///
    /// The labels have no or an invalid metric name, an invalid label name, too many or too
    /// large labels; the store is full of other series; the sample is older than the series'
    /// last one or a second value for its timestamp. Every refusal is counted in
    /// [`stats`](Store::stats).
    pub fn append(
        &mut self,
        labels: &Labels,
        at: SystemTime,
        value: f64,
    ) -> Result<(), AppendError> {
        let r = self.series_for(labels)?;
        self.push(r, millis(at), value)
    }

    /// Writes a staleness marker for `labels` at `at`, as a scrape does when a series leaves
    /// its page: instant selectors stop returning it at once.
    ///
    /// # Errors
    ///
    /// As [`append`](Store::append).
    pub fn mark_stale(&mut self, labels: &Labels, at: SystemTime) -> Result<(), AppendError> {
        self.append(labels, at, STALE_NAN)
    }

    /// The series for `labels`, made if it is new.
    pub(crate) fn series_for(&mut self, labels: &Labels) -> Result<SeriesRef, AppendError> {
        if let Some(&r) = self.by_labels.get(labels) {
            return Ok(r);
        }
        if let Err(e) = self.check_labels(labels) {
            self.counters.samples_rejected += 1;
            return Err(e);
        }
        if self.by_labels.len() >= self.limits.max_series {
            self.counters.series_refused += 1;
            return Err(AppendError::SeriesLimit {
                labels: labels.clone(),
                limit: self.limits.max_series,
            });
        }
        let slot = if let Some(slot) = self.free.pop() {
            slot
        } else {
            let slot = u32::try_from(self.slots.len()).map_err(|_| AppendError::SeriesLimit {
                labels: labels.clone(),
                limit: self.limits.max_series,
            })?;
            self.slots.push(Slot::default());
            slot
        };
        let entry = &mut self.slots[slot as usize];
        let id = self.next_id;
        self.next_id += 1;
        entry.series = Some(Series::new(labels.clone(), id));
        let r = SeriesRef {
            slot,
            generation: entry.generation,
        };
        self.by_labels.insert(labels.clone(), r);
        let name: Arc<str> = labels.metric_name().unwrap_or_default().into();
        self.by_name.entry(name).or_default().insert(id, r);
        Ok(r)
    }

    fn check_labels(&self, labels: &Labels) -> Result<(), AppendError> {
        let Some(name) = labels.metric_name() else {
            return Err(AppendError::NoMetricName {
                labels: labels.clone(),
            });
        };
        if !labels::is_metric_name(name) {
            return Err(AppendError::InvalidMetricName { name: name.into() });
        }
        if let Some((bad, _)) = labels.iter().find(|(n, _)| !labels::is_label_name(n)) {
            return Err(AppendError::InvalidLabelName { name: bad.into() });
        }
        if labels.len() > MAX_LABELS_PER_SERIES {
            return Err(AppendError::TooManyLabels {
                count: labels.len(),
                limit: MAX_LABELS_PER_SERIES,
            });
        }
        let bytes = labels.text_bytes();
        if bytes > self.limits.max_label_bytes {
            return Err(AppendError::LabelsTooLarge {
                bytes,
                limit: self.limits.max_label_bytes,
            });
        }
        Ok(())
    }

    /// Whether `r` still names a live series.
    pub(crate) fn is_live(&self, r: SeriesRef) -> bool {
        self.get(r).is_some()
    }

    fn get(&self, r: SeriesRef) -> Option<&Series> {
        let slot = self.slots.get(r.slot as usize)?;
        if slot.generation != r.generation {
            return None;
        }
        slot.series.as_ref()
    }

    /// Appends to a live series.
    pub(crate) fn push(&mut self, r: SeriesRef, t: i64, v: f64) -> Result<(), AppendError> {
        let (retention, cap) = (self.retention_ms, self.limits.max_points_per_series);
        let slot = self
            .slots
            .get_mut(r.slot as usize)
            .filter(|s| s.generation == r.generation);
        let Some(series) = slot.and_then(|s| s.series.as_mut()) else {
            return Err(AppendError::Gone);
        };
        match series.push(Point { t, v }, retention, cap) {
            Ok(a) => {
                self.counters.points_expired += a.expired as u64;
                self.counters.points_evicted += a.evicted as u64;
                Ok(())
            }
            Err(refused) => {
                self.counters.samples_rejected += 1;
                Err(match refused {
                    Refused::OutOfOrder { last } => AppendError::OutOfOrder {
                        labels: series.labels.clone(),
                        last,
                        at: t,
                    },
                    Refused::Duplicate => AppendError::DuplicateTimestamp {
                        labels: series.labels.clone(),
                        at: t,
                    },
                })
            }
        }
    }

    /// The last point of a live series.
    pub(crate) fn last_point(&self, r: SeriesRef) -> Option<(i64, f64)> {
        self.get(r).and_then(Series::last).map(|p| (p.t, p.v))
    }

    /// Drops, in every series, the points older than `now - retention`, and removes the
    /// series left empty. [`ingest`](Store::ingest) runs it after each page.
    pub fn expire(&mut self, now: SystemTime) {
        let mint = millis(now).saturating_sub(self.retention_ms);
        let mut emptied = Vec::new();
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if let Some(series) = slot.series.as_mut() {
                self.counters.points_expired += series.expire_before(mint) as u64;
                if series.is_empty() {
                    emptied.push(i);
                }
            }
        }
        for i in emptied {
            self.remove(i);
        }
    }

    fn remove(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        let Some(series) = slot.series.take() else {
            return;
        };
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(i as u32);
        self.by_labels.remove(&series.labels);
        let name = series.labels.metric_name().unwrap_or_default();
        if let Some(map) = self.by_name.get_mut(name) {
            map.remove(&series.id);
            if map.is_empty() {
                self.by_name.remove(name);
            }
        }
        self.counters.series_expired += 1;
    }

    /// How many series the store holds.
    pub fn series_count(&self) -> usize {
        self.by_labels.len()
    }

    /// How many points the store holds (staleness markers included).
    pub fn point_count(&self) -> usize {
        self.live().map(Series::len).sum()
    }

    /// The points of one series as `(milliseconds since the epoch, value)`, oldest first, or
    /// `None` when the store does not have it.
    pub fn points(&self, labels: &Labels) -> Option<Vec<(i64, f64)>> {
        let r = self.by_labels.get(labels)?;
        Some(self.get(*r)?.points().map(|p| (p.t, p.v)).collect())
    }

    /// The label sets of all series, sorted.
    pub fn series_labels(&self) -> Vec<Labels> {
        let mut v: Vec<Labels> = self.by_labels.keys().cloned().collect();
        v.sort();
        v
    }

    /// An estimate of the heap bytes held: every ring's capacity, label sets, per-series
    /// records and the sources' last-page indexes.
    pub fn memory_bytes(&self) -> usize {
        let series: usize = self.live().map(series_bytes).sum();
        let sources: usize = self
            .sources
            .values()
            .map(crate::ingest::Source::heap_bytes)
            .sum();
        series + sources + self.slots.capacity() * std::mem::size_of::<Slot>()
    }

    /// The bytes the largest series holds now (see [`max_series_bytes`](Store::max_series_bytes)).
    pub fn largest_series_bytes(&self) -> usize {
        self.live().map(series_bytes).max().unwrap_or(0)
    }

    /// Figures and counters.
    pub fn stats(&self) -> StoreStats {
        StoreStats {
            series: self.series_count(),
            points: self.point_count(),
            memory_bytes: self.memory_bytes(),
            ..self.counters
        }
    }

    fn live(&self) -> impl Iterator<Item = &Series> {
        self.slots.iter().filter_map(|s| s.series.as_ref())
    }

    /// The series every matcher accepts, in the order they were created: the order
    /// Prometheus's head block returns series in (postings by series reference), which is
    /// the order sums and averages add them in.
    pub(crate) fn select<'a>(&'a self, matchers: &[Matcher]) -> Vec<&'a Series> {
        let name = matchers.iter().find_map(Matcher::metric_name_equal);
        if let Some(name) = name {
            let Some(map) = self.by_name.get(name) else {
                return Vec::new();
            };
            return map
                .values()
                .filter_map(|r| self.get(*r))
                .filter(|s| matches_all(matchers, &s.labels))
                .collect();
        }
        let mut out: Vec<&Series> = self
            .live()
            .filter(|s| matches_all(matchers, &s.labels))
            .collect();
        out.sort_by_key(|s| s.id);
        out
    }
}

fn matches_all(matchers: &[Matcher], labels: &Labels) -> bool {
    matchers
        .iter()
        .all(|m| m.matches(labels.get(&m.name).unwrap_or("")))
}

fn series_bytes(s: &Series) -> usize {
    s.ring_bytes() + s.labels.heap_bytes() + SERIES_OVERHEAD
}

/// Milliseconds since the Unix epoch, truncated (negative before it), saturating.
pub(crate) fn millis(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_millis()).map_or(i64::MIN, |m| -m),
    }
}
