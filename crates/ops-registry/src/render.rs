//! The registry's section of the Prometheus page.

use ops_core::exposition::{Encoder, Exposition, MetricType};

use ops_core::exposition::ExpositionValue;

use crate::family::Kind;
use crate::registry::{AnyFamily, Registry};

/// The series names and `le` values of a histogram family.
struct HistogramNames {
    bucket: String,
    sum: String,
    count: String,
    les: Vec<String>,
}

impl HistogramNames {
    fn new(name: &str, kind: &Kind) -> HistogramNames {
        let bounds: &[f64] = match kind {
            Kind::Histogram(bounds) => bounds,
            Kind::Counter | Kind::Gauge => &[],
        };
        HistogramNames {
            bucket: format!("{name}_bucket"),
            sum: format!("{name}_sum"),
            count: format!("{name}_count"),
            les: bounds
                .iter()
                .map(|&b| {
                    let mut le = String::new();
                    b.write_value(&mut le);
                    le
                })
                .collect(),
        }
    }
}

/// The family counting label sets refused a series of their own.
pub(crate) const OVERFLOW_FAMILY: &str = "ops_registry_overflow_total";
const OVERFLOW_HELP: &str = "Label sets refused a series of their own (past the family's cardinality limit, a label value too long, or the wrong number of values), one per lookup; their updates go to the family's overflow=\"true\" series.";

/// The family counting `metrics` facade registrations refused.
pub(crate) const FACADE_FAMILY: &str = "ops_registry_facade_refused_total";
const FACADE_HELP: &str = "Registrations through the metrics facade refused (a name used with two types, or a name that cannot be made valid); their updates are dropped and each name is logged once at WARN.";

impl Exposition for Registry {
    /// Every family with at least one series, in registration order, its series in the order
    /// they were first used and the overflow series last; histograms as cumulative
    /// `_bucket{le}` with `+Inf`, then `_sum` and `_count`. Then the registry's own families:
    /// `ops_registry_overflow_total{family}` for every family with labels, and, once a
    /// `MetricsRecorder` (feature `metrics`) feeds the registry,
    /// `ops_registry_facade_refused_total`.
    fn encode_prometheus(&self, out: &mut String) {
        let state = self.state();
        let mut enc = Encoder::new(out);
        let mut counts: Vec<u64> = Vec::new();
        for family in &state.families {
            match family {
                AnyFamily::Counter(f) if f.has_series() => {
                    enc.family(f.name(), &f.help(), MetricType::Counter);
                    f.for_each(|labels, series| enc.sample(f.name(), labels, series.get()));
                }
                AnyFamily::Gauge(f) if f.has_series() => {
                    enc.family(f.name(), &f.help(), MetricType::Gauge);
                    f.for_each(|labels, series| enc.sample(f.name(), labels, series.get()));
                }
                AnyFamily::Histogram(f) if f.has_series() => {
                    enc.family(f.name(), &f.help(), MetricType::Histogram);
                    // What `Encoder::histogram` writes, with the names and `le` values
                    // formatted once per family rather than once per series.
                    let names = HistogramNames::new(f.name(), f.kind());
                    f.for_each(|labels, series| {
                        let sum = series.snapshot_into(&mut counts);
                        let mut cumulative = 0;
                        for (le, &n) in names.les.iter().zip(&counts) {
                            cumulative += n;
                            enc.sample_with(&names.bucket, labels, Some(("le", le)), cumulative);
                        }
                        let count: u64 = counts.iter().sum();
                        enc.sample_with(&names.bucket, labels, Some(("le", "+Inf")), count);
                        enc.sample(&names.sum, labels, sum);
                        enc.sample(&names.count, labels, count);
                    });
                }
                AnyFamily::Counter(_) | AnyFamily::Gauge(_) | AnyFamily::Histogram(_) => {}
            }
        }
        let mut refused = state
            .families
            .iter()
            .filter_map(|family| match family {
                AnyFamily::Counter(f) => f.is_labelled().then(|| (f.name(), f.refused())),
                AnyFamily::Gauge(f) => f.is_labelled().then(|| (f.name(), f.refused())),
                AnyFamily::Histogram(f) => f.is_labelled().then(|| (f.name(), f.refused())),
            })
            .peekable();
        if refused.peek().is_some() {
            enc.family(OVERFLOW_FAMILY, OVERFLOW_HELP, MetricType::Counter);
            for (name, n) in refused {
                enc.sample(OVERFLOW_FAMILY, &[("family", name)], n);
            }
        }
        if let Some(n) = self.facade_refused() {
            enc.single(FACADE_FAMILY, FACADE_HELP, MetricType::Counter, n);
        }
    }
}
