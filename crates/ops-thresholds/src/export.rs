/*!
Prometheus rule files for a rule set: what `ops rules export --format prometheus` writes, so
the same alerts move to a Prometheus server when one machine is outgrown.

Every rule becomes one alerting rule with the same name, `for`, `keep_firing_for`, labels
(`severity` included) and annotations:

* **expression** — a threshold rule's [`Rule::to_promql`] (its condition over the names
  `/metrics` shows: `node_exporter`'s where they apply, `ops_*` for the rest); a `PromQL` rule's
  own expression;
* **instance labels** — the embedded evaluator labels a disk alert `mount`, a network alert
  `interface`; the exposition labels those series `mountpoint` and `device`. The exported rule
  keeps the exposition's labels and adds the embedded one as a templated rule label
  (`mount: '{{ $labels.mountpoint }}'`), so silences, inhibitions and routes written for the
  embedded alerts keep matching. Function rules already agree (`function`);
* **annotations** — templates translated to Prometheus's: `{{ value }}` (one decimal) →
  `{{ $value | printf "%.1f" }}`; `{{ threshold }}` → the number as the embedded evaluator
  prints it (`80.0`); `{{ name }}` → the alert's name; `{{ labels.KEY }}` →
  `{{ $labels.KEY }}` for a label of the series (`mount` → `$labels.mountpoint`), and the
  literal value for `alertname`, `severity` and the rule's own labels (Prometheus's `$labels`
  holds only the series' labels). A rule without a `summary` gets the one the embedded
  evaluator makes up. Literal text that holds `{{` is written as a Go string, never run;
* **recovery thresholds** (hysteresis) — exported with the `ALERTS` pattern: once the alert
  fires, the condition is the recovery comparison, as in-process:
  `V > 80 or (V >= 75 and ignoring(alertname, alertstate, severity, …) ALERTS{alertname="…", alertstate="firing"})`.
  A pending alert still needs the threshold, as in-process.

What a rule file cannot hold is named in a comment in the file and returned as a [`Warning`]
(`ops rules export` prints them on stderr): flap detection (Prometheus has none; Alertmanager's
`group_interval` and the rule's `keep_firing_for` are the nearest), a `resend_delay` other
than Prometheus's default (it is the server flag `--rules.alert.resend-delay`), durations finer
than a millisecond (rounded up). Nothing is dropped silently.

```
use ops_thresholds::RuleSet;
use ops_thresholds::export::{self, Options};

let (yaml, warnings) = export::prometheus_rules(&RuleSet::defaults(), &Options::default())?;
assert!(yaml.contains("  - alert: 'HighDiskUsage'\n    expr: 'ops_filesystem_usage_ratio * 100 > 90'\n"));
assert!(yaml.contains("      mount: '{{ $labels.mountpoint }}'\n"));
assert!(yaml.contains(r#"summary: 'High disk usage on {{ $labels.mountpoint }}: {{ $value | printf "%.1f" }}%'"#));
assert!(warnings.is_empty());
# Ok::<(), ops_thresholds::Error>(())
```

Differences that remain: Prometheus evaluates at its `evaluation_interval` (15 s to 1 m; see
[`Options::interval`]) where the monitor evaluates every sample (1 s), so `for` counts in those
ticks; Prometheus's alerts also carry `instance` and `job`; a `function_*` rule's expression
sums over every scraped instance (`sum by (function)`), one instance's figure when there is one.
*/

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::metric::{Metric, promql_string};
use crate::rule::{Rule, RuleSet, Threshold, fmt_number};

/// Prometheus's default resend delay (`--rules.alert.resend-delay`).
const PROMETHEUS_RESEND_DELAY: Duration = Duration::from_mins(1);

/// How the rule file is laid out: the group's name and evaluation interval.
///
/// | setting | default |
/// | --- | --- |
/// | [`group`](Options::group) | `ops-thresholds` |
/// | [`interval`](Options::interval) | none: Prometheus's `evaluation_interval` |
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Options {
    group: String,
    interval: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            group: "ops-thresholds".to_owned(),
            interval: None,
        }
    }
}

impl Options {
    /// The defaults: group `ops-thresholds`, the server's evaluation interval.
    pub fn new() -> Options {
        Options::default()
    }

    /// The rule group's name.
    pub fn group(mut self, name: impl Into<String>) -> Options {
        self.group = name.into();
        self
    }

