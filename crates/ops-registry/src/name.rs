//! What a family's name, label names and unit must be.

use ops_core::exposition::{MetricType, is_label_name, is_metric_name};

use crate::error::Error;
use crate::unit::Unit;

/// Names the registry writes itself (`ops_registry_overflow_total`): refused to users.
pub(crate) const RESERVED_PREFIX: &str = "ops_registry_";

/// The most label names a family may have.
pub const MAX_LABELS: usize = 32;

/// Label names the page uses itself: `le` (buckets; promtool also flags it on other types),
/// `quantile` (summaries), `overflow` (the series past the cardinality limit).
pub(crate) const RESERVED_LABELS: [&str; 3] = ["le", "quantile", "overflow"];

/// Checks a family name for a type.
pub(crate) fn check_name(name: &str, kind: MetricType) -> Result<(), Error> {
    let rule = |reason| {
        Err(Error::NameRule {
            name: name.to_owned(),
            reason,
        })
    };
    if !is_metric_name(name) {
        return Err(Error::InvalidName {
            name: name.to_owned(),
        });
    }
    if name.starts_with(RESERVED_PREFIX) {
        return rule("names starting with ops_registry_ are the registry's own");
    }
    let total = name.ends_with("_total");
    if kind == MetricType::Counter && !total {
        return rule("a counter's name must end in _total");
    }
    if kind != MetricType::Counter && total {
        return rule("only counters' names end in _total");
    }
    if ["_bucket", "_count", "_sum"]
        .iter()
        .any(|s| name.ends_with(s))
    {
        return rule("names ending in _bucket, _count or _sum are the series names of histograms");
    }
    Ok(())
}

/// Checks the label names of a family.
pub(crate) fn check_labels(family: &str, labels: &[&str]) -> Result<(), Error> {
    if labels.len() > MAX_LABELS {
        return Err(Error::TooManyLabels {
            family: family.to_owned(),
            count: labels.len(),
            max: MAX_LABELS,
        });
    }
    for (i, &label) in labels.iter().enumerate() {
        if !is_label_name(label) {
            return Err(Error::InvalidLabelName {
                family: family.to_owned(),
                label: label.to_owned(),
            });
        }
        if RESERVED_LABELS.contains(&label) {
            return Err(Error::ReservedLabel {
                family: family.to_owned(),
                label: label.to_owned(),
            });
        }
        if labels[..i].contains(&label) {
            return Err(Error::DuplicateLabel {
                family: family.to_owned(),
                label: label.to_owned(),
            });
        }
    }
    Ok(())
}

/// Checks that a declared unit is the name's suffix (a counter's before `_total`).
pub(crate) fn check_unit(family: &str, kind: MetricType, unit: Unit) -> Result<(), Error> {
    let base = if kind == MetricType::Counter {
        family.strip_suffix("_total").unwrap_or(family)
    } else {
        family
    };
    if unit.matches(base) {
        return Ok(());
    }
    let total = if kind == MetricType::Counter {
        "_total"
    } else {
        ""
    };
    Err(Error::UnitMismatch {
        family: family.to_owned(),
        unit: unit.to_string(),
        expected: format!("_{unit}{total}"),
    })
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn names_follow_their_type() {
        assert!(check_name("shop_orders_total", MetricType::Counter).is_ok());
        assert!(check_name("jobs_queued", MetricType::Gauge).is_ok());
        assert!(check_name("a:b", MetricType::Gauge).is_ok());
        let reason = |name, kind| match check_name(name, kind) {
            Err(Error::NameRule { reason, .. }) => reason,
            other => panic!("{other:?}"),
        };
        for (name, kind, want) in [
            (
                "shop_orders",
                MetricType::Counter,
                "a counter's name must end in _total",
            ),
            (
                "jobs_total",
                MetricType::Gauge,
                "only counters' names end in _total",
            ),
            (
                "rpc_seconds_count",
                MetricType::Histogram,
                "names ending in _bucket, _count or _sum are the series names of histograms",
            ),
            (
                "ops_registry_overflow_total",
                MetricType::Counter,
                "names starting with ops_registry_ are the registry's own",
            ),
        ] {
            assert_eq!(reason(name, kind), want, "{name}");
        }
        assert_eq!(
            check_name("2xx_total", MetricType::Counter),
            Err(Error::InvalidName {
                name: "2xx_total".into()
            })
        );
    }

    #[test]
    fn units_are_suffixes() {
        assert!(check_unit("cpu_seconds_total", MetricType::Counter, Unit::Seconds).is_ok());
        assert_eq!(
            check_unit("cpu_total", MetricType::Counter, Unit::Seconds),
            Err(Error::UnitMismatch {
                family: "cpu_total".into(),
                unit: "seconds".into(),
                expected: "_seconds_total".into()
            })
        );
        assert!(check_unit("body_bytes", MetricType::Histogram, Unit::Bytes).is_ok());
        assert!(check_unit("body_size", MetricType::Histogram, Unit::Bytes).is_err());
    }
}
