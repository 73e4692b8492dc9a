//! What a rule compares: a metric against a threshold (with its comparison, recovery value and
//! window), or a `PromQL` expression.

use std::time::Duration;

use ops_core::duration::{self, Bounds};

use crate::metric::Metric;

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
    /// `>`, `>=`, `<`, `<=` (or `gt`, `ge`, `lt`, `le`), as rule files write them.
    pub fn parse(text: &str) -> Option<Comparison> {
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
/// What a rule compares: a metric's values against a threshold, or a `PromQL` expression whose
/// every sample is an active alert.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Condition {
    /// `metric comparison threshold`, per instance (mount, interface, function).
    Threshold(Threshold),
    /// A `PromQL` condition (`rate(errors_total[5m]) / rate(requests_total[5m]) > 0.01`),
    /// evaluated over the monitor's series store, as Prometheus evaluates an alerting rule.
    Promql(PromqlCondition),
}

/// A metric compared with a threshold.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Threshold {
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
    /// The window of a metric over a counter or a histogram (the `function_*` metrics):
    /// error ratio = increase(errors) / increase(calls) over the window, quantiles from the
    /// window's histogram delta, as Prometheus computes them. Default 5 minutes.
    pub window: Duration,
}

impl Threshold {
    /// Checks the condition; `Err((field, value, reason))`.
    pub(super) fn check(&self) -> std::result::Result<(), (&'static str, String, String)> {
        if !self.threshold.is_finite() {
            return Err((
                "threshold",
                self.threshold.to_string(),
                "must be a finite number".into(),
            ));
        }
        if let Some(r) = self.recovery {
            if !r.is_finite() {
                return Err(("recovery", r.to_string(), "must be a finite number".into()));
            }
            let (wrong_side, side) = if self.comparison.is_upper() {
                (r > self.threshold, "at or below")
            } else {
                (r < self.threshold, "at or above")
            };
            if wrong_side {
                return Err((
                    "recovery",
                    r.to_string(),
                    format!(
                        "must be {side} the threshold {} for `{}` (inverted hysteresis)",
                        self.threshold,
                        self.comparison.symbol()
                    ),
                ));
            }
        }
        if self.selector.is_some() && self.metric.instance_label().is_none() {
            return Err((
                "mount/interface/function",
                self.selector.clone().unwrap_or_default(),
                format!(
                    "this selector does not apply to metric `{}`",
                    self.metric.name()
                ),
            ));
        }
        if self.metric.is_windowed() {
            Bounds::NONZERO
                .check(self.window)
                .map_err(|e| ("window", duration::format(self.window), e.to_string()))?;
        }
        Ok(())
    }
}

/// A number as `PromQL` writes it (`80`, `0.1`).
pub(crate) fn fmt_number(v: f64) -> String {
    format!("{v}")
}

/// A parsed `PromQL` condition and its text.
#[derive(Debug, Clone)]
pub struct PromqlCondition {
    expr: ops_promql::Expr,
}

impl PromqlCondition {
    /// Parses a condition.
    ///
    /// # Errors
    /// Not `PromQL`, or outside the subset `ops_promql` evaluates: the error names the
    /// construct and its line and column.
    pub fn parse(text: &str) -> std::result::Result<PromqlCondition, ops_promql::ParseError> {
        ops_promql::Expr::parse(text).map(|expr| PromqlCondition { expr })
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        self.expr.as_str()
    }

    /// The parsed expression.
    pub fn expr(&self) -> &ops_promql::Expr {
        &self.expr
    }
}

impl PartialEq for PromqlCondition {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}
