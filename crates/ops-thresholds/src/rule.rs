//! Rules as data: TOML, JSON or YAML files, validated with errors that name file, line and field.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};

/// What a rule watches.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Metric {
    /// `cpu_percent` (absent on a source's first sample).
    Cpu,
    /// `memory_percent`.
    Memory,
    /// Disk used percent, one alert per mount (label `mount`) unless `mount` selects one.
    Disk,
    /// Received bytes per second, one alert per interface (label `interface`) unless selected.
    NetworkRx,
    /// Transmitted bytes per second, per interface.
    NetworkTx,
    /// `process_count`.
    Processes,
    /// 1-minute load average.
    Load1,
    /// 5-minute load average.
    Load5,
    /// 15-minute load average.
    Load15,
    /// A profiled function's p50 in ms, one alert per function (label `function`) unless
    /// `function` selects one.
    FunctionP50,
    /// A profiled function's p90 in ms.
    FunctionP90,
    /// A profiled function's p99 in ms.
    FunctionP99,
    /// A profiled function's average in ms.
    FunctionAvg,
    /// A profiled function's error ratio (errors / calls, 0–1).
    FunctionErrorRatio,
}

impl Metric {
    /// The name used in rule files.
    pub fn name(&self) -> &'static str {
        match self {
            Metric::Cpu => "cpu",
            Metric::Memory => "memory",
            Metric::Disk => "disk",
            Metric::NetworkRx => "network_rx_bytes_per_second",
            Metric::NetworkTx => "network_tx_bytes_per_second",
            Metric::Processes => "processes",
            Metric::Load1 => "load1",
            Metric::Load5 => "load5",
            Metric::Load15 => "load15",
            Metric::FunctionP50 => "function_p50_ms",
            Metric::FunctionP90 => "function_p90_ms",
            Metric::FunctionP99 => "function_p99_ms",
            Metric::FunctionAvg => "function_avg_ms",
            Metric::FunctionErrorRatio => "function_error_ratio",
        }
    }

    /// Every metric, for error messages and documentation.
    pub const ALL: [Metric; 14] = [
        Metric::Cpu,
        Metric::Memory,
        Metric::Disk,
        Metric::NetworkRx,
        Metric::NetworkTx,
        Metric::Processes,
        Metric::Load1,
        Metric::Load5,
        Metric::Load15,
        Metric::FunctionP50,
        Metric::FunctionP90,
        Metric::FunctionP99,
        Metric::FunctionAvg,
        Metric::FunctionErrorRatio,
    ];

    fn parse(text: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == text)
    }

    /// The label that tells instances apart, for per-mount/interface/function metrics.
    pub fn instance_label(&self) -> Option<&'static str> {
        match self {
            Metric::Disk => Some("mount"),
            Metric::NetworkRx | Metric::NetworkTx => Some("interface"),
            Metric::FunctionP50
            | Metric::FunctionP90
            | Metric::FunctionP99
            | Metric::FunctionAvg
            | Metric::FunctionErrorRatio => Some("function"),
            _ => None,
        }
    }
}

/// How the value is compared with the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Comparison {
    /// `>`
    Greater,
    /// `>=`
    GreaterOrEqual,
    /// `<`
    Less,
    /// `<=`
    LessOrEqual,
}

impl Comparison {
    fn parse(text: &str) -> Option<Comparison> {
        match text {
            ">" | "gt" => Some(Comparison::Greater),
            ">=" | "ge" => Some(Comparison::GreaterOrEqual),
            "<" | "lt" => Some(Comparison::Less),
            "<=" | "le" => Some(Comparison::LessOrEqual),
            _ => None,
        }
    }

    /// Whether `value` breaches `threshold`.
    #[inline]
    pub fn breached(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::Greater => value > threshold,
            Comparison::GreaterOrEqual => value >= threshold,
            Comparison::Less => value < threshold,
            Comparison::LessOrEqual => value <= threshold,
        }
    }

    /// Whether the threshold is an upper bound (`>`/`>=`).
    pub fn is_upper(self) -> bool {
        matches!(self, Comparison::Greater | Comparison::GreaterOrEqual)
    }

    /// The symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::Greater => ">",
            Comparison::GreaterOrEqual => ">=",
            Comparison::Less => "<",
            Comparison::LessOrEqual => "<=",
        }
    }
}

