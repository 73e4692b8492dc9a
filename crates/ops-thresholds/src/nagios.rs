//! Nagios / Monitoring Plugins check mode: threshold ranges, exit statuses, performance data and
//! the one-line plugin output.
//!
//! This follows the Monitoring Plugins development guidelines
//! (<https://www.monitoring-plugins.org/doc/guidelines.html>) and the reference C implementation
//! (`parse_range_string`, `check_range` and `get_status` in `monitoring-plugins`
//! `lib/utils_base.c`):
//!
//! * A range is written `[@][start:][end]`, with inclusive endpoints. `10` means `0:10`, `10:`
//!   means `10` to +∞, `~:10` means −∞ to `10`, and `10:20` means `10` to `20`. An alert is
//!   raised when the value lies **outside** the range, or **inside** it when the range starts
//!   with `@`.
//! * A unit suffix after a number (`1:12%`, `500ms`) is ignored, as C's `strtod` does. Only the
//!   guideline's units are allowed (see [`Range`]), so that garbage such as `10abc` is still
//!   rejected.
//! * The critical range is checked before the warning range.
//!
//! The Perl module `Monitoring::Plugin::Range` differs from the guideline in a few corners; they
//! are listed on [`Range`].

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
fn fmt_number(f: &mut fmt::Formatter<'_>, value: f64) -> fmt::Result {
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
    /// [`status`] reports NaN as [`Status::Unknown`] before consulting any range.
    pub fn alerts(&self, value: f64) -> bool {
        let within = self.start <= value && value <= self.end;
        within == self.inside
    }
}

/// A plugin state, as the exit code tells Nagios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Exit code 0: the check ran and the service is fine.
    Ok,
    /// Exit code 1: a warning threshold was crossed.
    Warning,
    /// Exit code 2: a critical threshold was crossed.
    Critical,
    /// Exit code 3: the check could not decide (bad arguments, NaN value, internal failure).
    Unknown,
}

impl Status {
    /// The exit code: 0, 1, 2 or 3.
    pub fn code(self) -> i32 {
        match self {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Critical => 2,
            Status::Unknown => 3,
        }
    }

