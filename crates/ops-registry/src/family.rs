//! A family: one name, type, help text and set of label names, and its series — at most its
//! cardinality limit of them, plus one overflow series for every label set refused one of its
//! own.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use ops_core::exposition::MetricType;

use crate::counter::CounterSeries;
use crate::error::{self, Error};
use crate::gauge::GaugeSeries;
use crate::histogram::HistogramSeries;
use crate::key::{KeyParts, LabelKey, Parts};
use crate::unit::Unit;

/// The type of a family, with what its series need to be created.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Counter,
    Gauge,
    /// The bucket bounds.
    Histogram(Arc<[f64]>),
}

impl Kind {
    pub(crate) fn metric_type(&self) -> MetricType {
        match self {
            Kind::Counter => MetricType::Counter,
            Kind::Gauge => MetricType::Gauge,
            Kind::Histogram(_) => MetricType::Histogram,
        }
    }
}

/// The label names of a family.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Labels {
    /// Registered in code: every series has these, in this order; a key is the values.
    Fixed(Box<[Box<str>]>),
    /// Fed by the `metrics` facade: each series has its own names; a key is
    /// `[name1, value1, name2, value2, …]`, sorted by name.
    Dynamic,
}

impl Labels {
    pub(crate) fn fixed(names: &[&str]) -> Labels {
        Labels::Fixed(names.iter().map(|&n| Box::from(n)).collect())
    }

    fn describe(&self) -> String {
        match self {
            Labels::Fixed(names) => {
                let names: Vec<&str> = names.iter().map(|n| &**n).collect();
                format!("labels [{}]", names.join(", "))
            }
            Labels::Dynamic => "the label names each `metrics` call gives".to_owned(),
        }
    }
}

/// The series type of a family.
pub(crate) trait Metric: Send + Sync + Sized + 'static {
    fn create(kind: &Kind) -> Self;
}

impl Metric for CounterSeries {
    fn create(_: &Kind) -> Self {
        CounterSeries::new()
    }
}

impl Metric for GaugeSeries {
    fn create(_: &Kind) -> Self {
        GaugeSeries::new()
    }
}

impl Metric for HistogramSeries {
    fn create(kind: &Kind) -> Self {
        match kind {
            Kind::Histogram(bounds) => HistogramSeries::new(Arc::clone(bounds)),
            // Families are created with their kind; a histogram family always has bounds.
            Kind::Counter | Kind::Gauge => HistogramSeries::new(Arc::from(&[][..])),
        }
    }
}

/// Why a label set gets no series of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Another number of values than the family has label names.
    Arity { got: usize },
    /// Part `index` of the key is longer than the registry keeps.
    TooLong { index: usize, len: usize },
    /// The family has as many series as its limit.
    Cardinality,
    /// `metrics` facade labels whose names are not the family's.
    #[cfg_attr(
        not(feature = "metrics"),
        allow(dead_code, reason = "used by the metrics facade")
    )]
    LabelNames,
}

impl Refusal {
    fn index(self) -> usize {
        match self {
            Refusal::Arity { .. } => 0,
            Refusal::TooLong { .. } => 1,
            Refusal::Cardinality => 2,
            Refusal::LabelNames => 3,
        }
    }
}

/// Limits a family is created with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) cardinality: usize,
    pub(crate) value_len: usize,
}

struct SeriesMap<M> {
    index: HashMap<LabelKey, usize>,
    /// In the order they were first used.
    list: Vec<(LabelKey, Arc<M>)>,
}

/// One metric family.
pub(crate) struct Family<M> {
    name: Box<str>,
    help: RwLock<Arc<str>>,
    /// The help text is a placeholder a `describe_*` call may replace.
    help_placeholder: AtomicBool,
    unit: OnceLock<Unit>,
    kind: Kind,
    labels: Labels,
    limits: Limits,
    /// Label sets refused a series of their own.
    refused: AtomicU64,
    /// Whether each kind of refusal has been logged.
    warned: [AtomicBool; 4],
    series: RwLock<SeriesMap<M>>,
    overflow: OnceLock<Arc<M>>,
}

impl<M> std::fmt::Debug for Family<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Family")
            .field("name", &self.name)
            .field("type", &self.kind.metric_type().as_str())
            .field("labels", &self.labels)
            .field("series", &self.len())
            .field("refused", &self.refused())
            .finish_non_exhaustive()
    }
}

