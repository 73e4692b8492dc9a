//! A parsed, validated expression: what a rule holds and evaluates at each tick.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use crate::ast::{Kind, Node};
use crate::error::{EvalError, ParseError};
use crate::eval::{Ctx, LOOKBACK_MS, Val};
use crate::store::{Store, millis};
use crate::validate;
use crate::value::Value;

/// A `PromQL` expression of the supported subset (see the crate docs), parsed once and
/// evaluated at any time over a [`Store`].
///
/// ```
/// use std::time::Duration;
/// let e = ops_promql::Expr::parse("sum by (route) (rate(http_requests_total[5m] offset 1m))")?;
/// assert_eq!(e.max_range(), Duration::from_secs(300));
/// assert_eq!(e.history(), Duration::from_secs(360)); // size the store's retention from this
/// assert_eq!(e.to_string(), "sum by (route) (rate(http_requests_total[5m] offset 1m))");
/// # Ok::<(), ops_promql::ParseError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Expr {
    text: String,
    root: Node,
    max_range_ms: i64,
    history_ms: i64,
}

impl Expr {
    /// Parses `text` (with promql-parser) and checks it against the supported subset.
    ///
    /// # Errors
    ///
    /// [`ParseError::Syntax`] for text that is not `PromQL`, [`ParseError::UnknownFunction`]
    /// and [`ParseError::Unsupported`] (with the name and position) for what `PromQL` has and
    /// this crate does not evaluate, [`ParseError::ResultType`] for a range vector or string
    /// result, [`ParseError::TooComplex`] past the size limits (64 KiB, nesting 64, 256
    /// operators).
    pub fn parse(text: &str) -> Result<Expr, ParseError> {
        let root = validate::build(text)?;
        let (mut max_range_ms, mut history_ms) = (0i64, 0i64);
        root.each_selector(&mut |sel, range| {
            max_range_ms = max_range_ms.max(range);
            let window = if range > 0 { range } else { LOOKBACK_MS };
            history_ms = history_ms.max(sel.offset.saturating_add(window));
        });
        Ok(Expr {
            text: text.to_owned(),
            root,
            max_range_ms,
            history_ms,
        })
    }

    /// Evaluates the expression at `at` over `store`, as a Prometheus instant query at that
    /// time would.
    ///
    /// # Errors
    ///
    /// The evaluation errors Prometheus reports for the same data: duplicate label sets in a
    /// result, many-to-many or ambiguous vector matching, `topk` with `k` out of range,
    /// `count_values` with an invalid label name.
    pub fn eval(&self, store: &Store, at: SystemTime) -> Result<Value, EvalError> {
        let ctx = Ctx {
            store,
            ts: millis(at),
        };
        Ok(match ctx.eval(&self.root)? {
            Val::Scalar(v) => Value::Scalar(v),
            Val::Vector(v) => Value::Vector(v),
            Val::String(_) => Value::Vector(Vec::new()),
        })
    }

    /// The longest range selector window (`[5m]` → 5 minutes); zero without one.
    pub fn max_range(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.max_range_ms).unwrap_or(0))
    }

    /// How far before the evaluation time the expression reads: for each selector, its offset
    /// plus its range (or the 5-minute lookback of an instant selector). The store's retention
    /// should be at least this.
    pub fn history(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.history_ms).unwrap_or(0))
    }

    /// Whether the result is a scalar (else an instant vector).
    pub fn returns_scalar(&self) -> bool {
        self.root.kind() == Kind::Scalar
    }

    /// The text it was parsed from.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Expr {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Expr, ParseError> {
        Expr::parse(s)
    }
}
