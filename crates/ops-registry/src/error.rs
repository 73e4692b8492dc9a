//! Errors of `ops-registry`: every variant names the family and, where there is one, the label
//! and the offending value.

/// Why a family, a bucket layout or a label set is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The metric name is not `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    #[error("metric name {name:?} is invalid: it must match [a-zA-Z_:][a-zA-Z0-9_:]*")]
    InvalidName {
        /// The name as given.
        name: String,
    },
    /// The metric name breaks a rule of its type: a counter without `_total`, another type with
    /// it, a name ending in `_bucket`, `_count` or `_sum` (the series names histograms write),
    /// or a name under the prefix the registry keeps for itself.
    #[error("metric name {name:?}: {reason}")]
    NameRule {
        /// The name as given.
        name: String,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// A label name is not `[a-zA-Z_][a-zA-Z0-9_]*` or starts with `__`.
    #[error(
        "family {family:?}: label name {label:?} is invalid: it must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __"
    )]
    InvalidLabelName {
        /// The family.
        family: String,
        /// The label name as given.
        label: String,
    },
    /// A label name the page uses itself: `le` (histogram buckets), `quantile` (summaries) or
    /// `overflow` (the series that takes label sets past the cardinality limit).
    #[error("family {family:?}: label name {label:?} is reserved")]
    ReservedLabel {
        /// The family.
        family: String,
        /// The label name.
        label: String,
    },
    /// A label name given twice.
    #[error("family {family:?}: label name {label:?} is given twice")]
    DuplicateLabel {
        /// The family.
        family: String,
        /// The label name.
        label: String,
    },
    /// More label names than a family may have.
    #[error("family {family:?}: {count} label names, more than the {max} a family may have")]
    TooManyLabels {
        /// The family.
        family: String,
        /// How many were given.
        count: usize,
        /// The most a family may have.
        max: usize,
    },
    /// The declared unit is not the name's suffix.
    #[error("family {family:?}: unit {unit} needs the name to end in {expected:?}")]
    UnitMismatch {
        /// The family.
        family: String,
        /// The declared unit.
        unit: String,
        /// The suffix the name needs (`_seconds`, or `_seconds_total` for a counter).
        expected: String,
    },
    /// The name is already registered with another type, other label names or other buckets.
    #[error("family {family:?} is already registered as {existing}; refused as {requested}")]
    Conflict {
        /// The family.
        family: String,
        /// What is registered (`counter with labels [step]`).
        existing: String,
        /// What was asked for.
        requested: String,
    },
    /// The registry holds as many families as it may.
    #[error("family {family:?} refused: the registry already holds {limit} families")]
    TooManyFamilies {
        /// The family refused.
        family: String,
        /// The registry's limit.
        limit: usize,
    },
    /// Histogram bucket bounds that cannot be used.
    #[error("bucket bounds {bounds:?}: {reason}")]
    InvalidBuckets {
        /// The bounds as given (the first 70 when there are more).
        bounds: Vec<f64>,
        /// Why they are refused.
        reason: &'static str,
    },
    /// [`try_with`](crate::CounterVec::try_with) got another number of label values than the
    /// family has label names.
    #[error("family {family:?}: {got} label values for the {expected} label names {labels:?}")]
    LabelCount {
        /// The family.
        family: String,
        /// Its label names.
        labels: Vec<String>,
        /// How many it has.
        expected: usize,
        /// How many were given.
        got: usize,
    },
    /// [`try_with`](crate::CounterVec::try_with) got a label value longer than the registry
    /// keeps.
    #[error(
        "family {family:?}: the value of label {label:?} is {len} bytes, more than the {max} kept (starts {prefix:?})"
    )]
    LabelValueTooLong {
        /// The family.
        family: String,
        /// The label.
        label: String,
        /// The value's length in bytes.
        len: usize,
        /// The longest value kept.
        max: usize,
        /// The value's first 32 characters.
        prefix: String,
    },
    /// [`try_with`](crate::CounterVec::try_with) got a new label set while the family already
    /// has as many series as its cardinality limit.
    #[error(
        "family {family:?}: label values {values:?} refused: the family already has {limit} series (its cardinality limit)"
    )]
    CardinalityLimit {
        /// The family.
        family: String,
        /// The values refused (each cut to 32 characters).
        values: Vec<String>,
        /// The family's limit.
        limit: usize,
    },
    /// [`MetricsRecorder::install`](crate::MetricsRecorder::install) found a global recorder
    /// already set (the `metrics` crate allows one per process).
    #[cfg(feature = "metrics")]
    #[error("a global `metrics` recorder is already installed")]
    RecorderAlreadySet,
}

/// The first `n` characters of `s`, for messages about hostile values.
pub(crate) fn prefix(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}
