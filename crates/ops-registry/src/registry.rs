//! The registry: families by name, in registration order.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use crate::buckets::Buckets;
use crate::builder::FamilyBuilder;
use crate::counter::{Counter, CounterSeries};
use crate::error::Error;
use crate::family::{self, Family, Kind, Labels, Limits, Metric};
use crate::gauge::{Gauge, GaugeSeries};
use crate::histogram::{Histogram, HistogramSeries};
use crate::name;
use crate::unit::Unit;
use crate::vec::{CounterVec, GaugeVec, HistogramVec};

/// A family of any type.
#[derive(Debug, Clone)]
pub(crate) enum AnyFamily {
    Counter(Arc<Family<CounterSeries>>),
    Gauge(Arc<Family<GaugeSeries>>),
    Histogram(Arc<Family<HistogramSeries>>),
}

macro_rules! any_family {
    ($self:expr, $f:ident => $body:expr) => {
        match $self {
            AnyFamily::Counter($f) => $body,
            AnyFamily::Gauge($f) => $body,
            AnyFamily::Histogram($f) => $body,
        }
    };
}

impl AnyFamily {
    pub(crate) fn name(&self) -> &str {
        any_family!(self, f => f.name())
    }

    fn kind(&self) -> &Kind {
        any_family!(self, f => f.kind())
    }

    fn labels(&self) -> &Labels {
        any_family!(self, f => f.labels())
    }

    pub(crate) fn describe_self(&self) -> String {
        any_family!(self, f => f.describe_self())
    }

    pub(crate) fn set_unit(&self, unit: Unit) {
        any_family!(self, f => f.set_unit(unit));
    }

    #[cfg_attr(
        not(feature = "metrics"),
        allow(dead_code, reason = "used by the metrics facade")
    )]
    pub(crate) fn describe(&self, help: &str) {
        any_family!(self, f => f.describe(help));
    }

    fn set_placeholder_help(&self) {
        any_family!(self, f => f.set_placeholder_help());
    }
}

/// Converts between a family of one series type and [`AnyFamily`].
pub(crate) trait Typed: Metric {
    fn wrap(family: Arc<Family<Self>>) -> AnyFamily;
    fn unwrap(family: &AnyFamily) -> Option<&Arc<Family<Self>>>;
}

macro_rules! typed {
    ($series:ty, $variant:ident) => {
        impl Typed for $series {
            fn wrap(family: Arc<Family<Self>>) -> AnyFamily {
                AnyFamily::$variant(family)
            }
            fn unwrap(family: &AnyFamily) -> Option<&Arc<Family<Self>>> {
                match family {
                    AnyFamily::$variant(f) => Some(f),
                    _ => None,
                }
            }
        }
    };
}

typed!(CounterSeries, Counter);
typed!(GaugeSeries, Gauge);
typed!(HistogramSeries, Histogram);

/// What a family is registered with.
pub(crate) struct Spec<'a> {
    pub(crate) name: &'a str,
    pub(crate) help: &'a str,
    pub(crate) unit: Option<Unit>,
    pub(crate) kind: Kind,
    /// `None`: labels given per series by the `metrics` facade.
    pub(crate) labels: Option<&'a [&'a str]>,
    pub(crate) cardinality_limit: Option<usize>,
}

#[derive(Debug, Clone, Copy)]
struct Config {
    cardinality_limit: usize,
    max_label_value_len: usize,
    max_families: usize,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) families: Vec<AnyFamily>,
    by_name: HashMap<Box<str>, usize>,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    state: RwLock<State>,
    /// `metrics` facade registrations refused (type conflicts, invalid names).
    facade_refused: AtomicU64,
    /// Whether a `MetricsRecorder` has been made over this registry.
    facade_attached: AtomicBool,
}

/// The registry of a service's own metrics: counters, gauges and histograms, with or without
/// labels, rendered as one section of the Prometheus page ([`Exposition`](crate::Exposition)).
///
/// Cheap to clone; clones share their families. [`Registry::global`] is a process-wide one.
/// Registering takes a lock; updating a handle does not.
///
/// ```
/// use ops_registry::{Buckets, Exposition, Registry};
/// let reg = Registry::new();
/// let orders = reg.counter("shop_orders_total", "Orders placed.")?;
/// let visits = reg.counter_vec("shop_checkout_visits_total", "Checkout page views.", &["step"])?;
/// orders.add(3);
/// visits.with(&["cart"]).inc();
/// // The same name, type and labels again: the same family.
/// reg.counter("shop_orders_total", "Orders placed.")?.inc();
/// assert_eq!(orders.get(), 4);
/// // Another type under the same name is refused, never a second TYPE line.
/// assert!(reg.gauge("shop_orders_total", "Orders.").is_err());
/// let page = reg.to_prometheus();
/// assert!(page.contains("shop_orders_total 4\n"));
/// assert!(page.contains("shop_checkout_visits_total{step=\"cart\"} 1\n"));
/// # Ok::<(), ops_registry::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::builder().build()
    }
}

