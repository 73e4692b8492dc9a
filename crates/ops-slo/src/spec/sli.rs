//! How an SLI counts good and bad events ([`Sli`]): the counter selectors of each side, and
//! the checks a selector passes.

use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{DEFAULT_AVAILABILITY, DEFAULT_LATENCY_OBJECTIVE, HTTP_DURATION_FAMILY};
use crate::state::{Numerator, Side, TermMeta};

/// Where the good and bad events of an SLO are counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Sli {
    /// The HTTP layer's (ops-http) requests: good = answered without a server error (status
    /// not 5xx), total = answered (`http_server_request_duration_seconds_count`). Requests
    /// the client abandoned are neither (ops-http counts them apart).
    HttpAvailability {
        /// Only this route template (`/orders/{id}`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        route: Option<String>,
        /// Only this method (`GET`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        method: Option<String>,
    },
    /// The HTTP layer's requests: good = answered within `threshold`, read from the
    /// histogram's `le` bucket — so the threshold must be one of its bucket bounds.
    HttpLatency {
        /// The bound (`2s`).
        #[serde(with = "ops_core::duration::serde::nonzero")]
        threshold: Duration,
        /// Only this route template.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        route: Option<String>,
        /// Only this method.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        method: Option<String>,
    },
    /// A profiled function's outcomes (ops-profiler): bad = `ops_function_errors_total`,
    /// total = calls − cancelled calls.
    Function {
        /// The `function` label: a full path (`shop::checkout`), or a last segment
        /// (`checkout`) that matches every path ending with it.
        name: String,
    },
    /// Any two counter selectors in `PromQL` (`shop_orders_total{result="ok"}`): exactly one
    /// of `good` and `bad`, and `total`. Each side sums the series its selector matches.
    Promql {
        /// Good events.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        good: Option<String>,
        /// Bad events.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bad: Option<String>,
        /// All events.
        total: String,
    },
    /// Black-box probes (the [`Prober`](crate::Prober)): bad = failed probes, total = probes.
    Probe {
        /// Only the probes of this URL (default: every probe).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        instance: Option<String>,
    },
    /// Events the service records itself through [`SloEvents`](crate::SloEvents)
    /// (`ops_slo_events_total{sloth_id, result}`).
    Events {},
}

impl Sli {
    /// The HTTP layer's availability, all routes.
    pub fn http_availability() -> Sli {
        Sli::HttpAvailability {
            route: None,
            method: None,
        }
    }

    /// The HTTP layer's latency under `threshold`, all routes.
    pub fn http_latency(threshold: Duration) -> Sli {
        Sli::HttpLatency {
            threshold,
            route: None,
            method: None,
        }
    }

    /// A profiled function's outcomes.
    pub fn function(name: impl Into<String>) -> Sli {
        Sli::Function { name: name.into() }
    }

    /// Good events over all events, as counter selectors.
    pub fn good_total(good: impl Into<String>, total: impl Into<String>) -> Sli {
        Sli::Promql {
            good: Some(good.into()),
            bad: None,
            total: total.into(),
        }
    }

    /// Bad events over all events, as counter selectors.
    pub fn bad_total(bad: impl Into<String>, total: impl Into<String>) -> Sli {
        Sli::Promql {
            good: None,
            bad: Some(bad.into()),
            total: total.into(),
        }
    }

    /// Black-box probes of one URL (`None`: all of them).
    pub fn probe(instance: Option<String>) -> Sli {
        Sli::Probe { instance }
    }

    /// The objective the playbook gives this kind: 99 % for latency, 99.5 % otherwise.
    pub fn default_objective(&self) -> f64 {
        match self {
            Sli::HttpLatency { .. } => DEFAULT_LATENCY_OBJECTIVE,
            _ => DEFAULT_AVAILABILITY,
        }
    }

    /// What the numerator counts, and every counter selector with its side and sign
    /// (numerator terms first). `id` is the SLO's id (the [`Sli::Events`] counters carry it).
    #[allow(clippy::too_many_lines)] // one arm per kind
    pub fn terms(&self, id: &str) -> (Numerator, Vec<TermMeta>) {
        let term = |side, sign, selector: String| TermMeta {
            side,
            sign,
            selector,
        };
        match self {
            Sli::HttpAvailability { route, method } => {
                let filters = http_filters(route.as_deref(), method.as_deref());
                (
                    Numerator::Good,
                    vec![
                        term(
                            Side::Numerator,
                            1,
                            selector(
                                &format!("{HTTP_DURATION_FAMILY}_count"),
                                &[filters.as_str(), "status!~\"5..\""],
                            ),
                        ),
                        term(
                            Side::Total,
                            1,
                            selector(&format!("{HTTP_DURATION_FAMILY}_count"), &[&filters]),
                        ),
                    ],
                )
            }
            Sli::HttpLatency {
                threshold,
                route,
                method,
            } => {
                let filters = http_filters(route.as_deref(), method.as_deref());
                let le = format!("le=\"{}\"", threshold.as_secs_f64());
                (
                    Numerator::Good,
                    vec![
                        term(
                            Side::Numerator,
                            1,
                            selector(
                                &format!("{HTTP_DURATION_FAMILY}_bucket"),
                                &[filters.as_str(), &le],
                            ),
                        ),
                        term(
                            Side::Total,
                            1,
                            selector(&format!("{HTTP_DURATION_FAMILY}_count"), &[&filters]),
                        ),
                    ],
                )
            }
            Sli::Function { name } => {
                let m = if name.contains("::") {
                    format!("function=\"{}\"", escape(name))
                } else {
                    format!("function=~\"(.*::)?{}\"", escape(&regex_escape(name)))
                };
                (
                    Numerator::Bad,
                    vec![
                        term(
                            Side::Numerator,
                            1,
                            selector("ops_function_errors_total", &[&m]),
                        ),
                        term(
                            Side::Total,
                            1,
                            selector("ops_function_duration_seconds_count", &[&m]),
                        ),
                        term(
                            Side::Total,
                            -1,
                            selector("ops_function_cancelled_total", &[&m]),
                        ),
                    ],
                )
            }
            Sli::Promql { good, bad, total } => {
                let (kind, num) = match (good, bad) {
                    (Some(g), _) => (Numerator::Good, g.trim().to_owned()),
                    (None, Some(b)) => (Numerator::Bad, b.trim().to_owned()),
                    (None, None) => (Numerator::Bad, String::new()),
                };
                (
                    kind,
                    vec![
                        term(Side::Numerator, 1, num),
                        term(Side::Total, 1, total.trim().to_owned()),
                    ],
                )
            }
            Sli::Probe { instance } => {
                let m = instance
                    .as_deref()
                    .map(|i| format!("instance=\"{}\"", escape(i)))
                    .unwrap_or_default();
                (
                    Numerator::Bad,
                    vec![
                        term(
                            Side::Numerator,
                            1,
                            selector(crate::probe::FAILED_FAMILY, &[&m]),
                        ),
                        term(Side::Total, 1, selector(crate::probe::TOTAL_FAMILY, &[&m])),
                    ],
                )
            }
            Sli::Events {} => {
                let id_m = format!("sloth_id=\"{}\"", escape(id));
                (
                    Numerator::Bad,
                    vec![
                        term(
                            Side::Numerator,
                            1,
                            selector(crate::events::EVENTS_FAMILY, &[&id_m, "result=\"bad\""]),
                        ),
                        term(
                            Side::Total,
                            1,
                            selector(crate::events::EVENTS_FAMILY, &[&id_m]),
                        ),
                    ],
                )
            }
        }
    }