    /// The group's `interval` (default: none, so Prometheus's global `evaluation_interval`).
    pub fn interval(mut self, interval: Duration) -> Options {
        self.interval = Some(interval);
        self
    }
}

/// Something of the rule set that the Prometheus rule file does not hold as the monitor runs
/// it; also written as a comment in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Warning {
    /// The rule, or `None` for a setting of the whole rule set.
    pub rule: Option<String>,
    /// What is not exported, and what to use instead.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.rule {
            Some(rule) => write!(f, "rule {rule:?}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// The Prometheus rule file (YAML, one group) for `rules`, and what it could not express.
///
/// # Errors
/// The rule set does not [`validate`](RuleSet::validate) (a rule built in code with, say, a
/// non-finite threshold), or the group name is empty: [`Error::Rule`] or [`Error::Setting`].
pub fn prometheus_rules(rules: &RuleSet, options: &Options) -> Result<(String, Vec<Warning>)> {
    rules.validate()?;
    if options.group.trim().is_empty() {
        return Err(Error::Setting {
            path: None,
            line: 0,
            field: "group",
            value: format!("{:?}", options.group),
            reason: "a rule group needs a name".into(),
        });
    }
    let mut warnings = Vec::new();
    if rules.resend_delay != PROMETHEUS_RESEND_DELAY {
        warnings.push(Warning {
            rule: None,
            message: format!(
                "resend_delay {} is not part of a rule file: start Prometheus with --rules.alert.resend-delay={}",
                prom_duration(rules.resend_delay).0,
                prom_duration(rules.resend_delay).0
            ),
        });
    }
    let mut body = String::new();
    let _ = writeln!(body, "- name: {}", yaml(&options.group));
    if let Some(interval) = options.interval {
        let (text, rounded) = prom_duration(interval);
        if rounded {
            warnings.push(Warning {
                rule: None,
                message: format!(
                    "interval {} is finer than Prometheus's millisecond: written as {text}",
                    ops_core::duration::format(interval)
                ),
            });
        }
        let _ = writeln!(body, "  interval: {text}");
    }
    if rules.rules.is_empty() {
        body.push_str("  rules: []\n");
    } else {
        body.push_str("  rules:\n");
    }
    for rule in &rules.rules {
        write_rule(&mut body, rule, &mut warnings);
    }
    let mut out = String::from(
        "# Prometheus alerting rules written by ops-thresholds (ops rules export --format prometheus):\n\
         # the embedded evaluator's rules over the names /metrics shows (node_exporter's where they apply).\n",
    );
    for w in warnings.iter().filter(|w| w.rule.is_none()) {
        let _ = writeln!(out, "# NOT EXPORTED: {}", one_line(&w.message));
    }
    out.push_str("groups:\n");
    out.push_str(&body);
    Ok((out, warnings))
}

/// One rule, its comments first.
fn write_rule(out: &mut String, rule: &Rule, warnings: &mut Vec<Warning>) {
    let mut warn = |out: &mut String, message: String| {
        let _ = writeln!(
            out,
            "  # NOT EXPORTED: {}: {}",
            one_line(&rule.name),
            one_line(&message)
        );
        warnings.push(Warning {
            rule: Some(rule.name.clone()),
            message,
        });
    };
    if let Some(f) = rule.flap {
        warn(
            out,
            format!(
                "flap detection (low {}%, high {}%) has no Prometheus equivalent; Alertmanager's group_interval and the rule's keep_firing_for damp notifications instead",
                f.low, f.high
            ),
        );
    }
    let threshold = rule.threshold();
    let expr = match threshold {
        Some(t) if t.recovery.is_some() => {
            let _ = writeln!(
                out,
                "  # {}: recovery threshold {} (hysteresis): once firing, the alert clears only past it (the ALERTS pattern)",
                one_line(&rule.name),
                fmt_number(t.recovery.unwrap_or(t.threshold))
            );
            hysteresis(rule, t)
        }
        _ => rule.to_promql(),
    };
    let _ = writeln!(
        out,
        "  - alert: {}\n    expr: {}",
        yaml(&rule.name),
        yaml(&expr)
    );
    for (field, d) in [
        ("for", rule.for_duration),
        ("keep_firing_for", rule.keep_firing_for),
    ] {
        if d.is_zero() {
            continue;
        }
        let (text, rounded) = prom_duration(d);
        if rounded {
            warn(
                out,
                format!(
                    "{field} {} is finer than Prometheus's millisecond: written as {text}",
                    ops_core::duration::format(d)
                ),
            );
        }
        let _ = writeln!(out, "    {field}: {text}");
    }
    out.push_str("    labels:\n");
    for (key, value) in labels(rule) {
        let _ = writeln!(out, "      {key}: {}", yaml(&value));
    }
    let ctx = Context::new(rule);
    let mut annotations: Vec<(String, String)> = rule
        .annotations
        .iter()
        .map(|(k, t)| (k.clone(), ctx.translate(t)))
        .collect();
    if !rule.annotations.contains_key("summary") {
        annotations.push(("summary".into(), ctx.made_up_summary()));
    }
    annotations.sort();
    out.push_str("    annotations:\n");
    for (key, value) in annotations {
        let _ = writeln!(out, "      {key}: {}", yaml(&value));
    }
}

/// The exposition's name of a threshold rule's instance label: `mount` → `mountpoint`,
/// `interface` → `device`, `function` → `function`.
fn exposition_label(metric: &Metric) -> Option<(&'static str, &'static str)> {
    let ours = metric.instance_label()?;
    let theirs = match ours {
        "mount" => "mountpoint",
        "interface" => "device",
        other => other,
    };
    Some((ours, theirs))
}

/// The rule's labels as Prometheus will set them: `severity`, the embedded instance label
/// (templated from the exposition's) when the names differ, then the rule's labels, which
/// override both (as in-process). Values are templates in Prometheus: literal ones are
/// written so that nothing in them is run.
fn labels(rule: &Rule) -> Vec<(String, String)> {
    let mut labels: BTreeMap<String, String> = BTreeMap::new();
    labels.insert("severity".into(), literal(rule.severity.as_str()));
    if let Some((ours, theirs)) = rule.metric().and_then(exposition_label)
        && ours != theirs
    {
        labels.insert(ours.into(), format!("{{{{ {} }}}}", label_ref(theirs)));
    }
    for (k, v) in &rule.labels {
        labels.insert(k.clone(), literal(v));
    }
    // `severity` first, as the embedded notifications list it.
    let mut out: Vec<(String, String)> = Vec::with_capacity(labels.len());
    if let Some(v) = labels.remove("severity") {
        out.push(("severity".into(), v));
    }
    out.extend(labels);
    out
}

/// `V > T or (V >= R and ignoring(…) ALERTS{alertname="…", alertstate="firing"})`: the
/// recovery comparison holds while the alert is firing, the threshold otherwise.
fn hysteresis(rule: &Rule, t: &Threshold) -> String {
    let value = crate::metric::promql_value(&t.metric, t.selector.as_deref(), t.window);
    let recovery = t.recovery.unwrap_or(t.threshold);
    let hold = if t.comparison.is_upper() { ">=" } else { "<=" };
    // Every label ALERTS has that the value's series does not.
    let mut ignoring: Vec<String> = vec!["alertname".into(), "alertstate".into()];
    for (k, _) in labels(rule) {
        if !ignoring.contains(&k) {
            ignoring.push(k);
        }
    }
    format!(
        "{value} {} {} or ({value} {hold} {} and ignoring({}) ALERTS{{alertname={}, alertstate=\"firing\"}})",
        t.comparison.symbol(),
        fmt_number(t.threshold),
        fmt_number(recovery),
        ignoring.join(", "),
        promql_string(&rule.name)
    )
}

/// What an annotation template needs to know about its rule.
struct Context<'r> {
    rule: &'r Rule,
    /// Labels whose value is known when the rule is written: `alertname`, `severity`, the
    /// rule's labels (which override the others, as in-process).
    fixed: BTreeMap<&'r str, &'r str>,
    /// The embedded instance label and the exposition's name for it.
    instance: Option<(&'static str, &'static str)>,
}