/// Settings of a [`Registry`]: [`Registry::builder`].
///
/// | setting | default |
/// |---|---|
/// | [`cardinality_limit`](RegistryBuilder::cardinality_limit) | 1,000 label sets per family |
/// | [`max_label_value_len`](RegistryBuilder::max_label_value_len) | 1,024 bytes |
/// | [`max_families`](RegistryBuilder::max_families) | 10,000 |
#[must_use]
#[derive(Debug, Clone)]
pub struct RegistryBuilder {
    config: Config,
}

impl RegistryBuilder {
    /// Label sets a labelled family keeps series for (default 1,000); past it, new label sets
    /// share the family's `overflow="true"` series. A family may set its own
    /// ([`FamilyBuilder::cardinality_limit`]). 0 sends every label set to the overflow series.
    pub fn cardinality_limit(mut self, limit: usize) -> Self {
        self.config.cardinality_limit = limit;
        self
    }

    /// The longest label value kept, in bytes (default 1,024). A label set with a longer value
    /// gets no series of its own: its updates go to the overflow series, counted as refused.
    pub fn max_label_value_len(mut self, bytes: usize) -> Self {
        self.config.max_label_value_len = bytes;
        self
    }

    /// Families the registry holds at most (default 10,000); more are refused with
    /// [`Error::TooManyFamilies`].
    pub fn max_families(mut self, families: usize) -> Self {
        self.config.max_families = families;
        self
    }

    /// The registry.
    pub fn build(self) -> Registry {
        Registry {
            inner: Arc::new(Inner {
                config: self.config,
                state: RwLock::new(State::default()),
                facade_refused: AtomicU64::new(0),
                facade_attached: AtomicBool::new(false),
            }),
        }
    }
}

static GLOBAL: OnceLock<Registry> = OnceLock::new();

impl Registry {
    /// An empty registry with the default limits.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Settings other than the defaults.
    ///
    /// ```
    /// let reg = ops_registry::Registry::builder().cardinality_limit(100).build();
    /// assert_eq!(reg.cardinality_limit(), 100);
    /// ```
    pub fn builder() -> RegistryBuilder {
        RegistryBuilder {
            config: Config {
                cardinality_limit: 1_000,
                max_label_value_len: 1_024,
                max_families: 10_000,
            },
        }
    }

