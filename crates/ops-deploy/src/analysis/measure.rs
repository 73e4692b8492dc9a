//! One measurement: the figures a source read for each release over one analysis period,
//! and each condition decided on them.

use std::fmt::{self, Write as _};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::config::{Condition, Signal};
use super::source::Wanted;

/// Which release a figure is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The new release: the canary, or the release blue-green switched to.
    Canary,
    /// The release serving before it.
    Stable,
}

/// What a source read for one release over one measurement.
///
/// `quantiles` and `queries` follow the order of the [`Wanted`] the source was asked for;
/// `None` is no data (no request in the window, an empty query result).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Figures {
    /// Requests answered in the window (`None`: the source cannot count them).
    pub requests: Option<f64>,
    /// Of which server errors (5xx).
    pub errors: Option<f64>,
    /// Latency quantiles, in seconds, in the order of [`Wanted::quantiles`].
    pub quantiles: Vec<Option<f64>>,
    /// Query values, in the order of [`Wanted::queries`].
    pub queries: Vec<Option<f64>>,
    /// What the source has to say about the window (lines skipped, a counter reset, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Figures {
    /// `requests` answered, `errors` of them 5xx.
    #[must_use]
    pub fn requests(requests: f64, errors: f64) -> Figures {
        Figures {
            requests: Some(requests),
            errors: Some(errors),
            ..Figures::default()
        }
    }

    /// Errors over requests; `None` without requests.
    #[must_use]
    pub fn error_ratio(&self) -> Option<f64> {
        let requests = self.requests.filter(|r| *r > 0.0)?;
        Some(self.errors.unwrap_or(0.0) / requests)
    }
}

/// How a measurement (or one condition of it) came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeasurementStatus {
    /// Every condition holds.
    Successful,
    /// A condition does not hold.
    Failed,
    /// Nothing failed, but something could not be decided: too few requests, no data.
    Inconclusive,
    /// The source could not be read (a provider error).
    Error,
}

impl MeasurementStatus {
    /// `successful`, `failed`, `inconclusive`, `error`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            MeasurementStatus::Successful => "successful",
            MeasurementStatus::Failed => "failed",
            MeasurementStatus::Inconclusive => "inconclusive",
            MeasurementStatus::Error => "error",
        }
    }
}

impl fmt::Display for MeasurementStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One bound of a condition, decided: the value against its limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConditionResult {
    /// The bound, as configured: `error ratio ≤ 0.01`, `error ratio ≤ stable + 0.005`.
    pub condition: String,
    /// The new release's value (`None`: no data).
    pub value: Option<f64>,
    /// The stable release's value, for a relative bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable: Option<f64>,
    /// The limit the value was held to (for a relative bound: the stable's value plus the
    /// margin).
    pub limit: Option<f64>,
    /// How it came out.
    pub status: MeasurementStatus,
    /// The value against its condition: `error ratio 0.21 > 0.01`.
    pub text: String,
}

