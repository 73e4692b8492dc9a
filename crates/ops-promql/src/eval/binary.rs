/*!
Binary operators as Prometheus 2.42 evaluates them: scalar/scalar, vector/scalar (comparisons
filter unless `bool`), vector/vector with `on`/`ignoring` matching and
`group_left`/`group_right` (a duplicate on the "one" side is the many-to-many error), and the
set operators `and`, `or`, `unless`.
*/

use std::collections::{HashMap, HashSet};

use super::{Ctx, Val, check_unique};
use crate::ast::{BinOp, Card, Matching, Node};
use crate::error::EvalError;
use crate::labels::{Labels, METRIC_NAME};
use crate::value::Sample;

pub(crate) fn eval(
    ctx: &Ctx<'_>,
    op: BinOp,
    lhs: &Node,
    rhs: &Node,
    return_bool: bool,
    matching: &Matching,
) -> Result<Val, EvalError> {
    let l = ctx.eval(lhs)?;
    let r = ctx.eval(rhs)?;
    // Set operators and matched operations keep results distinct by construction (their
    // signatures are); dropping the metric name can make two results the same.
    let (out, may_repeat) = match (l, r) {
        (Val::Scalar(a), Val::Scalar(b)) => return Ok(Val::Scalar(scalar_binop(op, a, b))),
        (Val::Vector(a), Val::Vector(b)) => match op {
            BinOp::And => (and(a, &b, matching), false),
            BinOp::Or => (or(a, b, matching), false),
            BinOp::Unless => (unless(a, &b, matching), false),
            _ => (vector_binop(op, a, b, matching, return_bool)?, return_bool),
        },
        (Val::Vector(v), Val::Scalar(s)) => (vector_scalar(op, v, s, false, return_bool), true),
        (Val::Scalar(s), Val::Vector(v)) => (vector_scalar(op, v, s, true, return_bool), true),
        _ => (Vec::new(), false),
    };
    if may_repeat {
        check_unique(&out)?;
    }
    Ok(Val::Vector(out))
}

fn scalar_binop(op: BinOp, a: f64, b: f64) -> f64 {
    let (v, keep) = elem(op, a, b);
    if op.is_comparison() {
        f64::from(u8::from(keep))
    } else {
        v
    }
}

/// One operation between two values: the value and, for comparisons, whether it holds.
fn elem(op: BinOp, l: f64, r: f64) -> (f64, bool) {
    match op {
        BinOp::Add => (l + r, true),
        BinOp::Sub => (l - r, true),
        BinOp::Mul => (l * r, true),
        BinOp::Div => (l / r, true),
        BinOp::Mod => (l % r, true),
        BinOp::Pow => (super::gomath::pow(l, r), true),
        BinOp::Eq => (l, l == r),
        BinOp::Ne => (l, l != r),
        BinOp::Gt => (l, l > r),
        BinOp::Lt => (l, l < r),
        BinOp::Ge => (l, l >= r),
        BinOp::Le => (l, l <= r),
        BinOp::And | BinOp::Or | BinOp::Unless => (l, true),
    }
}

fn vector_scalar(
    op: BinOp,
    v: Vec<Sample>,
    scalar: f64,
    swap: bool,
    return_bool: bool,
) -> Vec<Sample> {
    let mut out = Vec::with_capacity(v.len());
    for mut s in v {
        let (lv, rv) = if swap {
            (scalar, s.value)
        } else {
            (s.value, scalar)
        };
        let (mut value, mut keep) = elem(op, lv, rv);
        if op.is_comparison() && swap {
            value = rv;
        }
        if return_bool {
            value = f64::from(u8::from(keep));
            keep = true;
        }
        if keep {
            s.value = value;
            if op.drops_metric_name() || return_bool {
                s.labels = s.labels.without_metric_name();
            }
            out.push(s);
        }
    }
    out
}

/// The labels two sides are matched on.
fn signature(labels: &Labels, m: &Matching) -> Labels {
    if m.on {
        labels.filter(|n| m.labels.iter().any(|l| l == n))
    } else {
        labels.filter(|n| n != METRIC_NAME && !m.labels.iter().any(|l| l == n))
    }
}

