/*!
The syntax tree the evaluator walks: only the supported subset, parentheses gone, durations
in milliseconds. Built from promql-parser's tree by `validate`.
*/

/// A label matcher; regexes are promql-parser's, fully anchored (`^(?:re)$`) as Prometheus's.
#[derive(Debug, Clone)]
pub(crate) struct Matcher {
    pub(crate) name: String,
    inner: promql_parser::label::Matcher,
}

impl Matcher {
    pub(crate) fn new(inner: promql_parser::label::Matcher) -> Matcher {
        Matcher {
            name: inner.name.clone(),
            inner,
        }
    }

    /// Whether a label value (`""` for a missing label) matches.
    pub(crate) fn matches(&self, value: &str) -> bool {
        self.inner.is_match(value)
    }

    /// `Some(name)` for `__name__="name"`.
    pub(crate) fn metric_name_equal(&self) -> Option<&str> {
        (self.name == crate::labels::METRIC_NAME
            && self.inner.op == promql_parser::label::MatchOp::Equal)
            .then_some(self.inner.value.as_str())
    }

    /// `Some(value)` for an equality matcher.
    pub(crate) fn equal_value(&self) -> Option<&str> {
        (self.inner.op == promql_parser::label::MatchOp::Equal).then_some(self.inner.value.as_str())
    }
}

/// A series selector: matchers (the metric name among them) and an offset.
#[derive(Debug, Clone)]
pub(crate) struct Selector {
    pub(crate) matchers: Vec<Matcher>,
    /// Milliseconds to look back from the evaluation time (negative: forward).
    pub(crate) offset: i64,
}

/// The type of an expression's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Scalar,
    Vector,
    Matrix,
    String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Rate,
    Increase,
    Delta,
    Irate,
    Idelta,
    AvgOverTime,
    MinOverTime,
    MaxOverTime,
    SumOverTime,
    CountOverTime,
    LastOverTime,
    QuantileOverTime,
    AbsentOverTime,
    HistogramQuantile,
    Absent,
    Abs,
    Ceil,
    Floor,
    Round,
    ClampMin,
    ClampMax,
    Time,
    Vector,
    Scalar,
}

