//! Proptest strategies and helpers shared by the tests of the `nagios` modules.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use proptest::{num, sample};

use super::Range;

pub(super) const INF: f64 = f64::INFINITY;

/// The range `s` denotes; panics when it is rejected.
pub(super) fn r(s: &str) -> Range {
    s.parse().unwrap()
}

/// A finite number from the classes that stress formatting and parsing: zero (both signs),
/// small integers, thousandths, any finite bit pattern, `k·10^e` of both signs around the
/// switch to exponent notation, sevenths, reciprocals and the extremes.
pub(super) fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        sample::select(vec![
            0.0,
            -0.0,
            1e-6,
            1e21,
            1e21f64.next_down(),
            1e-6f64.next_down(),
            f64::MAX,
            -f64::MAX,
            f64::MIN_POSITIVE,
            f64::from_bits(1),
            -f64::from_bits(1),
        ]),
        (-100i32..=100).prop_map(f64::from),
        (-1_000_000i32..=1_000_000).prop_map(|m| f64::from(m) / 1000.0),
        num::f64::POSITIVE
            | num::f64::NEGATIVE
            | num::f64::NORMAL
            | num::f64::SUBNORMAL
            | num::f64::ZERO,
        (0u32..1000, -20i32..22, any::<bool>()).prop_map(|(m, e, negative)| {
            let v = f64::from(m) * 10f64.powi(e);
            if negative { -v } else { v }
        }),
        (0u32..10_000).prop_map(|k| f64::from(k) / 7.0),
        (1u32..=1000).prop_map(|n| 1.0 / f64::from(n)),
    ]
}

/// A valid range built from two numbers in each of the shapes `end`, `start:`, `~:end`,
/// `~:` and `start:end`, with or without `@`.
pub(super) fn range_value() -> impl Strategy<Value = Range> {
    (number(), number(), 0u8..6, any::<bool>()).prop_map(|(a, b, shape, inside)| {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let (start, end) = match shape {
            0 => (0.0, hi.abs()),
            1 => (lo, INF),
            2 => (-INF, hi),
            3 => (-INF, INF),
            _ => (lo, hi),
        };
        Range { start, end, inside }
    })
}

/// One endpoint as written, `[+-]digits[.digits][(e|E)[+-]digits][unit]`, with the value
/// Rust reads from the number part (infinite when it overflows).
fn bound_text() -> impl Strategy<Value = (String, f64)> {
    let number = "[+-]?([0-9]{1,5}(\\.[0-9]{0,4})?|\\.[0-9]{1,4})([eE][+-]?[0-9]{1,3})?";
    // The guideline's units, written out apart from the parser's list.
    let units = vec!["%", "s", "ms", "us", "B", "KB", "MB", "GB", "TB", "c"];
    let unit = prop_oneof![Just(""), sample::select(units)];
    (number, unit).prop_map(|(number, unit)| {
        let value: f64 = number.parse().unwrap();
        (format!("{number}{unit}"), value)
    })
}

/// The part before `:` (`None`: no `:` at all): empty, `~` or a number.
pub(super) fn start_text() -> impl Strategy<Value = Option<(String, f64)>> {
    prop_oneof![
        1 => Just(None),
        1 => Just(Some((String::new(), 0.0))),
        1 => Just(Some(("~".to_owned(), -INF))),
        3 => bound_text().prop_map(Some),
    ]
}

/// The part after `:` (or the whole body): empty or a number.
pub(super) fn end_text() -> impl Strategy<Value = (String, f64)> {
    prop_oneof![1 => Just((String::new(), INF)), 4 => bound_text()]
}
