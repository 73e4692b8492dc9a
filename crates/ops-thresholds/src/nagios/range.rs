//! Threshold ranges `[@][start:][end]`: parsing, the canonical text and whether a value alerts.

use std::fmt;
use std::str::FromStr;

/// A threshold range in the Monitoring Plugins syntax `[@][start:][end]`.
///
/// Both endpoints are inclusive. `start` is `f64::NEG_INFINITY` for `~` and `end` is
/// `f64::INFINITY` when nothing follows the `:`. A value outside `[start, end]` alerts; with
/// `inside` (written `@`) a value inside alerts instead.
///
/// Accepted forms (`FromStr`):
///
/// | text      | start | end  | alerts when        |
/// |-----------|-------|------|--------------------|
/// | `10`      | 0     | 10   | `v < 0` or `v > 10` |
/// | `10:`     | 10    | +∞   | `v < 10`           |
/// | `~:10`    | −∞    | 10   | `v > 10`           |
/// | `10:20`   | 10    | 20   | `v < 10` or `v > 20` |
/// | `@10:20`  | 10    | 20   | `10 ≤ v ≤ 20`      |
///
/// Also: an empty start (`:5` = `0:5`), `~:` (everything; never alerts, or always with `@`),
/// signs, decimals and exponents (`-1.5e3`), and one unit suffix after a number from the
/// guideline's list: `%`, `s`, `ms`, `us`, `B`, `KB`, `MB`, `GB`, `TB`, `c`. Rejected: the empty
/// string, `:` and `@` alone, `start > end`, more than one `:`, whitespace, `NaN`/`inf` spelled
/// out, numbers that overflow to infinity, and anything else after a number.
///
/// Differences from the Perl `Monitoring::Plugin::Range` 0.40: it removes all whitespace first
/// (`1 0` is `10` there, an error here); it allows malformed numbers such as `1.2.3` or `1e5.5`
/// (rejected here); it rejects unit suffixes (`1:12%`, which the guideline's C library accepts,
/// as we do) and an upper-case exponent `1E5`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    /// Lower endpoint, inclusive; `f64::NEG_INFINITY` for `~`.
    pub start: f64,
    /// Upper endpoint, inclusive; `f64::INFINITY` when open.
    pub end: f64,
    /// `true` for `@`: alert when the value is inside `[start, end]` instead of outside.
    pub inside: bool,
}

/// Why a range text was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeError {
    /// The text as given.
    pub text: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl fmt::Display for RangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid range {:?}: {}", self.text, self.reason)
    }
}

impl std::error::Error for RangeError {}

/// Unit suffixes the guideline lists for performance data; one of them may follow a number in a
/// range and is ignored.
const UNITS: [&str; 10] = ["%", "s", "ms", "us", "B", "KB", "MB", "GB", "TB", "c"];

/// Length in bytes of the longest prefix of `b` that is a decimal number
/// `[+-]digits[.digits][(e|E)[+-]digits]` with at least one digit before the exponent, or `None`.
fn scan_number(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let int_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let mut digits = i - int_start;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let frac_start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        digits += i - frac_start;
    }
    if digits == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let exp_start = j;
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        if j > exp_start {
            i = j;
        }
    }
    Some(i)
}

/// Parses one endpoint: a finite number, optionally followed by one unit from [`UNITS`].
fn parse_bound(part: &str) -> Result<f64, &'static str> {
    let len = scan_number(part.as_bytes()).ok_or("expected a number")?;
    // `len` is at a char boundary: every scanned byte is ASCII.
    let (number, rest) = part.split_at(len);
    if !rest.is_empty() && !UNITS.contains(&rest) {
        return Err("unexpected characters after a number");
    }
    let value: f64 = number.parse().map_err(|_| "invalid number")?;
    if value.is_finite() {
        Ok(value)
    } else {
        Err("number out of range")
    }
}

/// Parses `s` after the optional `@` has been removed.
fn parse_body(body: &str) -> Result<(f64, f64), &'static str> {
    if body.is_empty() {
        return Err("expected a number");
    }
    match body.split_once(':') {
        None => Ok((0.0, parse_bound(body)?)),
        Some((start, end)) => {
            if end.contains(':') {
                return Err("more than one ':'");
            }
            if start.is_empty() && end.is_empty() {
                return Err("expected a number");
            }
            let start = match start {
                "" => 0.0,
                "~" => f64::NEG_INFINITY,
                text => parse_bound(text)?,
            };
            let end = if end.is_empty() {
                f64::INFINITY
            } else {
                parse_bound(end)?
            };
            Ok((start, end))
        }
    }
}