impl Func {
    /// The supported functions, by `PromQL` name.
    pub(crate) const ALL: [(&'static str, Func); 24] = [
        ("rate", Func::Rate),
        ("increase", Func::Increase),
        ("delta", Func::Delta),
        ("irate", Func::Irate),
        ("idelta", Func::Idelta),
        ("avg_over_time", Func::AvgOverTime),
        ("min_over_time", Func::MinOverTime),
        ("max_over_time", Func::MaxOverTime),
        ("sum_over_time", Func::SumOverTime),
        ("count_over_time", Func::CountOverTime),
        ("last_over_time", Func::LastOverTime),
        ("quantile_over_time", Func::QuantileOverTime),
        ("absent_over_time", Func::AbsentOverTime),
        ("histogram_quantile", Func::HistogramQuantile),
        ("absent", Func::Absent),
        ("abs", Func::Abs),
        ("ceil", Func::Ceil),
        ("floor", Func::Floor),
        ("round", Func::Round),
        ("clamp_min", Func::ClampMin),
        ("clamp_max", Func::ClampMax),
        ("time", Func::Time),
        ("vector", Func::Vector),
        ("scalar", Func::Scalar),
    ];

    pub(crate) fn from_name(name: &str) -> Option<Func> {
        Func::ALL.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    }

    pub(crate) fn returns(self) -> Kind {
        match self {
            Func::Time | Func::Scalar => Kind::Scalar,
            _ => Kind::Vector,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AggOp {
    Sum,
    Avg,
    Min,
    Max,
    Count,
    Topk,
    Bottomk,
    Quantile,
    CountValues,
}

impl AggOp {
    pub(crate) const ALL: [(&'static str, AggOp); 9] = [
        ("sum", AggOp::Sum),
        ("avg", AggOp::Avg),
        ("min", AggOp::Min),
        ("max", AggOp::Max),
        ("count", AggOp::Count),
        ("topk", AggOp::Topk),
        ("bottomk", AggOp::Bottomk),
        ("quantile", AggOp::Quantile),
        ("count_values", AggOp::CountValues),
    ];

    pub(crate) fn from_name(name: &str) -> Option<AggOp> {
        AggOp::ALL.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    And,
    Or,
    Unless,
}

impl BinOp {
    pub(crate) const ALL: [(&'static str, BinOp); 15] = [
        ("+", BinOp::Add),
        ("-", BinOp::Sub),
        ("*", BinOp::Mul),
        ("/", BinOp::Div),
        ("%", BinOp::Mod),
        ("^", BinOp::Pow),
        ("==", BinOp::Eq),
        ("!=", BinOp::Ne),
        (">", BinOp::Gt),
        ("<", BinOp::Lt),
        (">=", BinOp::Ge),
        ("<=", BinOp::Le),
        ("and", BinOp::And),
        ("or", BinOp::Or),
        ("unless", BinOp::Unless),
    ];

    pub(crate) fn from_name(name: &str) -> Option<BinOp> {
        BinOp::ALL.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    }

    pub(crate) fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eq | BinOp::Ne | BinOp::Gt | BinOp::Lt | BinOp::Ge | BinOp::Le
        )
    }

    pub(crate) fn is_set(self) -> bool {
        matches!(self, BinOp::And | BinOp::Or | BinOp::Unless)
    }

    /// Arithmetic drops the metric name from its result (Prometheus's `shouldDropMetricName`).
    pub(crate) fn drops_metric_name(self) -> bool {
        matches!(
            self,
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod | BinOp::Pow
        )
    }
}

/// `by (..)` or `without (..)`; labels sorted. No clause = `by ()`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Grouping {
    pub(crate) without: bool,
    pub(crate) labels: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Card {
    OneToOne,
    ManyToOne,
    OneToMany,
    ManyToMany,
}

/// Vector matching of a binary operation between two vectors.
#[derive(Debug, Clone)]
pub(crate) struct Matching {
    pub(crate) card: Card,
    /// `on(..)` when true, `ignoring(..)` (or nothing) when false.
    pub(crate) on: bool,
    /// The `on`/`ignoring` labels, sorted.
    pub(crate) labels: Vec<String>,
    /// The `group_left`/`group_right` labels.
    pub(crate) include: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Number(f64),
    String(String),
    /// An instant vector selector.
    Selector(Selector),
    /// A range vector selector (only ever a function argument) and its range in ms.
    Range(Selector, i64),
    Call(Func, Vec<Node>),
    Aggregate {
        op: AggOp,
        param: Option<Box<Node>>,
        grouping: Grouping,
        expr: Box<Node>,
    },
    Binary {
        op: BinOp,
        lhs: Box<Node>,
        rhs: Box<Node>,
        return_bool: bool,
        matching: Matching,
    },
    Neg(Box<Node>),
}

impl Node {
    pub(crate) fn kind(&self) -> Kind {
        match self {
            Node::Number(_) => Kind::Scalar,
            Node::String(_) => Kind::String,
            Node::Selector(_) | Node::Aggregate { .. } => Kind::Vector,
            Node::Range(..) => Kind::Matrix,
            Node::Call(f, _) => f.returns(),
            Node::Binary { lhs, rhs, .. } => {
                if lhs.kind() == Kind::Scalar && rhs.kind() == Kind::Scalar {
                    Kind::Scalar
                } else {
                    Kind::Vector
                }
            }
            Node::Neg(e) => e.kind(),
        }
    }

    /// Calls `f` on every selector with its range (0 for an instant selector).
    pub(crate) fn each_selector(&self, f: &mut impl FnMut(&Selector, i64)) {
        match self {
            Node::Number(_) | Node::String(_) => {}
            Node::Selector(s) => f(s, 0),
            Node::Range(s, range) => f(s, *range),
            Node::Call(_, args) => args.iter().for_each(|a| a.each_selector(f)),
            Node::Aggregate { param, expr, .. } => {
                if let Some(p) = param {
                    p.each_selector(f);
                }
                expr.each_selector(f);
            }
            Node::Binary { lhs, rhs, .. } => {
                lhs.each_selector(f);
                rhs.each_selector(f);
            }
            Node::Neg(e) => e.each_selector(f),
        }
    }
}
