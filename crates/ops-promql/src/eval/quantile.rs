/*!
Quantiles as Prometheus 2.42's `promql/quantile.go` computes them: `bucketQuantile` for
`histogram_quantile` over classic `le` buckets, and `quantile` for the `quantile` aggregation
and `quantile_over_time`.
*/

use std::collections::HashMap;

use crate::labels::{Labels, METRIC_NAME};
use crate::value::Sample;

/// The bucket label.
const LE: &str = "le";

/// `histogram_quantile(q, v)`: the samples of `v` grouped by their labels without `le`, each
/// group's buckets turned into the `q` quantile; the result labels drop `__name__` and `le`.
/// Samples without a parseable `le` are skipped.
pub(crate) fn histogram_quantile(q: f64, v: &[Sample]) -> Vec<Sample> {
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut groups: Vec<(Labels, Vec<(f64, f64)>)> = Vec::new();
    for s in v {
        let Some(upper) = s.labels.get(LE).and_then(parse_go_float) else {
            continue;
        };
        let key = s.labels.filter(|n| n != LE);
        let i = *index.entry(key).or_insert_with(|| {
            groups.push((s.labels.filter(|n| n != LE && n != METRIC_NAME), Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push((upper, s.value));
    }
    groups
        .into_iter()
        .map(|(labels, mut buckets)| Sample {
            labels,
            value: bucket_quantile(q, &mut buckets),
        })
        .collect()
}

/// A float as Go's `strconv.ParseFloat` reads an `le` value: decimal, `Inf`/`+Inf`/`-Inf`/
/// `Infinity`, `NaN`, any case.
fn parse_go_float(s: &str) -> Option<f64> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    if body.eq_ignore_ascii_case("nan") && body.len() == s.len() {
        return Some(f64::NAN);
    }
    if body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity") {
        return Some(if s.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if body.contains(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E') {
        return None;
    }
    s.parse().ok()
}

/// `bucketQuantile`: `buckets` are `(upper bound, cumulative count)` in any order.
pub(crate) fn bucket_quantile(q: f64, buckets: &mut Vec<(f64, f64)>) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    if buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return f64::NAN;
    }
    coalesce(buckets);
    ensure_monotonic(buckets);
    let n = buckets.len();
    if n < 2 {
        return f64::NAN;
    }
    let observations = buckets[n - 1].1;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    // sort.Search over the first n-1 buckets: the first with count >= rank.
    let b = buckets[..n - 1].partition_point(|b| b.1 < rank);
    if b == n - 1 {
        return buckets[n - 2].0;
    }
    if b == 0 && buckets[0].0 <= 0.0 {
        return buckets[0].0;
    }
    let mut start = 0.0;
    let end = buckets[b].0;
    let mut count = buckets[b].1;
    if b > 0 {
        start = buckets[b - 1].0;
        count -= buckets[b - 1].1;
        rank -= buckets[b - 1].1;
    }
    start + (end - start) * (rank / count)
}

/// Merges buckets with the same upper bound (`buckets` sorted).
fn coalesce(buckets: &mut Vec<(f64, f64)>) {
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for &(upper, count) in buckets.iter() {
        match out.last_mut() {
            Some(last) if last.0 == upper => last.1 += count,
            _ => out.push((upper, count)),
        }
    }
    *buckets = out;
}

/// Raises every count to at least the one before it.
fn ensure_monotonic(buckets: &mut [(f64, f64)]) {
    let mut max = buckets[0].1;
    for b in &mut buckets[1..] {
        if b.1 > max {
            max = b.1;
        } else if b.1 < max {
            b.1 = max;
        }
    }
}

/// `quantile`: the `q` quantile of `values` (sorted here, NaN first), interpolating between
/// the two nearest ranks.
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

#[cfg(test)]
mod test {
    use super::*;

    fn bq(q: f64, b: &[(f64, f64)]) -> f64 {
        bucket_quantile(q, &mut b.to_vec())
    }

    #[test]
    fn bucket_quantile_cases() {
        let b = [(0.1, 10.0), (0.5, 30.0), (1.0, 40.0), (f64::INFINITY, 40.0)];
        // rank 20 in (0.1, 0.5]: 0.1 + 0.4 × 10/20.
        assert_eq!(bq(0.5, &b), 0.1 + 0.4 * (10.0 / 20.0));
        // The lowest bucket interpolates from 0.
        assert_eq!(bq(0.05, &b), 0.1 * (2.0 / 10.0));
        // Falls in +Inf: the second highest bound.
        let b2 = [(1.0, 1.0), (f64::INFINITY, 10.0)];
        assert_eq!(bq(0.9, &b2), 1.0);
        // Out of range, NaN, no +Inf, one bucket, no observations.
        assert_eq!(bq(-0.1, &b), f64::NEG_INFINITY);
        assert_eq!(bq(1.1, &b), f64::INFINITY);
        assert!(bq(f64::NAN, &b).is_nan());
        assert!(bq(0.5, &[(1.0, 1.0), (2.0, 2.0)]).is_nan());
        assert!(bq(0.5, &[(f64::INFINITY, 2.0)]).is_nan());
        assert!(bq(0.5, &[(1.0, 0.0), (f64::INFINITY, 0.0)]).is_nan());
        // A lowest bound <= 0 is returned as is.
        assert_eq!(bq(0.1, &[(-1.0, 5.0), (f64::INFINITY, 10.0)]), -1.0);
        // Non-monotonic counts are lifted; unsorted input sorted; equal bounds merged.
        let b3 = [(f64::INFINITY, 10.0), (2.0, 4.0), (1.0, 6.0), (1.0, 0.0)];
        assert_eq!(bq(0.5, &b3), 1.0 * (5.0 / 6.0));
    }

    #[test]
    fn quantile_interpolates_between_ranks() {
        assert_eq!(quantile(0.5, &mut [3.0, 1.0, 2.0, 4.0]), 2.5);
        assert_eq!(
            quantile(0.0, &mut [3.0, f64::NAN]).to_bits(),
            f64::NAN.to_bits()
        );
        assert!(quantile(0.5, &mut []).is_nan());
        assert_eq!(quantile(2.0, &mut [1.0]), f64::INFINITY);
    }

    #[test]
    fn le_values_as_go_reads_them() {
        assert_eq!(parse_go_float("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_go_float("0.25"), Some(0.25));
        assert_eq!(parse_go_float("1e3"), Some(1000.0));
        assert_eq!(parse_go_float("abc"), None);
        assert_eq!(parse_go_float(""), None);
    }
}
