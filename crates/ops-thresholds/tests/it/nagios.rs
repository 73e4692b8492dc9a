//! Nagios check mode against the reference: every (warning, critical, value) case is evaluated
//! by `ops_thresholds::nagios` and by Perl's `Monitoring::Plugin::Threshold` (through
//! `tests/nagios_oracle.pl`), and the statuses must be equal.
//!
//! Cases the guideline and `Monitoring::Plugin` 0.40 treat differently are handled as documented
//! in `src/nagios.rs` (`Range`):
//! * a unit suffix (`1:12%`, `500ms`) and an upper-case exponent (`1E2`) are accepted by us (and
//!   by the guideline's C library); `Monitoring::Plugin` rejects them, so for these cases the
//!   oracle may answer `error` instead of our status;
//! * whitespace inside a range, malformed numbers such as `1.2.3`, overflowing numbers (`1e400`)
//!   and NaN values are accepted by `Monitoring::Plugin` but not by us (or, for NaN, reported
//!   `Unknown` by us): they are left out of the table.

use std::fmt::Write as _;
use std::process::Command;

use ops_testkit::tools;
use ops_thresholds::nagios::{Range, status};

/// The Perl oracle script.
const ORACLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/nagios_oracle.pl");

/// The seeded generator, with the number helpers these cases need.
struct Lcg(ops_testkit::rng::Lcg);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0.below(n)
    }

    /// A number in `0..n` as `i64`.
    fn int(&mut self, n: u64) -> i64 {
        i64::try_from(self.below(n)).unwrap_or(0)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.0.chance(percent)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        self.0.pick::<&str>(items)
    }
}

/// A number in thousandths, so that distinct generated numbers differ by far more than any
/// rounding of their decimal text.
type Milli = i64;

/// Canonical decimal text of a number in thousandths: `-12.5`, `7`, `0.001`.
fn decimal(m: Milli) -> String {
    let sign = if m < 0 { "-" } else { "" };
    let abs = m.unsigned_abs();
    let (int, frac) = (abs / 1000, abs % 1000);
    if frac == 0 {
        format!("{sign}{int}")
    } else {
        let frac = format!("{frac:03}");
        format!("{sign}{int}.{}", frac.trim_end_matches('0'))
    }
}

/// A random endpoint, in thousandths.
fn endpoint(rng: &mut Lcg) -> Milli {
    match rng.below(6) {
        0 => (rng.int(121) - 20) * 1000,
        1 => rng.int(200_001) - 100_000,
        2 => rng.int(1_000_001),
        3 => rng.int(10) * 250,
        4 => -rng.int(50_001),
        _ => rng.int(1_000_000) * 1_000_000,
    }
}

/// The text of an endpoint: usually canonical, sometimes in another spelling both parsers read
/// the same way (`+5`, `5.`, `5.000`, `.5`, `5e0`, `500e-2`).
fn spell(rng: &mut Lcg, m: Milli) -> String {
    let canonical = decimal(m);
    match rng.below(12) {
        0 if m >= 0 => format!("+{canonical}"),
        1 if m % 1000 == 0 => format!("{canonical}."),
        2 => format!("{canonical}{}", if m % 1000 == 0 { ".000" } else { "0" }),
        3 if m > 0 && m < 1000 => canonical.trim_start_matches('0').to_owned(),
        4 => format!("{canonical}e0"),
        5 if m % 10 == 0 => format!("{}e-2", m / 10),
        6 if m % 1000 == 0 && m != 0 => format!("{}e+3", decimal(m / 1000)),
        _ => canonical,
    }
}

/// One generated range text, the texts of its finite endpoints (for values exactly on them),
/// and whether it uses a form only the guideline accepts.
struct GenRange {
    text: String,
    endpoints: Vec<(Milli, String)>,
    divergent: bool,
}

/// Texts both we and `Monitoring::Plugin` reject.
const GARBAGE: &[&str] = &[
    ":", "@", "@:", "~", "@~", "abc", "1:2:3", "::", "10~", "~10", "5:~", "--5", "@@5", ".", "1e",
    "nan", "inf", "NaN:5", "1,5", "5:x", "x5", "1:e2", "~~:1",
];

