/*!
From promql-parser's tree to ours: every node checked against the supported subset; what is
outside it is refused with its name and position (located in the text by `locate`).
*/

use std::time::Duration;

use promql_parser::label::{MatchOp, Matcher as PMatcher};
use promql_parser::parser::{self as pp, Expr as PExpr, LabelModifier, VectorMatchCardinality};

use crate::ast::{AggOp, BinOp, Card, Func, Grouping, Kind, Matcher, Matching, Node, Selector};
use crate::error::{ParseError, Position};
use crate::labels::METRIC_NAME;
use crate::locate::Tokens;

/// Parses and validates `text` into the evaluator's tree.
pub(crate) fn build(text: &str) -> Result<Node, ParseError> {
    let tokens = Tokens::new(text);
    tokens.check_limits()?;
    let parsed = match std::panic::catch_unwind(|| pp::parse(text)) {
        Ok(Ok(parsed)) => parsed,
        Ok(Err(message)) => return Err(syntax_error(message, &tokens, text)),
        Err(_) => {
            return Err(ParseError::Syntax {
                message: "promql-parser failed on this text".into(),
            });
        }
    };
    let node = Builder {
        text,
        tokens: &tokens,
    }
    .node(&parsed)?;
    match node.kind() {
        Kind::Scalar | Kind::Vector => Ok(node),
        Kind::Matrix => Err(ParseError::ResultType {
            found: "range vector",
        }),
        Kind::String => Err(ParseError::ResultType { found: "string" }),
    }
}

fn syntax_error(message: String, tokens: &Tokens<'_>, text: &str) -> ParseError {
    if let Some(name) = message
        .strip_prefix("unknown function with name '")
        .and_then(|rest| rest.strip_suffix('\''))
    {
        return ParseError::UnknownFunction {
            name: name.to_owned(),
            position: Position::of(text, tokens.call(name)),
        };
    }
    ParseError::Syntax { message }
}

struct Builder<'a, 't> {
    text: &'a str,
    tokens: &'a Tokens<'t>,
}

impl Builder<'_, '_> {
    fn unsupported(&self, construct: &'static str, name: &str, offset: usize) -> ParseError {
        ParseError::Unsupported {
            construct,
            name: name.to_owned(),
            position: Position::of(self.text, offset),
        }
    }

    fn node(&self, e: &PExpr) -> Result<Node, ParseError> {
        Ok(match e {
            PExpr::NumberLiteral(n) => Node::Number(n.val),
            PExpr::StringLiteral(s) => Node::String(s.val.clone()),
            PExpr::Paren(p) => self.node(&p.expr)?,
            PExpr::Unary(u) => Node::Neg(Box::new(self.node(&u.expr)?)),
            PExpr::VectorSelector(vs) => Node::Selector(self.selector(vs)?),
            PExpr::MatrixSelector(ms) => Node::Range(self.selector(&ms.vs)?, millis(ms.range)),
            PExpr::Call(c) => {
                let name = c.func.name;
                let func = Func::from_name(name)
                    .ok_or_else(|| self.unsupported("function", name, self.tokens.call(name)))?;
                let args = c
                    .args
                    .args
                    .iter()
                    .map(|a| self.node(a))
                    .collect::<Result<Vec<_>, _>>()?;
                Node::Call(func, args)
            }
            PExpr::Aggregate(a) => {
                let name = a.op.to_string();
                let op = AggOp::from_name(&name).ok_or_else(|| {
                    self.unsupported("aggregation", &name, self.tokens.call(&name))
                })?;
                let param = match &a.param {
                    Some(p) => Some(Box::new(self.node(p)?)),
                    None => None,
                };
                let grouping = match &a.modifier {
                    None => Grouping::default(),
                    Some(m) => Grouping {
                        without: !m.is_include(),
                        labels: sorted(&m.labels().labels),
                    },
                };
                Node::Aggregate {
                    op,
                    param,
                    grouping,
                    expr: Box::new(self.node(&a.expr)?),
                }
            }
            PExpr::Binary(b) => self.binary(b)?,
            PExpr::Subquery(_) => {
                return Err(self.unsupported("subquery", "[range:step]", self.tokens.subquery()));
            }
            PExpr::Extension(x) => return Err(self.unsupported("extension", x.expr.name(), 0)),
        })
    }