impl<'r> Context<'r> {
    fn new(rule: &'r Rule) -> Context<'r> {
        let mut fixed: BTreeMap<&str, &str> = BTreeMap::new();
        fixed.insert("alertname", rule.name.as_str());
        fixed.insert("severity", rule.severity.as_str());
        for (k, v) in &rule.labels {
            fixed.insert(k.as_str(), v.as_str());
        }
        Context {
            rule,
            fixed,
            instance: rule.metric().and_then(exposition_label),
        }
    }

    /// One placeholder (trimmed, without its braces) as Prometheus's template text.
    fn placeholder(&self, key: &str) -> String {
        match key {
            "value" | "$value" => VALUE.to_owned(),
            "threshold" => literal(&format!(
                "{:.1}",
                self.rule.threshold().map_or(f64::NAN, |t| t.threshold)
            )),
            "name" => literal(&self.rule.name),
            k => match k
                .strip_prefix("labels.")
                .or_else(|| k.strip_prefix("$labels."))
            {
                Some(label) => {
                    if let Some(v) = self.fixed.get(label) {
                        return literal(v);
                    }
                    let series_label = match self.instance {
                        Some((ours, theirs)) if ours == label => theirs,
                        _ => label,
                    };
                    format!("{{{{ {} }}}}", label_ref(series_label))
                }
                // `check` refuses these at load; written as text if one got past it.
                None => literal(&format!("{{{{ {k} }}}}")),
            },
        }
    }

    /// A template in our syntax, in Prometheus's.
    fn translate(&self, template: &str) -> String {
        let mut out = String::with_capacity(template.len() + 32);
        let mut rest = template;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                // Unclosed (refused at load): text.
                out.push_str(&literal(&rest[start..]));
                return out;
            };
            out.push_str(&self.placeholder(after[..end].trim()));
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        out
    }

