//! Differential test against Prometheus itself: the same series and rules go through
//! `promtool test rules` (Debian's prometheus) and through our evaluator, and the firing timeline
//! must be the same at every evaluation.

use std::fmt::Write as _;
use std::time::Duration;

use ops_thresholds::{AlertState, Comparison, Evaluator, Metric, Rule, RuleSet};

struct Case {
    values: Vec<f64>,
    for_min: u64,
    keep_min: u64,
}

/// Deterministic cases: values jumping around the threshold 50, every `for`/`keep_firing_for`
/// combination, runs long enough to reach every state.
fn cases() -> Vec<Case> {
    let mut rng = ops_testkit::rng::Lcg::new(0x5eed_1234_abcd_ef01);
    let mut next = move || rng.next_u64();
    let mut out = Vec::new();
    for for_min in 0..4 {
        for keep_min in 0..3 {
            for _ in 0..6 {
                let stickiness = 1 + next() % 4;
                let mut v = Vec::new();
                let mut high = next() % 2 == 0;
                for _ in 0..24 {
                    if next() % stickiness == 0 {
                        high = !high;
                    }
                    v.push(if high {
                        60.0 + (next() % 30) as f64
                    } else {
                        40.0 - (next() % 30) as f64
                    });
                }
                out.push(Case {
                    values: v,
                    for_min,
                    keep_min,
                });
            }
        }
    }
    out
}

/// Our firing state at each minute.
fn ours(case: &Case) -> Vec<bool> {
    let rule = Rule::new("Case", Metric::Cpu, Comparison::Greater, 50.0)
        .for_duration(Duration::from_secs(case.for_min * 60))
        .keep_firing_for(Duration::from_secs(case.keep_min * 60));
    let mut set = RuleSet::defaults();
    set.rules = vec![rule];
    set.interval = Duration::from_secs(60);
    let (states, _) = super::evaluator::run(&mut Evaluator::new(set), &case.values, 60);
    states
        .into_iter()
        .map(|s| s == AlertState::Firing)
        .collect()
}

#[test]
fn firing_timeline_equals_promtool() {
    let cases = cases();
    let mut rules = String::from("groups:\n- name: differential\n  interval: 1m\n  rules:\n");
    let mut tests = String::from("rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n");
    let mut expected_firing = 0;
    for (n, case) in cases.iter().enumerate() {
        let _ = write!(
            rules,
            "  - alert: Case{n}\n    expr: case_{n} > 50\n    for: {}m\n    keep_firing_for: {}m\n    labels: {{severity: warning}}\n",
            case.for_min, case.keep_min
        );
        let series: Vec<String> = case.values.iter().map(|v| format!("{v}")).collect();
        let _ = write!(
            tests,
            "- interval: 1m\n  input_series:\n  - series: 'case_{n}{{instance=\"h\"}}'\n    values: '{}'\n  alert_rule_test:\n",
            series.join(" ")
        );
        for (minute, firing) in ours(case).into_iter().enumerate() {
            if firing {
                expected_firing += 1;
                let _ = write!(
                    tests,
                    "  - eval_time: {minute}m\n    alertname: Case{n}\n    exp_alerts: [{{exp_labels: {{severity: warning, instance: h}}}}]\n"
                );
            } else {
                let _ = write!(
                    tests,
                    "  - {{eval_time: {minute}m, alertname: Case{n}, exp_alerts: []}}\n"
                );
            }
        }
    }
    assert!(
        expected_firing > 100,
        "the cases must exercise firing ({expected_firing})"
    );
    super::promtool_agrees(
        "firing_timeline_equals_promtool",
        &rules,
        &tests,
        cases.len(),
    );
}
