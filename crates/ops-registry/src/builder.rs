//! Registering a family with more than a name and help: [`Registry::family`].

use crate::buckets::Buckets;
use crate::counter::{Counter, CounterSeries};
use crate::error::Error;
use crate::family::Kind;
use crate::gauge::{Gauge, GaugeSeries};
use crate::histogram::{Histogram, HistogramSeries};
use crate::registry::{Registry, Spec, Typed};
use crate::unit::Unit;
use crate::vec::{CounterVec, GaugeVec, HistogramVec};

/// A family being registered: [`Registry::family`], then a unit or a cardinality limit, then
/// its type (`counter()`, `histogram_vec(..)`, …).
///
/// Registering a name again with the same type, label names (same order) and buckets returns
/// the registered family, so two call sites can share one; the first registration's help text,
/// unit and cardinality limit stay. Anything else under the same name is
/// [`Error::Conflict`].
#[must_use = "a family is registered by its type method: counter(), gauge_vec(..), …"]
#[derive(Debug, Clone)]
pub struct FamilyBuilder<'r> {
    registry: &'r Registry,
    name: String,
    help: String,
    unit: Option<Unit>,
    cardinality_limit: Option<usize>,
}

impl<'r> FamilyBuilder<'r> {
    pub(crate) fn new(registry: &'r Registry, name: &str, help: &str) -> Self {
        FamilyBuilder {
            registry,
            name: name.to_owned(),
            help: help.to_owned(),
            unit: None,
            cardinality_limit: None,
        }
    }

    /// Declares the unit: the name must end in it (`_seconds`; a counter's before `_total`),
    /// or registering fails with [`Error::UnitMismatch`].
    pub fn unit(mut self, unit: Unit) -> Self {
        self.unit = Some(unit);
        self
    }

    /// Label sets this family keeps series for, instead of the registry's
    /// [default](crate::RegistryBuilder::cardinality_limit).
    pub fn cardinality_limit(mut self, limit: usize) -> Self {
        self.cardinality_limit = Some(limit);
        self
    }

    fn register<M: Typed>(
        &self,
        kind: Kind,
        labels: &[&str],
    ) -> Result<std::sync::Arc<crate::family::Family<M>>, Error> {
        self.registry.register::<M>(&Spec {
            name: &self.name,
            help: &self.help,
            unit: self.unit,
            kind,
            labels: Some(labels),
            cardinality_limit: self.cardinality_limit,
        })
    }

    /// A counter without labels.
    ///
    /// # Errors
    /// See [`Registry::counter`].
    pub fn counter(self) -> Result<Counter, Error> {
        let family = self.register::<CounterSeries>(Kind::Counter, &[])?;
        Ok(Counter(family.with::<&str>(&[]).0))
    }

    /// A counter family with labels.
    ///
    /// # Errors
    /// See [`Registry::counter_vec`].
    pub fn counter_vec(self, labels: &[&str]) -> Result<CounterVec, Error> {
        Ok(CounterVec(
            self.register::<CounterSeries>(Kind::Counter, labels)?,
        ))
    }

    /// A gauge without labels.
    ///
    /// # Errors
    /// See [`Registry::gauge`].
    pub fn gauge(self) -> Result<Gauge, Error> {
        let family = self.register::<GaugeSeries>(Kind::Gauge, &[])?;
        Ok(Gauge(family.with::<&str>(&[]).0))
    }

    /// A gauge family with labels.
    ///
    /// # Errors
    /// See [`Registry::gauge_vec`].
    pub fn gauge_vec(self, labels: &[&str]) -> Result<GaugeVec, Error> {
        Ok(GaugeVec(self.register::<GaugeSeries>(Kind::Gauge, labels)?))
    }

    /// A histogram without labels.
    ///
    /// # Errors
    /// See [`Registry::histogram`].
    pub fn histogram(self, buckets: Buckets) -> Result<Histogram, Error> {
        let family =
            self.register::<HistogramSeries>(Kind::Histogram(buckets.into_shared()), &[])?;
        Ok(Histogram(family.with::<&str>(&[]).0))
    }

    /// A histogram family with labels.
    ///
    /// # Errors
    /// See [`Registry::histogram_vec`].
    pub fn histogram_vec(self, labels: &[&str], buckets: Buckets) -> Result<HistogramVec, Error> {
        Ok(HistogramVec(self.register::<HistogramSeries>(
            Kind::Histogram(buckets.into_shared()),
            labels,
        )?))
    }
}
