//! The differential test: the same request series go through `promtool test rules` with the
//! exported rules, and through the engine and the monitor's evaluator with the engine's
//! rules, one page a minute for 12 hours; the firing alerts (names and labels) are the same at
//! every evaluation, and the recorded error ratios and no-data flags are the same numbers.
//!
//! One series per SLI counter, as the engine's differences from Prometheus are only with
//! several (see the crate docs): `api_requests_total`, `api_errors_total`, `api_ok_total`, and
//! the profiler's three counters of one function. The traffic has incidents of every size (a
//! spike for the 14.4× page, a long one for the 6× page, a slow burn for the tickets), quiet
//! stretches under the minimum traffic, and a restart that resets every counter.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::Duration;

use ops_metrics::SystemMetrics;
use ops_slo::{Sli, Slo, SloEngine, SloSet, window_label};
use ops_testkit::promtool;
use ops_thresholds::{AlertState, Evaluator, Observation, RuleSet};

use super::at;

const MINUTES: usize = 720;

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// A counter's selector and its value at each minute.
struct Series {
    selector: &'static str,
    values: Vec<u64>,
}

/// Cumulative counters from per-minute increments, reset to 0 before `restart`'s minute.
fn cumulative(selector: &'static str, increments: &[u64], restart: usize) -> Series {
    let mut v = 0;
    let values = increments
        .iter()
        .enumerate()
        .map(|(m, inc)| {
            if m == restart {
                v = 0;
            }
            v += inc;
            v
        })
        .collect();
    Series { selector, values }
}

#[allow(clippy::many_single_char_names)] // n, e, c, x, f: one minute's counts
fn traffic() -> Vec<Series> {
    let mut rng = Rng(0x5107_2026_1129_0001);
    let (mut requests, mut errors) = (Vec::new(), Vec::new());
    let (mut calls, mut failed, mut cancelled) = (Vec::new(), Vec::new(), Vec::new());
    for m in 0..MINUTES {
        // Requests: 30 to 80 a minute, except quiet stretches under one a minute on average.
        let quiet = (100..130).contains(&m) || (680..700).contains(&m);
        let n = if quiet {
            u64::from(rng.below(4) == 0)
        } else {
            30 + rng.below(51)
        };
        // Error rate in per mille: a spike, a long incident, a slow burn, background noise.
        let permille = match m {
            60..75 => 700,
            200..350 => 80,
            400..650 => 20,
            _ => rng.below(4),
        };
        let e = (0..n).filter(|_| rng.below(1000) < permille).count() as u64;
        requests.push(n);
        errors.push(e);
        // The function: 10 to 30 calls a minute, a few cancelled, errors in two bursts.
        let c = 10 + rng.below(21);
        let x = rng.below(3).min(c);
        let f_permille = match m {
            150..170 | 500..560 => 400,
            _ => rng.below(8),
        };
        let f = (0..c - x).filter(|_| rng.below(1000) < f_permille).count() as u64;
        calls.push(c);
        cancelled.push(x);
        failed.push(f);
    }
    let ok: Vec<u64> = requests.iter().zip(&errors).map(|(n, e)| n - e).collect();
    let restart = 480;
    vec![
        cumulative("api_requests_total{job=\"api\"}", &requests, restart),
        cumulative("api_errors_total{job=\"api\"}", &errors, restart),
        cumulative("api_ok_total{job=\"api\"}", &ok, restart),
        cumulative(
            "ops_function_duration_seconds_count{function=\"shop::checkout\"}",
            &calls,
            restart,
        ),
        cumulative(
            "ops_function_errors_total{function=\"shop::checkout\"}",
            &failed,
            restart,
        ),
        cumulative(
            "ops_function_cancelled_total{function=\"shop::checkout\"}",
            &cancelled,
            restart,
        ),
    ]
}

fn slos() -> SloSet {
    SloSet::new(vec![
        Slo::new(
            "api",
            "errors",
            Sli::bad_total("api_errors_total", "api_requests_total"),
        ),
        Slo::new(
            "api",
            "ok",
            Sli::good_total("api_ok_total{job=\"api\"}", "api_requests_total"),
        )
        .objective_percent(99.0),
        Slo::new("shop", "checkout", Sli::function("checkout")).label("team", "payments"),
    ])
}

