//! The `metrics` facade over a registry (feature `metrics`).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use metrics::{CounterFn, GaugeFn, HistogramFn, Key, KeyName, Metadata, SharedString};

use crate::buckets::Buckets;
use crate::counter::CounterSeries;
use crate::error::Error;
use crate::family::{Family, Kind, Labels, Refusal};
use crate::gauge::GaugeSeries;
use crate::histogram::HistogramSeries;
use crate::name::{MAX_LABELS, RESERVED_LABELS};
use crate::registry::{Registry, Spec, Typed};
use crate::unit::Unit;

/// The help text of a family the facade created before any `describe_*!` for it.
const PLACEHOLDER_HELP: &str = "Recorded through the metrics facade; no description was given.";

/// Facade keys remembered per type (each maps to a series with a label set of its own).
const CACHE_CAP: usize = 100_000;

/// Names logged at WARN (each once), and descriptions kept for families not yet created.
const NAMES_CAP: usize = 10_000;

impl CounterFn for CounterSeries {
    fn increment(&self, value: u64) {
        self.add(value);
    }

    fn absolute(&self, value: u64) {
        let current = self.get();
        if value > current {
            self.add(value - current);
        }
    }
}

impl GaugeFn for GaugeSeries {
    fn increment(&self, value: f64) {
        self.add(value);
    }

    fn decrement(&self, value: f64) {
        self.add(-value);
    }

    fn set(&self, value: f64) {
        GaugeSeries::set(self, value);
    }
}

impl HistogramFn for HistogramSeries {
    fn record(&self, value: f64) {
        HistogramSeries::record(self, value);
    }
}

/// Hashes a [`Key`] by the hash it carries.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // `Key` only calls `write_u64`; anything else still hashes, just slowly.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[allow(
    clippy::mutable_key_type,
    reason = "`Key` hashes its precomputed hash only, never its atomics"
)]
type Cache<M> = RwLock<HashMap<Key, Arc<M>, BuildHasherDefault<KeyHasher>>>;

/// Settings of a [`MetricsRecorder`]: [`MetricsRecorder::builder`].
#[must_use]
#[derive(Debug, Clone)]
pub struct MetricsRecorderBuilder {
    registry: Registry,
    default_buckets: Buckets,
    buckets: HashMap<String, Buckets>,
}

impl MetricsRecorderBuilder {
    /// Buckets of histograms the facade creates (default [`Buckets::DEFAULT`]).
    pub fn default_buckets(mut self, buckets: Buckets) -> Self {
        self.default_buckets = buckets;
        self
    }

    /// Buckets of the histogram named `name` — the name as it is on the page, after
    /// sanitising (`http.server.duration` → `http_server_duration`).
    pub fn buckets_for(mut self, name: impl Into<String>, buckets: Buckets) -> Self {
        self.buckets.insert(name.into(), buckets);
        self
    }

