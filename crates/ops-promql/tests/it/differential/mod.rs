//! The differential test: generated series and expressions go through ops-promql, and the
//! results become the expectations of a `promtool test rules` file that Prometheus 2.42 must
//! pass. Seeded: the same cases every run.
//!
//! Documented differences are proved here too: a result with NaN cannot be an expectation
//! (promtool compares with `==`), so such a case is checked as `(e) != bool (e)`, 1 exactly
//! where ops-promql had NaN; expressions ops-promql refuses with an evaluation error go to a
//! second file where promtool must report the same error.

mod generate;
mod order;
mod pow;

use std::fmt::Write as _;
use std::time::Duration;

use generate::{Mode, Rng, SeriesSpec};
use ops_core::exposition::{Encoder, MetricType};
use ops_promql::{EvalError, Expr, Labels, Sample, Store, is_stale_nan};

use super::at;

/// The seeds, the interval of each group and how its samples reach the store.
const GROUPS: [(u64, u64, Mode); 4] = [
    (11, 15, Mode::Pages),
    (23, 60, Mode::Append),
    (37, 30, Mode::Pages),
    (41, 15, Mode::Append),
];
const STEPS: usize = 48;
const EXPRESSIONS: usize = generate::TEMPLATES;
const TIMES_PER_EXPRESSION: usize = 8;

struct Case {
    expr: String,
    eval_s: u64,
    samples: Vec<Sample>,
}

struct ErrorCase {
    expr: String,
    eval_s: u64,
    fragment: &'static str,
}

#[derive(Default)]
struct Tally {
    cases: usize,
    samples: usize,
    nan_checked: usize,
    nan_skipped: usize,
    ties_skipped: usize,
    errors: usize,
}

fn store_for(specs: &[SeriesSpec], interval: u64, mode: Mode) -> Store {
    let mut store = Store::new(Duration::from_hours(24));
    let series: Vec<(Labels, Vec<Option<f64>>)> = specs
        .iter()
        .map(|s| (s.series.parse().unwrap(), s.expand()))
        .collect();
    match mode {
        Mode::Append => {
            for (labels, values) in &series {
                for (i, v) in values.iter().enumerate() {
                    if let Some(v) = v {
                        store
                            .append(labels, at((i as u64 * interval) as f64), *v)
                            .unwrap();
                    }
                }
            }
        }
        Mode::Pages => {
            for i in 0..STEPS {
                let mut page = String::new();
                let mut enc = Encoder::new(&mut page);
                let mut family = "";
                for (labels, values) in &series {
                    let Some(Some(v)) = values.get(i) else {
                        continue;
                    };
                    if is_stale_nan(*v) {
                        continue;
                    }
                    let name = labels.metric_name().unwrap();
                    if name != family {
                        enc.family(name, "generated", MetricType::Untyped);
                        family = name;
                    }
                    let pairs: Vec<(&str, &str)> =
                        labels.iter().filter(|(n, _)| *n != "__name__").collect();
                    enc.sample(name, &pairs, *v);
                }
                let stats = store.ingest(&page, at((i as u64 * interval) as f64));
                assert_eq!(
                    (stats.malformed_lines, stats.samples_rejected),
                    (0, 0),
                    "{page}"
                );
            }
        }
    }
    store
}

fn fragment(e: &EvalError) -> &'static str {
    match e {
        EvalError::DuplicateLabelset { .. } => {
            "vector cannot contain metrics with the same labelset"
        }
        EvalError::ManyToMany { .. } => "many-to-many matching not allowed",
        EvalError::ManyToOneImplicit => "many-to-one matching must be explicit",
        EvalError::GroupingNotUnique => "grouping labels must ensure unique matches",
        _ => "unexpected error",
    }
}

/// YAML single-quoted scalar.
fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn yaml_float(v: f64) -> String {
    if v == f64::INFINITY {
        ".inf".into()
    } else if v == f64::NEG_INFINITY {
        "-.inf".into()
    } else {
        format!("{v:?}")
    }
}