impl<M: Metric> Family<M> {
    pub(crate) fn new(
        name: &str,
        help: &str,
        kind: Kind,
        labels: Labels,
        limits: Limits,
    ) -> Family<M> {
        Family {
            name: Box::from(name),
            help: RwLock::new(Arc::from(help)),
            help_placeholder: AtomicBool::new(false),
            unit: OnceLock::new(),
            kind,
            labels,
            limits,
            refused: AtomicU64::new(0),
            warned: std::array::from_fn(|_| AtomicBool::new(false)),
            series: RwLock::new(SeriesMap {
                index: HashMap::new(),
                list: Vec::new(),
            }),
            overflow: OnceLock::new(),
        }
    }

    /// The series of a key, created if the family has room.
    pub(crate) fn get<S: AsRef<str>>(&self, parts: &[S]) -> Result<Arc<M>, Refusal> {
        if let Labels::Fixed(names) = &self.labels
            && parts.len() != names.len()
        {
            return Err(Refusal::Arity { got: parts.len() });
        }
        if let Some((index, part)) = parts
            .iter()
            .enumerate()
            .find(|(_, p)| p.as_ref().len() > self.limits.value_len)
        {
            return Err(Refusal::TooLong {
                index,
                len: part.as_ref().len(),
            });
        }
        let lookup = Parts(parts);
        {
            let map = self.series.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(&i) = map.index.get(&lookup as &dyn KeyParts) {
                return Ok(Arc::clone(&map.list[i].1));
            }
            // Series are never removed: a full family stays full, refused without the write
            // lock (hostile label values cannot make lookups queue behind it).
            if map.list.len() >= self.limits.cardinality {
                return Err(Refusal::Cardinality);
            }
        }
        let mut map = self.series.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(&i) = map.index.get(&lookup as &dyn KeyParts) {
            return Ok(Arc::clone(&map.list[i].1));
        }
        if map.list.len() >= self.limits.cardinality {
            return Err(Refusal::Cardinality);
        }
        let key = LabelKey::new(parts);
        let series = Arc::new(M::create(&self.kind));
        let at = map.list.len();
        map.index.insert(key.clone(), at);
        map.list.push((key, Arc::clone(&series)));
        Ok(series)
    }

    /// The series of a key, or the overflow series (the refusal counted and logged once).
    pub(crate) fn with<S: AsRef<str>>(&self, parts: &[S]) -> (Arc<M>, bool) {
        match self.get(parts) {
            Ok(series) => (series, false),
            Err(refusal) => {
                self.refuse(refusal, parts);
                (self.overflow(), true)
            }
        }
    }

    /// The series of a key, or the refusal as an error (counted and logged once).
    pub(crate) fn try_with<S: AsRef<str>>(&self, parts: &[S]) -> Result<Arc<M>, Error> {
        self.get(parts).map_err(|refusal| {
            self.refuse(refusal, parts);
            self.error(refusal, parts)
        })
    }

    /// Counts a refusal decided outside the family (facade label names) and gives the overflow
    /// series.
    #[cfg_attr(
        not(feature = "metrics"),
        allow(dead_code, reason = "used by the metrics facade")
    )]
    pub(crate) fn refused_series<S: AsRef<str>>(&self, refusal: Refusal, parts: &[S]) -> Arc<M> {
        self.refuse(refusal, parts);
        self.overflow()
    }

    /// The series label sets refused one of their own share (`overflow="true"`).
    pub(crate) fn overflow(&self) -> Arc<M> {
        Arc::clone(
            self.overflow
                .get_or_init(|| Arc::new(M::create(&self.kind))),
        )
    }

    /// Counts a refused label set and logs the first of each kind.
    pub(crate) fn refuse<S: AsRef<str>>(&self, refusal: Refusal, parts: &[S]) {
        self.refused.fetch_add(1, Ordering::Relaxed);
        let warned = &self.warned[refusal.index()];
        if warned.load(Ordering::Relaxed) || warned.swap(true, Ordering::Relaxed) {
            return;
        }
        let family = &*self.name;
        match refusal {
            Refusal::Arity { got } => tracing::warn!(
                target: "ops_registry",
                family,
                expected = self.label_count(),
                got,
                "label values of the wrong number: updates go to the family's overflow=\"true\" series (logged once per family)"
            ),
            Refusal::TooLong { index, len } => tracing::warn!(
                target: "ops_registry",
                family,
                label = self.part_label(index),
                len,
                max = self.limits.value_len,
                "label value too long: updates go to the family's overflow=\"true\" series (logged once per family)"
            ),
            Refusal::Cardinality => tracing::warn!(
                target: "ops_registry",
                family,
                limit = self.limits.cardinality,
                values = ?parts.iter().map(|p| error::prefix(p.as_ref(), 32)).collect::<Vec<_>>(),
                "cardinality limit reached: new label sets go to the family's overflow=\"true\" series, counted in ops_registry_overflow_total (logged once per family)"
            ),
            Refusal::LabelNames => tracing::warn!(
                target: "ops_registry",
                family,
                labels = %self.labels.describe(),
                "`metrics` labels with other names than the family's: updates go to the family's overflow=\"true\" series (logged once per family)"
            ),
        }
    }

    fn error<S: AsRef<str>>(&self, refusal: Refusal, parts: &[S]) -> Error {
        match refusal {
            Refusal::Arity { got } => Error::LabelCount {
                family: self.name.to_string(),
                labels: self.label_names().map(str::to_owned).collect(),
                expected: self.label_count(),
                got,
            },
            Refusal::TooLong { index, len } => Error::LabelValueTooLong {
                family: self.name.to_string(),
                label: self.part_label(index).to_owned(),
                len,
                max: self.limits.value_len,
                prefix: error::prefix(parts[index].as_ref(), 32),
            },
            Refusal::Cardinality | Refusal::LabelNames => Error::CardinalityLimit {
                family: self.name.to_string(),
                values: parts
                    .iter()
                    .map(|p| error::prefix(p.as_ref(), 32))
                    .collect(),
                limit: self.limits.cardinality,
            },
        }
    }

    /// Each series with its labels, in the order first used, the overflow series last.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&[(&str, &str)], &M)) {
        let map = self.series.read().unwrap_or_else(PoisonError::into_inner);
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        for (key, series) in &map.list {
            pairs.clear();
            match &self.labels {
                Labels::Fixed(names) => pairs.extend(
                    names
                        .iter()
                        .map(|n| &**n)
                        .zip(key.parts().iter().map(|v| &**v)),
                ),
                Labels::Dynamic => pairs.extend(
                    key.parts()
                        .chunks_exact(2)
                        .map(|pair| (&*pair[0], &*pair[1])),
                ),
            }
            f(&pairs, series);
        }
        if let Some(series) = self.overflow.get() {
            f(&[("overflow", "true")], series);
        }
    }
}