fn gen_range(rng: &mut Lcg) -> GenRange {
    let inside = if rng.chance(30) { "@" } else { "" };
    let a = endpoint(rng);
    let b = endpoint(rng);
    // Mostly start <= end, sometimes reversed (rejected by both).
    let (s, e) = if a <= b || rng.chance(15) {
        (a, b)
    } else {
        (b, a)
    };
    let (st, et) = (spell(rng, s), spell(rng, e));
    let mut endpoints = Vec::new();
    let mut divergent = false;
    let text = match rng.below(13) {
        0 => {
            endpoints.push((e, et.clone()));
            format!("{inside}{et}")
        }
        1 => {
            endpoints.push((s, st.clone()));
            format!("{inside}{st}:")
        }
        2 => {
            endpoints.push((e, et.clone()));
            format!("{inside}~:{et}")
        }
        3..=5 => {
            endpoints.push((s, st.clone()));
            endpoints.push((e, et.clone()));
            format!("{inside}{st}:{et}")
        }
        6 => {
            endpoints.push((e, et.clone()));
            format!("{inside}:{et}")
        }
        7 => format!("{inside}~:"),
        8 => {
            endpoints.push((s, st.clone()));
            format!("{inside}{st}:{st}")
        }
        9 => {
            endpoints.push((0, "0".to_owned()));
            endpoints.push((e, et.clone()));
            format!("{inside}0:{et}")
        }
        10 => rng.pick(GARBAGE).to_owned(),
        11 => {
            // A unit suffix: the guideline (strtod) ignores it, Monitoring::Plugin rejects it.
            divergent = true;
            let unit = rng.pick(&["%", "s", "ms", "B", "KB", "c"]);
            endpoints.push((s, st.clone()));
            endpoints.push((e, et.clone()));
            if rng.chance(50) {
                format!("{inside}{st}:{et}{unit}")
            } else {
                format!("{inside}{st}{unit}:{et}")
            }
        }
        _ => {
            // An upper-case exponent: strtod and Rust read it, Monitoring::Plugin does not.
            divergent = true;
            endpoints.push((e, et.clone()));
            format!("{inside}~:{}E0", decimal(e))
        }
    };
    GenRange {
        text,
        endpoints,
        divergent,
    }
}

/// One line for the oracle.
struct Case {
    warning: String,
    critical: String,
    value: String,
    /// Uses a form we accept and `Monitoring::Plugin` may reject.
    divergent: bool,
}

fn fixed_cases() -> Vec<Case> {
    // Results verified by hand with Monitoring::Plugin 0.40 (research notes) and the vectors of
    // monitoring-plugins lib/tests/test_utils.c.
    let table: &[(&str, &str, &str)] = &[
        ("80", "90", "79.9"),
        ("80", "90", "80"),
        ("80", "90", "80.01"),
        ("80", "90", "95"),
        ("80", "90", "-1"),
        ("10:", "5:", "7"),
        ("~:10", "~:20", "10"),
        ("@10:20", "", "15"),
        ("@10:20", "", "21"),
        ("@10:20", "", "10"),
        ("@10:20", "", "20"),
        ("30", "60", "15.3"),
        ("30", "60", "30.0001"),
        ("30", "60", "69"),
        ("", "80", "80"),
        ("5:33", "", "4.999"),
        ("6", "", "6"),
        ("6", "", "6.000001"),
        ("-7:23", "", "-7"),
        ("-7:23", "", "-7.001"),
        (":5.75", "", "5.75"),
        (":5.75", "", "-0.01"),
        ("~:-95.99", "", "-95.99"),
        ("~:-95.99", "", "-95.98"),
        ("12345678901234567890:", "", "12345678901234567890"),
        ("12345678901234567890:", "", "11223344455667788990"),
        ("", "~:0", "0.5"),
        ("", "~:0", "-10"),
        ("", "~:0", "0"),
        ("", "@0:657.8210567", "32.88"),
        ("", "@0:657.8210567", "-2"),
        ("", "@0:657.8210567", "657.8210567"),
        ("", "@0:657.8210567", "0"),
        ("1:1", "", "0.5"),
        ("1:1", "", "1"),
        ("1:1", "", "5.2"),
        ("2:1", "", "1"),
        ("", "2:1", "1"),
        ("", "", "1"),
        ("~:", "", "-1e300"),
        ("@~:", "", "0"),
        ("0:", "", "-0.001"),
        ("-5", "", "0"),
        ("10", "@5", "5"),
        ("10", "@5", "-0"),
    ];
    table
        .iter()
        .map(|&(w, c, v)| Case {
            warning: w.to_owned(),
            critical: c.to_owned(),
            value: v.to_owned(),
            divergent: false,
        })
        .collect()
}

