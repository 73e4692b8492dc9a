//! Rule files: three formats, and errors that name file, line and field.

use std::path::Path;
use std::time::Duration;

use ops_thresholds::{Error, Format, Metric, Rule, RuleSet};
use proptest::prelude::*;

const TOML: &str = r#"
interval = "5s"
resend_delay = "2m"

[[rules]]
name = "HighCpu"
metric = "cpu"
threshold = 80
recovery = 75
for = "1m"
keep_firing_for = "30s"
severity = "critical"
labels = { team = "ops" }
annotations = { summary = "CPU {{ value }}%" }

[[rules]]
name = "RootFull"
metric = "disk"
mount = "/"
comparison = ">="
threshold = 95
flap = { low = 20, high = 30 }
"#;

fn parse(text: &str, format: Format) -> Result<RuleSet, Error> {
    RuleSet::parse(text, format, Path::new("rules.file"))
}

#[test]
fn toml_json_and_yaml_give_the_same_rules() {
    let toml = parse(TOML, Format::Toml).unwrap();
    let json = parse(
        r#"{"interval": "5s", "resend_delay": "2m", "rules": [
            {"name": "HighCpu", "metric": "cpu", "threshold": 80, "recovery": 75, "for": "1m", "keep_firing_for": "30s",
             "severity": "critical", "labels": {"team": "ops"}, "annotations": {"summary": "CPU {{ value }}%"}},
            {"name": "RootFull", "metric": "disk", "mount": "/", "comparison": ">=", "threshold": 95, "flap": {"low": 20, "high": 30}}]}"#,
        Format::Json,
    )
    .unwrap();
    let yaml = parse(
        "interval: 5s\nresend_delay: 2m\nrules:\n  - name: HighCpu\n    metric: cpu\n    threshold: 80\n    recovery: 75\n    for: 1m\n    keep_firing_for: 30s\n    severity: critical\n    labels: {team: ops}\n    annotations: {summary: 'CPU {{ value }}%'}\n  - name: RootFull\n    metric: disk\n    mount: /\n    comparison: '>='\n    threshold: 95\n    flap: {low: 20, high: 30}\n",
        Format::Yaml,
    )
    .unwrap();
    assert_eq!(toml, json);
    assert_eq!(toml, yaml);
    assert_eq!(toml.interval, Duration::from_secs(5));
    let r = &toml.rules[0];
    let t = r.threshold().unwrap();
    assert_eq!(
        (t.metric.clone(), t.recovery, r.for_duration),
        (Metric::Cpu, Some(75.0), Duration::from_secs(60))
    );
    assert_eq!(
        toml.rules[1].threshold().unwrap().selector.as_deref(),
        Some("/")
    );
}