fn and(lhs: Vec<Sample>, rhs: &[Sample], m: &Matching) -> Vec<Sample> {
    if lhs.is_empty() || rhs.is_empty() {
        return Vec::new();
    }
    let right: HashSet<Labels> = rhs.iter().map(|s| signature(&s.labels, m)).collect();
    lhs.into_iter()
        .filter(|s| right.contains(&signature(&s.labels, m)))
        .collect()
}

fn or(lhs: Vec<Sample>, rhs: Vec<Sample>, m: &Matching) -> Vec<Sample> {
    if lhs.is_empty() {
        return rhs;
    }
    if rhs.is_empty() {
        return lhs;
    }
    let left: HashSet<Labels> = lhs.iter().map(|s| signature(&s.labels, m)).collect();
    let mut out = lhs;
    out.extend(
        rhs.into_iter()
            .filter(|s| !left.contains(&signature(&s.labels, m))),
    );
    out
}

fn unless(lhs: Vec<Sample>, rhs: &[Sample], m: &Matching) -> Vec<Sample> {
    if lhs.is_empty() || rhs.is_empty() {
        return lhs;
    }
    let right: HashSet<Labels> = rhs.iter().map(|s| signature(&s.labels, m)).collect();
    lhs.into_iter()
        .filter(|s| !right.contains(&signature(&s.labels, m)))
        .collect()
}

fn vector_binop(
    op: BinOp,
    lhs: Vec<Sample>,
    rhs: Vec<Sample>,
    m: &Matching,
    return_bool: bool,
) -> Result<Vec<Sample>, EvalError> {
    if lhs.is_empty() || rhs.is_empty() {
        return Ok(Vec::new());
    }
    let one_to_many = m.card == Card::OneToMany;
    // The "one" side goes right.
    let (lhs, rhs) = if one_to_many { (rhs, lhs) } else { (lhs, rhs) };
    let mut right: HashMap<Labels, Sample> = HashMap::with_capacity(rhs.len());
    for rs in rhs {
        let sig = signature(&rs.labels, m);
        if let Some(dup) = right.get(&sig) {
            return Err(EvalError::ManyToMany {
                group: sig,
                side: if one_to_many { "left" } else { "right" },
                first: rs.labels.clone(),
                second: dup.labels.clone(),
            });
        }
        right.insert(sig, rs);
    }
    let mut matched: HashMap<Labels, HashSet<Labels>> = HashMap::new();
    let mut out = Vec::new();
    for ls in lhs {
        let sig = signature(&ls.labels, m);
        let Some(rs) = right.get(&sig) else {
            continue;
        };
        let (vl, vr) = if one_to_many {
            (rs.value, ls.value)
        } else {
            (ls.value, rs.value)
        };
        let (mut value, keep) = elem(op, vl, vr);
        if return_bool {
            value = f64::from(u8::from(keep));
        } else if !keep {
            continue;
        }
        let mut metric = result_metric(&ls.labels, &rs.labels, op, m);
        if return_bool {
            metric = metric.without_metric_name();
        }
        if m.card == Card::OneToOne {
            if matched.contains_key(&sig) {
                return Err(EvalError::ManyToOneImplicit);
            }
            matched.insert(sig, HashSet::new());
        } else if !matched.entry(sig).or_default().insert(metric.clone()) {
            return Err(EvalError::GroupingNotUnique);
        }
        out.push(Sample {
            labels: metric,
            value,
        });
    }
    Ok(out)
}

/// The labels of a result: the "many" side's, without the name for arithmetic, narrowed to
/// the `on` labels (or without the `ignoring` ones) for one-to-one matching, plus the
/// `group_x` labels taken from the "one" side.
fn result_metric(lhs: &Labels, rhs: &Labels, op: BinOp, m: &Matching) -> Labels {
    let drop_name = op.drops_metric_name();
    let mut out = lhs.filter(|n| {
        if drop_name && n == METRIC_NAME {
            return false;
        }
        if m.card == Card::OneToOne {
            let listed = m.labels.iter().any(|l| l == n);
            return if m.on { listed } else { !listed };
        }
        true
    });
    for name in &m.include {
        out = out.with(name, rhs.get(name).unwrap_or(""));
    }
    out
}