    /// A short description for status pages (`HTTP requests not 5xx`).
    pub fn describe(&self) -> String {
        let scope = |route: &Option<String>, method: &Option<String>| {
            let mut s = String::new();
            if let Some(m) = method {
                let _ = write!(s, " {m}");
            }
            if let Some(r) = route {
                let _ = write!(s, " {r}");
            }
            s
        };
        match self {
            Sli::HttpAvailability { route, method } => {
                format!(
                    "HTTP requests{} answered without a 5xx",
                    scope(route, method)
                )
            }
            Sli::HttpLatency {
                threshold,
                route,
                method,
            } => format!(
                "HTTP requests{} answered within {}",
                scope(route, method),
                ops_core::duration::format(*threshold)
            ),
            Sli::Function { name } => format!("calls of {name} without an error"),
            Sli::Promql { good, bad, total } => match (good, bad) {
                (Some(g), _) => format!("{g} / {total}"),
                (_, Some(b)) => format!("1 - {b} / {total}"),
                _ => total.clone(),
            },
            Sli::Probe { instance } => match instance {
                Some(i) => format!("successful probes of {i}"),
                None => "successful probes".to_owned(),
            },
            Sli::Events {} => "good events recorded by the service".to_owned(),
        }
    }
}

/// The label matchers of an HTTP SLI's scope.
fn http_filters(route: Option<&str>, method: Option<&str>) -> String {
    let mut m = Vec::new();
    if let Some(method) = method {
        m.push(format!("method=\"{}\"", escape(method)));
    }
    if let Some(route) = route {
        m.push(format!("route=\"{}\"", escape(route)));
    }
    m.join(",")
}

/// `name{m1,m2}` (empty matchers left out; `name` alone without any).
fn selector(name: &str, matchers: &[&str]) -> String {
    let m: Vec<&str> = matchers.iter().copied().filter(|m| !m.is_empty()).collect();
    if m.is_empty() {
        name.to_owned()
    } else {
        format!("{name}{{{}}}", m.join(","))
    }
}

/// A `PromQL` double-quoted string's content: backslash, `"` and newline escaped, as in an
/// exposition label value.
pub(crate) fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    ops_core::exposition::escape_label_value(value, &mut out);
    out
}

/// A literal for a regular expression.
fn regex_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The metric name a counter selector reads (`name{…}` or `{__name__="name"}`), if it reads
/// one name only.
pub(crate) fn selector_name(text: &str) -> Option<String> {
    match promql_parser::parser::parse(text).ok()? {
        promql_parser::parser::Expr::VectorSelector(vs) => vs.name.or_else(|| {
            vs.matchers
                .matchers
                .iter()
                .find(|m| {
                    m.name == "__name__" && matches!(m.op, promql_parser::label::MatchOp::Equal)
                })
                .map(|m| m.value.clone())
        }),
        _ => None,
    }
}

/// Checks that `text` is a counter selector: an instant vector selector (`name{matchers}`),
/// no offset, no `@`, that ops-promql evaluates.
pub(crate) fn check_selector(text: &str) -> std::result::Result<(), String> {
    if text.trim().is_empty() {
        return Err("must not be empty".into());
    }
    let expr = promql_parser::parser::parse(text).map_err(|e| format!("not PromQL: {e}"))?;
    match expr {
        promql_parser::parser::Expr::VectorSelector(vs) => {
            if vs.offset.is_some() || vs.at.is_some() {
                return Err("a counter selector has no offset or @ modifier".into());
            }
            if !vs.matchers.or_matchers.is_empty() {
                return Err("`or` inside label braces is not supported".into());
            }
        }
        _ => {
            return Err(
                "must be a counter selector (`name{label=\"value\"}`): the SLI sums the increases of the series it matches"
                    .into(),
            );
        }
    }
    ops_promql::Expr::parse(text).map_err(|e| e.to_string())?;
    Ok(())
}
