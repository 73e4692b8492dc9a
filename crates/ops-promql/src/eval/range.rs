/*!
Functions over one series' window, as Prometheus 2.42's `promql/functions.go` computes them:
`extrapolatedRate` for `rate`, `increase` and `delta`; `instantValue` for `irate` and
`idelta`; the `*_over_time` family. Same operations in the same order, so the same floats.
*/

use super::Window;
use super::gomath::{self, kahan_sum_inc};
use super::quantile::quantile;

/// `rate` (counter, per second), `increase` (counter), `delta` (gauge): the difference
/// between the window's first and last points (counter resets added back), extrapolated to
/// the window's edges when the first/last point is within 1.1 average intervals of them
/// (else by half an interval), a counter's start never extrapolated below zero. `None` with
/// fewer than two points.
pub(crate) fn extrapolated_rate(
    w: Window<'_>,
    range_start: i64,
    range_end: i64,
    range_ms: i64,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    if w.len() < 2 {
        return None;
    }
    let (first, last) = (w.first()?, w.last()?);
    let mut result = last.v - first.v;
    if is_counter && has_drop(w) {
        // From the first point on: comparing it with itself adds nothing.
        let mut prev = first.v;
        for slice in w.slices() {
            for p in slice {
                if p.v < prev {
                    result += prev;
                }
                prev = p.v;
            }
        }
    }
    let mut duration_to_start = (first.t - range_start) as f64 / 1000.0;
    let duration_to_end = (range_end - last.t) as f64 / 1000.0;
    let sampled_interval = (last.t - first.t) as f64 / 1000.0;
    let average_between = sampled_interval / (w.len() - 1) as f64;

    if is_counter && result > 0.0 && first.v >= 0.0 {
        // The counter's zero point, if it comes before the window's start.
        let duration_to_zero = sampled_interval * (first.v / result);
        if duration_to_zero < duration_to_start {
            duration_to_start = duration_to_zero;
        }
    }
    let threshold = average_between * 1.1;
    let mut extrapolate_to = sampled_interval;
    extrapolate_to += if duration_to_start < threshold {
        duration_to_start
    } else {
        average_between / 2.0
    };
    extrapolate_to += if duration_to_end < threshold {
        duration_to_end
    } else {
        average_between / 2.0
    };
    let mut factor = extrapolate_to / sampled_interval;
    if is_rate {
        factor /= gomath::seconds(range_ms);
    }
    Some(result * factor)
}

/// Whether a value is lower than the one before it (a counter reset). A pass of plain
/// comparisons, so that the usual window — no reset — costs no chain of additions.
fn has_drop(w: Window<'_>) -> bool {
    let [head, tail] = w.slices();
    let within = |points: &[crate::series::Point]| points.windows(2).any(|p| p[1].v < p[0].v);
    within(head)
        || within(tail)
        || matches!((head.last(), tail.first()), (Some(before), Some(after)) if after.v < before.v)
}

/// `irate` (per second, a drop is a reset) and `idelta`: from the last two points. `None`
/// with fewer than two points.
pub(crate) fn instant_value(w: Window<'_>, is_rate: bool) -> Option<f64> {
    let n = w.len();
    if n < 2 {
        return None;
    }
    let (prev, last) = (w.get(n - 2)?, w.get(n - 1)?);
    let mut result = if is_rate && last.v < prev.v {
        last.v
    } else {
        last.v - prev.v
    };
    let interval = last.t - prev.t;
    if interval == 0 {
        return None;
    }
    if is_rate {
        result /= interval as f64 / 1000.0;
    }
    Some(result)
}

pub(crate) fn avg_over_time(w: Window<'_>) -> f64 {
    let (mut mean, mut count, mut c) = (0.0f64, 0.0f64, 0.0f64);
    for v in w.values() {
        count += 1.0;
        if mean.is_infinite() {
            if v.is_infinite() && (mean > 0.0) == (v > 0.0) {
                continue;
            }
            if !v.is_infinite() && !v.is_nan() {
                continue;
            }
        }
        (mean, c) = kahan_sum_inc(v / count - mean / count, mean, c);
    }
    if mean.is_infinite() { mean } else { mean + c }
}