    fn binary(&self, b: &pp::BinaryExpr) -> Result<Node, ParseError> {
        let name = b.op.to_string();
        let op = BinOp::from_name(&name)
            .ok_or_else(|| self.unsupported("operator", &name, self.tokens.keyword(&name)))?;
        let modifier = b.modifier.clone().unwrap_or_default();
        let fill = &modifier.fill_values;
        if fill.lhs.is_some() || fill.rhs.is_some() {
            let word = match (fill.lhs.is_some(), fill.rhs.is_some(), fill.lhs == fill.rhs) {
                (true, true, true) => "fill",
                (true, _, _) => "fill_left",
                _ => "fill_right",
            };
            return Err(self.unsupported("modifier", word, self.tokens.keyword(word)));
        }
        let card = match &modifier.card {
            VectorMatchCardinality::OneToOne => Card::OneToOne,
            VectorMatchCardinality::ManyToOne(_) => Card::ManyToOne,
            VectorMatchCardinality::OneToMany(_) => Card::OneToMany,
            VectorMatchCardinality::ManyToMany => Card::ManyToMany,
        };
        let (on, labels) = match &modifier.matching {
            Some(LabelModifier::Include(l)) => (true, sorted(&l.labels)),
            Some(LabelModifier::Exclude(l)) => (false, sorted(&l.labels)),
            None => (false, Vec::new()),
        };
        let include = modifier
            .card
            .labels()
            .map(|l| l.labels.clone())
            .unwrap_or_default();
        let card = if op.is_set() { Card::ManyToMany } else { card };
        Ok(Node::Binary {
            op,
            lhs: Box::new(self.node(&b.lhs)?),
            rhs: Box::new(self.node(&b.rhs)?),
            return_bool: modifier.return_bool,
            matching: Matching {
                card,
                on,
                labels,
                include,
            },
        })
    }

    fn selector(&self, vs: &pp::VectorSelector) -> Result<Selector, ParseError> {
        if vs.at.is_some() {
            return Err(self.unsupported("modifier", "@", self.tokens.punct("@")));
        }
        if !vs.matchers.or_matchers.is_empty() {
            return Err(self.unsupported("label matcher", "or", self.tokens.or_in_braces()));
        }
        let mut matchers: Vec<Matcher> = vs
            .matchers
            .matchers
            .iter()
            .cloned()
            .map(Matcher::new)
            .collect();
        if let Some(name) = &vs.name {
            matchers.push(Matcher::new(PMatcher::new(
                MatchOp::Equal,
                METRIC_NAME,
                name,
            )));
        }
        let offset = match &vs.offset {
            None => 0,
            Some(pp::Offset::Pos(d)) => millis(*d),
            Some(pp::Offset::Neg(d)) => -millis(*d),
        };
        Ok(Selector { matchers, offset })
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn sorted(labels: &[String]) -> Vec<String> {
    let mut v = labels.to_vec();
    v.sort();
    v.dedup();
    v
}

#[cfg(test)]
mod test {
    use super::*;

    fn err(text: &str) -> ParseError {
        build(text).expect_err(text)
    }

    #[test]
    fn unsupported_constructs_are_named_and_located() {
        let cases: [(&str, &str, &str, usize); 9] = [
            ("sum(rate(x[5m])) / sort(x)", "function", "sort", 19),
            ("stddev by (a) (x)", "aggregation", "stddev", 0),
            ("x atan2 y", "operator", "atan2", 2),
            ("rate(x[5m:1m])", "subquery", "[range:step]", 6),
            ("x @ 100", "modifier", "@", 2),
            ("x{a=\"1\" or b=\"2\"}", "label matcher", "or", 8),
            ("x + fill(0) y", "modifier", "fill", 4),
            (
                "x\n  + label_replace(x, \"a\", \"b\", \"c\", \"d\")",
                "function",
                "label_replace",
                6,
            ),
            ("limitk(1, x)", "aggregation", "limitk", 0),
        ];
        for (text, construct, name, offset) in cases {
            match err(text) {
                ParseError::Unsupported {
                    construct: c,
                    name: n,
                    position,
                } => {
                    assert_eq!(
                        (c, n.as_str(), position.offset),
                        (construct, name, offset),
                        "{text}"
                    );
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        let e = err("x\n  + label_replace(x, \"a\", \"b\", \"c\", \"d\")");
        assert_eq!(
            e.to_string(),
            "unsupported function `label_replace` at line 2, column 5 (ops-promql evaluates a subset of PromQL)"
        );
    }

    #[test]
    fn unknown_functions_and_syntax_errors() {
        assert_eq!(
            err("1 + frobnicate(x)").to_string(),
            "unknown function `frobnicate` at line 1, column 5"
        );
        assert!(matches!(err("sum(x"), ParseError::Syntax { .. }));
        assert!(matches!(
            err("x[5m]"),
            ParseError::ResultType {
                found: "range vector"
            }
        ));
        assert!(matches!(
            err("\"s\""),
            ParseError::ResultType { found: "string" }
        ));
    }

    #[test]
    fn the_subset_builds() {
        for text in [
            "sum by (route) (rate(http_requests_total{status=~\"5..\"}[5m])) / sum by (route) (rate(http_requests_total[5m]))",
            "histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m] offset 1m)))",
            "absent(up{job=\"a\"}) or vector(time()) > bool 3",
            "a * on(x) group_left(y) b unless c",
            "-(x) ^ 2 % 3",
            "count_values(\"v\", x) and topk(2, x)",
            "scalar(x) + round(y, 0.5) - clamp_min(z, 0) * clamp_max(z, 1)",
            "quantile_over_time(0.9, x[1h]) + absent_over_time(y[5m])",
        ] {
            assert!(build(text).is_ok(), "{text}: {:?}", build(text));
        }
    }
}