/// Several hundred generated cases mixing every range form.
fn generated_cases() -> Vec<Case> {
    let mut rng = Lcg(ops_testkit::rng::Lcg::new(0x0b5e_55ed_2026));
    let mut cases = Vec::new();
    for _ in 0..700 {
        let warning = if rng.chance(15) {
            None
        } else {
            Some(gen_range(&mut rng))
        };
        let critical = if rng.chance(15) {
            None
        } else {
            Some(gen_range(&mut rng))
        };
        let endpoints: Vec<(Milli, String)> = warning
            .iter()
            .chain(critical.iter())
            .flat_map(|r| r.endpoints.iter().cloned())
            .collect();
        let value = if !endpoints.is_empty() && rng.chance(60) {
            let (m, text) = &endpoints[rng.below(endpoints.len() as u64) as usize];
            match rng.below(5) {
                // Exactly on the endpoint, written as the range wrote it (minus any unit).
                0 | 1 => text.clone(),
                2 => decimal(m + 1),
                3 => decimal(m - 1),
                _ => decimal(m + rng.int(2001) - 1000),
            }
        } else {
            match rng.below(4) {
                0 => "0".to_owned(),
                1 => decimal(rng.int(400_001) - 200_000),
                2 => decimal(rng.int(200_001) * 1000 - 100_000_000),
                _ => {
                    let m = endpoint(&mut rng);
                    spell(&mut rng, m)
                }
            }
        };
        let divergent = warning.as_ref().is_some_and(|r| r.divergent)
            || critical.as_ref().is_some_and(|r| r.divergent);
        cases.push(Case {
            warning: warning.map(|r| r.text).unwrap_or_default(),
            critical: critical.map(|r| r.text).unwrap_or_default(),
            value,
            divergent,
        });
    }
    cases
}

/// Parses an optional range; an empty text means "not set".
fn parse(text: &str) -> Result<Option<Range>, ()> {
    if text.is_empty() {
        Ok(None)
    } else {
        text.parse::<Range>().map(Some).map_err(|_| ())
    }
}

/// Our answer in the oracle's vocabulary: the status code, or `error`.
fn ours(case: &Case) -> String {
    match (parse(&case.warning), parse(&case.critical)) {
        (Ok(w), Ok(c)) => {
            let value: f64 = case
                .value
                .parse()
                .unwrap_or_else(|e| panic!("bad value {:?}: {e}", case.value));
            status(value, w.as_ref(), c.as_ref()).code().to_string()
        }
        _ => "error".to_owned(),
    }
}

/// Runs the oracle once over all cases and returns one answer per case.
fn run_oracle(cases: &[Case]) -> Vec<String> {
    let mut input = String::new();
    for c in cases {
        writeln!(input, "{}\t{}\t{}", c.warning, c.critical, c.value).unwrap();
    }
    let output = tools::pipe(Command::new("perl").arg(ORACLE), input.as_bytes());
    assert!(
        output.status.success(),
        "oracle failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let answers: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(answers.len(), cases.len(), "one oracle answer per case");
    answers
}

#[test]
fn matches_monitoring_plugin() {
    let oracle = tools::runs("perl", &["-MMonitoring::Plugin::Threshold", "-e", "1"]);
    if !tools::available(
        "matches_monitoring_plugin",
        "perl with Monitoring::Plugin (Debian: libmonitoring-plugin-perl)",
        oracle,
    ) {
        return;
    }

    let mut cases = fixed_cases();
    cases.extend(generated_cases());
    // Our canonical Display form must mean the same to Monitoring::Plugin.
    let canonical: Vec<Case> = cases
        .iter()
        .filter_map(|c| {
            let w = parse(&c.warning).ok()?;
            let cr = parse(&c.critical).ok()?;
            let text = |r: Option<Range>| r.map(|r| r.to_string()).unwrap_or_default();
            Some(Case {
                warning: text(w),
                critical: text(cr),
                value: c.value.clone(),
                divergent: false,
            })
        })
        .collect();
    cases.extend(canonical);

    let answers = run_oracle(&cases);
    let mut mismatches = Vec::new();
    let (mut divergent, mut errors) = (0, 0);
    for (case, theirs) in cases.iter().zip(&answers) {
        let mine = ours(case);
        // For a divergent form Monitoring::Plugin may reject what we accept, nothing else.
        let documented = case.divergent && theirs == "error" && mine != "error";
        if documented {
            divergent += 1;
        }
        let agrees = *theirs == mine || documented;
        if mine == "error" {
            errors += 1;
        }
        if !agrees {
            mismatches.push(format!(
                "warning={:?} critical={:?} value={:?}: ours {mine}, Monitoring::Plugin {theirs}",
                case.warning, case.critical, case.value
            ));
        }
    }
    eprintln!(
        "matches_monitoring_plugin: {} cases, {errors} rejected by both, {divergent} documented \
         divergences (unit suffix / upper-case exponent), {} mismatches",
        cases.len(),
        mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} of {} cases differ from Monitoring::Plugin:\n{}",
        mismatches.len(),
        cases.len(),
        mismatches
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