fn invalid(text: &str, format: Format) -> (usize, String, String) {
    match parse(text, format).unwrap_err() {
        Error::Invalid {
            line, field, value, ..
        } => (line, field.to_owned(), value),
        Error::Syntax { line, message, .. } => (line, "syntax".to_owned(), message),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn errors_name_line_and_field() {
    // Unknown field, with its line.
    let (line, kind, message) = invalid(
        "[[rules]]\nname = \"a\"\nmetric = \"cpu\"\nthreshold = 1\ntreshold = 2\n",
        Format::Toml,
    );
    assert_eq!((line, kind.as_str()), (5, "syntax"));
    assert!(message.contains("treshold"), "{message}");
    // NaN threshold.
    let (line, field, _) = invalid(
        "\n[[rules]]\nname = \"nan\"\nmetric = \"cpu\"\nthreshold = nan\n",
        Format::Toml,
    );
    assert_eq!((line, field.as_str()), (3, "threshold"));
    // Inverted hysteresis.
    let (_, field, value) = invalid(
        "[[rules]]\nname = \"inv\"\nmetric = \"cpu\"\nthreshold = 80\nrecovery = 85\n",
        Format::Toml,
    );
    assert_eq!((field.as_str(), value.as_str()), ("recovery", "85"));
    // Negative duration.
    let (_, field, value) = invalid(
        "[[rules]]\nname = \"neg\"\nmetric = \"cpu\"\nthreshold = 80\nfor = \"-5m\"\n",
        Format::Toml,
    );
    assert_eq!((field.as_str(), value.as_str()), ("for", "-5m"));
    // Duplicate names, pointing at the rule.
    let dup = "[[rules]]\nname = \"x\"\nmetric = \"cpu\"\nthreshold = 1\n[[rules]]\nname = \"x\"\nmetric = \"memory\"\nthreshold = 1\n";
    let (_, field, value) = invalid(dup, Format::Toml);
    assert_eq!((field.as_str(), value.as_str()), ("name", "x"));
    // Unknown metric; a selector that does not apply; JSON and YAML syntax lines.
    assert_eq!(
        invalid(
            r#"{"rules":[{"name":"m","metric":"gpu","threshold":1}]}"#,
            Format::Json
        )
        .1,
        "metric"
    );
    assert_eq!(
        invalid(
            r#"{"rules":[{"name":"m","metric":"cpu","mount":"/","threshold":1}]}"#,
            Format::Json
        )
        .1,
        "mount/interface/function"
    );
    let (line, kind, _) = invalid(
        "{\n\"rules\": [\n{\"name\": \"j\", \"metric\": \"cpu\", \"threshold\": \"high\"}]}",
        Format::Json,
    );
    assert_eq!((line, kind.as_str()), (3, "syntax"));
    let (line, kind, message) = invalid(
        "rules:\n  - name: y\n    metric: cpu\n    threshold: 1\n    colour: red\n",
        Format::Yaml,
    );
    assert_eq!((line, kind.as_str()), (5, "syntax"));
    assert!(message.contains("colour"), "{message}");
    // The message names the file.
    let err = parse(
        "[[rules]]\nname = \"inv\"\nmetric = \"cpu\"\nthreshold = 80\nrecovery = 85\n",
        Format::Toml,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("rules.file:2: rule \"inv\": field `recovery`"),
        "{err}"
    );
}

#[test]
fn load_picks_the_format_from_the_extension() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.toml");
    std::fs::write(&path, TOML).unwrap();
    assert_eq!(RuleSet::load(&path).unwrap().rules.len(), 2);
    let txt = dir.path().join("rules.txt");
    std::fs::write(&txt, TOML).unwrap();
    assert!(matches!(RuleSet::load(&txt), Err(Error::Format { .. })));
    assert!(matches!(
        RuleSet::load(dir.path().join("missing.toml")),
        Err(Error::Read { .. })
    ));
}

proptest! {
    /// Parsing never panics, whatever the input.
    #[test]
    fn parsing_never_panics(text in "\\PC{0,200}", fmt in 0..3u8) {
        let format = [Format::Toml, Format::Json, Format::Yaml][fmt as usize];
        let _ = parse(&text, format);
    }

    /// Rule-shaped input with arbitrary values never panics either, and a valid result is sane.
    #[test]
    fn rule_shaped_input(threshold in any::<f64>(), recovery in any::<f64>(), dur in "[-0-9a-z]{0,6}") {
        let text = format!("[[rules]]\nname = \"r\"\nmetric = \"cpu\"\nthreshold = {threshold:?}\nrecovery = {recovery:?}\nfor = \"{dur}\"\n");
        if let Ok(set) = parse(&text, Format::Toml) {
            let r = set.rules[0].threshold().unwrap();
            prop_assert!(r.threshold.is_finite());
            prop_assert!(r.recovery.unwrap() <= r.threshold);
        }
    }
}

/// Every threshold rule's PromQL equivalent is in the subset ops-promql evaluates (and so can
/// move to Prometheus): all metrics, with and without selectors, odd selector characters too.
#[test]
fn every_threshold_rule_has_a_promql_equivalent_that_parses() {
    for metric in Metric::ALL {
        for selector in [None, Some("/data"), Some("app::work(1)+\"x\"")] {
            let mut rule = Rule::new(
                "R",
                metric.clone(),
                ops_thresholds::Comparison::Greater,
                1.5,
            );
            if let Some(s) = selector
                && metric.instance_label().is_some()
            {
                rule = rule.select(s);
            }
            let promql = rule.to_promql();
            assert!(
                ops_promql::Expr::parse(&promql).is_ok(),
                "{metric:?}: {promql}"
            );
            assert!(promql.ends_with(" > 1.5"), "{promql}");
        }
    }
}
