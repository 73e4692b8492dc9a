//! Families with labels: [`CounterVec`], [`GaugeVec`], [`HistogramVec`] hand out the handle of
//! each label set.

use std::sync::Arc;

use crate::counter::{Counter, CounterSeries};
use crate::error::Error;
use crate::family::Family;
use crate::gauge::{Gauge, GaugeSeries};
use crate::histogram::{Histogram, HistogramSeries};
use crate::unit::Unit;

macro_rules! family_vec {
    (
        $(#[$doc:meta])*
        $vec:ident, $series:ty, $handle:ident
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $vec(pub(crate) Arc<Family<$series>>);

        impl $vec {
            #[doc = concat!("The [`", stringify!($handle), "`] of a label set: one value per label name, in the")]
            /// family's order. Looking a label set up takes a read lock and a hash; keep the
            /// handle on hot paths.
            ///
            /// Never panics and never grows without bound. A label set that cannot have a
            /// series of its own — past the family's cardinality limit, a value longer than
            /// the registry keeps, or the wrong number of values — gets the family's overflow
            /// series (`overflow="true"`), so totals stay right; each such call is counted in
            /// `ops_registry_overflow_total{family}` and the first of each kind is logged at
            /// WARN. [`try_with`](Self::try_with) returns these as errors instead.
            pub fn with<S: AsRef<str>>(&self, values: &[S]) -> $handle {
                $handle(self.0.with(values).0)
            }

            /// As [`with`](Self::with), but a label set refused a series of its own is an
            /// error (still counted in `ops_registry_overflow_total`), and nothing is recorded
            /// for it.
            ///
            /// # Errors
            /// [`Error::LabelCount`], [`Error::LabelValueTooLong`], [`Error::CardinalityLimit`].
            pub fn try_with<S: AsRef<str>>(&self, values: &[S]) -> Result<$handle, Error> {
                self.0.try_with(values).map($handle)
            }

            /// The series label sets refused one of their own share (`overflow="true"`).
            pub fn overflow(&self) -> $handle {
                $handle(self.0.overflow())
            }

            /// The family's name.
            pub fn name(&self) -> &str {
                self.0.name()
            }

            /// The family's label names, in order.
            pub fn label_names(&self) -> Vec<&str> {
                self.0.label_names().collect()
            }

            /// The declared unit, if any.
            pub fn unit(&self) -> Option<Unit> {
                self.0.unit()
            }

            /// Label sets with a series of their own.
            pub fn len(&self) -> usize {
                self.0.len()
            }

            /// Whether no label set has a series yet.
            pub fn is_empty(&self) -> bool {
                self.0.len() == 0
            }

            /// Label sets refused a series of their own so far (what
            /// `ops_registry_overflow_total` shows for this family).
            pub fn refused(&self) -> u64 {
                self.0.refused()
            }
        }
    };
}

family_vec!(
    /// A counter family with labels: [`Registry::counter_vec`](crate::Registry::counter_vec).
    ///
    /// ```
    /// let reg = ops_registry::Registry::new();
    /// let visits = reg.counter_vec("shop_checkout_visits_total", "Checkout page views.", &["step"])?;
    /// let cart = visits.with(&["cart"]); // keep it on hot paths
    /// cart.inc();
    /// visits.with(&["cart"]).inc();
    /// assert_eq!(cart.get(), 2);
    /// // The wrong number of values: no panic, the overflow series, counted.
    /// visits.with(&["cart", "extra"]).inc();
    /// assert_eq!((visits.refused(), visits.overflow().get()), (1, 1));
    /// assert!(visits.try_with(&["a", "b"]).is_err());
    /// # Ok::<(), ops_registry::Error>(())
    /// ```
    CounterVec,
    CounterSeries,
    Counter
);

family_vec!(
    /// A gauge family with labels: [`Registry::gauge_vec`](crate::Registry::gauge_vec).
    ///
    /// ```
    /// let reg = ops_registry::Registry::new();
    /// let pools = reg.gauge_vec("db_pool_connections", "Open connections.", &["pool"])?;
    /// pools.with(&["primary"]).set(12.0);
    /// assert_eq!(pools.with(&["primary"]).get(), 12.0);
    /// # Ok::<(), ops_registry::Error>(())
    /// ```
    GaugeVec,
    GaugeSeries,
    Gauge
);

family_vec!(
    /// A histogram family with labels: [`Registry::histogram_vec`](crate::Registry::histogram_vec).
    ///
    /// ```
    /// use ops_registry::{Buckets, Registry};
    /// let reg = Registry::new();
    /// let lat = reg.histogram_vec("rpc_duration_seconds", "RPC latency.", &["rpc"], Buckets::HTTP)?;
    /// lat.with(&["get"]).record(0.012);
    /// assert_eq!(lat.with(&["get"]).count(), 1);
    /// # Ok::<(), ops_registry::Error>(())
    /// ```
    HistogramVec,
    HistogramSeries,
    Histogram
);
