/*!
Instant evaluation of the tree over the store, following Prometheus 2.42's engine
(`promql/engine.go`): instant selectors look back 5 minutes for the latest sample and return
nothing for a series whose latest sample is a staleness marker; range selectors take the
samples in `[t - offset - range, t - offset]`, staleness markers left out; every function,
aggregation and operator result is checked for duplicate label sets, as the engine does.
*/

mod aggregate;
mod binary;
mod functions;
mod gomath;
mod quantile;
mod range;
mod topk;
mod window;

use std::collections::HashSet;

use crate::ast::{Node, Selector};
use crate::error::EvalError;
use crate::labels::Labels;
use crate::series::{Point, Series, is_stale_nan};
use crate::store::Store;
use crate::value::Sample;

pub(crate) use window::Window;

/// How far an instant selector looks back for a sample: Prometheus's default
/// `--query.lookback-delta`, 5 minutes.
pub(crate) const LOOKBACK_MS: i64 = 5 * 60 * 1000;

/// A value during evaluation.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Scalar(f64),
    Vector(Vec<Sample>),
    String(String),
}

/// One evaluation: the store and the time.
pub(crate) struct Ctx<'s> {
    pub(crate) store: &'s Store,
    /// Evaluation time, ms since the epoch.
    pub(crate) ts: i64,
}

impl Ctx<'_> {
    pub(crate) fn eval(&self, node: &Node) -> Result<Val, EvalError> {
        match node {
            Node::Number(v) => Ok(Val::Scalar(*v)),
            Node::String(s) => Ok(Val::String(s.clone())),
            Node::Selector(sel) => Ok(Val::Vector(self.instant(sel))),
            // Validation keeps range selectors inside function calls; nothing to return here.
            Node::Range(..) => Ok(Val::Vector(Vec::new())),
            Node::Call(f, args) => functions::call(self, *f, args),
            Node::Aggregate {
                op,
                param,
                grouping,
                expr,
            } => aggregate::eval(self, *op, param.as_deref(), grouping, expr),
            Node::Binary {
                op,
                lhs,
                rhs,
                return_bool,
                matching,
            } => binary::eval(self, *op, lhs, rhs, *return_bool, matching),
            Node::Neg(e) => match self.eval(e)? {
                Val::Scalar(v) => Ok(Val::Scalar(-v)),
                Val::Vector(mut v) => {
                    for s in &mut v {
                        s.labels = s.labels.without_metric_name();
                        s.value = -s.value;
                    }
                    check_unique(&v)?;
                    Ok(Val::Vector(v))
                }
                Val::String(s) => Ok(Val::String(s)),
            },
        }
    }

    /// A scalar operand (validation guarantees the type; anything else reads as NaN).
    pub(crate) fn scalar(&self, node: &Node) -> Result<f64, EvalError> {
        Ok(match self.eval(node)? {
            Val::Scalar(v) => v,
            _ => f64::NAN,
        })
    }

    /// An instant-vector operand.
    pub(crate) fn vector(&self, node: &Node) -> Result<Vec<Sample>, EvalError> {
        Ok(match self.eval(node)? {
            Val::Vector(v) => v,
            _ => Vec::new(),
        })
    }

    /// The instant selector: each matching series' latest sample at or before `t - offset`,
    /// at most 5 minutes old, not a staleness marker.
    fn instant(&self, sel: &Selector) -> Vec<Sample> {
        let at = self.ts.saturating_sub(sel.offset);
        let oldest = at.saturating_sub(LOOKBACK_MS);
        self.store
            .select(&sel.matchers)
            .into_iter()
            .filter_map(|s| {
                let p = s.at_or_before(at)?;
                (p.t >= oldest && !is_stale_nan(p.v)).then(|| Sample {
                    labels: s.labels.clone(),
                    value: p.v,
                })
            })
            .collect()
    }

    /// Calls `f` with each matching series and its window `[t - offset - range, t - offset]`
    /// (staleness markers left out), for series whose window has at least one point.
    pub(crate) fn each_window(
        &self,
        sel: &Selector,
        range: i64,
        mut f: impl FnMut(&Series, Window<'_>, i64, i64) -> Result<(), EvalError>,
    ) -> Result<(), EvalError> {
        let maxt = self.ts.saturating_sub(sel.offset);
        let mint = maxt.saturating_sub(range);
        let mut scratch: Vec<Point> = Vec::new();
        for s in self.store.select(&sel.matchers) {
            let (a, b) = s.range(mint, maxt);
            let w = if s.has_stale_markers() {
                scratch.clear();
                scratch.extend(a.iter().chain(b).filter(|p| !is_stale_nan(p.v)));
                Window::new(&scratch, &[])
            } else {
                Window::new(a, b)
            };
            if !w.is_empty() {
                f(s, w, mint, maxt)?;
            }
        }
        Ok(())
    }
}

/// Prometheus's `ContainsSameLabelset` check on a result.
pub(crate) fn check_unique(v: &[Sample]) -> Result<(), EvalError> {
    if v.len() < 2 {
        return Ok(());
    }
    let mut seen: HashSet<&Labels> = HashSet::with_capacity(v.len());
    for s in v {
        if !seen.insert(&s.labels) {
            return Err(EvalError::DuplicateLabelset {
                labels: s.labels.clone(),
            });
        }
    }
    Ok(())
}
