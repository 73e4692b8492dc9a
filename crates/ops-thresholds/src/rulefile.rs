//! Rule files: TOML (feature `toml`, on by default), JSON (`json`) or YAML (`yaml`), validated
//! with errors that name file, line and field. Loading is linear in the file's size; a file
//! over [`MAX_RULE_FILE_BYTES`] or nested deeper than [`MAX_NESTING`] is refused before parsing.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::str::FromStr as _;
use std::time::Duration;

use ops_core::duration::{self, Bounds};
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::metric::Metric;
use crate::rule::{
    Comparison, Condition, DEFAULT_WINDOW, FlapDetection, PromqlCondition, Rule, RuleSet, Severity,
    Threshold,
};

/// The largest rule file read: 16 MiB (about 100,000 rules).
pub const MAX_RULE_FILE_BYTES: u64 = 16 << 20;

/// The deepest nesting of brackets or indentation levels accepted in a rule file. Rule files
/// need four; parsers of deeply nested input can take time quadratic in the depth.
pub const MAX_NESTING: usize = 64;

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

impl Format {
    /// The format an extension names: `toml`, `json`, `yaml`/`yml`.
    pub fn from_extension(path: &Path) -> Option<Format> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("toml") => Some(Format::Toml),
            Some("json") => Some(Format::Json),
            Some("yaml" | "yml") => Some(Format::Yaml),
            _ => None,
        }
    }

    fn feature(self) -> &'static str {
        match self {
            Format::Toml => "toml",
            Format::Json => "json",
            Format::Yaml => "yaml",
        }
    }
}

impl RuleSet {
    /// Reads a rule file; the format comes from the extension (`.toml`, `.json`,
    /// `.yaml`/`.yml`).
    ///
    /// # Errors
    /// The file cannot be read, is too large or too deeply nested, is malformed, its format's
    /// feature is not enabled, or a rule is invalid: see [`Error`].
    pub fn load(path: impl AsRef<Path>) -> Result<RuleSet> {
        use std::io::Read as _;
        let path = path.as_ref();
        let read = |source| Error::Read {
            path: path.to_path_buf(),
            source,
        };
        let format = Format::from_extension(path).ok_or_else(|| Error::Format {
            path: path.to_path_buf(),
        })?;
        let file = std::fs::File::open(path).map_err(read)?;
        let mut text = String::new();
        // One byte more than the cap tells a file at the cap from a larger one.
        file.take(MAX_RULE_FILE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(read)?;
        if text.len() as u64 > MAX_RULE_FILE_BYTES {
            return Err(Error::TooLarge {
                path: path.to_path_buf(),
                limit: MAX_RULE_FILE_BYTES,
            });
        }
        Self::parse(&text, format, path)
    }

    /// Parses rules from text; `path` names the source in errors.
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub fn parse(text: &str, format: Format, path: &Path) -> Result<RuleSet> {
        if let Some(line) = too_deep(text, format) {
            return Err(Error::Syntax {
                path: path.to_path_buf(),
                line,
                message: format!("nested more than {MAX_NESTING} levels deep"),
            });
        }
        let raw: RawFile = deserialize(text, format, path)?;
        raw.validate(text, path)
    }
}

#[allow(clippy::needless_pass_by_value, unused_variables)]
fn deserialize(text: &str, format: Format, path: &Path) -> Result<RawFile> {
    let syntax = |line: usize, message: String| Error::Syntax {
        path: path.to_path_buf(),
        line,
        message,
    };
    match format {
        #[cfg(feature = "toml")]
        Format::Toml => toml::from_str(text).map_err(|e| {
            syntax(
                e.span().map_or(0, |s| line_of(text, s.start)),
                e.message().to_owned(),
            )
        }),
        #[cfg(feature = "json")]
        Format::Json => {
            serde_json::from_str(text).map_err(|e| syntax(e.line(), strip_position(&e.to_string())))
        }
        #[cfg(feature = "yaml")]
        Format::Yaml => serde_norway::from_str(text).map_err(|e| {
            syntax(
                e.location().map_or(0, |l| l.line()),
                strip_position(&e.to_string()),
            )
        }),
        #[allow(unreachable_patterns)]
        other => Err(Error::FormatDisabled {
            path: path.to_path_buf(),
            feature: other.feature(),
        }),
    }
}

/// The first line where brackets (or, in YAML, indentation steps) nest deeper than
/// [`MAX_NESTING`]. One pass; strings are skipped.
fn too_deep(text: &str, format: Format) -> Option<usize> {
    let mut depth = 0usize;
    let mut line = 1;
    let mut in_string: Option<u8> = None;
    let mut escaped = false;
    for &b in text.as_bytes() {
        if b == b'\n' {
            line += 1;
        }
        if let Some(q) = in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' && q == b'"' {
                escaped = true;
            } else if b == q || (b == b'\n' && format != Format::Json) {
                in_string = None;
            }
            continue;
        }
        match b {
            b'"' => in_string = Some(b'"'),
            b'\'' if format != Format::Json => in_string = Some(b'\''),
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(line);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if format == Format::Yaml {
        // Block nesting: each deeper indentation of a line that starts a key or an item.
        for (i, l) in text.lines().enumerate() {
            let indent = l.len() - l.trim_start_matches([' ', '-']).len();
            if indent > 2 * MAX_NESTING {
                return Some(i + 1);
            }
        }
    }
    None
}

#[cfg(feature = "toml")]
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).unwrap_or(text).matches('\n').count() + 1
}

