//! Differential test of `PromQL` alerting rules against Prometheus itself: generated series
//! (counters with resets, histograms, series that stop) and rules (ratios of rates, quantiles,
//! `absent`, `increase == 0`, with and without `for`) go through `promtool test rules` and
//! through our evaluator, fed with the same samples as text pages, one page a minute; the
//! firing alerts (names and labels) must be the same at every evaluation.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use ops_metrics::SystemMetrics;
use ops_thresholds::{AlertState, Evaluator, Observation, Rule, RuleSet};

const MINUTES: usize = 40;

/// A series: its name and labels as written in a page and in promtool's input, and its value
/// at each minute (`None` once it has stopped).
struct Series {
    name: &'static str,
    labels: Vec<(&'static str, String)>,
    values: Vec<Option<f64>>,
}

impl Series {
    fn selector(&self) -> String {
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect();
        format!("{}{{{}}}", self.name, labels.join(","))
    }
}

struct Case {
    series: Vec<Series>,
    expr: String,
    for_min: u64,
}

use ops_testkit::rng::Lcg as Rng;

/// A counter that grows by a random step each minute (sometimes in bursts), with an
/// occasional reset, and stops (goes stale) with some probability.
fn counter(rng: &mut Rng, name: &'static str, labels: Vec<(&'static str, String)>) -> Series {
    let mut v = rng.below(50) as f64;
    let burst_at = rng.below(MINUTES as u64) as usize;
    let stop_at = if rng.below(4) == 0 {
        Some(10 + rng.below(25) as usize)
    } else {
        None
    };
    let values = (0..MINUTES)
        .map(|m| {
            if stop_at.is_some_and(|s| m >= s) {
                return None;
            }
            if rng.below(20) == 0 {
                v = 0.0; // a reset
            }
            let step = if (burst_at..burst_at + 6).contains(&m) {
                40 + rng.below(40)
            } else {
                rng.below(12)
            };
            v += step as f64;
            Some(v)
        })
        .collect();
    Series {
        name,
        labels,
        values,
    }
}

/// Cumulative histogram buckets for one series of observations: each minute some fast calls
/// and, in a slow phase, slow ones.
fn histogram(rng: &mut Rng) -> Vec<Series> {
    let bounds = ["0.05", "0.1", "0.5", "1", "+Inf"];
    let slow_from = rng.below(MINUTES as u64) as usize;
    let mut counts = [0f64; 5];
    let mut per_minute: Vec<[f64; 5]> = Vec::new();
    for m in 0..MINUTES {
        let fast = rng.below(20) as f64;
        let slow = if (slow_from..slow_from + 8).contains(&m) {
            rng.below(15) as f64
        } else {
            0.0
        };
        // Fast calls land under 0.05 s, slow ones between 0.5 s and 1 s.
        counts[0] += fast;
        counts[1] += fast;
        counts[2] += fast;
        counts[3] += fast + slow;
        counts[4] += fast + slow;
        per_minute.push(counts);
    }
    bounds
        .iter()
        .enumerate()
        .map(|(i, le)| Series {
            name: "lat_seconds_bucket",
            labels: vec![("le", (*le).to_owned())],
            values: per_minute.iter().map(|c| Some(c[i])).collect(),
        })
        .collect()
}

fn cases() -> Vec<Case> {
    let mut rng = Rng::new(0x0b5e_55ed_2026_1129);
    let mut out = Vec::new();
    for n in 0..48u64 {
        let for_min = n % 3;
        let case = match n % 6 {
            0 | 1 => {
                let routes = ["/a", "/b"];
                let mut series = Vec::new();
                for route in routes {
                    for code in ["200", "500"] {
                        series.push(counter(
                            &mut rng,
                            "req_total",
                            vec![("route", route.to_owned()), ("code", code.to_owned())],
                        ));
                    }
                }
                let t = [0.1, 0.3, 0.5][rng.below(3) as usize];
                Case {
                    series,
                    expr: format!(
                        "sum by (route) (rate(req_total{{code=\"500\"}}[5m])) / sum by (route) (rate(req_total[5m])) > {t}"
                    ),
                    for_min,
                }
            }
            2 => {
                let t = [0.1, 0.5, 0.9][rng.below(3) as usize];
                Case {
                    series: histogram(&mut rng),
                    expr: format!(
                        "histogram_quantile(0.99, sum by (le) (rate(lat_seconds_bucket[5m]))) > {t}"
                    ),
                    for_min,
                }
            }
            3 => Case {
                series: vec![counter(
                    &mut rng,
                    "orders_total",
                    vec![("shop", "eu".into())],
                )],
                expr: "increase(orders_total[10m]) == 0 or absent(orders_total)".into(),
                for_min,
            },
            4 => Case {
                series: vec![counter(
                    &mut rng,
                    "heartbeat_total",
                    vec![("job", "w".into())],
                )],
                expr: "absent_over_time(heartbeat_total[3m])".into(),
                for_min,
            },
            _ => {
                let t = [5.0, 10.0, 20.0][rng.below(3) as usize];
                Case {
                    series: vec![
                        counter(&mut rng, "req_total", vec![("route", "/a".into())]),
                        counter(&mut rng, "req_total", vec![("route", "/b".into())]),
                    ],
                    expr: format!("rate(req_total[2m]) * 60 > {t}"),
                    for_min,
                }
            }
        };
        out.push(case);
    }
    out
}

