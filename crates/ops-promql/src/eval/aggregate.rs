/*!
Aggregation operators as Prometheus 2.42's `aggregation` computes them: groups keyed by the
`by` labels (or all labels but the `without` ones and `__name__`), in the order their first
sample comes, each group's value built sample by sample with the same float operations.
*/

use std::collections::HashMap;

use super::topk::GoHeap;
use super::{Ctx, Val, gomath, quantile};
use crate::ast::{AggOp, Grouping, Node};
use crate::error::EvalError;
use crate::labels::{self, Labels, METRIC_NAME};
use crate::value::Sample;

struct Group {
    labels: Labels,
    value: f64,
    mean: f64,
    count: usize,
    heap: Option<GoHeap>,
    values: Vec<f64>,
}

impl Group {
    fn new(op: AggOp, labels: Labels, s: Sample, k: usize) -> Group {
        let values = if op == AggOp::Quantile {
            vec![s.value]
        } else {
            Vec::new()
        };
        let (value, mean) = (s.value, s.value);
        let heap = matches!(op, AggOp::Topk | AggOp::Bottomk)
            .then(|| GoHeap::new(s, op == AggOp::Bottomk, k.min(64)));
        Group {
            labels,
            value,
            mean,
            count: 1,
            heap,
            values,
        }
    }

    /// One more sample of the group, as the engine folds it in.
    fn add(&mut self, op: AggOp, s: Sample, k: usize) {
        match op {
            AggOp::Sum => self.value += s.value,
            AggOp::Avg => {
                self.count += 1;
                if self.mean.is_infinite() {
                    if s.value.is_infinite() && (self.mean > 0.0) == (s.value > 0.0) {
                        return;
                    }
                    if !s.value.is_infinite() && !s.value.is_nan() {
                        return;
                    }
                }
                let n = self.count as f64;
                self.mean += s.value / n - self.mean / n;
            }
            AggOp::Max => {
                if self.value < s.value || self.value.is_nan() {
                    self.value = s.value;
                }
            }
            AggOp::Min => {
                if self.value > s.value || self.value.is_nan() {
                    self.value = s.value;
                }
            }
            AggOp::Count | AggOp::CountValues => self.count += 1,
            AggOp::Topk | AggOp::Bottomk => {
                let Some(h) = self.heap.as_mut() else {
                    return;
                };
                let top = h.top();
                let better = if op == AggOp::Topk {
                    top < s.value
                } else {
                    top > s.value
                };
                if h.len() < k || better || top.is_nan() {
                    if h.len() == k {
                        if k == 1 {
                            h.items[0] = s;
                            return;
                        }
                        h.pop();
                    }
                    h.push(s);
                }
            }
            AggOp::Quantile => self.values.push(s.value),
        }
    }
}

pub(crate) fn eval(
    ctx: &Ctx<'_>,
    op: AggOp,
    param: Option<&Node>,
    grouping: &Grouping,
    expr: &Node,
) -> Result<Val, EvalError> {
    let param = match param {
        Some(p) => Some(ctx.eval(p)?),
        None => None,
    };
    let input = ctx.vector(expr)?;
    let scalar_param = match &param {
        Some(Val::Scalar(v)) => *v,
        _ => f64::NAN,
    };
    let mut k = 0usize;
    if matches!(op, AggOp::Topk | AggOp::Bottomk) {
        // Go's convertibleToInt64, then int64(f) (truncation).
        if !(-9.223_372_036_854_776e18..=9.223_372_036_854_776e18).contains(&scalar_param) {
            return Err(EvalError::KOutOfRange {
                value: scalar_param,
            });
        }
        let k64 = scalar_param as i64;
        if k64 < 1 {
            return Ok(Val::Vector(Vec::new()));
        }
        k = usize::try_from(k64).unwrap_or(usize::MAX);
    }
    let mut grouping = grouping.clone();
    let mut value_label = String::new();
    if op == AggOp::CountValues {
        if let Some(Val::String(s)) = &param {
            value_label.clone_from(s);
        }
        if !labels::is_label_name(&value_label) {
            return Err(EvalError::InvalidLabelName { name: value_label });
        }
        if !grouping.without {
            grouping.labels.push(value_label.clone());
            grouping.labels.sort();
        }
    }

    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    for s in input {
        let metric = if op == AggOp::CountValues {
            s.labels.with(&value_label, &gomath::format_f(s.value))
        } else {
            s.labels.clone()
        };
        let key = group_key(&metric, &grouping);
        if let Some(&i) = index.get(&key) {
            groups[i].add(op, s, k);
        } else {
            index.insert(key.clone(), groups.len());
            groups.push(Group::new(op, key, s, k));
        }
    }

    let mut out = Vec::with_capacity(groups.len());
    for mut g in groups {
        let value = match op {
            AggOp::Avg => g.mean,
            AggOp::Count | AggOp::CountValues => g.count as f64,
            AggOp::Quantile => quantile::quantile(scalar_param, &mut g.values),
            AggOp::Topk | AggOp::Bottomk => {
                if let Some(h) = g.heap.take() {
                    out.extend(h.into_sorted());
                }
                continue;
            }
            AggOp::Sum | AggOp::Min | AggOp::Max => g.value,
        };
        out.push(Sample {
            labels: g.labels,
            value,
        });
    }
    // Group labels are distinct keys, and topk/bottomk keep distinct input samples: nothing
    // for the engine's duplicate check to find.
    Ok(Val::Vector(out))
}

/// A group's labels, which are also its key: the `by` labels, or all but `__name__` and the
/// `without` ones.
fn group_key(metric: &Labels, grouping: &Grouping) -> Labels {
    if grouping.without {
        metric.filter(|n| n != METRIC_NAME && !grouping.labels.iter().any(|g| g == n))
    } else if grouping.labels.is_empty() {
        Labels::empty()
    } else {
        metric.filter(|n| grouping.labels.iter().any(|g| g == n))
    }
}