    /// The recorder; `ops_registry_facade_refused_total` appears on the registry's page from
    /// now on.
    pub fn build(self) -> MetricsRecorder {
        self.registry.attach_facade();
        MetricsRecorder {
            inner: Arc::new(Inner {
                registry: self.registry,
                default_buckets: self.default_buckets,
                buckets: self.buckets,
                counters: Cache::default(),
                gauges: Cache::default(),
                histograms: Cache::default(),
                warned: Mutex::new(HashSet::new()),
                descriptions: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Builds the recorder and installs it as the `metrics` global recorder.
    ///
    /// # Errors
    /// [`Error::RecorderAlreadySet`] when a global recorder is already installed.
    pub fn install(self) -> Result<(), Error> {
        self.build().install()
    }
}

struct Inner {
    registry: Registry,
    default_buckets: Buckets,
    buckets: HashMap<String, Buckets>,
    counters: Cache<CounterSeries>,
    gauges: Cache<GaugeSeries>,
    histograms: Cache<HistogramSeries>,
    /// Names already logged at WARN.
    warned: Mutex<HashSet<String>>,
    /// `describe_*!` texts of families not created yet.
    descriptions: Mutex<HashMap<String, String>>,
}

/// A `metrics::Recorder` that records into a [`Registry`] (feature `metrics`): what
/// `metrics::counter!`, `gauge!`, `histogram!` and `describe_*!` do — in the service or in the
/// crates it uses — lands in the registry's families, on the same page.
///
/// ```
/// use ops_registry::{Exposition, MetricsRecorder, Registry};
/// let reg = Registry::new();
/// let recorder = MetricsRecorder::new(&reg);
/// metrics::with_local_recorder(&recorder, || {
///     metrics::describe_counter!("orders", "Orders placed.");
///     metrics::counter!("orders", "status" => "ok").increment(1);
///     metrics::gauge!("jobs.queued").set(3.0);
///     metrics::histogram!("rpc_duration_seconds").record(0.02);
/// });
/// let page = reg.to_prometheus();
/// assert!(page.contains("# HELP orders_total Orders placed.\n# TYPE orders_total counter\norders_total{status=\"ok\"} 1\n"));
/// assert!(page.contains("jobs_queued 3\n"));
/// assert!(page.contains("rpc_duration_seconds_bucket{le=\"0.025\"} 1\n"));
/// ```
///
/// In a service, [`install`](Self::install) it once at start-up:
/// `MetricsRecorder::new(Registry::global()).install()?`.
///
/// # Names and labels
/// - Metric names are sanitised as metrics-exporter-prometheus does: every character that is
///   not `[a-zA-Z0-9_:]` (or a leading digit) becomes `_`. Counters get `_total` appended when
///   their name does not end in it. Units given to `describe_*!` do not rename a metric (unlike
///   metrics-exporter-prometheus): name it with its unit; a unit that is not the name's
///   suffix is logged once and ignored.
/// - A name the registry refuses after that (a gauge ending in `_total`, a name registered as
///   another type, a name ending in `_bucket`/`_count`/`_sum`, an empty name) gets a handle
///   that records nothing: counted in `ops_registry_facade_refused_total` and logged once per
///   name at WARN.
/// - Label names are sanitised the same way (`http.method` → `http_method`; leading
///   underscores beyond one are dropped, since `__` is Prometheus's); `le`, `quantile` and
///   `overflow` become `exported_le`, … (as Prometheus renames clashing labels). A label with
///   an empty value is left out (Prometheus reads it as absent); a name given twice keeps its
///   first value.
/// - Label sets may vary from call to call under one name: a family the facade creates takes
///   each series' own label names. If the name was registered in code first
///   ([`Registry::counter_vec`]), the facade shares that family: calls with exactly its label
///   names (in any order) update its series; other label names go to its `overflow="true"`
///   series, counted in `ops_registry_overflow_total`. The other way round does not work: a
///   name the facade created first cannot then be registered in code with fixed labels
///   ([`Error::Conflict`]), so register typed families at start-up.
/// - The family's cardinality limit applies as to code; a label set refused a series of its
///   own is looked up again (and counted) on each `counter!` call, while accepted ones are
///   remembered by key.
///
/// # Values
/// Counters as [`Counter`](crate::Counter); `absolute(n)` raises the counter to `n` if it is
/// below (not atomic with concurrent increments). Gauges as [`Gauge`](crate::Gauge).
/// Histograms use [`Buckets::DEFAULT`] unless configured per name
/// ([`MetricsRecorderBuilder::buckets_for`]) or registered in code first (then the family's
/// buckets).
#[derive(Clone)]
pub struct MetricsRecorder {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for MetricsRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsRecorder")
            .field("registry", &self.inner.registry)
            .field("default_buckets", &self.inner.default_buckets)
            .finish_non_exhaustive()
    }
}

/// The type a facade call registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FacadeKind {
    Counter,
    Gauge,
    Histogram,
}

impl MetricsRecorder {
    /// A recorder over `registry` with the default settings.
    pub fn new(registry: &Registry) -> MetricsRecorder {
        MetricsRecorder::builder(registry).build()
    }

    /// A recorder with other histogram buckets.
    ///
    /// ```
    /// use ops_registry::{Buckets, MetricsRecorder, Registry};
    /// let recorder = MetricsRecorder::builder(&Registry::new())
    ///     .buckets_for("http_server_request_duration_seconds", Buckets::HTTP)
    ///     .build();
    /// # drop(recorder);
    /// ```
    pub fn builder(registry: &Registry) -> MetricsRecorderBuilder {
        MetricsRecorderBuilder {
            registry: registry.clone(),
            default_buckets: Buckets::DEFAULT,
            buckets: HashMap::new(),
        }
    }

    /// Installs the recorder as the `metrics` global recorder (one per process).
    ///
    /// # Errors
    /// [`Error::RecorderAlreadySet`] when a global recorder is already installed.
    pub fn install(self) -> Result<(), Error> {
        metrics::set_global_recorder(self).map_err(|_| Error::RecorderAlreadySet)
    }

    /// The registry it records into.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The series of a key, from the cache or the registry; `None` when the name is refused.
    fn series<M: Typed>(&self, cache: &Cache<M>, key: &Key, kind: FacadeKind) -> Option<Arc<M>> {
        if let Some(series) = cache
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
        {
            return Some(Arc::clone(series));
        }
        let name = metric_name(key.name(), kind);
        let family = match self.family::<M>(&name, kind) {
            Ok(family) => family,
            Err(error) => {
                self.inner.registry.note_facade_refusal();
                self.warn_once(&name, || {
                    tracing::warn!(
                        target: "ops_registry",
                        name = %name,
                        %error,
                        "metrics facade: metric refused; its updates are dropped and counted in ops_registry_facade_refused_total (logged once per name)"
                    );
                });
                return None;
            }
        };
        let (series, own) = labelled_series(&family, key);
        if own {
            let mut cache = cache.write().unwrap_or_else(PoisonError::into_inner);
            if cache.len() < CACHE_CAP {
                cache.insert(key.clone(), Arc::clone(&series));
            }
        }
        Some(series)
    }

    /// The family of a sanitised name, created with the facade's labels if new.
    fn family<M: Typed>(&self, name: &str, kind: FacadeKind) -> Result<Arc<Family<M>>, Error> {
        // Registered already (the usual case past start-up): the read lock only, not the
        // registration's write lock, for keys the cache does not keep (overflowing label sets).
        if let Some(existing) = self.inner.registry.lookup(name)
            && let Some(family) = M::unwrap(&existing)
        {
            return Ok(Arc::clone(family));
        }
        let kind = match kind {
            FacadeKind::Counter => Kind::Counter,
            FacadeKind::Gauge => Kind::Gauge,
            FacadeKind::Histogram => Kind::Histogram(
                self.inner
                    .buckets
                    .get(name)
                    .unwrap_or(&self.inner.default_buckets)
                    .clone()
                    .into_shared(),
            ),
        };
        let family = self.inner.registry.register::<M>(&Spec {
            name,
            help: PLACEHOLDER_HELP,
            unit: None,
            kind,
            labels: None,
            cardinality_limit: None,
        })?;
        let description = self
            .inner
            .descriptions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
        if let Some(help) = description {
            family.describe(&help);
        }
        Ok(family)
    }

    fn describe(
        &self,
        key: &KeyName,
        kind: FacadeKind,
        unit: Option<metrics::Unit>,
        description: &str,
    ) {
        let name = metric_name(key.as_str(), kind);
        let family = self.inner.registry.lookup(&name);
        if let Some(unit) = unit.and_then(unit_of) {
            let base = if kind == FacadeKind::Counter {
                name.strip_suffix("_total").unwrap_or(&name)
            } else {
                &name
            };
            if unit.matches(base) {
                if let Some(family) = &family {
                    family.set_unit(unit);
                }
            } else {
                self.warn_once(&name, || {
                    tracing::warn!(
                        target: "ops_registry",
                        name = %name,
                        %unit,
                        "metrics facade: the unit is not the name's suffix and is ignored (ops-registry does not rename metrics; name it with its unit)"
                    );
                });
            }
        }
        if let Some(family) = family {
            family.describe(description);
        } else {
            let mut pending = self
                .inner
                .descriptions
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if pending.len() < NAMES_CAP || pending.contains_key(&name) {
                pending.insert(name, description.to_owned());
            }
        }
    }

    fn warn_once(&self, name: &str, warn: impl FnOnce()) {
        let mut warned = self
            .inner
            .warned
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if warned.len() < NAMES_CAP && warned.insert(name.to_owned()) {
            drop(warned);
            warn();
        }
    }
}

impl metrics::Recorder for MetricsRecorder {
    fn describe_counter(
        &self,
        key: KeyName,
        unit: Option<metrics::Unit>,
        description: SharedString,
    ) {
        self.describe(&key, FacadeKind::Counter, unit, &description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<metrics::Unit>, description: SharedString) {
        self.describe(&key, FacadeKind::Gauge, unit, &description);
    }

    fn describe_histogram(
        &self,
        key: KeyName,
        unit: Option<metrics::Unit>,
        description: SharedString,
    ) {
        self.describe(&key, FacadeKind::Histogram, unit, &description);
    }

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> metrics::Counter {
        self.series(&self.inner.counters, key, FacadeKind::Counter)
            .map_or_else(metrics::Counter::noop, metrics::Counter::from_arc)
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> metrics::Gauge {
        self.series(&self.inner.gauges, key, FacadeKind::Gauge)
            .map_or_else(metrics::Gauge::noop, metrics::Gauge::from_arc)
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> metrics::Histogram {
        self.series(&self.inner.histograms, key, FacadeKind::Histogram)
            .map_or_else(metrics::Histogram::noop, metrics::Histogram::from_arc)
    }
}

/// The series of a key's labels in a family, and whether it is a label set's own (not the
/// overflow series).
fn labelled_series<M: Typed>(family: &Family<M>, key: &Key) -> (Arc<M>, bool) {
    let mut pairs: Vec<(Cow<'_, str>, &str)> = Vec::new();
    for label in key.labels() {
        if label.value().is_empty() {
            continue;
        }
        let name = label_name(label.key());
        if pairs.iter().any(|(n, _)| *n == name) {
            continue;
        }
        pairs.push((name, label.value()));
    }
    let (series, overflowed) = match family.labels() {
        Labels::Dynamic => {
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            let flat: Vec<&str> = pairs.iter().flat_map(|(n, v)| [&**n, *v]).collect();
            if pairs.len() > MAX_LABELS {
                let refusal = Refusal::Arity { got: pairs.len() };
                (family.refused_series(refusal, &flat), true)
            } else {
                family.with(&flat)
            }
        }
        Labels::Fixed(names) => {
            let values: Option<Vec<&str>> = (pairs.len() == names.len())
                .then(|| {
                    names
                        .iter()
                        .map(|n| pairs.iter().find(|(p, _)| **p == **n).map(|(_, v)| *v))
                        .collect()
                })
                .flatten();
            if let Some(values) = values {
                family.with(&values)
            } else {
                let given: Vec<&str> = pairs.iter().map(|(n, _)| &**n).collect();
                (family.refused_series(Refusal::LabelNames, &given), true)
            }
        }
    };
    (series, !overflowed)
}

/// A metric name as metrics-exporter-prometheus sanitises it, with `_total` for counters.
fn metric_name(raw: &str, kind: FacadeKind) -> String {
    let mut name: String = raw
        .chars()
        .enumerate()
        .map(|(i, c)| {
            let ok =
                c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit());
            if ok { c } else { '_' }
        })
        .collect();
    if kind == FacadeKind::Counter && !name.ends_with("_total") {
        name.push_str("_total");
    }
    name
}

/// A label name made valid: characters outside `[a-zA-Z0-9_]` (and a leading digit) become
/// `_`, leading underscores beyond one are dropped, reserved names get `exported_`.
fn label_name(raw: &str) -> Cow<'_, str> {
    if ops_core::exposition::is_label_name(raw) && !RESERVED_LABELS.contains(&raw) {
        return Cow::Borrowed(raw);
    }
    let mut name: String = raw
        .chars()
        .enumerate()
        .map(|(i, c)| {
            let ok = c.is_ascii_alphabetic() || c == '_' || (i > 0 && c.is_ascii_digit());
            if ok { c } else { '_' }
        })
        .collect();
    let underscores = name.len() - name.trim_start_matches('_').len();
    if underscores > 1 {
        name.drain(..underscores - 1);
    }
    if name.is_empty() {
        name.push('_');
    }
    if RESERVED_LABELS.contains(&name.as_str()) {
        name.insert_str(0, "exported_");
    }
    Cow::Owned(name)
}

/// The registry's unit for a `metrics` unit (none for a count).
fn unit_of(unit: metrics::Unit) -> Option<Unit> {
    match unit {
        metrics::Unit::Count => None,
        metrics::Unit::Seconds => Some(Unit::Seconds),
        metrics::Unit::Bytes => Some(Unit::Bytes),
        other => Some(Unit::Custom(other.as_str())),
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn names_are_sanitised_as_the_prometheus_exporter_does() {
        for (name, kind, want) in [
            ("http.requests", FacadeKind::Counter, "http_requests_total"),
            ("orders_total", FacadeKind::Counter, "orders_total"),
            ("2xx-rate", FacadeKind::Gauge, "_xx_rate"),
            ("a:b", FacadeKind::Gauge, "a:b"),
            ("é", FacadeKind::Gauge, "_"),
        ] {
            assert_eq!(metric_name(name, kind), want, "{name}");
        }
        for (name, want) in [
            ("http.method", "http_method"),
            ("status", "status"),
            ("__name__", "_name__"),
            ("le", "exported_le"),
            ("overflow", "exported_overflow"),
            ("", "_"),
            ("9x", "_x"),
        ] {
            assert_eq!(label_name(name), want, "{name:?}");
        }
    }
}