/// One measurement of the analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Measurement {
    /// 1-based, over the whole analysis.
    pub number: u32,
    /// When it ended.
    #[serde(with = "ops_core::time::rfc3339")]
    pub at: SystemTime,
    /// How long it lasted.
    #[serde(with = "ops_core::duration::serde::any")]
    pub window: Duration,
    /// The canary step (1-based) it was made at; `None` for a verification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<u32>,
    /// The new release's share of the traffic, in percent.
    pub weight: u8,
    /// How it came out.
    pub status: MeasurementStatus,
    /// The new release's requests in the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<f64>,
    /// The stable release's requests in the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable_requests: Option<f64>,
    /// Each bound, decided.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<ConditionResult>,
    /// The source's error (status `error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What the source noted (lines skipped, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Measurement {
    /// One line: `failed: error ratio 0.21 > 0.01 (412 requests)`; for a success every
    /// value; for an error the source's message.
    #[must_use]
    pub fn summary(&self) -> String {
        let requests = self
            .requests
            .map_or_else(String::new, |r| format!(" ({r:.0} requests)"));
        match self.status {
            MeasurementStatus::Error => format!(
                "error: {}",
                self.error.as_deref().unwrap_or("the source failed")
            ),
            MeasurementStatus::Successful => format!(
                "successful: {}{requests}",
                self.results
                    .iter()
                    .map(|r| r.text.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            status => format!(
                "{status}: {}{requests}",
                self.results
                    .iter()
                    .filter(|r| r.status == status)
                    .map(|r| r.text.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// The first result with this measurement's status (the failing one for a failed
    /// measurement).
    #[must_use]
    pub fn deciding(&self) -> Option<&ConditionResult> {
        self.results.iter().find(|r| r.status == self.status)
    }
}

/// A number as outcomes show it: `0.21`, `0.0123`, `412`, `3.2e-5`.
pub(crate) fn num(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return if v.is_nan() {
            "NaN".into()
        } else if v.is_infinite() {
            if v > 0.0 {
                "+Inf".into()
            } else {
                "-Inf".into()
            }
        } else {
            "0".into()
        };
    }
    if v.abs() < 0.0001 {
        return format!("{v:.1e}");
    }
    let text = format!("{v:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.to_owned()
}

fn with_unit(signal: Signal, v: f64) -> String {
    match signal {
        Signal::Latency => format!("{} s", num(v)),
        _ => num(v),
    }
}

/// The value a condition is about, from one release's figures.
fn value(c: &Condition, wanted: &Wanted, f: &Figures) -> Option<f64> {
    match c.signal {
        Signal::ErrorRatio => f.error_ratio(),
        Signal::Latency => {
            let q = c.quantile?;
            let i = wanted
                .quantiles
                .iter()
                .position(|w| w.to_bits() == q.to_bits())?;
            f.quantiles.get(i).copied().flatten()
        }
        Signal::Query => {
            let q = c.query.as_deref()?;
            let i = wanted.queries.iter().position(|w| w == q)?;
            f.queries.get(i).copied().flatten()
        }
    }
    .filter(|v| !v.is_nan())
}

/// Decides every condition on the new release's figures. `stable` are the stable release's
/// candidates, best first (this window's, then earlier ones): a relative bound uses the
/// first with a value (and, for request-based signals, enough requests).
#[allow(clippy::too_many_lines)] // each bound of each condition, one after the other
pub(crate) fn evaluate(
    conditions: &[Condition],
    wanted: &Wanted,
    canary: &Figures,
    stable: &[&Figures],
    min_requests: u64,
) -> (MeasurementStatus, Vec<ConditionResult>) {
    let min = min_requests as f64;
    let enough = |f: &Figures| min_requests == 0 || f.requests.is_some_and(|r| r >= min);
    let too_few = !enough(canary);
    let mut results = Vec::new();
    for c in conditions {
        let label = c.label();
        let v = value(c, wanted, canary);
        let request_based = c.signal != Signal::Query;
        let undecided = |why: String| ConditionResult {
            condition: String::new(),
            value: v,
            stable: None,
            limit: None,
            status: MeasurementStatus::Inconclusive,
            text: format!("{label}: {why}"),
        };
        let bounds: Vec<(String, Option<f64>, bool)> = [
            c.max
                .map(|m| (format!("{label} ≤ {}", num(m)), Some(m), true)),
            c.min
                .map(|m| (format!("{label} ≥ {}", num(m)), Some(m), false)),
            c.max_over_stable
                .map(|m| (format!("{label} ≤ stable + {}", num(m)), None, true)),
        ]
        .into_iter()
        .flatten()
        .collect();
        for (condition, absolute, is_max) in bounds {
            let mut r = if too_few && request_based {
                undecided(match canary.requests {
                    Some(n) => format!("{} requests < {min_requests}", num(n)),
                    None => "no request count".into(),
                })
            } else if let Some(v) = v {
                let (limit, stable_value) = if let Some(l) = absolute {
                    (Some(l), None)
                } else {
                    let s = stable
                        .iter()
                        .filter(|f| !request_based || enough(f))
                        .find_map(|f| value(c, wanted, f));
                    (s.zip(c.max_over_stable).map(|(s, m)| s + m), s)
                };
                match limit {
                    None => undecided("no figure of the stable release to compare with".to_owned()),
                    Some(limit) => {
                        let ok = if is_max { v <= limit } else { v >= limit };
                        let op = match (ok, is_max) {
                            (true, true) => "≤",
                            (false, true) => ">",
                            (true, false) => "≥",
                            (false, false) => "<",
                        };
                        let mut text = format!(
                            "{label} {} {op} {}",
                            with_unit(c.signal, v),
                            with_unit(c.signal, limit)
                        );
                        if let (Some(s), Some(m)) = (stable_value, c.max_over_stable) {
                            let _ = write!(
                                text,
                                " (stable {} + {})",
                                with_unit(c.signal, s),
                                with_unit(c.signal, m)
                            );
                        }
                        ConditionResult {
                            condition: String::new(),
                            value: Some(v),
                            stable: stable_value,
                            limit: Some(limit),
                            status: if ok {
                                MeasurementStatus::Successful
                            } else {
                                MeasurementStatus::Failed
                            },
                            text,
                        }
                    }
                }
            } else {
                undecided("no data".to_owned())
            };
            r.condition = condition;
            results.push(r);
        }
    }
    let status = if results
        .iter()
        .any(|r| r.status == MeasurementStatus::Failed)
    {
        MeasurementStatus::Failed
    } else if results
        .iter()
        .any(|r| r.status == MeasurementStatus::Inconclusive)
    {
        MeasurementStatus::Inconclusive
    } else {
        MeasurementStatus::Successful
    };
    (status, results)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod test {
    use super::*;

    fn wanted(conditions: &[Condition]) -> Wanted {
        Wanted::of(conditions)
    }

    #[test]
    fn numbers() {
        assert_eq!(num(0.21), "0.21");
        assert_eq!(num(0.012_345), "0.0123");
        assert_eq!(num(412.0), "412");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(0.000_032), "3.2e-5");
    }

    #[test]
    fn absolute_bounds() {
        let c = [Condition::error_ratio(0.01)];
        let w = wanted(&c);
        let (s, r) = evaluate(&c, &w, &Figures::requests(100.0, 21.0), &[], 20);
        assert_eq!(s, MeasurementStatus::Failed);
        assert_eq!(r[0].text, "error ratio 0.21 > 0.01");
        assert_eq!(r[0].condition, "error ratio ≤ 0.01");
        let (s, r) = evaluate(&c, &w, &Figures::requests(100.0, 1.0), &[], 20);
        assert_eq!(s, MeasurementStatus::Successful);
        assert_eq!(r[0].text, "error ratio 0.01 ≤ 0.01");
    }

    #[test]
    fn too_few_requests_are_inconclusive_never_failed() {
        let c = [Condition::error_ratio(0.01)];
        let w = wanted(&c);
        // 5 of 10 failed, but 10 < 20: no decision either way.
        let (s, r) = evaluate(&c, &w, &Figures::requests(10.0, 5.0), &[], 20);
        assert_eq!(s, MeasurementStatus::Inconclusive);
        assert_eq!(r[0].text, "error ratio: 10 requests < 20");
        let (s, r) = evaluate(&c, &w, &Figures::requests(0.0, 0.0), &[], 0);
        assert_eq!(
            (s, r[0].text.as_str()),
            (MeasurementStatus::Inconclusive, "error ratio: no data")
        );
    }

    #[test]
    fn relative_bounds_use_the_first_stable_figure_with_enough_requests() {
        let c = [Condition::error_ratio(0.5).over_stable(0.01)];
        let w = wanted(&c);
        let canary = Figures::requests(100.0, 5.0);
        let thin = Figures::requests(3.0, 3.0);
        let earlier = Figures::requests(1000.0, 20.0);
        let (s, r) = evaluate(&c, &w, &canary, &[&thin, &earlier], 20);
        assert_eq!(s, MeasurementStatus::Failed);
        assert_eq!(r[1].text, "error ratio 0.05 > 0.03 (stable 0.02 + 0.01)");
        assert_eq!(r[1].stable, Some(0.02));
        let (s, r) = evaluate(&c, &w, &canary, &[&thin], 20);
        assert_eq!(s, MeasurementStatus::Inconclusive);
        assert_eq!(
            r[1].text,
            "error ratio: no figure of the stable release to compare with"
        );
    }

    #[test]
    fn latency_and_queries() {
        let conditions = [
            Condition::latency(0.99, 0.5),
            Condition::query("orders", "sum(rate(orders_total[1m]))", 10.0),
        ];
        let want = wanted(&conditions);
        let mut figures = Figures::requests(100.0, 0.0);
        figures.quantiles = vec![Some(0.52)];
        figures.queries = vec![None];
        let (status, results) = evaluate(&conditions, &want, &figures, &[], 20);
        assert_eq!(status, MeasurementStatus::Failed);
        assert_eq!(results[0].text, "p99 latency 0.52 s > 0.5 s");
        assert_eq!(results[1].text, "orders: no data");
    }
}