fn write_group(
    out: &mut String,
    interval: u64,
    specs: &[SeriesSpec],
    cases: &[Case],
    errors: &[ErrorCase],
) {
    let _ = writeln!(out, "  - interval: {interval}s\n    input_series:");
    for s in specs {
        let values = quoted(&s.values_text());
        list_item(out, 6, ("series", &quoted(&s.series)), ("values", &values));
    }
    let _ = writeln!(out, "    promql_expr_test:");
    for c in cases {
        let eval_time = format!("{}s", c.eval_s);
        list_item(
            out,
            6,
            ("expr", &quoted(&c.expr)),
            ("eval_time", &eval_time),
        );
        if c.samples.is_empty() {
            let _ = writeln!(out, "        exp_samples: []");
            continue;
        }
        let _ = writeln!(out, "        exp_samples:");
        for s in &c.samples {
            let labels = quoted(&s.labels.to_string());
            list_item(
                out,
                10,
                ("labels", &labels),
                ("value", &yaml_float(s.value)),
            );
        }
    }
    for e in errors {
        let eval_time = format!("{}s", e.eval_s);
        list_item(
            out,
            6,
            ("expr", &quoted(&e.expr)),
            ("eval_time", &eval_time),
        );
        let _ = writeln!(out, "        exp_samples: []");
    }
}

/// A YAML list item of two keys, `indent` spaces in: `- first: value`, then `  second: value`.
fn list_item(out: &mut String, indent: usize, first: (&str, &str), second: (&str, &str)) {
    let _ = writeln!(
        out,
        "{:indent$}- {}: {}\n{:indent$}  {}: {}",
        "", first.0, first.1, "", second.0, second.1
    );
}

/// Evaluates `text` at `t` into a case (or an error case), checking NaN results through
/// `(e) != bool (e)`.
fn classify(
    store: &Store,
    text: &str,
    t: u64,
    tally: &mut Tally,
    cases: &mut Vec<Case>,
    errors: &mut Vec<ErrorCase>,
) {
    if selection_tie(store, text, t) {
        tally.ties_skipped += 1;
        return;
    }
    let expr = Expr::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    let samples = match expr.eval(store, at(t as f64)) {
        Ok(v) => v.into_samples(),
        Err(e) => {
            tally.errors += 1;
            errors.push(ErrorCase {
                expr: text.to_owned(),
                eval_s: t,
                fragment: fragment(&e),
            });
            return;
        }
    };
    if !samples.iter().any(|s| s.value.is_nan()) {
        tally.cases += 1;
        tally.samples += samples.len();
        cases.push(Case {
            expr: text.to_owned(),
            eval_s: t,
            samples,
        });
        return;
    }
    // promtool cannot expect NaN: check where the NaNs are instead.
    let check = format!("({text}) != bool ({text})");
    let Ok(v) = Expr::parse(&check).unwrap().eval(store, at(t as f64)) else {
        tally.nan_skipped += 1;
        return;
    };
    let flags = v.into_samples();
    for s in &samples {
        let key = s.labels.without_metric_name();
        let flag = flags.iter().find(|f| f.labels == key).map(|f| f.value);
        assert_eq!(
            flag,
            Some(f64::from(u8::from(s.value.is_nan()))),
            "{check} at {t}s: {s:?}"
        );
    }
    tally.nan_checked += 1;
    tally.samples += flags.len();
    cases.push(Case {
        expr: check,
        eval_s: t,
        samples: flags,
    });
}

/// Whether `topk(k, e)`/`bottomk(k, e)` has to choose between equal values: Prometheus's
/// choice then follows series creation order, which promtool randomizes.
fn selection_tie(store: &Store, text: &str, t: u64) -> bool {
    let (rest, bottom) = match (text.strip_prefix("topk("), text.strip_prefix("bottomk(")) {
        (Some(rest), _) => (rest, false),
        (_, Some(rest)) => (rest, true),
        _ => return false,
    };
    let (k, inner) = rest.split_once(", ").unwrap();
    let k: usize = k.parse().unwrap();
    let inner = &inner[..inner.len() - 1];
    let Ok(v) = Expr::parse(inner).unwrap().eval(store, at(t as f64)) else {
        return false;
    };
    let mut values: Vec<f64> = v.into_samples().iter().map(|s| s.value).collect();
    if values.len() <= k {
        return false;
    }
    if values.iter().any(|v| v.is_nan()) {
        return true;
    }
    values.sort_by(|a, b| {
        if bottom {
            a.total_cmp(b)
        } else {
            b.total_cmp(a)
        }
    });
    values[k - 1] == values[k]
}

