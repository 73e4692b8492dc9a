//! The Prometheus export against Prometheus itself: the exported file passes `promtool check
//! rules`, and `promtool test rules` over the same values (as the exposition names them) fires
//! the same alerts as the embedded evaluator at every evaluation, with the same labels and the
//! same rendered annotations — hysteresis through the ALERTS pattern, `mount` from
//! `mountpoint`, one-decimal values, literal thresholds, names and rule labels, the made-up
//! summaries.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use ops_metrics::SystemMetrics;
use ops_testkit::promtool;
use ops_thresholds::export::{self, Options};
use ops_thresholds::{
    Comparison, Evaluator, Metric, Notification, Observation, Rule, RuleSet, Severity,
};

fn t(minute: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + minute * 60)
}

/// The rules: a critical CPU rule with hysteresis, a label and every placeholder; a disk rule
/// with `for` and the mount in its summary; a load rule with no summary; two `PromQL` rules,
/// one labelled by its series, one with no summary.
fn rules() -> RuleSet {
    let mut cpu = Rule::new("HighCpu", Metric::Cpu, Comparison::Greater, 80.0)
        .recovery(70.0)
        .severity(Severity::Critical)
        .summary("{{ name }}: CPU {{ value }}% over {{ threshold }}% ({{ labels.severity }}, {{ $labels.team }})");
    cpu.labels.insert("team".into(), "ops".into());
    cpu.annotations.insert(
        "runbook".into(),
        "https://runbooks.example/{{ name }}".into(),
    );
    let disk = Rule::new("DiskFull", Metric::Disk, Comparison::GreaterOrEqual, 90.0)
        .for_duration(Duration::from_mins(1))
        .summary("Disk {{ labels.mount }} at {{ $value }}%");
    let load = Rule::new("Busy", Metric::Load1, Comparison::Greater, 2.0);
    let queue = Rule::promql("QueueDeep", "max by (queue) (app_queue_depth) > 5")
        .unwrap()
        .summary("queue {{ labels.queue }} holds {{ value }} jobs");
    let bare = Rule::promql("QueueBare", "app_queue_depth > 6").unwrap();
    let mut set = RuleSet::defaults();
    set.rules = vec![cpu, disk, load, queue, bare];
    set.interval = Duration::from_mins(1);
    // Every firing alert is sent at every evaluation: its annotations are the rendered ones.
    set.resend_delay = Duration::ZERO;
    set
}

/// One minute of input: CPU %, / used %, load1, queue depths of "a" and "b".
struct Minute {
    cpu: f64,
    disk: f64,
    load: f64,
    queues: [f64; 2],
}

fn minutes() -> Vec<Minute> {
    let m = |cpu, disk, load, a, b| Minute {
        cpu,
        disk,
        load,
        queues: [a, b],
    };
    vec![
        m(50.2, 42.0, 0.3, 1.0, 0.0),
        m(85.3, 91.4, 2.7, 7.0, 2.0),
        m(75.1, 93.6, 2.1, 9.0, 6.0),
        m(72.4, 89.7, 1.2, 3.0, 8.0),
        m(65.6, 90.0, 3.3, 3.0, 8.0),
        m(88.8, 95.2, 3.3, 12.0, 1.0),
        m(79.9, 97.1, 0.4, 5.0, 5.0),
        m(69.9, 96.3, 0.4, 6.0, 6.5),
        m(71.2, 20.0, 0.4, 0.0, 0.0),
    ]
}

fn sample(m: &Minute, at: SystemTime) -> SystemMetrics {
    let mut s = SystemMetrics::empty(at);
    s.cpu_percent = Some(m.cpu);
    s.disk_usage.insert("/".into(), m.disk);
    let mut load = ops_metrics::LoadAverage::default();
    load.one = m.load;
    s.load_average = Some(load);
    s
}

/// The firing alerts of each minute, as the embedded evaluator sends them.
fn embedded(set: &RuleSet) -> Vec<Vec<Notification>> {
    let mut eval = Evaluator::new(set.clone());
    minutes()
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let now = t(i as u64);
            let page = format!(
                "app_queue_depth{{queue=\"a\"}} {}\napp_queue_depth{{queue=\"b\"}} {}\n",
                m.queues[0], m.queues[1]
            );
            eval.ingest("app", &page, now);
            let s = sample(m, now);
            let mut out = Vec::new();
            eval.evaluate(
                now,
                Observation {
                    metrics: &s,
                    profile: None,
                },
                &mut out,
            );
            out.retain(|n| !n.resolved);
            out
        })
        .collect()
}

/// A YAML flow mapping of strings.
fn flow(pairs: &BTreeMap<String, String>) -> String {
    let items: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}: {}", serde_json::Value::from(v.as_str())))
        .collect();
    format!("{{{}}}", items.join(", "))
}