fn t(minute: usize) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(60 * minute as u64)
}

/// Our firing alerts at each minute, as sorted `name{labels}` strings.
fn ours(n: usize, case: &Case) -> Vec<BTreeSet<String>> {
    let rule = Rule::promql(format!("Case{n}"), &case.expr)
        .unwrap()
        .for_duration(Duration::from_secs(case.for_min * 60));
    let mut set = RuleSet::defaults();
    set.rules = vec![rule];
    set.interval = Duration::from_secs(60);
    let mut eval = Evaluator::new(set);
    let mut timeline = Vec::new();
    for m in 0..MINUTES {
        let mut page = String::new();
        for s in &case.series {
            if let Some(v) = s.values[m] {
                let _ = writeln!(page, "{} {v}", s.selector());
            }
        }
        eval.ingest("input", &page, t(m));
        let sample = SystemMetrics::empty(t(m));
        let mut out = Vec::new();
        eval.evaluate(
            t(m),
            Observation {
                metrics: &sample,
                profile: None,
            },
            &mut out,
        );
        let firing: BTreeSet<String> = eval
            .statuses()
            .into_iter()
            .filter(|s| s.state == AlertState::Firing)
            .map(|s| {
                let labels: Vec<String> =
                    s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{}{{{}}}", s.alertname, labels.join(","))
            })
            .collect();
        timeline.push(firing);
    }
    timeline
}

/// promtool's input notation for a series: values, `stale` where it stops, `_` after.
fn promtool_values(s: &Series) -> String {
    let mut out = Vec::new();
    let mut stopped = false;
    for v in &s.values {
        out.push(match (v, stopped) {
            (Some(v), _) => format!("{v}"),
            (None, false) => {
                stopped = true;
                "stale".to_owned()
            }
            (None, true) => "_".to_owned(),
        });
    }
    out.join(" ")
}

#[test]
fn promql_alert_timeline_equals_promtool() {
    let cases = cases();
    let mut rules = String::from("groups:\n- name: differential\n  interval: 1m\n  rules:\n");
    let mut tests = String::from("rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n");
    let mut firing_evaluations = 0;
    for (n, case) in cases.iter().enumerate() {
        let _ = write!(
            rules,
            "  - alert: Case{n}\n    expr: '{}'\n    for: {}m\n    labels: {{severity: warning}}\n",
            case.expr, case.for_min
        );
        let _ = write!(tests, "- interval: 1m\n  input_series:\n");
        for s in &case.series {
            let _ = write!(
                tests,
                "  - series: '{}'\n    values: '{}'\n",
                s.selector(),
                promtool_values(s)
            );
        }
        let _ = writeln!(tests, "  alert_rule_test:");
        for (minute, firing) in ours(n, case).into_iter().enumerate() {
            let alerts: Vec<String> = firing
                .iter()
                .map(|a| {
                    let inner = a
                        .split_once('{')
                        .map_or("", |(_, rest)| rest.trim_end_matches('}'));
                    let mut labels: Vec<String> = inner
                        .split(',')
                        .filter(|l| !l.is_empty() && !l.starts_with("alertname="))
                        .map(|l| {
                            let (k, v) = l.split_once('=').unwrap();
                            format!("{k}: '{v}'")
                        })
                        .collect();
                    labels.push("severity: warning".to_owned());
                    format!("{{exp_labels: {{{}}}}}", labels.join(", "))
                })
                .collect();
            firing_evaluations += usize::from(!alerts.is_empty());
            let _ = writeln!(
                tests,
                "  - {{eval_time: {minute}m, alertname: Case{n}, exp_alerts: [{}]}}",
                alerts.join(", ")
            );
        }
    }
    assert!(
        firing_evaluations > 150,
        "the cases must exercise firing ({firing_evaluations} evaluations with alerts)"
    );
    super::promtool_agrees(
        "promql_alert_timeline_equals_promtool",
        &rules,
        &tests,
        cases.len(),
    );
}
