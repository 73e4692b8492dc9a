//! Performance data and the one-line plugin output.

use std::fmt;

use super::range::fmt_number;
use super::{Range, Status};

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
    use proptest::prelude::*;
    use proptest::{collection, option};

    use super::*;
    use crate::nagios::strategy::{INF, number, r, range_value};

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

    // ---- properties ----

    /// A value as a caller may pass it: mostly finite, sometimes NaN or infinite.
    fn any_value() -> impl Strategy<Value = f64> {
        prop_oneof![4 => number(), 1 => Just(f64::NAN), 1 => Just(INF), 1 => Just(-INF)]
    }

    /// Text for labels, services and messages: plain, full of the characters that matter to
    /// the output (separators, quotes, line breaks and other control characters), or any.
    fn some_text() -> impl Strategy<Value = String> {
        prop_oneof![
            2 => "[a-z_/]{0,12}",
            2 => "[a-z |:;'=%.\t\n\r\x0b\x0c\x00\x7f\u{85}\u{a0}\u{2028}]{0,16}",
            1 => any::<String>(),
        ]
    }

    fn perf_data() -> impl Strategy<Value = PerfData> {
        let uom = prop_oneof!["|%|s|ms|us|B|KB|MB|GB|TB|c", some_text()];
        let ranges = (option::of(range_value()), option::of(range_value()));
        let limits = (option::of(any_value()), option::of(any_value()));
        (some_text(), any_value(), uom, ranges, limits).prop_map(
            |(label, value, uom, (warning, critical), (min, max))| PerfData {
                label,
                value,
                uom,
                warning,
                critical,
                min,
                max,
            },
        )
    }

    /// Reads a perfdata item back as a consumer does: a label (quoted with `''` for `'`, or up
    /// to the first `=`), `=`, the value (`U` when unknown) and unit, then the `;` fields.
    fn read_perf(text: &str) -> Option<(String, Option<f64>, &str, Vec<&str>)> {
        let (label, rest) = if let Some(quoted) = text.strip_prefix('\'') {
            let mut label = String::new();
            let mut chars = quoted.char_indices();
            loop {
                let (i, c) = chars.next()?;
                if c != '\'' {
                    label.push(c);
                } else if quoted[i + 1..].starts_with('\'') {
                    label.push('\'');
                    chars.next();
                } else {
                    break (label, &quoted[i + 1..]);
                }
            }
        } else {
            let i = text.find('=')?;
            (text[..i].to_owned(), &text[i..])
        };
        let mut fields = rest.strip_prefix('=')?.split(';');
        let first = fields.next()?;
        let (value, uom) = if let Some(uom) = first.strip_prefix('U') {
            (None, uom)
        } else {
            // The value is written `-?digits[.digits][e-?digits]`; the unit has no digit, `.`
            // or `-`, so it starts at the first other character, save an exponent's `e`.
            let b = first.as_bytes();
            let mut len = 0;
            while let Some(&c) = b.get(len) {
                let exponent = c == b'e' && matches!(b.get(len + 1), Some(b'0'..=b'9' | b'-'));
                if !(c.is_ascii_digit() || c == b'.' || c == b'-' || exponent) {
                    break;
                }
                len += 1;
            }
            (Some(first[..len].parse().ok()?), &first[len..])
        };
        Some((label, value, uom, fields.collect()))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// Every perfdata item reads back to what was given: the label (control characters as
        /// spaces), a finite value exactly (else `U`), the unit without the characters that
        /// would change the parse, the ranges, and the finite limits, with no trailing `;`.
        #[test]
        fn perfdata_reads_back(p in perf_data()) {
            let text = p.to_string();
            let (label, value, uom, fields) = read_perf(&text)
                .ok_or_else(|| TestCaseError::fail(format!("unreadable {text:?}")))?;
            let clean: String =
                p.label.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
            prop_assert_eq!(label, clean, "{:?}", text);
            prop_assert_eq!(value, Some(p.value).filter(|v| v.is_finite()), "{:?}", text);
            let unsafe_char = |c: char| {
                c.is_ascii_digit() || c.is_whitespace() || c.is_control() || ".-;'=|".contains(c)
            };
            let kept: String = p.uom.chars().filter(|&c| !unsafe_char(c)).collect();
            prop_assert_eq!(uom, kept, "{:?}", text);
            let finite = |v: Option<f64>| v.filter(|v| v.is_finite());
            let mut expected = vec![
                p.warning.map(|w| w.to_string()),
                p.critical.map(|c| c.to_string()),
                finite(p.min).map(|v| v.to_string()),
                finite(p.max).map(|v| v.to_string()),
            ];
            while expected.last() == Some(&None) {
                expected.pop();
            }
            prop_assert_eq!(fields.len(), expected.len(), "{:?}", text);
            for (i, (field, want)) in fields.iter().zip(&expected).enumerate() {
                let field = *field;
                match (i, want) {
                    (_, None) => prop_assert_eq!(field, "", "{:?}", text),
                    (0, Some(_)) => prop_assert_eq!(Some(r(field)), p.warning, "{:?}", text),
                    (1, Some(_)) => prop_assert_eq!(Some(r(field)), p.critical, "{:?}", text),
                    (2, Some(_)) => prop_assert_eq!(field.parse().ok(), finite(p.min), "{}", text),
                    (_, Some(_)) => prop_assert_eq!(field.parse().ok(), finite(p.max), "{}", text),
                }
            }
        }

    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1_000))]

        /// The output is one line without control characters; `|` appears only where the
        /// performance data start, and they are the items joined by spaces after ` | `.
        #[test]
        fn check_result_is_one_line(
            service in prop_oneof!["[A-Z]{0,4}", some_text()],
            status in prop_oneof![
                Just(Status::Ok),
                Just(Status::Warning),
                Just(Status::Critical),
                Just(Status::Unknown),
            ],
            text in some_text(),
            perfdata in collection::vec(perf_data(), 0..4),
        ) {
            let mut result = CheckResult { service, status, text, perfdata: Vec::new() };
            let head = result.to_string();
            prop_assert!(!head.contains('|'), "{:?}", head);
            prop_assert!(head.contains(status.label()), "{:?}", head);
            let items: Vec<String> = perfdata.iter().map(ToString::to_string).collect();
            result.perfdata = perfdata;
            let line = result.to_string();
            prop_assert!(!line.chars().any(char::is_control), "{:?}", line);
            if items.is_empty() {
                prop_assert_eq!(line, head);
            } else {
                prop_assert_eq!(line, format!("{head} | {}", items.join(" ")));
            }
        }
    }
}