#[test]
#[allow(clippy::too_many_lines)] // the case, its promtool test file, the comparison
fn exported_rules_fire_the_same_alerts_in_promtool() {
    let Some(promtool) = promtool::find("exported_rules_fire_the_same_alerts_in_promtool") else {
        return;
    };
    let set = rules();
    let (yaml, warnings) =
        export::prometheus_rules(&set, &Options::new().interval(Duration::from_mins(1))).unwrap();
    // Resending at every evaluation is the server's flag, named.
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0]
            .message
            .contains("--rules.alert.resend-delay=0s")
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yml"), &yaml).unwrap();
    let checked = promtool::check_rules(&promtool, &dir.path().join("rules.yml"));
    assert!(checked.success, "{}\n{yaml}", checked.output);
    assert!(
        checked.output.contains("SUCCESS: 5 rules found"),
        "{}",
        checked.output
    );

    let minutes = minutes();
    let mut series = BTreeMap::<&str, Vec<f64>>::new();
    for m in &minutes {
        for (name, v) in [
            ("ops_cpu_usage_ratio", m.cpu / 100.0),
            (
                "ops_filesystem_usage_ratio{mountpoint=\"/\",device=\"/dev/sda1\",fstype=\"ext4\"}",
                m.disk / 100.0,
            ),
            ("node_load1", m.load),
            ("app_queue_depth{queue=\"a\"}", m.queues[0]),
            ("app_queue_depth{queue=\"b\"}", m.queues[1]),
        ] {
            series.entry(name).or_default().push(v);
        }
    }
    let mut test = String::from(
        "rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n- interval: 1m\n  input_series:\n",
    );
    for (name, values) in &series {
        let values: Vec<String> = values.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            test,
            "  - series: {}\n    values: '{}'",
            serde_json::Value::from(*name),
            values.join(" ")
        );
    }
    test.push_str("  alert_rule_test:\n");
    let fired = embedded(&set);
    let mut firing = 0;
    for (i, alerts) in fired.iter().enumerate() {
        for rule in &set.rules {
            let mut exp = Vec::new();
            for n in alerts.iter().filter(|n| n.alertname == rule.name) {
                let mut labels: BTreeMap<String, String> = n
                    .labels
                    .iter()
                    .filter(|(k, _)| k != "alertname")
                    .cloned()
                    .collect();
                // The exposition's labels stay on Prometheus's alert.
                if rule.name == "DiskFull" {
                    for (k, v) in [
                        ("mountpoint", "/"),
                        ("device", "/dev/sda1"),
                        ("fstype", "ext4"),
                    ] {
                        labels.insert(k.into(), v.into());
                    }
                }
                let annotations: BTreeMap<String, String> = n.annotations.iter().cloned().collect();
                exp.push(format!(
                    "{{exp_labels: {}, exp_annotations: {}}}",
                    flow(&labels),
                    flow(&annotations)
                ));
                firing += 1;
            }
            let _ = writeln!(
                test,
                "  - eval_time: {i}m\n    alertname: {}\n    exp_alerts: [{}]",
                rule.name,
                exp.join(", ")
            );
        }
    }
    // Every rule fires at some minute, and the hysteresis holds HighCpu at 75.1 and 72.4.
    for rule in &set.rules {
        assert!(
            fired.iter().flatten().any(|n| n.alertname == rule.name),
            "{} never fires: the case proves nothing",
            rule.name
        );
    }
    assert!(
        fired[3]
            .iter()
            .any(|n| n.message() == "HighCpu: CPU 72.4% over 80.0% (critical, ops)")
    );
    assert!(fired[2].iter().any(|n| n.message() == "Disk / at 93.6%"));
    assert!(
        fired[1]
            .iter()
            .any(|n| n.message() == "QueueBare {queue=a}: 7")
    );
    assert!(
        fired[1]
            .iter()
            .any(|n| n.message() == "Busy: load1 2.7 > 2.0")
    );
    assert!(firing >= 15, "{firing}");
    std::fs::write(dir.path().join("test.yml"), &test).unwrap();
    let tested = promtool::test_rules(&promtool, dir.path(), "test.yml");
    assert!(
        tested.success && tested.output.contains("SUCCESS"),
        "{}\nrules:\n{yaml}\ntest:\n{test}",
        tested.output
    );
}

#[test]
fn every_metric_exports_promtool_clean() {
    let Some(promtool) = promtool::find("every_metric_exports_promtool_clean") else {
        return;
    };
    let mut set = RuleSet::defaults();
    set.rules = Metric::ALL
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut r = Rule::new(
                format!("Rule{i} {}", m.name()),
                m.clone(),
                Comparison::Less,
                1.5,
            )
            .recovery(2.5)
            .keep_firing_for(Duration::from_secs(30));
            if m.instance_label().is_some() {
                r = r.select("it's \"quoted\"");
            }
            r
        })
        .collect();
    let (yaml, warnings) =
        export::prometheus_rules(&set, &Options::new().group("every metric")).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.yml");
    std::fs::write(&path, &yaml).unwrap();
    let checked = promtool::check_rules(&promtool, &path);
    assert!(
        checked.success && checked.output.contains("SUCCESS: 14 rules found"),
        "{}\n{yaml}",
        checked.output
    );
}