    /// The process-wide registry (default limits), created on first use.
    pub fn global() -> &'static Registry {
        GLOBAL.get_or_init(Registry::new)
    }

    /// A family with more than a name and help: a [unit](FamilyBuilder::unit), its own
    /// [cardinality limit](FamilyBuilder::cardinality_limit).
    ///
    /// ```
    /// use ops_registry::{Buckets, Registry, Unit};
    /// let reg = Registry::new();
    /// let lat = reg
    ///     .family("rpc_duration_seconds", "RPC latency.")
    ///     .unit(Unit::Seconds)
    ///     .cardinality_limit(50)
    ///     .histogram_vec(&["rpc"], Buckets::HTTP)?;
    /// lat.with(&["get"]).record(0.012);
    /// # Ok::<(), ops_registry::Error>(())
    /// ```
    pub fn family<'r>(&'r self, name: &str, help: &str) -> FamilyBuilder<'r> {
        FamilyBuilder::new(self, name, help)
    }

    /// A counter without labels. The name must end in `_total`.
    ///
    /// # Errors
    /// An invalid name ([`Error::InvalidName`], [`Error::NameRule`]), or the name registered
    /// as something else ([`Error::Conflict`]).
    pub fn counter(&self, name: &str, help: &str) -> Result<Counter, Error> {
        self.family(name, help).counter()
    }

    /// A counter family with labels: [`CounterVec::with`] gives each label set's counter.
    ///
    /// # Errors
    /// As [`counter`](Self::counter), and for invalid, reserved or repeated label names.
    pub fn counter_vec(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> Result<CounterVec, Error> {
        self.family(name, help).counter_vec(labels)
    }

    /// A gauge without labels. The name must not end in `_total`.
    ///
    /// # Errors
    /// As [`counter`](Self::counter).
    pub fn gauge(&self, name: &str, help: &str) -> Result<Gauge, Error> {
        self.family(name, help).gauge()
    }

    /// A gauge family with labels.
    ///
    /// # Errors
    /// As [`counter_vec`](Self::counter_vec).
    pub fn gauge_vec(&self, name: &str, help: &str, labels: &[&str]) -> Result<GaugeVec, Error> {
        self.family(name, help).gauge_vec(labels)
    }

    /// A histogram without labels.
    ///
    /// # Errors
    /// As [`counter`](Self::counter); the same name with other buckets is a conflict.
    pub fn histogram(&self, name: &str, help: &str, buckets: Buckets) -> Result<Histogram, Error> {
        self.family(name, help).histogram(buckets)
    }

    /// A histogram family with labels (`le` is reserved).
    ///
    /// # Errors
    /// As [`counter_vec`](Self::counter_vec); the same name with other buckets is a conflict.
    pub fn histogram_vec(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
        buckets: Buckets,
    ) -> Result<HistogramVec, Error> {
        self.family(name, help).histogram_vec(labels, buckets)
    }

    /// The default cardinality limit of the registry's families.
    pub fn cardinality_limit(&self) -> usize {
        self.inner.config.cardinality_limit
    }

    /// The longest label value kept, in bytes.
    pub fn max_label_value_len(&self) -> usize {
        self.inner.config.max_label_value_len
    }

    /// The names of the families, in registration order.
    pub fn family_names(&self) -> Vec<String> {
        self.state()
            .families
            .iter()
            .map(|f| f.name().to_owned())
            .collect()
    }

    /// Whether two handles share their families.
    pub fn same_registry(&self, other: &Registry) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    pub(crate) fn state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.inner
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The family of a name, if registered.
    #[cfg_attr(
        not(feature = "metrics"),
        allow(dead_code, reason = "used by the metrics facade")
    )]
    pub(crate) fn lookup(&self, name: &str) -> Option<AnyFamily> {
        let state = self.state();
        state.by_name.get(name).map(|&i| state.families[i].clone())
    }

    /// Registers a family, or returns the one registered under the name if it is the same.
    pub(crate) fn register<M: Typed>(&self, spec: &Spec<'_>) -> Result<Arc<Family<M>>, Error> {
        let any = self.register_any::<M>(spec)?;
        M::unwrap(&any).cloned().ok_or_else(|| Error::Conflict {
            family: spec.name.to_owned(),
            existing: any.describe_self(),
            requested: requested(spec),
        })
    }

    pub(crate) fn register_any<M: Typed>(&self, spec: &Spec<'_>) -> Result<AnyFamily, Error> {
        let kind = spec.kind.metric_type();
        name::check_name(spec.name, kind)?;
        if let Some(labels) = spec.labels {
            name::check_labels(spec.name, labels)?;
        }
        if let Some(unit) = spec.unit {
            name::check_unit(spec.name, kind, unit)?;
        }
        let mut state = self
            .inner
            .state
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(&i) = state.by_name.get(spec.name) {
            let existing = &state.families[i];
            let same_labels = match (spec.labels, existing.labels()) {
                (Some(labels), fixed @ Labels::Fixed(_)) => *fixed == Labels::fixed(labels),
                // The facade adapts to any family of its type.
                (None, _) => true,
                (Some(_), Labels::Dynamic) => false,
            };
            // The facade takes a histogram with whatever buckets it was registered with.
            let same_kind = if spec.labels.is_none() {
                existing.kind().metric_type() == spec.kind.metric_type()
            } else {
                *existing.kind() == spec.kind
            };
            if !same_kind || !same_labels {
                return Err(Error::Conflict {
                    family: spec.name.to_owned(),
                    existing: existing.describe_self(),
                    requested: requested(spec),
                });
            }
            if let Some(unit) = spec.unit {
                existing.set_unit(unit);
            }
            return Ok(existing.clone());
        }
        if state.families.len() >= self.inner.config.max_families {
            return Err(Error::TooManyFamilies {
                family: spec.name.to_owned(),
                limit: self.inner.config.max_families,
            });
        }
        let labels = spec.labels.map_or(Labels::Dynamic, Labels::fixed);
        let limits = Limits {
            // A family without labels has its one series whatever the limit.
            cardinality: if spec.labels.is_some_and(<[_]>::is_empty) {
                1
            } else {
                spec.cardinality_limit
                    .unwrap_or(self.inner.config.cardinality_limit)
            },
            value_len: self.inner.config.max_label_value_len,
        };
        let family = Arc::new(Family::<M>::new(
            spec.name,
            spec.help,
            spec.kind.clone(),
            labels,
            limits,
        ));
        if let Some(unit) = spec.unit {
            family.set_unit(unit);
        }
        let any = M::wrap(family);
        if spec.labels.is_none() {
            any.set_placeholder_help();
        }
        let at = state.families.len();
        state.families.push(any.clone());
        state.by_name.insert(Box::from(spec.name), at);
        Ok(any)
    }

    #[cfg_attr(
        not(feature = "metrics"),
        allow(dead_code, reason = "used by the metrics facade")
    )]
    pub(crate) fn note_facade_refusal(&self) {
        self.inner.facade_refused.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn facade_refused(&self) -> Option<u64> {
        self.inner
            .facade_attached
            .load(Ordering::Relaxed)
            .then(|| self.inner.facade_refused.load(Ordering::Relaxed))
    }

    #[cfg_attr(
        not(feature = "metrics"),
        allow(dead_code, reason = "used by the metrics facade")
    )]
    pub(crate) fn attach_facade(&self) {
        self.inner.facade_attached.store(true, Ordering::Relaxed);
    }
}

fn requested(spec: &Spec<'_>) -> String {
    let labels = spec.labels.map_or(Labels::Dynamic, Labels::fixed);
    family::describe(&spec.kind, &labels)
}
