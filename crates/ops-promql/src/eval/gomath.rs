//! Go's float semantics where they differ from Rust's, so results match Prometheus bit for bit.

/// Go's `math.Max`: `+Inf` wins over NaN, NaN over numbers, `+0` over `-0` (Rust's `f64::max`
/// returns the number when the other is NaN).
pub(crate) fn max(x: f64, y: f64) -> f64 {
    if x == f64::INFINITY || y == f64::INFINITY {
        f64::INFINITY
    } else if x.is_nan() || y.is_nan() {
        f64::NAN
    } else if x == 0.0 && x == y {
        if x.is_sign_negative() { y } else { x }
    } else if x > y {
        x
    } else {
        y
    }
}

/// Go's `math.Min`: `-Inf` wins over NaN, NaN over numbers, `-0` over `+0`.
pub(crate) fn min(x: f64, y: f64) -> f64 {
    if x == f64::NEG_INFINITY || y == f64::NEG_INFINITY {
        f64::NEG_INFINITY
    } else if x.is_nan() || y.is_nan() {
        f64::NAN
    } else if x == 0.0 && x == y {
        if x.is_sign_negative() { x } else { y }
    } else if x < y {
        x
    } else {
        y
    }
}

/// Prometheus's `kahanSumInc` (Neumaier's improvement of Kahan summation).
pub(crate) fn kahan_sum_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`: the shortest decimal that reads back as `v`,
/// without exponent; `NaN`, `+Inf`, `-Inf`.
pub(crate) fn format_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

/// Go's `float64(d) / 1e9` for a duration of `ms` milliseconds, as `time.Duration.Seconds`
/// computes it (whole seconds plus the fraction).
pub(crate) fn seconds(ms: i64) -> f64 {
    let nanos = i128::from(ms) * 1_000_000;
    let sec = nanos / 1_000_000_000;
    let nsec = nanos % 1_000_000_000;
    sec as f64 + nsec as f64 / 1e9
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn go_max_min_special_cases() {
        assert_eq!(max(1.0, f64::NAN).to_bits(), f64::NAN.to_bits());
        assert_eq!(max(f64::NAN, f64::INFINITY), f64::INFINITY);
        assert!(max(-0.0, 0.0).is_sign_positive());
        assert!(min(-0.0, 0.0).is_sign_negative());
        assert_eq!(min(f64::NAN, f64::NEG_INFINITY), f64::NEG_INFINITY);
        assert!(min(f64::NAN, 1.0).is_nan());
        assert_eq!((max(1.0, 2.0), min(1.0, 2.0)), (2.0, 1.0));
    }

    #[test]
    fn formatting_and_durations() {
        assert_eq!(format_f(1e21), "1000000000000000000000");
        assert_eq!(format_f(0.1), "0.1");
        assert_eq!(format_f(-0.0), "-0");
        assert_eq!(format_f(f64::INFINITY), "+Inf");
        assert_eq!(seconds(300_000), 300.0);
        assert_eq!(seconds(1), 0.001);
        assert_eq!(seconds(-1500), -1.5);
    }

    #[test]
    fn kahan() {
        let (mut s, mut c) = (0.0, 0.0);
        for v in [1e16, 1.0, -1e16] {
            (s, c) = kahan_sum_inc(v, s, c);
        }
        assert_eq!(s + c, 1.0);
    }
}
