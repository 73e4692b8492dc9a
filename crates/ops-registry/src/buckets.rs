//! Histogram bucket bounds.

use std::borrow::Cow;
use std::sync::Arc;

use crate::error::Error;

/// The upper bounds of a histogram's buckets (the `le` values; `+Inf` is implicit).
///
/// Finite, strictly increasing, between 1 and [`Buckets::MAX`] of them.
///
/// ```
/// use ops_registry::Buckets;
/// assert_eq!(Buckets::HTTP.bounds().len(), 15);
/// assert_eq!(Buckets::new(&[0.1, 0.5, 1.0]).unwrap().bounds(), &[0.1, 0.5, 1.0]);
/// assert!(Buckets::new(&[1.0, 1.0]).is_err());
/// assert_eq!(Buckets::exponential(0.001, 10.0, 4).unwrap().bounds(), &[0.001, 0.01, 0.1, 1.0]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Buckets(Cow<'static, [f64]>);

impl Buckets {
    /// The most bounds a histogram may have.
    pub const MAX: usize = 64;

    /// OpenTelemetry's advised bounds for `http.server.request.duration`, in seconds, plus
    /// 2 s — the playbook's response-time objective, so a "99 % within 2 s" SLO reads a bucket
    /// instead of interpolating: 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2,
    /// 2.5, 5, 7.5, 10.
    pub const HTTP: Buckets = Buckets(Cow::Borrowed(&[
        0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.0, 2.5, 5.0, 7.5, 10.0,
    ]));

    /// The Prometheus clients' default bounds, in seconds: .005, .01, .025, .05, .1, .25, .5, 1,
    /// 2.5, 5, 10.
    pub const DEFAULT: Buckets = Buckets(Cow::Borrowed(&[
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ]));

    /// Bounds given in ascending order.
    ///
    /// # Errors
    /// [`Error::InvalidBuckets`] when there are none or more than [`Buckets::MAX`], when one is
    /// not finite (`+Inf` is implicit), or when they are not strictly increasing.
    pub fn new(bounds: &[f64]) -> Result<Buckets, Error> {
        let refuse = |reason| Error::InvalidBuckets {
            bounds: bounds.iter().copied().take(Self::MAX + 6).collect(),
            reason,
        };
        if bounds.is_empty() {
            return Err(refuse("a histogram needs at least one bound"));
        }
        if bounds.len() > Self::MAX {
            return Err(refuse("more than 64 bounds"));
        }
        if !bounds.iter().all(|b| b.is_finite()) {
            return Err(refuse(
                "every bound must be finite (+Inf is always the last bucket)",
            ));
        }
        if !bounds.windows(2).all(|w| w[0] < w[1]) {
            return Err(refuse("bounds must be strictly increasing"));
        }
        // `-0.0` and `0.0` are the same bound; write it as `0`.
        let bounds: Vec<f64> = bounds
            .iter()
            .map(|&b| if b == 0.0 { 0.0 } else { b })
            .collect();
        Ok(Buckets(Cow::Owned(bounds)))
    }

    /// `count` bounds `start`, `start + width`, `start + 2 × width`, ….
    ///
    /// # Errors
    /// As [`Buckets::new`]; `width` must be positive.
    pub fn linear(start: f64, width: f64, count: usize) -> Result<Buckets, Error> {
        let bounds: Vec<f64> = (0..count.min(Self::MAX + 1))
            .map(|i| start + width * i as f64)
            .collect();
        Buckets::new(&bounds)
    }

    /// `count` bounds `start`, `start × factor`, `start × factor²`, ….
    ///
    /// # Errors
    /// As [`Buckets::new`]; `start` must be positive and `factor` above 1.
    pub fn exponential(start: f64, factor: f64, count: usize) -> Result<Buckets, Error> {
        if start <= 0.0 || factor <= 1.0 {
            return Err(Error::InvalidBuckets {
                bounds: vec![start, factor],
                reason: "exponential bounds need start > 0 and factor > 1",
            });
        }
        let mut bounds = Vec::with_capacity(count.min(Self::MAX + 1));
        let mut b = start;
        for _ in 0..count.min(Self::MAX + 1) {
            bounds.push(b);
            b *= factor;
        }
        Buckets::new(&bounds)
    }

    /// The bounds, ascending.
    pub fn bounds(&self) -> &[f64] {
        &self.0
    }

    pub(crate) fn into_shared(self) -> Arc<[f64]> {
        match self.0 {
            Cow::Borrowed(bounds) => Arc::from(bounds),
            Cow::Owned(bounds) => Arc::from(bounds),
        }
    }
}

impl Default for Buckets {
    /// [`Buckets::DEFAULT`].
    fn default() -> Self {
        Buckets::DEFAULT
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn the_constants_are_valid() {
        assert_eq!(Buckets::new(Buckets::HTTP.bounds()), Ok(Buckets::HTTP));
        assert_eq!(
            Buckets::new(Buckets::DEFAULT.bounds()),
            Ok(Buckets::DEFAULT)
        );
        assert_eq!(Buckets::DEFAULT.bounds().len(), 11);
    }

    #[test]
    fn bad_bounds_are_refused_with_a_reason() {
        let reason = |b: &[f64]| match Buckets::new(b) {
            Err(Error::InvalidBuckets { reason, .. }) => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(reason(&[]), "a histogram needs at least one bound");
        assert_eq!(
            reason(&[1.0, f64::INFINITY]),
            "every bound must be finite (+Inf is always the last bucket)"
        );
        assert_eq!(
            reason(&[f64::NAN]),
            "every bound must be finite (+Inf is always the last bucket)"
        );
        assert_eq!(reason(&[2.0, 1.0]), "bounds must be strictly increasing");
        let many: Vec<f64> = (0..65).map(f64::from).collect();
        assert_eq!(reason(&many), "more than 64 bounds");
        assert!(Buckets::new(&many[..64]).is_ok());
        assert!(Buckets::linear(0.0, 0.0, 3).is_err());
        assert_eq!(
            Buckets::linear(1.0, 2.0, 3).unwrap().bounds(),
            &[1.0, 3.0, 5.0]
        );
        assert!(Buckets::exponential(0.0, 2.0, 3).is_err());
        assert!(Buckets::linear(0.0, 1.0, usize::MAX).is_err());
    }
}