#[test]
fn promtool_agrees_on_generated_series_and_rules() {
    let Some(promtool) =
        ops_testkit::promtool::find("promtool_agrees_on_generated_series_and_rules")
    else {
        return;
    };
    let mut tally = Tally::default();
    let mut file = String::from("rule_files: []\nevaluation_interval: 1m\ntests:\n");
    let mut errors_file = file.clone();
    let mut all_errors: Vec<ErrorCase> = Vec::new();
    for (seed, interval, mode) in GROUPS {
        let mut rng = Rng::new(seed);
        let specs = generate::scenario(&mut rng, STEPS, mode);
        let store = store_for(&specs, interval, mode);
        let end = STEPS as u64 * interval + 360;
        let (mut cases, mut errors) = (Vec::new(), Vec::new());
        let mut texts = generate::expressions(&mut rng, EXPRESSIONS);
        texts.extend(generate::ERRORS.iter().map(|e| (*e).to_owned()));
        for text in texts {
            for j in 0..TIMES_PER_EXPRESSION {
                // Half on the scrape grid, half anywhere.
                let t = if j % 2 == 0 {
                    rng.below((end / interval) as usize) as u64 * interval
                } else {
                    rng.below(end as usize) as u64
                };
                classify(&store, &text, t, &mut tally, &mut cases, &mut errors);
            }
        }
        write_group(&mut file, interval, &specs, &cases, &[]);
        write_group(&mut errors_file, interval, &specs, &[], &errors);
        all_errors.extend(errors);
    }
    eprintln!(
        "differential: {} cases ({} samples, {} NaN results checked as `!= bool`, {} NaN results skipped, {} topk/bottomk ties skipped), {} evaluation errors",
        tally.cases + tally.nan_checked,
        tally.samples,
        tally.nan_checked,
        tally.nan_skipped,
        tally.ties_skipped,
        tally.errors
    );
    assert!(tally.cases + tally.nan_checked >= 1000, "too few cases");

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cases.yml"), &file).unwrap();
    if let Some(keep) = std::env::var_os("OPS_PROMQL_DIFFERENTIAL_FILE") {
        std::fs::write(keep, &file).unwrap();
    }
    let checked = ops_testkit::promtool::test_rules(&promtool, dir.path(), "cases.yml");
    if !checked.success {
        let kept = std::env::temp_dir().join("ops-promql-differential.yml");
        std::fs::write(&kept, &file).unwrap();
        let output: String = checked.output.chars().take(20_000).collect();
        panic!(
            "promtool disagrees (file kept at {}):\n{output}",
            kept.display()
        );
    }

    // promtool compares to the bit: one expectation moved by one ulp fails.
    let (line, value) = file
        .lines()
        .find_map(|l| {
            Some((
                l,
                l.strip_prefix("            value: ")?.parse::<f64>().ok()?,
            ))
        })
        .unwrap();
    let nudged = file.replacen(
        line,
        &format!(
            "            value: {:?}",
            f64::from_bits(value.to_bits() + 1)
        ),
        1,
    );
    std::fs::write(dir.path().join("nudged.yml"), nudged).unwrap();
    let checked = ops_testkit::promtool::test_rules(&promtool, dir.path(), "nudged.yml");
    assert!(
        !checked.success && checked.output.matches("exp:").count() == 1,
        "{}",
        checked.output
    );

    // Every evaluation error is Prometheus's error too.
    if all_errors.is_empty() {
        return;
    }
    std::fs::write(dir.path().join("errors.yml"), &errors_file).unwrap();
    let checked = ops_testkit::promtool::test_rules(&promtool, dir.path(), "errors.yml");
    assert!(!checked.success);
    let reported: Vec<&str> = checked
        .output
        .lines()
        .filter(|l| l.contains(", err: "))
        .collect();
    assert_eq!(reported.len(), all_errors.len(), "{}", checked.output);
    for e in &all_errors {
        let line = reported
            .iter()
            .find(|l| l.contains(&format!("expr: {:?}", e.expr)))
            .unwrap_or_else(|| {
                panic!(
                    "no error reported for {} at {}s:\n{}",
                    e.expr, e.eval_s, checked.output
                )
            });
        assert!(line.contains(e.fragment), "{line} / {}", e.fragment);
    }
}