#[cfg(test)]
mod test {
    use super::*;

    fn s(labels: &str, value: f64) -> Sample {
        Sample {
            labels: labels.parse().unwrap(),
            value,
        }
    }

    fn matching(card: Card, on: bool, labels: &[&str], include: &[&str]) -> Matching {
        Matching {
            card,
            on,
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
            include: include.iter().map(|l| (*l).to_owned()).collect(),
        }
    }

    #[test]
    fn one_to_one_and_group_left() {
        let m = matching(Card::OneToOne, false, &[], &[]);
        let out = vector_binop(
            BinOp::Div,
            vec![s("a{x=\"1\"}", 6.0)],
            vec![s("b{x=\"1\"}", 3.0)],
            &m,
            false,
        )
        .unwrap();
        assert_eq!(out, [s("{x=\"1\"}", 2.0)]);
        let m = matching(Card::ManyToOne, true, &["x"], &["info"]);
        let out = vector_binop(
            BinOp::Mul,
            vec![s("a{x=\"1\",y=\"p\"}", 2.0), s("a{x=\"1\",y=\"q\"}", 3.0)],
            vec![s("b{x=\"1\",info=\"i\"}", 10.0)],
            &m,
            false,
        )
        .unwrap();
        assert_eq!(
            out,
            [
                s("{info=\"i\",x=\"1\",y=\"p\"}", 20.0),
                s("{info=\"i\",x=\"1\",y=\"q\"}", 30.0)
            ]
        );
    }

    #[test]
    fn cardinality_errors() {
        let m = matching(Card::OneToOne, true, &["x"], &[]);
        let two = vec![s("a{x=\"1\",y=\"p\"}", 2.0), s("a{x=\"1\",y=\"q\"}", 3.0)];
        let one = vec![s("b{x=\"1\"}", 10.0)];
        assert_eq!(
            vector_binop(BinOp::Add, two.clone(), one.clone(), &m, false),
            Err(EvalError::ManyToOneImplicit)
        );
        assert!(matches!(
            vector_binop(BinOp::Add, one, two, &m, false),
            Err(EvalError::ManyToMany { side: "right", .. })
        ));
    }

    #[test]
    fn comparisons_filter_or_give_bool() {
        let v = vec![s("a{x=\"1\"}", 1.0), s("a{x=\"2\"}", 5.0)];
        assert_eq!(
            vector_scalar(BinOp::Gt, v.clone(), 2.0, false, false),
            [s("a{x=\"2\"}", 5.0)]
        );
        assert_eq!(
            vector_scalar(BinOp::Gt, v.clone(), 2.0, false, true),
            [s("{x=\"1\"}", 0.0), s("{x=\"2\"}", 1.0)]
        );
        // 2 < v keeps the vector's value.
        assert_eq!(
            vector_scalar(BinOp::Lt, v, 2.0, true, false),
            [s("a{x=\"2\"}", 5.0)]
        );
        assert_eq!(scalar_binop(BinOp::Ge, 1.0, 1.0), 1.0);
    }

    #[test]
    fn set_operators() {
        let m = matching(Card::ManyToMany, false, &[], &[]);
        let a = vec![s("a{x=\"1\"}", 1.0), s("a{x=\"2\"}", 2.0)];
        let b = vec![s("b{x=\"2\"}", 9.0), s("b{x=\"3\"}", 9.0)];
        assert_eq!(and(a.clone(), &b, &m), [s("a{x=\"2\"}", 2.0)]);
        assert_eq!(unless(a.clone(), &b, &m), [s("a{x=\"1\"}", 1.0)]);
        assert_eq!(or(a.clone(), b, &m).len(), 3);
        assert_eq!(unless(a.clone(), &[], &m), a);
    }
}