pub(crate) fn sum_over_time(w: Window<'_>) -> f64 {
    let (mut sum, mut c) = (0.0f64, 0.0f64);
    for v in w.values() {
        (sum, c) = kahan_sum_inc(v, sum, c);
    }
    if sum.is_infinite() { sum } else { sum + c }
}

pub(crate) fn max_over_time(w: Window<'_>) -> f64 {
    let mut values = w.values();
    let mut max = values.next().unwrap_or(f64::NAN);
    for v in values {
        if v > max || max.is_nan() {
            max = v;
        }
    }
    max
}

pub(crate) fn min_over_time(w: Window<'_>) -> f64 {
    let mut values = w.values();
    let mut min = values.next().unwrap_or(f64::NAN);
    for v in values {
        if v < min || min.is_nan() {
            min = v;
        }
    }
    min
}

pub(crate) fn count_over_time(w: Window<'_>) -> f64 {
    w.len() as f64
}

pub(crate) fn last_over_time(w: Window<'_>) -> f64 {
    w.last().map_or(f64::NAN, |p| p.v)
}

pub(crate) fn quantile_over_time(q: f64, w: Window<'_>) -> f64 {
    let mut values: Vec<f64> = w.values().collect();
    quantile(q, &mut values)
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::series::Point;

    fn pts(v: &[(i64, f64)]) -> Vec<Point> {
        v.iter().map(|&(t, v)| Point { t, v }).collect()
    }

    #[test]
    fn rate_extrapolates_to_the_window_edges() {
        // A counter +10 every 15 s, window [0, 60 s] with points at 15..60: the start is 15 s
        // from the edge (< 1.1 × 15 s) so the increase extrapolates to 60 s: 30 × 60/45 = 40.
        let p = pts(&[
            (15_000, 10.0),
            (30_000, 20.0),
            (45_000, 30.0),
            (60_000, 40.0),
        ]);
        let w = Window::new(&p, &[]);
        // The zero point comes first: 10 at 15 s with slope 10/15 s → zero at 0 s, as the edge.
        assert_eq!(
            extrapolated_rate(w, 0, 60_000, 60_000, true, false),
            Some(40.0)
        );
        assert_eq!(
            extrapolated_rate(w, 0, 60_000, 60_000, true, true),
            Some(40.0 / 60.0)
        );
        // A reset adds the value before it.
        let p = pts(&[(0, 5.0), (10_000, 8.0), (20_000, 2.0)]);
        assert_eq!(
            extrapolated_rate(Window::new(&p, &[]), 0, 20_000, 20_000, true, false),
            Some(5.0)
        );
        // delta: no reset handling, no zero clamp.
        assert_eq!(
            extrapolated_rate(Window::new(&p, &[]), 0, 20_000, 20_000, false, false),
            Some(-3.0)
        );
        assert_eq!(
            extrapolated_rate(Window::new(&p[..1], &[]), 0, 1, 1, true, true),
            None
        );
    }

    #[test]
    fn irate_and_idelta() {
        let p = pts(&[(0, 5.0), (10_000, 8.0), (20_000, 2.0)]);
        let w = Window::new(&p, &[]);
        assert_eq!(instant_value(w, true), Some(0.2));
        assert_eq!(instant_value(w, false), Some(-6.0));
    }

    #[test]
    fn over_time() {
        let p = pts(&[(0, 1.0), (1, f64::NAN), (2, 3.0)]);
        let w = Window::new(&p, &[]);
        assert_eq!(max_over_time(w), 3.0);
        assert_eq!(min_over_time(w), 1.0);
        assert!(sum_over_time(w).is_nan());
        assert_eq!(count_over_time(w), 3.0);
        assert_eq!(last_over_time(w), 3.0);
        let p = pts(&[(0, f64::INFINITY), (1, 1.0)]);
        assert_eq!(avg_over_time(Window::new(&p, &[])), f64::INFINITY);
        let p = pts(&[(0, 1.0), (1, 2.0), (2, 4.0)]);
        // Prometheus's incremental Kahan mean, not 7/3 rounded.
        assert_eq!(avg_over_time(Window::new(&p, &[])), 2.333_333_333_333_333);
        assert_eq!(quantile_over_time(0.5, Window::new(&p, &[])), 2.0);
    }
}