/// Nagios-style flap detection settings (percent state change over the last 21 evaluations).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlapDetection {
    /// Flapping stops when the weighted state change falls to this percent or below.
    pub low: f64,
    /// Flapping starts when it reaches this percent or above.
    pub high: f64,
}

/// One validated rule.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Rule {
    /// The alert name (`alertname` label).
    pub name: String,
    /// What it watches.
    pub metric: Metric,
    /// Only this mount / interface / function (per-instance metrics).
    pub selector: Option<String>,
    /// How the value is compared.
    pub comparison: Comparison,
    /// The threshold.
    pub threshold: f64,
    /// Hysteresis: once active, the alert clears only past this value (below it for `>`, above
    /// it for `<`).
    pub recovery: Option<f64>,
    /// `severity` label.
    pub severity: String,
    /// Extra labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations (templates; `summary` is the message).
    pub annotations: BTreeMap<String, String>,
    /// How long the condition must hold before the alert fires.
    pub for_duration: Duration,
    /// How long a firing alert keeps firing after the condition clears.
    pub keep_firing_for: Duration,
    /// Optional flap detection.
    pub flap: Option<FlapDetection>,
}

impl Rule {
    /// A rule with the given metric, comparison and threshold, severity `warning`, no `for`.
    pub fn new(
        name: impl Into<String>,
        metric: Metric,
        comparison: Comparison,
        threshold: f64,
    ) -> Rule {
        Rule {
            name: name.into(),
            metric,
            selector: None,
            comparison,
            threshold,
            recovery: None,
            severity: "warning".into(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            for_duration: Duration::ZERO,
            keep_firing_for: Duration::ZERO,
            flap: None,
        }
    }

    /// Sets the `summary` annotation template.
    #[must_use]
    pub fn summary(mut self, template: impl Into<String>) -> Rule {
        self.annotations.insert("summary".into(), template.into());
        self
    }

    /// Sets `for`.
    #[must_use]
    pub fn for_duration(mut self, d: Duration) -> Rule {
        self.for_duration = d;
        self
    }

    /// Sets `keep_firing_for`.
    #[must_use]
    pub fn keep_firing_for(mut self, d: Duration) -> Rule {
        self.keep_firing_for = d;
        self
    }

    /// Sets the recovery threshold (hysteresis).
    #[must_use]
    pub fn recovery(mut self, value: f64) -> Rule {
        self.recovery = Some(value);
        self
    }

    /// Sets the severity.
    #[must_use]
    pub fn severity(mut self, severity: impl Into<String>) -> Rule {
        self.severity = severity.into();
        self
    }

    /// Sets the mount / interface / function selector.
    #[must_use]
    pub fn select(mut self, selector: impl Into<String>) -> Rule {
        self.selector = Some(selector.into());
        self
    }
}

/// A set of rules and the evaluation settings that go with them.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RuleSet {
    /// The rules, names unique.
    pub rules: Vec<Rule>,
    /// The evaluation interval (default 1 s for the monitor; Prometheus uses 1 m).
    pub interval: Duration,
    /// How often a firing alert is re-sent (default 1 m, as Prometheus).
    pub resend_delay: Duration,
}

impl RuleSet {
    /// The playbook's defaults: CPU > 80, memory > 85, each disk > 90, with its messages
    /// ("High CPU usage: 93.2%", "High memory usage: 88.0%", "High disk usage on /: 91.5%").
    pub fn defaults() -> RuleSet {
        RuleSet {
            rules: vec![
                Rule::new("HighCpuUsage", Metric::Cpu, Comparison::Greater, 80.0)
                    .summary("High CPU usage: {{ value }}%"),
                Rule::new("HighMemoryUsage", Metric::Memory, Comparison::Greater, 85.0)
                    .summary("High memory usage: {{ value }}%"),
                Rule::new("HighDiskUsage", Metric::Disk, Comparison::Greater, 90.0)
                    .summary("High disk usage on {{ labels.mount }}: {{ value }}%"),
            ],
            interval: Duration::from_secs(1),
            resend_delay: Duration::from_mins(1),
        }
    }