    /// The upper-case label used in the output line: `OK`, `WARNING`, `CRITICAL`, `UNKNOWN`.
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
            Status::Unknown => "UNKNOWN",
        }
    }

    /// The more severe of two states, for aggregating several checks into one result, ordered
    /// `Critical > Warning > Unknown > Ok`.
    ///
    /// This is Monitoring Plugins' `max_state_alt` (`lib/states.h`, also
    /// `Monitoring::Plugin::Functions::max_state_alt`), which their newer output API uses to
    /// combine subchecks. The older `max_state` ranks `Ok` above `Unknown`, which lets one good
    /// metric hide a metric that could not be checked; `max_state_alt` reports any non-OK state.
    /// The numeric exit codes do not follow this order (`Unknown` is 3).
    #[must_use]
    pub fn worst(self, other: Status) -> Status {
        fn rank(s: Status) -> u8 {
            match s {
                Status::Ok => 0,
                Status::Unknown => 1,
                Status::Warning => 2,
                Status::Critical => 3,
            }
        }
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

impl fmt::Display for Status {
    /// Writes [`Status::label`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The state of `value` against optional warning and critical ranges, as Monitoring Plugins'
/// `get_status`: `Critical` if the critical range alerts, else `Warning` if the warning range
/// alerts, else `Ok`. A NaN value is `Unknown`.
pub fn status(value: f64, warning: Option<&Range>, critical: Option<&Range>) -> Status {
    if value.is_nan() {
        Status::Unknown
    } else if critical.is_some_and(|r| r.alerts(value)) {
        Status::Critical
    } else if warning.is_some_and(|r| r.alerts(value)) {
        Status::Warning
    } else {
        Status::Ok
    }
}

/// One performance-data item, written `'label'=value[UOM];[warn];[crit];[min];[max]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PerfData {
    /// The label. Quoted in the output when it is empty or contains whitespace, `'` or `=`; a
    /// `'` inside is doubled. Control characters are written as spaces.
    pub label: String,
    /// The value; a non-finite value is written `U` (unknown).
    pub value: f64,
    /// Unit of measurement (`s`, `ms`, `us`, `%`, `B`, `KB`, `MB`, `TB`, `c` or empty).
    /// Characters that would change how the item parses (digits, `.`, `-`, `;`, `'`, `=`, `|`,
    /// whitespace, control characters) are left out of the output.
    pub uom: String,
    /// The warning range, if any.
    pub warning: Option<Range>,
    /// The critical range, if any.
    pub critical: Option<Range>,
    /// The minimum possible value, if any (a non-finite one is written as unset).
    pub min: Option<f64>,
    /// The maximum possible value, if any (a non-finite one is written as unset).
    pub max: Option<f64>,
}

/// Writes `label` as a perfdata label, quoting it when needed.
fn write_label(f: &mut fmt::Formatter<'_>, label: &str) -> fmt::Result {
    let clean: String = label
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let quote = clean.is_empty()
        || clean
            .chars()
            .any(|c| c.is_whitespace() || c == '\'' || c == '=');
    if quote {
        write!(f, "'{}'", clean.replace('\'', "''"))
    } else {
        f.write_str(&clean)
    }
}

impl fmt::Display for PerfData {
    /// Writes `'label'=value[UOM];warn;crit;min;max`, dropping trailing empty fields.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Num(f64);
        impl fmt::Display for Num {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt_number(f, self.0)
            }
        }
        let finite = |v: Option<f64>| v.filter(|v| v.is_finite()).map(|v| Num(v).to_string());
        let fields = [
            self.warning.map(|r| r.to_string()),
            self.critical.map(|r| r.to_string()),
            finite(self.min),
            finite(self.max),
        ];
        write_label(f, &self.label)?;
        f.write_str("=")?;
        if self.value.is_finite() {
            fmt_number(f, self.value)?;
        } else {
            f.write_str("U")?;
        }
        for c in self.uom.chars() {
            let unsafe_char = c.is_ascii_digit()
                || c.is_whitespace()
                || c.is_control()
                || matches!(c, '.' | '-' | ';' | '\'' | '=' | '|');
            if !unsafe_char {
                write!(f, "{c}")?;
            }
        }
        let used = fields
            .iter()
            .rposition(Option::is_some)
            .map_or(0, |i| i + 1);
        for field in &fields[..used] {
            f.write_str(";")?;
            if let Some(text) = field {
                f.write_str(text)?;
            }
        }
        Ok(())
    }
}

/// A whole check result: the exit status and the first output line.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckResult {
    /// Service name printed first, e.g. `OPS`.
    pub service: String,
    /// The state; its [`Status::code`] is the process exit code.
    pub status: Status,
    /// Human-readable information after `SERVICE STATUS: `.
    pub text: String,
    /// Performance data, printed after ` | `.
    pub perfdata: Vec<PerfData>,
}

/// Writes `text` on one line: line breaks and other control characters become spaces (`\r\n`
/// counts once), and `|`, which would start the performance data, becomes `/`.
fn write_one_line(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let out = match c {
            '\r' if chars.peek() == Some(&'\n') => continue,
            '|' => '/',
            c if c.is_control() => ' ',
            c => c,
        };
        write!(f, "{out}")?;
    }
    Ok(())
}

impl fmt::Display for CheckResult {
    /// Writes the one-line plugin output `SERVICE STATUS: text | perf1 perf2`; there is no
    /// ` | ` part without performance data, no `: text` part when `text` is empty and no
    /// leading `SERVICE ` when `service` is empty. Line breaks in `service` and `text` become
    /// spaces and a `|` in them becomes `/`, so Nagios reads exactly one line and the right
    /// performance data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.service.is_empty() {
            write_one_line(f, &self.service)?;
            f.write_str(" ")?;
        }
        f.write_str(self.status.label())?;
        if !self.text.is_empty() {
            f.write_str(": ")?;
            write_one_line(f, &self.text)?;
        }
        for (i, p) in self.perfdata.iter().enumerate() {
            f.write_str(if i == 0 { " | " } else { " " })?;
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::float_cmp, clippy::unreadable_literal)]
mod test {
    use super::*;