/// `serde_json` and `serde_norway` append " at line L column C"; the line is reported
/// separately.
#[cfg(any(feature = "json", feature = "yaml"))]
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
    #[serde(default)]
    metric: Option<String>,
    #[serde(default)]
    expr: Option<String>,
    #[serde(default)]
    window: Option<String>,
    #[serde(default)]
    mount: Option<String>,
    #[serde(default)]
    interface: Option<String>,
    #[serde(default)]
    function: Option<String>,
    #[serde(default)]
    comparison: Option<String>,
    #[serde(default)]
    threshold: Option<f64>,
    #[serde(default)]
    recovery: Option<f64>,
    #[serde(default)]
    severity: Option<String>,
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

impl RawRule {
    /// The rule's condition (and the rule around it, with its defaults): metric and
    /// threshold, or a `PromQL` expression.
    fn condition(&self, invalid: &dyn Fn(&'static str, String, String) -> Error) -> Result<Rule> {
        let rule = match (&self.metric, &self.expr) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "expr",
                    self.expr.clone().unwrap_or_default(),
                    "a rule has either `metric` and `threshold` or `expr`, not both".into(),
                ));
            }
            (None, None) => {
                return Err(invalid(
                    "metric",
                    String::new(),
                    "a rule needs `metric` and `threshold`, or `expr`".into(),
                ));
            }
            (None, Some(expr)) => {
                let extra = [
                    ("comparison", self.comparison.is_some()),
                    ("threshold", self.threshold.is_some()),
                    ("recovery", self.recovery.is_some()),
                    ("window", self.window.is_some()),
                    ("mount", self.mount.is_some()),
                    ("interface", self.interface.is_some()),
                    ("function", self.function.is_some()),
                ];
                if let Some((field, _)) = extra.into_iter().find(|(_, given)| *given) {
                    return Err(invalid(
                        field,
                        expr.clone(),
                        "a rule with `expr` takes its condition from the expression alone (write the comparison in PromQL)".into(),
                    ));
                }
                let condition = PromqlCondition::parse(expr)
                    .map_err(|e| invalid("expr", expr.clone(), e.to_string()))?;
                let mut rule = Rule::new(self.name.clone(), Metric::Cpu, Comparison::Greater, 0.0);
                rule.condition = Condition::Promql(condition);
                rule
            }
            (Some(metric_name), None) => self.threshold_rule(metric_name, invalid)?,
        };
        Ok(rule)
    }

    /// A metric-and-threshold rule.
    fn threshold_rule(
        &self,
        metric_name: &str,
        invalid: &dyn Fn(&'static str, String, String) -> Error,
    ) -> Result<Rule> {
        let metric = Metric::parse(metric_name).ok_or_else(|| {
            let known: Vec<&str> = Metric::ALL.iter().map(Metric::name).collect();
            invalid(
                "metric",
                metric_name.to_owned(),
                format!("unknown metric; known: {}", known.join(", ")),
            )
        })?;
        let comparison_text = self.comparison.as_deref().unwrap_or(">");
        let comparison = Comparison::parse(comparison_text).ok_or_else(|| {
            invalid(
                "comparison",
                comparison_text.to_owned(),
                "expected one of >, >=, <, <=".into(),
            )
        })?;
        let threshold = self.threshold.ok_or_else(|| {
            invalid(
                "threshold",
                String::new(),
                "missing: a metric rule needs a threshold".into(),
            )
        })?;
        let selector = match (
            self.mount.clone(),
            self.interface.clone(),
            self.function.clone(),
        ) {
            (None, None, None) => None,
            (Some(m), None, None) if metric == Metric::Disk => Some(m),
            (None, Some(i), None) if matches!(metric, Metric::NetworkRx | Metric::NetworkTx) => {
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
        let window = match &self.window {
            None => DEFAULT_WINDOW,
            Some(w) => duration::parse_within(w, Bounds::NONZERO)
                .map_err(|e| invalid("window", w.clone(), e.to_string()))?,
        };
        Ok(Rule::with_threshold(
            self.name.clone(),
            Threshold {
                metric,
                selector,
                comparison,
                threshold,
                recovery: self.recovery,
                window,
            },
        ))
    }
}

/// The value a line gives a `name` key, in any of the three formats (`name = "x"`,
/// `"name": "x"`, `name: x`, `- name: x`, `{"name": "x", …}`).
fn name_on_line(line: &str) -> Option<&str> {
    let mut from = 0;
    while let Some(i) = line[from..].find("name") {
        let at = from + i;
        from = at + 4;
        let before = line[..at].chars().next_back();
        if !matches!(
            before,
            None | Some(' ' | '\t' | '{' | '"' | '\'' | '-' | ',')
        ) {
            continue;
        }
        let rest = &line[at + 4..];
        let rest = rest.strip_prefix(['"', '\'']).unwrap_or(rest).trim_start();
        let Some(value) = rest.strip_prefix(['=', ':']) else {
            continue;
        };
        let value = value.trim_start();
        if let Some(quote) = value.chars().next().filter(|c| matches!(c, '"' | '\'')) {
            let inner = &value[1..];
            return inner.find(quote).map(|end| &inner[..end]);
        }
        let end = value.find([',', '}', '#']).unwrap_or(value.len());
        return Some(value[..end].trim_end());
    }
    None
}

/// The first line of each rule name, in one pass over the text.
fn rule_lines(text: &str) -> HashMap<&str, usize> {
    let mut lines = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        if let Some(name) = name_on_line(line) {
            lines.entry(name).or_insert(i + 1);
        }
    }
    lines
}

/// The first line that mentions a top-level setting.
fn setting_line(text: &str, field: &str) -> usize {
    text.lines()
        .position(|l| {
            let l = l.trim_start().trim_start_matches('"');
            l.starts_with(field)
        })
        .map_or(0, |i| i + 1)
}

impl RawFile {
    fn validate(self, text: &str, path: &Path) -> Result<RuleSet> {
        let setting = |field: &'static str, value: &Option<String>, default: Duration, bounds| {
            value.as_deref().map_or(Ok(default), |v| {
                duration::parse_within(v, bounds).map_err(|e| Error::Setting {
                    path: Some(path.to_path_buf()),
                    line: setting_line(text, field),
                    field,
                    value: v.to_owned(),
                    reason: e.to_string(),
                })
            })
        };
        let defaults = RuleSet::defaults();
        let interval = setting(
            "interval",
            &self.interval,
            defaults.interval,
            Bounds::INTERVAL,
        )?;
        let resend_delay = setting(
            "resend_delay",
            &self.resend_delay,
            defaults.resend_delay,
            Bounds::ANY,
        )?;
        let lines = rule_lines(text);
        let line_of_rule = |name: &str| lines.get(name).copied().unwrap_or(0);
        let mut rules: Vec<Rule> = Vec::with_capacity(self.rules.len());
        for raw in self.rules {
            let line = line_of_rule(&raw.name);
            let invalid = |field: &'static str, value: String, reason: String| Error::Invalid {
                path: path.to_path_buf(),
                line,
                rule: raw.name.clone(),
                field,
                value,
                reason,
            };
            let severity = match &raw.severity {
                None => Severity::Warning,
                Some(s) => Severity::from_str(s)
                    .map_err(|e| invalid("severity", s.clone(), e.to_string()))?,
            };
            let duration = |field: &'static str, v: &Option<String>| -> Result<Duration> {
                v.as_deref().map_or(Ok(Duration::ZERO), |text| {
                    duration::parse(text)
                        .map_err(|e| invalid(field, text.to_owned(), e.to_string()))
                })
            };
            let mut rule = raw.condition(&invalid)?;
            rule.severity = severity;
            rule.labels = raw.labels;
            rule.annotations = raw.annotations;
            rule.for_duration = duration("for", &raw.for_duration)?;
            rule.keep_firing_for = duration("keep_firing_for", &raw.keep_firing_for)?;
            rule.flap = raw.flap;
            rules.push(rule);
        }
        let mut set = RuleSet::defaults();
        set.rules = rules;
        set.interval = interval;
        set.resend_delay = resend_delay;
        set.validate_at(&|i| Some((path.to_path_buf(), line_of_rule(&set.rules[i].name))))?;
        Ok(set)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn names_are_found_on_their_lines_in_every_format() {
        assert_eq!(name_on_line("name = \"HighCpu\""), Some("HighCpu"));
        assert_eq!(
            name_on_line("  {\"name\": \"HighCpu\", \"metric\": \"cpu\"}"),
            Some("HighCpu")
        );
        assert_eq!(name_on_line("metric_name = \"x\""), None);
        assert_eq!(name_on_line("  \"name\": \"HighCpu\","), Some("HighCpu"));
        assert_eq!(name_on_line("  - name: HighCpu"), Some("HighCpu"));
        assert_eq!(name_on_line("    name: 'High Cpu'"), Some("High Cpu"));
        assert_eq!(name_on_line("metric = \"cpu\""), None);
        assert_eq!(name_on_line("names = \"x\""), None);
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("rules: {}{}", "[".repeat(100), "]".repeat(100));
        assert_eq!(too_deep(&deep, Format::Yaml), Some(1));
        assert_eq!(too_deep("a = \"[[[[[[\"", Format::Toml), None);
        assert_eq!(too_deep("rules:\n  - name: x\n", Format::Yaml), None);
    }
}
