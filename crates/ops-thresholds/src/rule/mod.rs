//! Rules: what to watch, how to compare, how to notify; validated whether they come from a file
//! ([`crate::rulefile`]) or from code ([`RuleSet::validate`]).

mod condition;
mod severity;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use ops_core::duration::{self, Bounds};
use serde::Deserialize;

pub(crate) use self::condition::fmt_number;
pub use self::condition::{Comparison, Condition, PromqlCondition, Threshold};
pub use self::severity::{Severity, UnknownSeverity};
use crate::error::{Error, Result};
use crate::metric::Metric;

/// The default window of rules over counters and histograms.
pub const DEFAULT_WINDOW: Duration = Duration::from_mins(5);
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
    /// What it compares.
    pub condition: Condition,
    /// `severity` label.
    pub severity: Severity,
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
        Rule::with_condition(
            name,
            Condition::Threshold(Threshold {
                metric,
                selector: None,
                comparison,
                threshold,
                recovery: None,
                window: DEFAULT_WINDOW,
            }),
        )
    }

    /// A rule on a `PromQL` condition: every sample the expression returns is an active alert,
    /// with the sample's labels; `{{ value }}` is the sample's value.
    ///
    /// # Errors
    /// [`Error::Rule`] naming the construct and its position when the expression is not in the
    /// supported subset.
    ///
    /// ```
    /// use ops_thresholds::Rule;
    /// let rule = Rule::promql("NoOrders", "sum(increase(shop_orders_total[15m])) == 0 or absent(shop_orders_total)")?;
    /// assert_eq!(rule.to_promql(), "sum(increase(shop_orders_total[15m])) == 0 or absent(shop_orders_total)");
    /// assert!(Rule::promql("Bad", "holt_winters(x[5m], 0.1, 0.1)").is_err());
    /// # Ok::<(), ops_thresholds::Error>(())
    /// ```
    pub fn promql(name: impl Into<String>, expr: &str) -> Result<Rule> {
        let name = name.into();
        let condition = PromqlCondition::parse(expr).map_err(|e| Error::Rule {
            rule: name.clone(),
            field: "expr",
            value: expr.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Rule::with_condition(name, Condition::Promql(condition)))
    }

    /// A rule on a threshold condition built field by field.
    pub fn with_threshold(name: impl Into<String>, threshold: Threshold) -> Rule {
        Rule::with_condition(name, Condition::Threshold(threshold))
    }

    fn with_condition(name: impl Into<String>, condition: Condition) -> Rule {
        Rule {
            name: name.into(),
            condition,
            severity: Severity::Warning,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            for_duration: Duration::ZERO,
            keep_firing_for: Duration::ZERO,
            flap: None,
        }
    }

    /// The threshold condition, for rules that have one.
    pub fn threshold(&self) -> Option<&Threshold> {
        match &self.condition {
            Condition::Threshold(t) => Some(t),
            Condition::Promql(_) => None,
        }
    }

    /// The metric of a threshold rule.
    pub fn metric(&self) -> Option<&Metric> {
        self.threshold().map(|t| &t.metric)
    }

    /// The label that tells this rule's instances apart (`mount`, `interface`, `function`), for
    /// threshold rules on per-instance metrics.
    pub fn instance_label(&self) -> Option<&'static str> {
        self.metric().and_then(Metric::instance_label)
    }

    /// `metric > threshold` for threshold rules, the expression for `PromQL` rules: how status
    /// pages show the condition.
    pub fn describe(&self) -> String {
        match &self.condition {
            Condition::Threshold(t) => {
                let window = if t.metric.is_windowed() {
                    format!("[{}]", ops_core::duration::format(t.window))
                } else {
                    String::new()
                };
                let what = match &t.selector {
                    Some(s) => format!(
                        "{}{{{}=\"{s}\"}}",
                        t.metric.name(),
                        t.metric.instance_label().unwrap_or("instance")
                    ),
                    None => t.metric.name().to_owned(),
                };
                format!("{what}{window} {} {}", t.comparison.symbol(), t.threshold)
            }
            Condition::Promql(p) => p.as_str().to_owned(),
        }
    }

    /// The rule's condition in `PromQL` over the exposition's names, as Prometheus would
    /// evaluate it from a scrape of the same page (what `ops rules show` prints).
    pub fn to_promql(&self) -> String {
        match &self.condition {
            Condition::Threshold(t) => {
                format!(
                    "{} {} {}",
                    crate::metric::promql_value(&t.metric, t.selector.as_deref(), t.window),
                    t.comparison.symbol(),
                    fmt_number(t.threshold)
                )
            }
            Condition::Promql(p) => p.as_str().to_owned(),
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

    /// Sets the recovery threshold (hysteresis) of a threshold rule.
    #[must_use]
    pub fn recovery(mut self, value: f64) -> Rule {
        if let Condition::Threshold(t) = &mut self.condition {
            t.recovery = Some(value);
        }
        self
    }

    /// Sets the window of a threshold rule over a counter or histogram metric.
    #[must_use]
    pub fn window(mut self, window: Duration) -> Rule {
        if let Condition::Threshold(t) = &mut self.condition {
            t.window = window;
        }
        self
    }

    /// Sets the severity.
    #[must_use]
    pub fn severity(mut self, severity: Severity) -> Rule {
        self.severity = severity;
        self
    }

    /// The labels every alert of this rule carries, in the order notifications list them:
    /// `alertname`, `severity`, the instance label of per-instance metrics (`mount`,
    /// `interface`, `function`), then the rule's own labels.
    pub fn label_names(&self) -> Vec<&str> {
        let mut names = vec!["alertname", "severity"];
        if let Some(l) = self.instance_label() {
            names.push(l);
        }
        for k in self.labels.keys() {
            if !names.contains(&k.as_str()) {
                names.push(k);
            }
        }
        names
    }

    /// Checks one rule; `Err((field, value, reason))`.
    fn check(&self) -> std::result::Result<(), (&'static str, String, String)> {
        if self.name.trim().is_empty() {
            return Err((
                "name",
                format!("{:?}", self.name),
                "must not be empty".into(),
            ));
        }
        if let Condition::Threshold(t) = &self.condition {
            t.check()?;
        }
        for key in self.labels.keys() {
            if !ops_core::exposition::is_label_name(key) {
                return Err((
                    "labels",
                    key.clone(),
                    "label names must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __".into(),
                ));
            }
        }
        for (field, d) in [
            ("for", self.for_duration),
            ("keep_firing_for", self.keep_firing_for),
        ] {
            Bounds::ANY
                .check(d)
                .map_err(|e| (field, duration::format(d), e.to_string()))?;
        }
        if let Some(f) = self.flap
            && !(f.low.is_finite()
                && f.high.is_finite()
                && 0.0 <= f.low
                && f.low <= f.high
                && f.high <= 100.0)
        {
            return Err((
                "flap",
                format!("low {} high {}", f.low, f.high),
                "need 0 <= low <= high <= 100".into(),
            ));
        }
        let labels = self.label_names();
        // A PromQL rule's labels come from its samples: only the placeholders are checked.
        let any_label = matches!(self.condition, Condition::Promql(_));
        for (key, template) in &self.annotations {
            if !ops_core::exposition::is_label_name(key) {
                return Err((
                    "annotations",
                    key.clone(),
                    "annotation names must match [a-zA-Z_][a-zA-Z0-9_]*".into(),
                ));
            }
            crate::template::check(template, if any_label { None } else { Some(&labels) })
                .map_err(|reason| ("annotations", template.clone(), reason))?;
        }
        Ok(())
    }

    /// Sets the mount / interface / function selector of a threshold rule.
    #[must_use]
    pub fn select(mut self, selector: impl Into<String>) -> Rule {
        if let Condition::Threshold(t) = &mut self.condition {
            t.selector = Some(selector.into());
        }
        self
    }
}

/// A set of rules and the evaluation settings that go with them.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RuleSet {
    /// The rules, names unique.
    pub rules: Vec<Rule>,
    /// The evaluation interval (default 1 s for the monitor; Prometheus uses 1 m); at least
    /// [`MIN_INTERVAL`](ops_core::duration::MIN_INTERVAL).
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

    /// Checks a rule set built in code as a rule file is checked: names unique and not empty,
    /// finite thresholds, recovery on the right side, selectors that apply, valid label names,
    /// bounded durations, flap ranges, templates whose placeholders and labels exist, and an
    /// interval of at least 10 ms. Linear in the number of rules.
    ///
    /// # Errors
    /// [`Error::Rule`] naming the rule, field and value, or [`Error::Setting`].
    ///
    /// ```
    /// use ops_thresholds::{Comparison, Metric, Rule, RuleSet};
    /// let mut rules = RuleSet::defaults();
    /// rules.rules.push(Rule::new("Load", Metric::Load1, Comparison::Greater, 4.0).summary("{{ valu }}"));
    /// let err = rules.validate().unwrap_err().to_string();
    /// assert!(err.contains("unknown placeholder `{{ valu }}`"), "{err}");
    /// ```
    pub fn validate(&self) -> Result<()> {
        self.validate_at(&|_| None)
    }

    /// [`validate`](Self::validate), with the place each rule came from for the errors.
    pub(crate) fn validate_at(
        &self,
        place: &dyn Fn(usize) -> Option<(std::path::PathBuf, usize)>,
    ) -> Result<()> {
        let setting = |field: &'static str, d: Duration, bounds: Bounds| {
            bounds.check(d).map(|_| ()).map_err(|e| Error::Setting {
                path: None,
                line: 0,
                field,
                value: duration::format(d),
                reason: e.to_string(),
            })
        };
        setting("interval", self.interval, Bounds::INTERVAL)?;
        setting("resend_delay", self.resend_delay, Bounds::ANY)?;
        let mut names: HashSet<&str> = HashSet::with_capacity(self.rules.len());
        for (i, rule) in self.rules.iter().enumerate() {
            let mut problem = rule.check().err();
            if problem.is_none() && !names.insert(rule.name.as_str()) {
                problem = Some(("name", rule.name.clone(), "duplicate rule name".into()));
            }
            if let Some((field, value, reason)) = problem {
                return Err(match place(i) {
                    Some((path, line)) => Error::Invalid {
                        path,
                        line,
                        rule: rule.name.clone(),
                        field,
                        value,
                        reason,
                    },
                    None => Error::Rule {
                        rule: rule.name.clone(),
                        field,
                        value,
                        reason,
                    },
                });
            }
        }
        Ok(())
    }
}