impl<M> Family<M> {
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn kind(&self) -> &Kind {
        &self.kind
    }

    pub(crate) fn labels(&self) -> &Labels {
        &self.labels
    }

    pub(crate) fn label_names(&self) -> impl Iterator<Item = &str> {
        let names: &[Box<str>] = match &self.labels {
            Labels::Fixed(names) => names,
            Labels::Dynamic => &[],
        };
        names.iter().map(|n| &**n)
    }

    fn label_count(&self) -> usize {
        self.label_names().count()
    }

    /// The label a part of a key belongs to.
    fn part_label(&self, index: usize) -> &str {
        match &self.labels {
            Labels::Fixed(names) => names.get(index).map_or("", |n| &**n),
            Labels::Dynamic => "(metrics facade label)",
        }
    }

    /// Whether the family can have more than one series (and so can overflow).
    pub(crate) fn is_labelled(&self) -> bool {
        match &self.labels {
            Labels::Fixed(names) => !names.is_empty(),
            Labels::Dynamic => true,
        }
    }

    pub(crate) fn help(&self) -> Arc<str> {
        Arc::clone(&self.help.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Marks the help text as a placeholder a later description replaces.
    pub(crate) fn set_placeholder_help(&self) {
        self.help_placeholder.store(true, Ordering::Relaxed);
    }

    /// Replaces a placeholder help text.
    #[cfg_attr(
        not(feature = "metrics"),
        allow(dead_code, reason = "used by the metrics facade")
    )]
    pub(crate) fn describe(&self, help: &str) {
        if help.is_empty() {
            return;
        }
        let mut current = self.help.write().unwrap_or_else(PoisonError::into_inner);
        if self.help_placeholder.swap(false, Ordering::Relaxed) {
            *current = Arc::from(help);
        }
    }

    pub(crate) fn unit(&self) -> Option<Unit> {
        self.unit.get().copied()
    }

    pub(crate) fn set_unit(&self, unit: Unit) {
        let _ = self.unit.set(unit);
    }

    /// Series with a label set of their own (the overflow series not counted).
    pub(crate) fn len(&self) -> usize {
        self.series
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .list
            .len()
    }

    pub(crate) fn has_series(&self) -> bool {
        self.len() > 0 || self.overflow.get().is_some()
    }

    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// What the family is, for conflict messages: `counter with labels [step]`.
    pub(crate) fn describe_self(&self) -> String {
        describe(&self.kind, &self.labels)
    }
}

/// `counter with labels [step]`, `histogram with labels [] and buckets [0.1, 1]`.
pub(crate) fn describe(kind: &Kind, labels: &Labels) -> String {
    let mut s = format!("{} with {}", kind.metric_type().as_str(), labels.describe());
    if let Kind::Histogram(bounds) = kind {
        let _ = write!(s, " and buckets {bounds:?}");
    }
    s
}