impl FromStr for Range {
    type Err = RangeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let error = |reason| RangeError {
            text: s.to_owned(),
            reason,
        };
        if s.is_empty() {
            return Err(error("empty range"));
        }
        if s.chars().any(char::is_whitespace) {
            return Err(error("whitespace is not allowed"));
        }
        let (inside, body) = match s.strip_prefix('@') {
            Some(body) => (true, body),
            None => (false, s),
        };
        let (start, end) = parse_body(body).map_err(error)?;
        if start > end {
            return Err(error("start is greater than end"));
        }
        Ok(Range { start, end, inside })
    }
}

/// Formats a number with Rust's shortest round-trip digits: plain decimal notation for
/// magnitudes in `[1e-6, 1e21)` (and zero), exponent notation (`1.5e-7`, `1e21`) outside it.
pub(super) fn fmt_number(f: &mut fmt::Formatter<'_>, value: f64) -> fmt::Result {
    let magnitude = value.abs();
    if value == 0.0 || !value.is_finite() || (1e-6..1e21).contains(&magnitude) {
        write!(f, "{value}")
    } else {
        write!(f, "{value:e}")
    }
}

impl fmt::Display for Range {
    /// Writes the canonical form, which parses back to the same range: `10`, `10:`, `~:10`,
    /// `10:20`, `@10:20`, `~:` (and `0:` for zero to +∞).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.inside {
            f.write_str("@")?;
        }
        let open_end = self.end == f64::INFINITY;
        if self.start == f64::NEG_INFINITY {
            f.write_str("~:")?;
        } else if self.start != 0.0 || open_end {
            fmt_number(f, self.start)?;
            f.write_str(":")?;
        }
        if !open_end {
            fmt_number(f, self.end)?;
        }
        Ok(())
    }
}

impl Range {
    /// Whether `value` raises an alert for this range: outside `[start, end]` (endpoints
    /// inclusive), or inside it for an `@` range.
    ///
    /// A NaN value is inside no range, so it alerts for a plain range and not for an `@` one;
    /// [`status`](super::status) reports NaN as [`Status::Unknown`](super::Status::Unknown)
    /// before consulting any range.
    pub fn alerts(&self, value: f64) -> bool {
        let within = self.start <= value && value <= self.end;
        within == self.inside
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::float_cmp, clippy::unreadable_literal)]
mod test {
    use proptest::prelude::*;
    use proptest::{collection, sample};

    use super::*;
    use crate::nagios::strategy::{INF, end_text, number, r, range_value, start_text};

    fn range(start: f64, end: f64, inside: bool) -> Range {
        Range { start, end, inside }
    }