/// YAML single-quoted scalar.
fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `name{a="b",…} value` lines of a page (no comments).
fn samples(page: &str) -> Vec<(String, String)> {
    page.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(s, v)| (s.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn exported_rules_fire_as_the_engine_does_at_every_evaluation() {
    let series = traffic();
    let set = slos();
    let engine = SloEngine::builder(set.clone()).build().unwrap();
    let rules = engine.rules().unwrap();
    let mut rule_set = RuleSet::defaults();
    rule_set.rules = rules.clone();
    rule_set.interval = Duration::from_mins(1);
    let mut eval = Evaluator::new(rule_set);

    let mut alert_tests = String::new();
    let mut expr_tests = String::new();
    let mut firing_evaluations = 0;
    let mut fired: BTreeSet<String> = BTreeSet::new();
    let mut no_data_minutes = 0;
    let mut values_compared = 0;
    for m in 0..MINUTES {
        let mut page = String::new();
        for s in &series {
            let _ = writeln!(page, "{} {}", s.selector, s.values[m]);
        }
        engine.record(&page, at(m as u64));
        let mut recorded = String::new();
        engine.recorded(&mut recorded);
        eval.ingest("recorded", &recorded, at(m as u64));
        let sample = SystemMetrics::empty(at(m as u64));
        let mut out = Vec::new();
        eval.evaluate(
            at(m as u64),
            Observation {
                metrics: &sample,
                profile: None,
            },
            &mut out,
        );
        let statuses = eval.statuses();
        for rule in &rules {
            let alerts: Vec<String> = statuses
                .iter()
                .filter(|s| s.alertname == rule.name && s.state == AlertState::Firing)
                .map(|s| {
                    let mut labels: Vec<String> = s
                        .labels
                        .iter()
                        .map(|(k, v)| format!("{k}: {}", quoted(v)))
                        .collect();
                    labels.push(format!("severity: {}", rule.severity));
                    labels.extend(
                        rule.labels
                            .iter()
                            .map(|(k, v)| format!("{k}: {}", quoted(v))),
                    );
                    let annotations: Vec<String> = rule
                        .annotations
                        .iter()
                        .map(|(k, v)| format!("{k}: {}", quoted(v)))
                        .collect();
                    format!(
                        "{{exp_labels: {{{}}}, exp_annotations: {{{}}}}}",
                        labels.join(", "),
                        annotations.join(", ")
                    )
                })
                .collect();
            if !alerts.is_empty() {
                firing_evaluations += 1;
                fired.insert(rule.name.clone());
            }
            let _ = writeln!(
                alert_tests,
                "  - {{eval_time: {m}m, alertname: {}, exp_alerts: [{}]}}",
                rule.name,
                alerts.join(", ")
            );
        }
        // The recorded ratios and the no-data flags, every 7 minutes.
        if m % 7 == 0 {
            let recorded = samples(&recorded);
            for slo in engine.status() {
                for w in &slo.windows {
                    let name = format!("slo:sli_error:ratio_rate{}", window_label(w.window));
                    let selector = format!("{name}{{sloth_id=\"{}\"}}", slo.id);
                    let expected: Vec<String> = recorded
                        .iter()
                        .filter(|(s, _)| {
                            s.starts_with(&format!("{name}{{sloth_id=\"{}\",", slo.id))
                        })
                        .map(|(s, v)| format!("{{labels: {}, value: {v}}}", quoted(s)))
                        .collect();
                    let _ = writeln!(
                        expr_tests,
                        "  - {{eval_time: {m}m, expr: {}, exp_samples: [{}]}}",
                        quoted(&selector),
                        expected.join(", ")
                    );
                    values_compared += expected.len();
                    no_data_minutes += usize::from(w.no_data);
                    let flag = format!(
                        "ops_slo_no_data{{sloth_id=\"{}\",sloth_service=\"{}\",sloth_slo=\"{}\",sloth_window=\"{}\"}}",
                        slo.id,
                        slo.service,
                        slo.slo,
                        window_label(w.window)
                    );
                    let _ = writeln!(
                        expr_tests,
                        "  - {{eval_time: {m}m, expr: {}, exp_samples: [{{labels: {}, value: {}}}]}}",
                        quoted(&flag),
                        quoted(&flag),
                        u8::from(w.no_data)
                    );
                }
            }
        }
    }
    // Every alert fired at some point (each SLO's spikes reach 14.4×, the long incidents 6×,
    // the slow burns the tickets), and the quiet stretches had no data.
    let all: BTreeSet<String> = rules.iter().map(|r| r.name.clone()).collect();
    assert_eq!(
        fired,
        all,
        "alerts that never fired: {:?}",
        all.difference(&fired).collect::<Vec<_>>()
    );
    assert!(
        firing_evaluations > 500,
        "{firing_evaluations} evaluations with alerts"
    );
    assert!(no_data_minutes > 30, "{no_data_minutes} no-data windows");
    assert!(values_compared > 1500, "{values_compared} ratios compared");

    let Some(promtool) =
        promtool::find("exported_rules_fire_as_the_engine_does_at_every_evaluation")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.yml"),
        ops_slo::export::prometheus_rules(&set),
    )
    .unwrap();
    let mut test = String::from(
        "rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n- interval: 1m\n  input_series:\n",
    );
    for s in &series {
        let values: Vec<String> = s.values.iter().map(u64::to_string).collect();
        let _ = writeln!(
            test,
            "  - series: {}\n    values: '{}'",
            quoted(s.selector),
            values.join(" ")
        );
    }
    test.push_str("  alert_rule_test:\n");
    test.push_str(&alert_tests);
    test.push_str("  promql_expr_test:\n");
    test.push_str(&expr_tests);
    std::fs::write(dir.path().join("test.yml"), &test).unwrap();
    let checked = promtool::check_rules(&promtool, &dir.path().join("rules.yml"));
    assert!(checked.success, "{}", checked.output);
    let tested = promtool::test_rules(&promtool, dir.path(), "test.yml");
    assert!(
        tested.success && tested.output.contains("SUCCESS"),
        "promtool disagrees with the engine:\n{}",
        tested.output.chars().take(8000).collect::<String>()
    );
}
