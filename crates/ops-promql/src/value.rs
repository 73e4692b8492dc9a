//! What an evaluation returns.

use crate::labels::Labels;

/// One element of an instant vector: a label set and a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The labels (without `__name__` where Prometheus drops it).
    pub labels: Labels,
    /// The value.
    pub value: f64,
}

/// The result of [`Expr::eval`](crate::Expr::eval).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A number (`1 + 1`, `scalar(x)`, `time()`).
    Scalar(f64),
    /// An instant vector, in the order Prometheus's engine produces it.
    Vector(Vec<Sample>),
}

impl Value {
    /// The number of a scalar result.
    pub fn as_scalar(&self) -> Option<f64> {
        match self {
            Value::Scalar(v) => Some(*v),
            Value::Vector(_) => None,
        }
    }

    /// The samples of a vector result.
    pub fn as_vector(&self) -> Option<&[Sample]> {
        match self {
            Value::Vector(v) => Some(v),
            Value::Scalar(_) => None,
        }
    }

    /// The samples, a scalar being one sample without labels (as `promtool test rules` shows
    /// it).
    pub fn into_samples(self) -> Vec<Sample> {
        match self {
            Value::Vector(v) => v,
            Value::Scalar(value) => vec![Sample {
                labels: Labels::empty(),
                value,
            }],
        }
    }
}
