//! Events a service records itself into an SLO whose SLI is [`Sli::Events`](crate::Sli):
//! one call per outcome, no lock, per-thread shards (ops-registry's counters). They are on the
//! engine's page as `ops_slo_events_total{sloth_id, result="good"|"bad"}`, so Prometheus can
//! compute the same SLI from a scrape.

use ops_registry::Counter;

/// The counter family of recorded events.
pub const EVENTS_FAMILY: &str = "ops_slo_events_total";

/// The handle of one SLO's events: [`good`](SloEvents::good) and [`bad`](SloEvents::bad).
/// Cheap to clone; every clone counts into the same SLO.
///
/// ```
/// use ops_slo::{Sli, Slo, SloEngine, SloSet};
///
/// let engine = SloEngine::builder(SloSet::new(vec![Slo::new("shop", "checkout", Sli::Events {})]))
///     .build()?;
/// let checkout = engine.events("shop-checkout").expect("an events SLO");
/// checkout.good();
/// checkout.record(false); // a bad one
/// assert_eq!((checkout.good_count(), checkout.bad_count()), (1, 1));
/// # Ok::<(), ops_slo::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct SloEvents {
    pub(crate) good: Counter,
    pub(crate) bad: Counter,
}

impl SloEvents {
    /// One good event.
    #[inline]
    pub fn good(&self) {
        self.good.inc();
    }

    /// One bad event.
    #[inline]
    pub fn bad(&self) {
        self.bad.inc();
    }

    /// One event, good when `ok`.
    #[inline]
    pub fn record(&self, ok: bool) {
        if ok { self.good.inc() } else { self.bad.inc() }
    }

    /// Good events so far.
    pub fn good_count(&self) -> u64 {
        self.good.get()
    }

    /// Bad events so far.
    pub fn bad_count(&self) -> u64 {
        self.bad.get()
    }
}