    /// The summary the embedded evaluator makes up for a rule without one
    /// (`render_annotations`), as a template.
    fn made_up_summary(&self) -> String {
        let rule = self.rule;
        let name = literal(&rule.name);
        match rule.threshold() {
            Some(t) => {
                let what = match self.instance {
                    Some((_, theirs)) => {
                        format!("{} {{{{ {} }}}}", t.metric.name(), label_ref(theirs))
                    }
                    None => t.metric.name().to_owned(),
                };
                format!(
                    "{name}: {what} {VALUE} {} {}",
                    t.comparison.symbol(),
                    literal(&format!("{:.1}", t.threshold))
                )
            }
            // `Name {k=v, …}: value`, the series' labels in name order (Go ranges over a map
            // sorted by key), the metric name left out.
            None => format!(
                "{name}{{{{ $sep := \" {{\" }}}}{{{{ range $k, $v := $labels }}}}{{{{ if ne $k \"__name__\" }}}}{{{{ $sep }}}}{{{{ $k }}}}={{{{ $v }}}}{{{{ $sep = \", \" }}}}{{{{ end }}}}{{{{ end }}}}{{{{ if ne $sep \" {{\" }}}}{{{{ \"}}\" }}}}{{{{ end }}}}: {{{{ $value }}}}"
            ),
        }
    }
}

/// The embedded `{{ value }}`: one decimal.
const VALUE: &str = "{{ $value | printf \"%.1f\" }}";

/// `$labels.name`, or `index $labels "name"` when the name is not a Go identifier.
fn label_ref(name: &str) -> String {
    let identifier = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if identifier {
        format!("$labels.{name}")
    } else {
        format!("index $labels {}", go_string(name))
    }
}

/// Text that Prometheus's template engine prints as it is: unchanged, or — when it holds
/// `{{` — as a Go string in an action.
fn literal(text: &str) -> String {
    if text.contains("{{") {
        format!("{{{{ {} }}}}", go_string(text))
    } else {
        text.to_owned()
    }
}

/// A Go interpreted string literal.
fn go_string(text: &str) -> String {
    double_quoted(text, true, char::is_control)
}

/// A YAML scalar: single-quoted (only `'` doubled) when the text is printable on one line,
/// double-quoted with escapes otherwise.
fn yaml(text: &str) -> String {
    if !text.chars().any(yaml_unprintable) {
        return format!("'{}'", text.replace('\'', "''"));
    }
    double_quoted(text, false, yaml_unprintable)
}

/// What a single-quoted YAML scalar cannot hold: control characters, NEL, the line and
/// paragraph separators and the byte-order mark.
fn yaml_unprintable(c: char) -> bool {
    c.is_control() || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}')
}

/// `text` in double quotes with the backslash escapes Go and YAML share: `\\`, `\"`, `\n`,
/// `\t`, `\r` when `short_cr` (else `\u000d`), and `\uXXXX` for the other characters
/// `unicode` picks.
fn double_quoted(text: &str, short_cr: bool, unicode: fn(char) -> bool) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' if short_cr => out.push_str("\\r"),
            c if unicode(c) => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text for a `#` comment: one line.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A duration in Prometheus's syntax (`1h30m`, `500ms`, `0s`), and whether it was rounded up
