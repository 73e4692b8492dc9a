//! Python-compatible rounding, so our figures equal psutil's to the last digit.

use std::fmt::Write as _;

/// Rounds `x` to one decimal exactly as Python's `round(x, 1)` does.
///
/// Python rounds the exact binary value of `x` half-to-even to the nearest decimal with one
/// fractional digit and returns the double closest to that decimal. Rust's `{:.1}` formatting is
/// also exact and half-to-even on the binary value, so formatting then parsing reproduces it;
/// the naive `(x * 10.0).round() / 10.0` does not (it rounds twice, and half away from zero).
pub(crate) fn round1(x: f64) -> f64 {
    // Beyond 2^52 every double is an integer: nothing to round (and it keeps the text short).
    if !x.is_finite() || x.abs() >= 4_503_599_627_370_496.0 {
        return x;
    }
    let mut buf = StackString::default();
    // Writing into a fixed buffer cannot fail for finite values that fit; fall back otherwise.
    if write!(buf, "{x:.1}").is_err() {
        return (x * 10.0).round() / 10.0;
    }
    buf.as_str().parse().unwrap_or(x)
}

/// A small fixed-size string buffer: formatting a float needs no heap allocation.
#[derive(Default)]
struct StackString {
    len: usize,
    bytes: [u8; 32],
}

impl StackString {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

impl std::fmt::Write for StackString {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.bytes.len() {
            return Err(std::fmt::Error);
        }
        self.bytes[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// psutil's `usage_percent(used, total, round_=1)`: `round(used / total * 100, 1)`, 0.0 when
/// `total` is zero.
pub(crate) fn usage_percent(used: f64, total: f64) -> f64 {
    if total == 0.0 {
        return 0.0;
    }
    round1(used / total * 100.0)
}

#[cfg(test)]
#[allow(clippy::float_cmp, clippy::unwrap_used)]
mod test {
    use super::*;

    /// Values and Python 3.11's `round(x, 1)` of them (computed with `CPython`).
    #[test]
    fn matches_python_round() {
        let cases: &[(f64, f64)] = &[
            (0.25, 0.2),
            (0.35, 0.3),
            (0.45, 0.5),
            (2.675, 2.7),
            (1.45, 1.4),
            (14.35, 14.3),
            (14.45, 14.4),
            (99.95, 100.0),
            (0.05, 0.1),
            (0.15, 0.1),
            (12.25, 12.2),
            (12.75, 12.8),
            (88.049_999_999_99, 88.0),
            (-0.25, -0.2),
            (0.0, 0.0),
            (100.0, 100.0),
        ];
        for &(x, want) in cases {
            assert_eq!(round1(x).to_bits(), want.to_bits(), "round1({x})");
        }
    }

    #[test]
    fn usage_percent_zero_total() {
        assert_eq!(usage_percent(5.0, 0.0).to_bits(), 0.0f64.to_bits());
        assert_eq!(usage_percent(1.0, 3.0).to_bits(), 33.3f64.to_bits());
    }
}