    /// Reads a rule file; the format comes from the extension (`.toml`, `.json`, `.yaml`/`.yml`).
    ///
    /// # Errors
    /// The file cannot be read, is malformed, or a rule is invalid: see [`Error`].
    pub fn load(path: impl AsRef<Path>) -> Result<RuleSet> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let format = match path.extension().and_then(|e| e.to_str()) {
            Some("toml") => Format::Toml,
            Some("json") => Format::Json,
            Some("yaml" | "yml") => Format::Yaml,
            _ => {
                return Err(Error::Format {
                    path: path.to_path_buf(),
                });
            }
        };
        Self::parse(&text, format, path)
    }

    /// Parses rules from text.
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub fn parse(text: &str, format: Format, path: &Path) -> Result<RuleSet> {
        let raw: RawFile = match format {
            Format::Toml => toml::from_str(text).map_err(|e| Error::Syntax {
                path: path.to_path_buf(),
                line: e.span().map_or(0, |s| line_of(text, s.start)),
                message: e.message().to_owned(),
            })?,
            Format::Json => serde_json::from_str(text).map_err(|e| Error::Syntax {
                path: path.to_path_buf(),
                line: e.line(),
                message: strip_position(&e.to_string()),
            })?,
            Format::Yaml => serde_norway::from_str(text).map_err(|e| Error::Syntax {
                path: path.to_path_buf(),
                line: e.location().map_or(0, |l| l.line()),
                message: strip_position(&e.to_string()),
            })?,
        };
        raw.validate(text, path)
    }
}

/// A rule file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// TOML (`[[rules]]` tables).
    Toml,
    /// JSON (`{"rules": [...]}`).
    Json,
    /// YAML (`rules:` list).
    Yaml,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}

/// `serde_json` and `serde_norway` append " at line L column C"; the line is reported separately.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    interval: Option<String>,
    #[serde(default)]
    resend_delay: Option<String>,
    #[serde(default)]
    rules: Vec<RawRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: String,
    metric: String,
    #[serde(default)]
    mount: Option<String>,
    #[serde(default)]
    interface: Option<String>,
    #[serde(default)]
    function: Option<String>,
    #[serde(default = "default_comparison")]
    comparison: String,
    threshold: f64,
    #[serde(default)]
    recovery: Option<f64>,
    #[serde(default = "default_severity")]
    severity: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default, rename = "for")]
    for_duration: Option<String>,
    #[serde(default)]
    keep_firing_for: Option<String>,
    #[serde(default)]
    flap: Option<FlapDetection>,
}

fn default_comparison() -> String {
    ">".into()
}

fn default_severity() -> String {
    "warning".into()
}

