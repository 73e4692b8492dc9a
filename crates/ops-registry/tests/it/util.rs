//! What several tests share: a family they register alike, and expected page text built from
//! the values a test states.

use std::fmt::Write as _;

use ops_registry::{CounterVec, Registry};

/// `shop_checkout_visits_total{step}`, the counter family of the pages with every kind.
pub(crate) fn checkout_visits(reg: &Registry) -> CounterVec {
    reg.counter_vec(
        "shop_checkout_visits_total",
        "Checkout page views.",
        &["step"],
    )
    .unwrap()
}

/// The lines of one histogram series: a `_bucket` line per upper bound in `les` and one for
/// `+Inf`, with the cumulative `counts` (one more than `les`: the last is `+Inf`'s and the
/// `_count`), then `_sum` and `_count`. `labels` is what the braces hold before `le`
/// (`user="u1"`), empty for none.
pub(crate) fn histogram(
    name: &str,
    labels: &str,
    les: &[&str],
    counts: &[u64],
    sum: &str,
) -> String {
    assert_eq!(
        counts.len(),
        les.len() + 1,
        "{name}: a count per bound and +Inf"
    );
    let mut out = String::new();
    let le_after = if labels.is_empty() { "" } else { "," };
    for (le, n) in les.iter().chain(&["+Inf"]).zip(counts) {
        writeln!(out, "{name}_bucket{{{labels}{le_after}le=\"{le}\"}} {n}").unwrap();
    }
    let braced = if labels.is_empty() {
        String::new()
    } else {
        format!("{{{labels}}}")
    };
    let count = counts[les.len()];
    write!(
        out,
        "{name}_sum{braced} {sum}\n{name}_count{braced} {count}\n"
    )
    .unwrap();
    out
}

/// The registry's own section: `ops_registry_overflow_total`, one series per family with the
/// lookups it refused.
pub(crate) fn overflow_section(families: &[(&str, u64)]) -> String {
    let mut out = String::from(
        "# HELP ops_registry_overflow_total Label sets refused a series of their own (past the family's cardinality limit, a label value too long, or the wrong number of values), one per lookup; their updates go to the family's overflow=\"true\" series.\n\
         # TYPE ops_registry_overflow_total counter\n",
    );
    for (family, refused) in families {
        writeln!(
            out,
            "ops_registry_overflow_total{{family=\"{family}\"}} {refused}"
        )
        .unwrap();
    }
    out
}