    fn rejected(s: &str) -> &'static str {
        match s.parse::<Range>() {
            Ok(range) => panic!("{s:?} accepted as {range:?}"),
            Err(e) => {
                assert_eq!(e.text, s);
                e.reason
            }
        }
    }

    // ---- lib/tests/test_utils.c ----

    #[test]
    fn test_utils_six() {
        assert_eq!(r("6"), range(0.0, 6.0, false));
    }

    #[test]
    fn test_utils_percent_suffix_ignored() {
        assert_eq!(r("1:12%"), range(1.0, 12.0, false));
    }

    #[test]
    fn test_utils_negative_start() {
        assert_eq!(r("-7:23"), range(-7.0, 23.0, false));
    }

    #[test]
    fn test_utils_empty_start() {
        assert_eq!(r(":5.75"), range(0.0, 5.75, false));
    }

    #[test]
    fn test_utils_negative_infinity_negative_end() {
        assert_eq!(r("~:-95.99"), range(-INF, -95.99, false));
    }

    #[test]
    fn test_utils_huge_start() {
        let huge = r("12345678901234567890:");
        let temp: f64 = "12345678901234567890".parse().unwrap();
        assert_eq!(huge, range(temp, INF, false));
        assert!(huge.alerts(temp / 1.1));
        assert!(!huge.alerts(temp));
        assert!(!huge.alerts(temp * 2.0));
    }

    #[test]
    fn test_utils_tilde_zero() {
        let tilde = r("~:0");
        assert_eq!(tilde, range(-INF, 0.0, false));
        assert!(tilde.alerts(0.5));
        assert!(!tilde.alerts(-10.0));
        assert!(!tilde.alerts(0.0));
    }

    #[test]
    fn test_utils_inside() {
        let inside = r("@0:657.8210567");
        assert_eq!(inside, range(0.0, 657.8210567, true));
        assert!(inside.alerts(32.88));
        assert!(!inside.alerts(-2.0));
        assert!(inside.alerts(657.8210567));
        assert!(inside.alerts(0.0));
    }

    #[test]
    fn test_utils_one_one() {
        let one = r("1:1");
        assert_eq!(one, range(1.0, 1.0, false));
        assert!(one.alerts(0.5));
        assert!(!one.alerts(1.0));
        assert!(one.alerts(5.2));
    }

    #[test]
    fn test_utils_two_one_rejected() {
        assert_eq!(rejected("2:1"), "start is greater than end");
    }

    // ---- the five guideline forms ----

    #[test]
    fn guideline_forms() {
        let ten = r("10");
        assert_eq!(ten, range(0.0, 10.0, false));
        assert!(ten.alerts(-0.1) && ten.alerts(10.1));
        assert!(!ten.alerts(0.0) && !ten.alerts(10.0) && !ten.alerts(5.0));

        let from = r("10:");
        assert_eq!(from, range(10.0, INF, false));
        assert!(from.alerts(9.99) && !from.alerts(10.0) && !from.alerts(1e300));

        let to = r("~:10");
        assert_eq!(to, range(-INF, 10.0, false));
        assert!(to.alerts(10.01) && !to.alerts(10.0) && !to.alerts(-1e300));

        let between = r("10:20");
        assert_eq!(between, range(10.0, 20.0, false));
        assert!(between.alerts(9.0) && between.alerts(21.0));
        assert!(!between.alerts(10.0) && !between.alerts(20.0) && !between.alerts(15.0));

        let inside = r("@10:20");
        assert_eq!(inside, range(10.0, 20.0, true));
        assert!(inside.alerts(10.0) && inside.alerts(20.0) && inside.alerts(15.0));
        assert!(!inside.alerts(9.99) && !inside.alerts(20.01));
    }

    #[test]
    fn other_accepted_forms() {
        assert_eq!(r("~:"), range(-INF, INF, false));
        assert!(!r("~:").alerts(-1e308) && r("@~:").alerts(0.0));
        assert_eq!(r("@5"), range(0.0, 5.0, true));
        assert_eq!(r("@:5"), range(0.0, 5.0, true));
        assert_eq!(r("@~:5"), range(-INF, 5.0, true));
        assert_eq!(r("@5:"), range(5.0, INF, true));
        assert_eq!(r("+1.5e1:.5e2"), range(15.0, 50.0, false));
        assert_eq!(r("-1E1:5."), range(-10.0, 5.0, false));
        assert_eq!(r("500ms"), range(0.0, 500.0, false));
        assert_eq!(r("10%:20%"), range(10.0, 20.0, false));
        assert_eq!(r("1GB:2TB"), range(1.0, 2.0, false));
        assert_eq!(r("0"), range(0.0, 0.0, false));
        assert_eq!(r("-5:-5"), range(-5.0, -5.0, false));
    }

    #[test]
    fn rejected_forms() {
        assert_eq!(rejected(""), "empty range");
        assert_eq!(rejected("@"), "expected a number");
        assert_eq!(rejected(":"), "expected a number");
        assert_eq!(rejected("@:"), "expected a number");
        assert_eq!(rejected("~"), "expected a number");
        assert_eq!(rejected("abc"), "expected a number");
        assert_eq!(rejected("10abc"), "unexpected characters after a number");
        assert_eq!(rejected("10:abc"), "expected a number");
        assert_eq!(rejected("1:2:3"), "more than one ':'");
        assert_eq!(rejected("::"), "more than one ':'");
        assert_eq!(rejected("~10"), "expected a number");
        assert_eq!(rejected("10~"), "unexpected characters after a number");
        assert_eq!(rejected("5:~"), "expected a number");
        assert_eq!(rejected("@@5"), "expected a number");
        assert_eq!(rejected("--5"), "expected a number");
        assert_eq!(rejected("1.2.3"), "unexpected characters after a number");
        assert_eq!(rejected("1,5"), "unexpected characters after a number");
        assert_eq!(rejected("."), "expected a number");
        assert_eq!(rejected("1e"), "unexpected characters after a number");
        assert_eq!(rejected("NaN"), "expected a number");
        assert_eq!(rejected("nan:5"), "expected a number");
        assert_eq!(rejected("inf"), "expected a number");
        assert_eq!(rejected("1:infinity"), "expected a number");
        assert_eq!(rejected("1inf"), "unexpected characters after a number");
        assert_eq!(rejected("1e400"), "number out of range");
        assert_eq!(rejected(" 10"), "whitespace is not allowed");
        assert_eq!(rejected("1 0"), "whitespace is not allowed");
        assert_eq!(rejected("10\n"), "whitespace is not allowed");
        assert_eq!(rejected("-5"), "start is greater than end");
        assert_eq!(rejected("@20:10"), "start is greater than end");
        assert_eq!(rejected("10%%"), "unexpected characters after a number");
        assert_eq!(rejected("µ5"), "expected a number");
        assert_eq!(rejected("5µs"), "unexpected characters after a number");
    }

    #[test]
    fn error_display() {
        let e = "2:1".parse::<Range>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid range \"2:1\": start is greater than end"
        );
        let boxed: Box<dyn std::error::Error> = Box::new(e);
        assert!(boxed.source().is_none());
    }

    #[test]
    fn display_canonical() {
        for (text, canonical) in [
            ("10", "10"),
            ("10:", "10:"),
            ("~:10", "~:10"),
            ("10:20", "10:20"),
            ("@10:20", "@10:20"),
            ("0:10", "10"),
            (":5.75", "5.75"),
            ("0:", "0:"),
            ("~:", "~:"),
            ("@~:", "@~:"),
            ("1:12%", "1:12"),
            ("-7:23", "-7:23"),
            ("~:-95.99", "~:-95.99"),
            ("@0:657.8210567", "@657.8210567"),
            ("1e3:2e3", "1000:2000"),
            ("12345678901234567890:", "12345678901234567000:"),
            ("1e21", "1e21"),
            ("0.0000001:1", "1e-7:1"),
            ("0.000001:1", "0.000001:1"),
        ] {
            let range = r(text);
            assert_eq!(range.to_string(), canonical, "{text}");
            assert_eq!(r(canonical), range, "{text}");
        }
    }

    // ---- properties ----

    /// Every reason `Range::from_str` gives.
    const REASONS: [&str; 8] = [
        "empty range",
        "whitespace is not allowed",
        "expected a number",
        "unexpected characters after a number",
        "invalid number",
        "number out of range",
        "more than one ':'",
        "start is greater than end",
    ];

    /// What must hold for any input: no panic; an accepted range is ordered, has no NaN and
    /// its Display is canonical (parses back to it and formats the same again); a rejection
    /// names the text and one of the known reasons.
    fn check_any_text(text: &str) -> Result<(), TestCaseError> {
        match text.parse::<Range>() {
            Ok(range) => {
                prop_assert!(range.start <= range.end, "{:?}", text);
                prop_assert!(!range.start.is_nan() && !range.end.is_nan(), "{:?}", text);
                let canonical = range.to_string();
                prop_assert_eq!(r(&canonical), range, "{:?}", text);
                prop_assert_eq!(r(&canonical).to_string(), canonical, "{:?}", text);
            }
            Err(e) => {
                prop_assert_eq!(&e.text, text);
                prop_assert!(REASONS.contains(&e.reason), "{:?}: {}", text, e.reason);
            }
        }
        Ok(())
    }

    /// Pieces of range texts, valid and not, for inputs near the grammar.
    const TOKENS: [&str; 27] = [
        "@", "~", ":", "-", "+", ".", "e", "E", "0", "1", "9", "12.5", "1e3", "%", "s", "ms", "KB",
        "c", " ", "\t", "\n", "µ", "x", "inf", "NaN", "1e400", ",",
    ];

    proptest! {
        // 20 000 ranges and 50 000 strings, as many as the hand-written generator drew.
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        /// Any valid range formats to a text that parses back to the same range, formats the
        /// same again and alerts for the same values.
        #[test]
        fn display_round_trip_property(range in range_value(), probe in number()) {
            let text = range.to_string();
            let back: Range = text
                .parse()
                .map_err(|e| TestCaseError::fail(format!("{range:?} -> {text}: {e}")))?;
            prop_assert_eq!(back, range, "{}", text);
            prop_assert_eq!(&back.to_string(), &text);
            let (start, end) = (range.start, range.end);
            for value in [start, end, 0.0, -1.0, 1.0, start.midpoint(end), probe] {
                prop_assert_eq!(back.alerts(value), range.alerts(value), "{} at {}", text, value);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(50_000))]

        /// Arbitrary input over the characters of range texts (those the hand-written
        /// generator drew from) never panics, and what is accepted is canonical.
        #[test]
        fn no_panic_on_arbitrary_input(text in "[0-9.:@~+eE%smBKc \tµx-]{0,8}") {
            check_any_text(&text)?;
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5_000))]

        /// A text assembled from the grammar's parts parses to exactly the range its parts
        /// describe, or is rejected for the one reason that applies; an accepted text's
        /// Display parses back to the same range.
        #[test]
        fn well_formed_text_parses_to_its_parts(
            inside in any::<bool>(),
            start in start_text(),
            (end_text, end) in end_text(),
        ) {
            let at = if inside { "@" } else { "" };
            let text = match &start {
                None => format!("{at}{end_text}"),
                Some((start_text, _)) => format!("{at}{start_text}:{end_text}"),
            };
            let start_value = start.as_ref().map_or(0.0, |(_, value)| *value);
            let empty = start.as_ref().is_none_or(|(text, _)| text.is_empty())
                && end_text.is_empty();
            // Only a number that overflows is infinite, apart from `~` and an empty end.
            let overflow = start.as_ref().is_some_and(|(t, v)| t != "~" && v.is_infinite())
                || (!end_text.is_empty() && end.is_infinite());
            let expected = if text.is_empty() {
                Err("empty range")
            } else if empty {
                Err("expected a number")
            } else if overflow {
                Err("number out of range")
            } else if start_value > end {
                Err("start is greater than end")
            } else {
                Ok(range(start_value, end, inside))
            };
            let parsed = text.parse::<Range>().map_err(|e| e.reason);
            prop_assert_eq!(parsed, expected, "{:?}", text);
            check_any_text(&text)?;
        }

        /// Pieces of range texts, valid and not, joined in any order never panic.
        #[test]
        fn no_panic_on_range_pieces(
            pieces in collection::vec(sample::select(TOKENS.to_vec()), 0..8),
        ) {
            check_any_text(&pieces.concat())?;
        }

        /// Endpoints are inclusive and exact: a plain range does not alert at its endpoints
        /// and alerts just beyond a finite one; `@` alerts exactly where the plain range does
        /// not, for every value but NaN.
        #[test]
        fn endpoints_inclusive_and_at_inverts(range in range_value(), value in number()) {
            let plain = Range { inside: false, ..range };
            let at = Range { inside: true, ..range };
            prop_assert!(!plain.alerts(range.start) && !plain.alerts(range.end));
            if range.start.is_finite() {
                prop_assert!(plain.alerts(range.start.next_down()));
            }
            if range.end.is_finite() {
                prop_assert!(plain.alerts(range.end.next_up()));
            }
            for v in [value, range.start, range.end, range.start.next_down(), range.end.next_up()] {
                prop_assert_ne!(plain.alerts(v), at.alerts(v), "{:?} at {}", range, v);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1_000))]

        /// Any string at all never panics.
        #[test]
        fn no_panic_on_any_string(text in any::<String>()) {
            check_any_text(&text)?;
        }

        /// A hand-built range, even a nonsensical one (NaN, reversed, infinite endpoints),
        /// formats and answers `alerts` without panicking.
        #[test]
        fn hand_built_ranges_never_panic(
            start in any::<f64>(),
            end in any::<f64>(),
            inside in any::<bool>(),
            value in any::<f64>(),
        ) {
            let range = range(start, end, inside);
            let _ = range.to_string();
            let _ = range.alerts(value);
        }
    }

    #[test]
    fn no_panic_on_odd_hand_built_range() {
        // Values a caller can build by hand still format without panicking.
        let odd = Range {
            start: f64::NAN,
            end: -INF,
            inside: true,
        };
        let _ = odd.to_string();
        let _ = odd.alerts(1.0);
    }
}