    fn r(s: &str) -> Range {
        s.parse().unwrap()
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

    const INF: f64 = f64::INFINITY;

    // ---- lib/tests/test_utils.c ----

    #[test]
    fn test_utils_six() {
        assert_eq!(
            r("6"),
            Range {
                start: 0.0,
                end: 6.0,
                inside: false
            }
        );
    }

    #[test]
    fn test_utils_percent_suffix_ignored() {
        assert_eq!(
            r("1:12%"),
            Range {
                start: 1.0,
                end: 12.0,
                inside: false
            }
        );
    }

    #[test]
    fn test_utils_negative_start() {
        assert_eq!(
            r("-7:23"),
            Range {
                start: -7.0,
                end: 23.0,
                inside: false
            }
        );
    }

    #[test]
    fn test_utils_empty_start() {
        assert_eq!(
            r(":5.75"),
            Range {
                start: 0.0,
                end: 5.75,
                inside: false
            }
        );
    }

    #[test]
    fn test_utils_negative_infinity_negative_end() {
        assert_eq!(
            r("~:-95.99"),
            Range {
                start: -INF,
                end: -95.99,
                inside: false
            }
        );
    }

    #[test]
    fn test_utils_huge_start() {
        let range = r("12345678901234567890:");
        let temp: f64 = "12345678901234567890".parse().unwrap();
        assert_eq!(
            range,
            Range {
                start: temp,
                end: INF,
                inside: false
            }
        );
        assert!(range.alerts(temp / 1.1));
        assert!(!range.alerts(temp));
        assert!(!range.alerts(temp * 2.0));
    }

    #[test]
    fn test_utils_tilde_zero() {
        let range = r("~:0");
        assert_eq!(
            range,
            Range {
                start: -INF,
                end: 0.0,
                inside: false
            }
        );
        assert!(range.alerts(0.5));
        assert!(!range.alerts(-10.0));
        assert!(!range.alerts(0.0));
    }

    #[test]
    fn test_utils_inside() {
        let range = r("@0:657.8210567");
        assert_eq!(
            range,
            Range {
                start: 0.0,
                end: 657.8210567,
                inside: true
            }
        );
        assert!(range.alerts(32.88));
        assert!(!range.alerts(-2.0));
        assert!(range.alerts(657.8210567));
        assert!(range.alerts(0.0));
    }

    #[test]
    fn test_utils_one_one() {
        let range = r("1:1");
        assert_eq!(
            range,
            Range {
                start: 1.0,
                end: 1.0,
                inside: false
            }
        );
        assert!(range.alerts(0.5));
        assert!(!range.alerts(1.0));
        assert!(range.alerts(5.2));
    }

    #[test]
    fn test_utils_two_one_rejected() {
        assert_eq!(rejected("2:1"), "start is greater than end");
    }

    #[test]
    fn test_utils_thresholds() {
        assert_eq!(status(1.0, None, None), Status::Ok);
        let critical = r("80");
        assert_eq!(critical.end, 80.0);
        assert_eq!(status(81.0, None, Some(&critical)), Status::Critical);
        let warning = r("5:33");
        assert_eq!((warning.start, warning.end), (5.0, 33.0));
        assert_eq!(status(34.0, Some(&warning), None), Status::Warning);
        let (w, c) = (r("30"), r("60"));
        assert_eq!(status(15.3, Some(&w), Some(&c)), Status::Ok);
        assert_eq!(status(30.0001, Some(&w), Some(&c)), Status::Warning);
        assert_eq!(status(69.0, Some(&w), Some(&c)), Status::Critical);
    }

    // ---- the five guideline forms ----

    #[test]
    fn guideline_forms() {
        let ten = r("10");
        assert_eq!(
            ten,
            Range {
                start: 0.0,
                end: 10.0,
                inside: false
            }
        );
        assert!(ten.alerts(-0.1) && ten.alerts(10.1));
        assert!(!ten.alerts(0.0) && !ten.alerts(10.0) && !ten.alerts(5.0));

        let from = r("10:");
        assert_eq!(
            from,
            Range {
                start: 10.0,
                end: INF,
                inside: false
            }
        );
        assert!(from.alerts(9.99) && !from.alerts(10.0) && !from.alerts(1e300));

        let to = r("~:10");
        assert_eq!(
            to,
            Range {
                start: -INF,
                end: 10.0,
                inside: false
            }
        );
        assert!(to.alerts(10.01) && !to.alerts(10.0) && !to.alerts(-1e300));

        let between = r("10:20");
        assert_eq!(
            between,
            Range {
                start: 10.0,
                end: 20.0,
                inside: false
            }
        );
        assert!(between.alerts(9.0) && between.alerts(21.0));
        assert!(!between.alerts(10.0) && !between.alerts(20.0) && !between.alerts(15.0));

        let inside = r("@10:20");
        assert_eq!(
            inside,
            Range {
                start: 10.0,
                end: 20.0,
                inside: true
            }
        );
        assert!(inside.alerts(10.0) && inside.alerts(20.0) && inside.alerts(15.0));
        assert!(!inside.alerts(9.99) && !inside.alerts(20.01));
    }

    #[test]
    fn other_accepted_forms() {
        assert_eq!(
            r("~:"),
            Range {
                start: -INF,
                end: INF,
                inside: false
            }
        );
        assert!(!r("~:").alerts(-1e308) && r("@~:").alerts(0.0));
        assert_eq!(
            r("@5"),
            Range {
                start: 0.0,
                end: 5.0,
                inside: true
            }
        );
        assert_eq!(
            r("@:5"),
            Range {
                start: 0.0,
                end: 5.0,
                inside: true
            }
        );
        assert_eq!(
            r("@~:5"),
            Range {
                start: -INF,
                end: 5.0,
                inside: true
            }
        );
        assert_eq!(
            r("@5:"),
            Range {
                start: 5.0,
                end: INF,
                inside: true
            }
        );
        assert_eq!(
            r("+1.5e1:.5e2"),
            Range {
                start: 15.0,
                end: 50.0,
                inside: false
            }
        );
        assert_eq!(
            r("-1E1:5."),
            Range {
                start: -10.0,
                end: 5.0,
                inside: false
            }
        );
        assert_eq!(
            r("500ms"),
            Range {
                start: 0.0,
                end: 500.0,
                inside: false
            }
        );
        assert_eq!(
            r("10%:20%"),
            Range {
                start: 10.0,
                end: 20.0,
                inside: false
            }
        );
        assert_eq!(
            r("1GB:2TB"),
            Range {
                start: 1.0,
                end: 2.0,
                inside: false
            }
        );
        assert_eq!(
            r("0"),
            Range {
                start: 0.0,
                end: 0.0,
                inside: false
            }
        );
        assert_eq!(
            r("-5:-5"),
            Range {
                start: -5.0,
                end: -5.0,
                inside: false
            }
        );
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

    #[test]
    fn critical_before_warning() {
        let warning = r("10");
        let critical = r("5");
        // 7 alerts only for critical; 11 alerts for both: critical wins.
        assert_eq!(
            status(7.0, Some(&warning), Some(&critical)),
            Status::Critical
        );
        assert_eq!(
            status(11.0, Some(&warning), Some(&critical)),
            Status::Critical
        );
        assert_eq!(status(3.0, Some(&warning), Some(&critical)), Status::Ok);
        // Monitoring::Plugin: w=10: c=5: at 7 is WARNING.
        assert_eq!(
            status(7.0, Some(&r("10:")), Some(&r("5:"))),
            Status::Warning
        );
        // w=80 c=90
        let (w, c) = (r("80"), r("90"));
        assert_eq!(status(79.9, Some(&w), Some(&c)), Status::Ok);
        assert_eq!(status(80.0, Some(&w), Some(&c)), Status::Ok);
        assert_eq!(status(80.01, Some(&w), Some(&c)), Status::Warning);
        assert_eq!(status(95.0, Some(&w), Some(&c)), Status::Critical);
        assert_eq!(status(-1.0, Some(&w), Some(&c)), Status::Critical);
        assert_eq!(status(10.0, Some(&r("~:10")), Some(&r("~:20"))), Status::Ok);
        assert_eq!(status(15.0, Some(&r("@10:20")), None), Status::Warning);
        assert_eq!(status(21.0, Some(&r("@10:20")), None), Status::Ok);
    }

    #[test]
    fn nan_is_unknown() {
        let range = r("10");
        assert_eq!(status(f64::NAN, None, None), Status::Unknown);
        assert_eq!(
            status(f64::NAN, Some(&range), Some(&range)),
            Status::Unknown
        );
        assert!(range.alerts(f64::NAN));
        assert!(!r("@10").alerts(f64::NAN));
        assert_eq!(status(INF, Some(&range), None), Status::Warning);
        assert_eq!(status(-INF, None, Some(&r("~:0"))), Status::Ok);
    }

    #[test]
    fn status_codes_labels_and_worst() {
        use Status::{Critical, Ok, Unknown, Warning};
        let all = [
            Status::Ok,
            Status::Warning,
            Status::Critical,
            Status::Unknown,
        ];
        let codes: Vec<i32> = all.iter().map(|s| s.code()).collect();
        assert_eq!(codes, [0, 1, 2, 3]);
        let labels: Vec<&str> = all.iter().map(|s| s.label()).collect();
        assert_eq!(labels, ["OK", "WARNING", "CRITICAL", "UNKNOWN"]);
        assert_eq!(Status::Warning.to_string(), "WARNING");
        let order = [Ok, Unknown, Warning, Critical];
        for (i, &a) in order.iter().enumerate() {
            for (j, &b) in order.iter().enumerate() {
                let expected = order[i.max(j)];
                assert_eq!(a.worst(b), expected, "{a:?} {b:?}");
            }
        }
        assert_eq!(Ok.worst(Unknown), Unknown);
        assert_eq!(Unknown.worst(Warning), Warning);
        assert_eq!(Critical.worst(Unknown), Critical);
    }

    fn perf(label: &str, value: f64, uom: &str) -> PerfData {
        PerfData {
            label: label.to_owned(),
            value,
            uom: uom.to_owned(),
            warning: None,
            critical: None,
            min: None,
            max: None,
        }
    }

    #[test]
    fn perfdata_quoting_and_fields() {
        let cpu = PerfData {
            warning: Some(r("80")),
            critical: Some(r("90")),
            min: Some(0.0),
            max: Some(100.0),
            ..perf("cpu usage", 93.5, "%")
        };
        assert_eq!(cpu.to_string(), "'cpu usage'=93.5%;80;90;0;100");
        assert_eq!(perf("it's", 1.0, "").to_string(), "'it''s'=1");
        assert_eq!(perf("a=b", 1.0, "").to_string(), "'a=b'=1");
        assert_eq!(perf("", 1.0, "").to_string(), "''=1");
        assert_eq!(perf("tab\there", 1.0, "").to_string(), "'tab here'=1");
        assert_eq!(perf("line\nbreak", 1.0, "").to_string(), "'line break'=1");
        assert_eq!(perf("/", 12.0, "GB").to_string(), "/=12GB");
        assert_eq!(perf("load1", 0.5, "").to_string(), "load1=0.5");
        let load = PerfData {
            min: Some(0.0),
            ..perf("load1", 0.5, "")
        };
        assert_eq!(load.to_string(), "load1=0.5;;;0");
        let procs = PerfData {
            warning: Some(r("1:2")),
            critical: Some(r("1:500")),
            min: Some(0.0),
            ..perf("procs", 80.0, "")
        };
        assert_eq!(procs.to_string(), "procs=80;1:2;1:500;0");
        let crit_only = PerfData {
            critical: Some(r("~:10")),
            ..perf("x", -3.25, "s")
        };
        assert_eq!(crit_only.to_string(), "x=-3.25s;;~:10");
        let max_only = PerfData {
            max: Some(50.0),
            ..perf("d", 1.0, "B")
        };
        assert_eq!(max_only.to_string(), "d=1B;;;;50");
        assert_eq!(perf("u", f64::NAN, "").to_string(), "u=U");
        assert_eq!(perf("u", INF, "").to_string(), "u=U");
        let odd = PerfData {
            min: Some(f64::NAN),
            max: Some(INF),
            ..perf("m", 1.0, "")
        };
        assert_eq!(odd.to_string(), "m=1");
        assert_eq!(
            perf("big", 14421065728.0, "B").to_string(),
            "big=14421065728B"
        );
        assert_eq!(perf("tiny", 0.000_000_15, "s").to_string(), "tiny=1.5e-7s");
        assert_eq!(perf("z", -0.0, "").to_string(), "z=-0");
        assert_eq!(perf("bad uom", 1.0, "m s;2|'").to_string(), "'bad uom'=1ms");
    }

    #[test]
    fn check_result_line() {
        let mut result = CheckResult {
            service: "OPS".to_owned(),
            status: Status::Critical,
            text: "cpu 93.5% > 90%".to_owned(),
            perfdata: vec![
                PerfData {
                    warning: Some(r("80")),
                    critical: Some(r("90")),
                    min: Some(0.0),
                    max: Some(100.0),
                    ..perf("cpu usage", 93.5, "%")
                },
                perf("load1", 0.5, ""),
            ],
        };
        assert_eq!(
            result.to_string(),
            "OPS CRITICAL: cpu 93.5% > 90% | 'cpu usage'=93.5%;80;90;0;100 load1=0.5"
        );
        result.perfdata.clear();
        result.status = Status::Ok;
        result.text = "all\nfine\r\nreally\rnow | ok".to_owned();
        assert_eq!(result.to_string(), "OPS OK: all fine really now / ok");
        result.text.clear();
        assert_eq!(result.to_string(), "OPS OK");
        result.service.clear();
        result.status = Status::Unknown;
        result.text = "bad".to_owned();
        assert_eq!(result.to_string(), "UNKNOWN: bad");
        assert!(!result.to_string().contains('\n'));
    }

    /// Deterministic generator (64-bit LCG, Knuth's MMIX constants).
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 11
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        fn number(&mut self) -> f64 {
            match self.below(8) {
                0 => 0.0,
                1 => (self.below(201) as f64) - 100.0,
                2 => (self.below(2_000_001) as f64 - 1_000_000.0) / 1000.0,
                3 => f64::from_bits(self.next() << 11 | self.next()),
                4 => (self.below(1000) as f64) * 10f64.powi(self.below(40) as i32 - 20),
                5 => -((self.below(1000) as f64) * 10f64.powi(self.below(40) as i32 - 20)),
                6 => (self.below(10_000) as f64) / 7.0,
                _ => 1.0 / ((self.below(1000) + 1) as f64),
            }
        }
    }

    #[test]
    fn display_round_trip_property() {
        let mut rng = Lcg(0x5eed_1234);
        let mut checked = 0;
        for _ in 0..20_000 {
            let a = rng.number();
            let b = rng.number();
            if !a.is_finite() || !b.is_finite() {
                continue;
            }
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            let range = match rng.below(6) {
                0 => Range {
                    start: 0.0,
                    end: hi.abs(),
                    inside: false,
                },
                1 => Range {
                    start: lo,
                    end: INF,
                    inside: false,
                },
                2 => Range {
                    start: -INF,
                    end: hi,
                    inside: false,
                },
                3 => Range {
                    start: -INF,
                    end: INF,
                    inside: false,
                },
                _ => Range {
                    start: lo,
                    end: hi,
                    inside: false,
                },
            };
            let range = Range {
                inside: rng.below(2) == 0,
                ..range
            };
            let text = range.to_string();
            let back: Range = text
                .parse()
                .unwrap_or_else(|e| panic!("{range:?} -> {text}: {e}"));
            assert_eq!(back, range, "{text}");
            assert_eq!(back.to_string(), text);
            for value in [a, b, lo, hi, 0.0, -1.0, 1.0, lo.midpoint(hi)] {
                assert_eq!(back.alerts(value), range.alerts(value));
            }
            checked += 1;
        }
        assert!(checked > 15_000);
    }

    #[test]
    fn no_panic_on_arbitrary_input() {
        let alphabet: Vec<char> = "0123456789.:@~-+eE%smBKc \tµx".chars().collect();
        let mut rng = Lcg(42);
        for _ in 0..50_000 {
            let len = rng.below(8) as usize;
            let text: String = (0..len)
                .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
                .collect();
            if let Ok(range) = text.parse::<Range>() {
                assert!(range.start <= range.end, "{text}");
                assert!(!range.start.is_nan() && !range.end.is_nan(), "{text}");
                assert_eq!(r(&range.to_string()), range, "{text}");
            }
        }
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