/// to a whole millisecond.
fn prom_duration(d: Duration) -> (String, bool) {
    let nanos = d.as_nanos();
    let rounded = !nanos.is_multiple_of(1_000_000);
    let mut ms = nanos.div_ceil(1_000_000);
    if ms == 0 {
        return ("0s".to_owned(), rounded);
    }
    let mut out = String::new();
    for (unit, size) in [
        ("d", 86_400_000u128),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if ms >= size {
            let _ = write!(out, "{}{unit}", ms / size);
            ms %= size;
        }
    }
    (out, rounded)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod test {
    use std::time::Duration;

    use super::*;
    use crate::rule::{Comparison, FlapDetection, Severity};

    #[test]
    fn durations_in_prometheus_syntax() {
        assert_eq!(prom_duration(Duration::ZERO), ("0s".into(), false));
        assert_eq!(
            prom_duration(Duration::from_secs(90)),
            ("1m30s".into(), false)
        );
        assert_eq!(
            prom_duration(Duration::from_millis(1500)),
            ("1s500ms".into(), false)
        );
        assert_eq!(
            prom_duration(Duration::from_hours(49)),
            ("2d1h".into(), false)
        );
        assert_eq!(
            prom_duration(Duration::from_micros(1500)),
            ("2ms".into(), true)
        );
    }

    #[test]
    fn quoting_keeps_text_and_never_runs_it() {
        assert_eq!(yaml("it's"), "'it''s'");
        assert_eq!(yaml("a\nb\t\"c\""), "\"a\\nb\\t\\\"c\\\"\"");
        assert_eq!(literal("x {{ y }}"), "{{ \"x {{ y }}\" }}");
        assert_eq!(literal("plain"), "plain");
        assert_eq!(label_ref("mountpoint"), "$labels.mountpoint");
        assert_eq!(label_ref("9x"), "index $labels \"9x\"");
        assert_eq!(promql_string("a\"b"), "\"a\\\"b\"");
        // Go writes `\r` short, YAML as a code point; both escape other control characters.
        assert_eq!(go_string("\r\t\u{1}\u{85}"), "\"\\r\\t\\u0001\\u0085\"");
        assert_eq!(yaml("\r\u{2028}"), "\"\\u000d\\u2028\"");
    }

    #[test]
    fn templates_translate_placeholder_by_placeholder() {
        let mut rule =
            Rule::new("DiskFull", Metric::Disk, Comparison::Greater, 90.0).severity(Severity::Page);
        rule.labels.insert("team".into(), "storage".into());
        let ctx = Context::new(&rule);
        assert_eq!(
            ctx.translate(
                "{{ name }} on {{labels.mount}} ({{ $labels.team }}, {{ labels.severity }}): {{ value }}% > {{ threshold }}%, {{ $value }}"
            ),
            "DiskFull on {{ $labels.mountpoint }} (storage, page): {{ $value | printf \"%.1f\" }}% > 90.0%, {{ $value | printf \"%.1f\" }}"
        );
        assert_eq!(
            ctx.made_up_summary(),
            "DiskFull: disk {{ $labels.mountpoint }} {{ $value | printf \"%.1f\" }} > 90.0"
        );
        let promql = Rule::promql("Errors {{x}}", "sum by (route) (rate(e[5m])) > 1").unwrap();
        let ctx = Context::new(&promql);
        assert_eq!(
            ctx.translate("{{ name }} on {{ labels.route }} above {{ threshold }}"),
            "{{ \"Errors {{x}}\" }} on {{ $labels.route }} above NaN"
        );
    }

    #[test]
    fn labels_keep_the_embedded_names() {
        let mut rule = Rule::new("NetBusy", Metric::NetworkRx, Comparison::Greater, 1e6);
        rule.labels.insert("severity".into(), "ticket".into());
        rule.labels
            .insert("note".into(), "{{ not a template }}".into());
        assert_eq!(
            labels(&rule),
            vec![
                ("severity".to_owned(), "ticket".to_owned()),
                ("interface".to_owned(), "{{ $labels.device }}".to_owned()),
                (
                    "note".to_owned(),
                    "{{ \"{{ not a template }}\" }}".to_owned()
                ),
            ]
        );
        let f = Rule::new("Slow", Metric::FunctionP99, Comparison::Greater, 500.0);
        assert_eq!(
            labels(&f),
            vec![("severity".to_owned(), "warning".to_owned())]
        );
    }

    #[test]
    fn recovery_is_the_alerts_pattern_and_flapping_is_named() {
        let mut set = RuleSet::defaults();
        set.rules = vec![
            Rule::new("HighLoad", Metric::Load1, Comparison::Greater, 4.0)
                .recovery(3.0)
                .for_duration(Duration::from_secs(90)),
            Rule::new("LowMemory", Metric::Memory, Comparison::Less, 10.0).recovery(15.0),
        ];
        set.rules[0].flap = Some(FlapDetection {
            low: 20.0,
            high: 30.0,
        });
        set.resend_delay = Duration::from_secs(30);
        let (text, warnings) = prometheus_rules(&set, &Options::new().group("host")).unwrap();
        assert!(text.contains(
            "  - alert: 'HighLoad'\n    expr: 'node_load1 > 4 or (node_load1 >= 3 and ignoring(alertname, alertstate, severity) ALERTS{alertname=\"HighLoad\", alertstate=\"firing\"})'\n    for: 1m30s\n"
        ), "{text}");
        assert!(text.contains(
            "expr: 'ops_memory_usage_ratio * 100 < 10 or (ops_memory_usage_ratio * 100 <= 15 and ignoring(alertname, alertstate, severity) ALERTS{alertname=\"LowMemory\", alertstate=\"firing\"})'"
        ), "{text}");
        assert!(text.contains("  # NOT EXPORTED: HighLoad: flap detection (low 20%, high 30%)"));
        assert!(text.contains(
            "# NOT EXPORTED: resend_delay 30s is not part of a rule file: start Prometheus with --rules.alert.resend-delay=30s\n"
        ));
        assert_eq!(
            warnings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            vec![
                "resend_delay 30s is not part of a rule file: start Prometheus with --rules.alert.resend-delay=30s".to_owned(),
                "rule \"HighLoad\": flap detection (low 20%, high 30%) has no Prometheus equivalent; Alertmanager's group_interval and the rule's keep_firing_for damp notifications instead".to_owned(),
            ]
        );
    }

    #[test]
    fn the_playbooks_defaults_export_exactly() {
        let (text, warnings) = prometheus_rules(
            &RuleSet::defaults(),
            &Options::new().interval(Duration::from_secs(15)),
        )
        .unwrap();
        assert!(warnings.is_empty());
        assert_eq!(
            text,
            "# Prometheus alerting rules written by ops-thresholds (ops rules export --format prometheus):\n\
             # the embedded evaluator's rules over the names /metrics shows (node_exporter's where they apply).\n\
             groups:\n\
             - name: 'ops-thresholds'\n  interval: 15s\n  rules:\n\
             \x20 - alert: 'HighCpuUsage'\n    expr: 'ops_cpu_usage_ratio * 100 > 80'\n    labels:\n      severity: 'warning'\n    annotations:\n      summary: 'High CPU usage: {{ $value | printf \"%.1f\" }}%'\n\
             \x20 - alert: 'HighMemoryUsage'\n    expr: 'ops_memory_usage_ratio * 100 > 85'\n    labels:\n      severity: 'warning'\n    annotations:\n      summary: 'High memory usage: {{ $value | printf \"%.1f\" }}%'\n\
             \x20 - alert: 'HighDiskUsage'\n    expr: 'ops_filesystem_usage_ratio * 100 > 90'\n    labels:\n      severity: 'warning'\n      mount: '{{ $labels.mountpoint }}'\n    annotations:\n      summary: 'High disk usage on {{ $labels.mountpoint }}: {{ $value | printf \"%.1f\" }}%'\n"
        );
    }

    #[test]
    fn invalid_sets_and_empty_groups_are_refused() {
        let mut set = RuleSet::defaults();
        set.rules[0] = Rule::new("Bad", Metric::Cpu, Comparison::Greater, f64::NAN);
        assert!(prometheus_rules(&set, &Options::new()).is_err());
        assert!(prometheus_rules(&RuleSet::defaults(), &Options::new().group(" ")).is_err());
        let mut empty = RuleSet::defaults();
        empty.rules.clear();
        let (text, _) = prometheus_rules(&empty, &Options::new()).unwrap();
        assert!(
            text.ends_with("- name: 'ops-thresholds'\n  rules: []\n"),
            "{text}"
        );
    }
}
