/*!
Function calls, as Prometheus 2.42's `promql/functions.go` and the engine's call handling:
range-vector functions run per series over its window and drop the metric name (except
`last_over_time`); `absent`/`absent_over_time` derive their labels from the selector's
equality matchers; instant functions drop the metric name.
*/

use super::quantile::histogram_quantile;
use super::range;
use super::{Ctx, Val, check_unique, gomath};
use crate::ast::{Func, Node};
use crate::error::EvalError;
use crate::labels::{Labels, METRIC_NAME};
use crate::value::Sample;

pub(crate) fn call(ctx: &Ctx<'_>, f: Func, args: &[Node]) -> Result<Val, EvalError> {
    let arg = |i: usize| args.get(i).unwrap_or(&Node::Number(f64::NAN));
    // Whether two results can have the same labels (the engine's check finds those).
    let mut may_repeat = true;
    let out = match f {
        Func::Time => return Ok(Val::Scalar(ctx.ts as f64 / 1000.0)),
        Func::Scalar => {
            let v = ctx.vector(arg(0))?;
            return Ok(Val::Scalar(if v.len() == 1 {
                v[0].value
            } else {
                f64::NAN
            }));
        }
        Func::Vector => vec![Sample {
            labels: Labels::empty(),
            value: ctx.scalar(arg(0))?,
        }],
        Func::Absent => {
            if ctx.vector(arg(0))?.is_empty() {
                vec![absent_sample(arg(0))]
            } else {
                Vec::new()
            }
        }
        Func::Abs => map(ctx.vector(arg(0))?, f64::abs),
        Func::Ceil => map(ctx.vector(arg(0))?, f64::ceil),
        Func::Floor => map(ctx.vector(arg(0))?, f64::floor),
        Func::Round => {
            let v = ctx.vector(arg(0))?;
            let to_nearest = if args.len() >= 2 {
                ctx.scalar(arg(1))?
            } else {
                1.0
            };
            let inverse = 1.0 / to_nearest;
            map(v, |x| (x * inverse + 0.5).floor() / inverse)
        }
        Func::ClampMin => {
            let v = ctx.vector(arg(0))?;
            let min = ctx.scalar(arg(1))?;
            map(v, |x| gomath::max(min, x))
        }
        Func::ClampMax => {
            let v = ctx.vector(arg(0))?;
            let max = ctx.scalar(arg(1))?;
            map(v, |x| gomath::min(max, x))
        }
        Func::HistogramQuantile => {
            let q = ctx.scalar(arg(0))?;
            histogram_quantile(q, &ctx.vector(arg(1))?)
        }
        Func::Rate
        | Func::Increase
        | Func::Delta
        | Func::Irate
        | Func::Idelta
        | Func::AvgOverTime
        | Func::MinOverTime
        | Func::MaxOverTime
        | Func::SumOverTime
        | Func::CountOverTime
        | Func::LastOverTime
        | Func::QuantileOverTime
        | Func::AbsentOverTime => {
            // Series with one metric name stay distinct without it.
            may_repeat = !args.iter().any(|a| {
                matches!(a, Node::Range(sel, _) if sel.matchers.iter().any(|m| m.metric_name_equal().is_some()))
            });
            over_windows(ctx, f, args)?
        }
    };
    if may_repeat {
        check_unique(&out)?;
    }
    Ok(Val::Vector(out))
}

/// An instant function: the value mapped, the metric name dropped.
fn map(v: Vec<Sample>, f: impl Fn(f64) -> f64) -> Vec<Sample> {
    v.into_iter()
        .map(|s| Sample {
            labels: s.labels.without_metric_name(),
            value: f(s.value),
        })
        .collect()
}

/// A range-vector function, series by series.
fn over_windows(ctx: &Ctx<'_>, f: Func, args: &[Node]) -> Result<Vec<Sample>, EvalError> {
    let mut q = f64::NAN;
    let mut matrix = None;
    for a in args {
        match a {
            Node::Range(sel, range) => matrix = Some((sel, *range)),
            other => q = ctx.scalar(other)?,
        }
    }
    let Some((sel, range_ms)) = matrix else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let mut any = false;
    ctx.each_window(sel, range_ms, |series, w, mint, maxt| {
        any = true;
        let value = match f {
            Func::Rate => range::extrapolated_rate(w, mint, maxt, range_ms, true, true),
            Func::Increase => range::extrapolated_rate(w, mint, maxt, range_ms, true, false),
            Func::Delta => range::extrapolated_rate(w, mint, maxt, range_ms, false, false),
            Func::Irate => range::instant_value(w, true),
            Func::Idelta => range::instant_value(w, false),
            Func::AvgOverTime => Some(range::avg_over_time(w)),
            Func::MinOverTime => Some(range::min_over_time(w)),
            Func::MaxOverTime => Some(range::max_over_time(w)),
            Func::SumOverTime => Some(range::sum_over_time(w)),
            Func::CountOverTime => Some(range::count_over_time(w)),
            Func::LastOverTime => Some(range::last_over_time(w)),
            Func::QuantileOverTime => Some(range::quantile_over_time(q, w)),
            _ => None,
        };
        if let Some(value) = value {
            let labels = if f == Func::LastOverTime {
                series.labels.clone()
            } else {
                series.labels_without_name.clone()
            };
            out.push(Sample { labels, value });
        }
        Ok(())
    })?;
    if f == Func::AbsentOverTime {
        return Ok(match args.first() {
            Some(a) if !any => vec![absent_sample(a)],
            _ => Vec::new(),
        });
    }
    Ok(out)
}

/// `absent`'s sample: the labels of the selector's equality matchers (a label matched twice,
/// or by another operator, is left out), value 1.
fn absent_sample(arg: &Node) -> Sample {
    let matchers = match arg {
        Node::Selector(s) | Node::Range(s, _) => s.matchers.as_slice(),
        _ => &[],
    };
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    let mut has: Vec<&str> = Vec::new();
    for m in matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        pairs.retain(|(n, _)| *n != m.name);
        match m.equal_value() {
            Some(v) if !has.contains(&m.name.as_str()) => {
                pairs.push((&m.name, v));
                has.push(&m.name);
            }
            _ => {}
        }
    }
    Sample {
        labels: Labels::new(pairs),
        value: 1.0,
    }
}
