//! Errors of `ops-promql`: parsing an expression, evaluating it, appending to the store.

use crate::labels::Labels;

/// Where in the expression text something is: byte offset, 1-based line and column (in
/// characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Byte offset from the start of the text.
    pub offset: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl Position {
    /// The position of byte `offset` in `text`.
    pub(crate) fn of(text: &str, offset: usize) -> Position {
        let offset = offset.min(text.len());
        let before = text.get(..offset).unwrap_or(text);
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Position {
            offset,
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Why an expression was refused by [`Expr::parse`](crate::Expr::parse).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Not `PromQL` (the message is promql-parser's, which gives no position).
    #[error("PromQL syntax error: {message}")]
    Syntax {
        /// promql-parser's message.
        message: String,
    },
    /// A function `PromQL` does not have.
    #[error("unknown function `{name}` at {position}")]
    UnknownFunction {
        /// The name as written.
        name: String,
        /// Where it is.
        position: Position,
    },
    /// `PromQL`, but outside the subset this crate evaluates (see the crate docs for the list).
    #[error(
        "unsupported {construct} `{name}` at {position} (ops-promql evaluates a subset of PromQL)"
    )]
    Unsupported {
        /// What kind of thing: `function`, `aggregation`, `operator`, `subquery`, `modifier`…
        construct: &'static str,
        /// The function, operator or keyword.
        name: String,
        /// Where it is.
        position: Position,
    },
    /// The expression's result is not a scalar or an instant vector.
    #[error("the expression returns a {found}; a rule needs a scalar or an instant vector")]
    ResultType {
        /// `range vector` or `string`.
        found: &'static str,
    },
    /// The text is longer or more deeply nested than the limits.
    #[error("expression too complex: {what} is {found}, the limit is {limit}")]
    TooComplex {
        /// What was counted: `length in bytes`, `nesting depth`, `operator count`.
        what: &'static str,
        /// How much the text has.
        found: usize,
        /// The limit.
        limit: usize,
    },
}

/// Why an evaluation failed: the errors Prometheus's engine reports for the same data.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// Two samples of a result have the same labels (e.g. `rate` over two metric names whose
    /// other labels are equal: the names are dropped).
    #[error("vector cannot contain metrics with the same labelset: {labels}")]
    DuplicateLabelset {
        /// The label set found twice.
        labels: Labels,
    },
    /// Two series on the "one" side of a vector match have the same matching labels.
    #[error(
        "found duplicate series for the match group {group} on the {side} hand-side of the operation: [{first}, {second}];many-to-many matching not allowed: matching labels must be unique on one side"
    )]
    ManyToMany {
        /// The matching labels.
        group: Labels,
        /// `left` or `right`.
        side: &'static str,
        /// One series.
        first: Labels,
        /// The other.
        second: Labels,
    },
    /// One-to-one matching found several series on the left for one on the right.
    #[error(
        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
    )]
    ManyToOneImplicit,
    /// `group_left`/`group_right` matching whose result labels are not unique.
    #[error("multiple matches for labels: grouping labels must ensure unique matches")]
    GroupingNotUnique,
    /// `topk`/`bottomk` with a `k` that is not an integer in range.
    #[error("Scalar value {value} overflows int64")]
    KOutOfRange {
        /// The `k` given.
        value: f64,
    },
    /// `count_values` with a label name that is not one.
    #[error("invalid label name {name:?}")]
    InvalidLabelName {
        /// The name given.
        name: String,
    },
}

/// Why [`Store::append`](crate::Store::append) refused a sample. Every refusal is also
/// counted in [`StoreStats`](crate::StoreStats).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError {
    /// The labels have no `__name__`.
    #[error("series {labels} has no metric name")]
    NoMetricName {
        /// The labels given.
        labels: Labels,
    },
    /// `__name__` is not `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    #[error("invalid metric name {name:?}")]
    InvalidMetricName {
        /// The name given.
        name: String,
    },
    /// A label name is not `[a-zA-Z_][a-zA-Z0-9_]*`.
    #[error("invalid label name {name:?}")]
    InvalidLabelName {
        /// The name given.
        name: String,
    },
    /// More labels than a series may have.
    #[error("{count} labels, the limit is {limit}")]
    TooManyLabels {
        /// How many were given.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// Label names and values longer than the store's limit.
    #[error("labels of {bytes} bytes, the limit is {limit}")]
    LabelsTooLarge {
        /// Their size.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// A new series while the store holds its maximum.
    #[error("series {labels} refused: the store holds its limit of {limit} series")]
    SeriesLimit {
        /// The series refused.
        labels: Labels,
        /// The limit.
        limit: usize,
    },
    /// Older than the series' last point.
    #[error("sample at {at} ms for {labels} is out of order (last at {last} ms)")]
    OutOfOrder {
        /// The series.
        labels: Labels,
        /// Its last point's time.
        last: i64,
        /// The refused sample's time.
        at: i64,
    },
    /// A second value for the same timestamp.
    #[error("series {labels} already has another value at {at} ms")]
    DuplicateTimestamp {
        /// The series.
        labels: Labels,
        /// The timestamp.
        at: i64,
    },
    /// The series was removed (expired) meanwhile.
    #[error("the series no longer exists")]
    Gone,
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters() {
        let text = "sum(\n  é + foo(x))";
        let p = Position::of(text, text.find("foo").unwrap());
        assert_eq!((p.line, p.column), (2, 7));
        assert_eq!(p.to_string(), "line 2, column 7");
        assert_eq!(Position::of("abc", 99).offset, 3);
    }
}