/// The first line that names the rule (`name = "x"`, `"name": "x"`, `name: x`).
fn rule_line(text: &str, name: &str) -> usize {
    text.lines()
        .position(|l| {
            l.contains("name")
                && (l.contains(&format!("\"{name}\""))
                    || l.contains(&format!("'{name}'"))
                    || l.trim_end().ends_with(&format!(": {name}")))
        })
        .map_or(0, |i| i + 1)
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl RawFile {
    // One function on purpose: every check of a rule, in the order of its fields.
    #[allow(clippy::too_many_lines)]
    fn validate(self, text: &str, path: &Path) -> Result<RuleSet> {
        let file_duration =
            |field: &'static str, value: &Option<String>, default: Duration| -> Result<Duration> {
                match value {
                    None => Ok(default),
                    Some(v) => parse_duration(v).map_err(|reason| Error::Invalid {
                        path: path.to_path_buf(),
                        line: text
                            .lines()
                            .position(|l| l.contains(field))
                            .map_or(0, |i| i + 1),
                        rule: String::new(),
                        field,
                        value: v.clone(),
                        reason,
                    }),
                }
            };
        let defaults = RuleSet::defaults();
        let interval = file_duration("interval", &self.interval, defaults.interval)?;
        if interval.is_zero() {
            return Err(Error::Invalid {
                path: path.to_path_buf(),
                line: 0,
                rule: String::new(),
                field: "interval",
                value: "0".into(),
                reason: "must be greater than zero".into(),
            });
        }
        let resend_delay =
            file_duration("resend_delay", &self.resend_delay, defaults.resend_delay)?;
        let mut rules: Vec<Rule> = Vec::with_capacity(self.rules.len());
        for raw in self.rules {
            let line = rule_line(text, &raw.name);
            let invalid = |field: &'static str, value: String, reason: String| Error::Invalid {
                path: path.to_path_buf(),
                line,
                rule: raw.name.clone(),
                field,
                value,
                reason,
            };
            if raw.name.trim().is_empty() {
                return Err(invalid(
                    "name",
                    format!("{:?}", raw.name),
                    "must not be empty".into(),
                ));
            }
            if rules.iter().any(|r| r.name == raw.name) {
                return Err(invalid(
                    "name",
                    raw.name.clone(),
                    "duplicate rule name".into(),
                ));
            }
            let metric = Metric::parse(&raw.metric).ok_or_else(|| {
                let known: Vec<&str> = Metric::ALL.iter().map(Metric::name).collect();
                invalid(
                    "metric",
                    raw.metric.clone(),
                    format!("unknown metric; known: {}", known.join(", ")),
                )
            })?;
            let comparison = Comparison::parse(&raw.comparison).ok_or_else(|| {
                invalid(
                    "comparison",
                    raw.comparison.clone(),
                    "expected one of >, >=, <, <=".into(),
                )
            })?;
            if !raw.threshold.is_finite() {
                return Err(invalid(
                    "threshold",
                    raw.threshold.to_string(),
                    "must be a finite number".into(),
                ));
            }
            if let Some(r) = raw.recovery {
                if !r.is_finite() {
                    return Err(invalid(
                        "recovery",
                        r.to_string(),
                        "must be a finite number".into(),
                    ));
                }
                let wrong_side = if comparison.is_upper() {
                    r > raw.threshold
                } else {
                    r < raw.threshold
                };
                if wrong_side {
                    let side = if comparison.is_upper() {
                        "at or below"
                    } else {
                        "at or above"
                    };
                    return Err(invalid(
                        "recovery",
                        r.to_string(),
                        format!(
                            "must be {side} the threshold {} for `{}` (inverted hysteresis)",
                            raw.threshold,
                            comparison.symbol()
                        ),
                    ));
                }
            }
            let selector = match (raw.mount, raw.interface, raw.function) {
                (None, None, None) => None,
                (Some(m), None, None) if metric == Metric::Disk => Some(m),
                (None, Some(i), None)
                    if matches!(metric, Metric::NetworkRx | Metric::NetworkTx) =>
                {
                    Some(i)
                }
                (None, None, Some(f)) if metric.instance_label() == Some("function") => Some(f),
                (m, i, f) => {
                    let given = m.or(i).or(f).unwrap_or_default();
                    return Err(invalid(
                        "mount/interface/function",
                        given,
                        format!("this selector does not apply to metric `{}`", metric.name()),
                    ));
                }
            };
            for key in raw.labels.keys() {
                if !is_label_name(key) {
                    return Err(invalid(
                        "labels",
                        key.clone(),
                        "label names must match [a-zA-Z_][a-zA-Z0-9_]*".into(),
                    ));
                }
            }
            let duration = |field: &'static str, v: &Option<String>| -> Result<Duration> {
                match v {
                    None => Ok(Duration::ZERO),
                    Some(text) => {
                        parse_duration(text).map_err(|reason| invalid(field, text.clone(), reason))
                    }
                }
            };
            let for_duration = duration("for", &raw.for_duration)?;
            let keep_firing_for = duration("keep_firing_for", &raw.keep_firing_for)?;
            if let Some(f) = raw.flap
                && !(f.low.is_finite()
                    && f.high.is_finite()
                    && 0.0 <= f.low
                    && f.low <= f.high
                    && f.high <= 100.0)
            {
                return Err(invalid(
                    "flap",
                    format!("low {} high {}", f.low, f.high),
                    "need 0 <= low <= high <= 100".into(),
                ));
            }
            rules.push(Rule {
                name: raw.name,
                metric,
                selector,
                comparison,
                threshold: raw.threshold,
                recovery: raw.recovery,
                severity: raw.severity,
                labels: raw.labels,
                annotations: raw.annotations,
                for_duration,
                keep_firing_for,
                flap: raw.flap,
            });
        }
        Ok(RuleSet {
            rules,
            interval,
            resend_delay,
        })
    }
}

/// The longest duration a rule setting may have.
const MAX_DURATION: Duration = Duration::from_hours(366 * 24);

/// Parses `1m30s`, `500ms`, `2h` (humantime); a sign, and anything over a year, are refused.
pub(crate) fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    let t = text.trim();
    if t.starts_with('-') {
        return Err("durations cannot be negative".into());
    }
    let d = humantime::parse_duration(t)
        .map_err(|e| format!("not a duration ({e}); examples: 30s, 2m, 1h30m"))?;
    if d > MAX_DURATION {
        return Err("at most a year".into());
    }
    Ok(d)
}
