/*!
SLO definitions: what an SLO promises ([`Slo`]: service, name, objective, window), how its
SLI counts good and bad events ([`Sli`]), and which burn rates alert ([`BurnAlert`]).

Every SLI is the ratio of the increases of two aggregated counters — good (or bad) events over
all events — so Prometheus can compute it from the same series: [`Sli::terms`] gives the
counter selectors of each side.
*/

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::state::{AlertMeta, MAX_BURN_WINDOW, MAX_WINDOW, Numerator, Side, SloMeta, TermMeta};
use crate::window;

/// The HTTP layer's duration histogram (`ops_http::DURATION_FAMILY`).
pub const HTTP_DURATION_FAMILY: &str = "http_server_request_duration_seconds";

/// The playbook's availability objective: 99.5 %.
pub const DEFAULT_AVAILABILITY: f64 = 0.995;
/// The playbook's latency objective: 99 % of requests under the bound.
pub const DEFAULT_LATENCY_OBJECTIVE: f64 = 0.99;
/// The playbook's latency bound: 2 s.
pub const DEFAULT_LATENCY_BOUND: Duration = Duration::from_secs(2);
/// The default budget window: 30 days.
pub const DEFAULT_WINDOW: Duration = Duration::from_hours(720);
/// The default minimum traffic: one event per minute (autometrics' 0.01667 requests per
/// second). Below it a window has no data.
pub const DEFAULT_MIN_EVENTS_PER_MINUTE: f64 = 1.0;

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

/// A `PromQL` double-quoted string's content.
pub(crate) fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
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

/// How bad an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertSeverity {
    /// Wake someone up.
    Page,
    /// Open a ticket.
    Ticket,
}

impl AlertSeverity {
    /// `page` or `ticket`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertSeverity::Page => "page",
            AlertSeverity::Ticket => "ticket",
        }
    }
}

/// One multi-window burn-rate alert: fires while both windows burn the budget at `factor`
/// times the rate that spends it exactly over the SLO's window, or faster.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BurnAlert {
    /// `page` or `ticket`.
    pub severity: AlertSeverity,
    /// The long window (`1h`).
    pub long: Duration,
    /// The short window (`5m`): the alert stops soon after the burn does.
    pub short: Duration,
    /// The burn-rate factor.
    pub factor: Factor,
}

/// How the burn-rate factor is given.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Factor {
    /// As a multiple of the budget rate (14.4).
    Rate(f64),
    /// As the share of the whole budget spent within the long window, in per mille (20 for
    /// 2 %): the factor is `share × SLO window / long window`, so it follows the SLO's window
    /// (14.4 for 2 % in 1 h of 30 days).
    BudgetPermille(u32),
}

impl BurnAlert {
    /// The Google SRE Workbook's alerts for a 30-day SLO, as budget shares so that they scale
    /// with the window: page when 2 % of the budget goes in 1 h (and the last 5 m burn too;
    /// 14.4× over 30 days), page at 5 % in 6 h (30 m; 6×), ticket at 10 % in 1 d (2 h; 3×),
    /// ticket at 10 % in 3 d (6 h; 1×).
    pub fn workbook() -> Vec<BurnAlert> {
        let a = |severity, long_min: u64, short_min: u64, permille| BurnAlert {
            severity,
            long: Duration::from_mins(long_min),
            short: Duration::from_mins(short_min),
            factor: Factor::BudgetPermille(permille),
        };
        vec![
            a(AlertSeverity::Page, 60, 5, 20),
            a(AlertSeverity::Page, 360, 30, 50),
            a(AlertSeverity::Ticket, 1440, 120, 100),
            a(AlertSeverity::Ticket, 4320, 360, 100),
        ]
    }

    /// The factor for an SLO window of `window`.
    pub fn factor_for(&self, window: Duration) -> f64 {
        match self.factor {
            Factor::Rate(f) => f,
            Factor::BudgetPermille(p) => {
                // One division of exact integers: 20 × 43,200 / (1,000 × 60) is 14.4 to the bit.
                let num = f64::from(p) * (window.as_secs() / 60) as f64;
                let den = 1000.0 * (self.long.as_secs() / 60) as f64;
                num / den
            }
        }
    }
}

/// One SLO.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Slo {
    /// The service (`sloth_service`).
    pub service: String,
    /// The SLO's name within the service (`sloth_slo`).
    pub name: String,
    /// What it promises, in words.
    pub description: String,
    /// The share of events that must be good, in `(0, 1)`: 0.995.
    pub objective: f64,
    /// The rolling budget window (whole hours, default 30 days).
    pub window: Duration,
    /// How events are counted.
    pub sli: Sli,
    /// The burn-rate alerts (default [`BurnAlert::workbook`]).
    pub alerts: Vec<BurnAlert>,
    /// The alerts' name prefix (default: the service and name in `CamelCase`).
    pub alert_name: Option<String>,
    /// Labels added to every alert (team, routing).
    pub labels: BTreeMap<String, String>,
}

impl Slo {
    /// An SLO on `sli` with the playbook's objective for its kind, a 30-day window and the
    /// Workbook's alerts.
    pub fn new(service: impl Into<String>, name: impl Into<String>, sli: Sli) -> Slo {
        Slo {
            service: service.into(),
            name: name.into(),
            description: String::new(),
            objective: sli.default_objective(),
            window: DEFAULT_WINDOW,
            sli,
            alerts: BurnAlert::workbook(),
            alert_name: None,
            labels: BTreeMap::new(),
        }
    }

    /// The playbook's availability SLO: 99.5 % of the HTTP layer's requests answered without
    /// a server error over 30 days.
    pub fn availability(service: impl Into<String>) -> Slo {
        Slo::new(service, "availability", Sli::http_availability())
            .description("99.5 % of requests answered without a server error")
    }

    /// The playbook's latency SLO: 99 % of the HTTP layer's requests answered within
    /// `threshold` (2 s in the playbook; it must be a bucket bound of the layer's histogram)
    /// over 30 days.
    pub fn latency(service: impl Into<String>, threshold: Duration) -> Slo {
        let d = format!(
            "99 % of requests answered within {}",
            ops_core::duration::format(threshold)
        );
        Slo::new(service, "latency", Sli::http_latency(threshold)).description(d)
    }

    /// Sets the objective as a ratio (0.999).
    #[must_use]
    pub fn objective(mut self, ratio: f64) -> Slo {
        self.objective = ratio;
        self
    }

    /// Sets the objective in percent (99.9).
    #[must_use]
    pub fn objective_percent(mut self, percent: f64) -> Slo {
        self.objective = round12(percent / 100.0);
        self
    }

    /// Sets the budget window.
    #[must_use]
    pub fn window(mut self, window: Duration) -> Slo {
        self.window = window;
        self
    }

    /// Sets the description.
    #[must_use]
    pub fn description(mut self, text: impl Into<String>) -> Slo {
        self.description = text.into();
        self
    }

    /// Replaces the burn-rate alerts.
    #[must_use]
    pub fn alerts(mut self, alerts: Vec<BurnAlert>) -> Slo {
        self.alerts = alerts;
        self
    }

    /// Adds a label to every alert.
    #[must_use]
    pub fn label(mut self, name: impl Into<String>, value: impl Into<String>) -> Slo {
        self.labels.insert(name.into(), value.into());
        self
    }

    /// `service-name`: the `sloth_id` label.
    pub fn id(&self) -> String {
        format!("{}-{}", self.service, self.name)
    }

    /// `1 − objective`, rounded to 12 decimals so that 99.5 % gives 0.005 exactly as written.
    pub fn error_budget(&self) -> f64 {
        round12(1.0 - self.objective)
    }

    /// The alerts' name prefix: the one set, or the service and name in `CamelCase`
    /// (`QuickstartAvailability`).
    pub fn alert_prefix(&self) -> String {
        if let Some(name) = &self.alert_name {
            return name.clone();
        }
        let mut out = String::new();
        for part in format!("{} {}", self.service, self.name)
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|p| !p.is_empty())
        {
            let mut chars = part.chars();
            if let Some(first) = chars.next() {
                out.push(first.to_ascii_uppercase());
                out.extend(chars);
            }
        }
        if !out.starts_with(|c: char| c.is_ascii_alphabetic()) {
            out.insert_str(0, "Slo");
        }
        out
    }

    /// What the state file records of this SLO.
    pub fn meta(&self, min_events_per_minute: f64) -> SloMeta {
        let id = self.id();
        let (numerator, terms) = self.sli.terms(&id);
        SloMeta {
            id,
            service: self.service.clone(),
            slo: self.name.clone(),
            description: if self.description.is_empty() {
                self.sli.describe()
            } else {
                self.description.clone()
            },
            objective: self.objective,
            error_budget: self.error_budget(),
            window: self.window,
            numerator,
            terms,
            alerts: self
                .alerts
                .iter()
                .map(|a| AlertMeta {
                    name: format!(
                        "{}BurnRate{}{}",
                        self.alert_prefix(),
                        window::prom(a.long),
                        window::prom(a.short)
                    ),
                    severity: a.severity.as_str().to_owned(),
                    long: a.long,
                    short: a.short,
                    factor: a.factor_for(self.window),
                })
                .collect(),
            min_events_per_minute,
        }
    }

    /// Checks the SLO; `Err((field, value, reason))`.
    fn check(&self) -> std::result::Result<(), (&'static str, String, String)> {
        for (field, v) in [("service", &self.service), ("name", &self.name)] {
            if v.trim().is_empty() || v.len() > 128 || v.chars().any(char::is_control) {
                return Err((
                    field,
                    format!("{v:?}"),
                    "must be 1 to 128 characters, no control characters".into(),
                ));
            }
        }
        if !(self.objective > 0.0 && self.objective < 1.0) || self.error_budget() <= 0.0 {
            return Err((
                "objective",
                format!("{}%", self.objective * 100.0),
                "must be above 0 % and below 100 % (with at most 10 nines)".into(),
            ));
        }
        if self.window < window::HOUR
            || self.window > MAX_WINDOW
            || !self.window.as_secs().is_multiple_of(3600)
            || self.window.subsec_nanos() != 0
        {
            return Err((
                "window",
                ops_core::duration::format(self.window),
                "must be whole hours, from 1h to 366 days".into(),
            ));
        }
        let prefix = self.alert_prefix();
        if !is_identifier(&prefix) {
            return Err((
                "alert_name",
                prefix,
                "must match [a-zA-Z_][a-zA-Z0-9_]* (it names the alerts)".into(),
            ));
        }
        for k in self.labels.keys() {
            if !ops_core::exposition::is_label_name(k)
                || matches!(k.as_str(), "alertname" | "severity")
                || k.starts_with("sloth_")
            {
                return Err((
                    "labels",
                    k.clone(),
                    "label names match [a-zA-Z_][a-zA-Z0-9_]*; alertname, severity and sloth_* are set by the SLO".into(),
                ));
            }
        }
        let mut seen = Vec::new();
        for a in &self.alerts {
            let text = format!("{}/{}", window::prom(a.long), window::prom(a.short));
            if a.short.is_zero()
                || a.short >= a.long
                || a.long > MAX_BURN_WINDOW
                || !a.short.as_secs().is_multiple_of(60)
                || !a.long.as_secs().is_multiple_of(60)
                || a.short.subsec_nanos() != 0
                || a.long.subsec_nanos() != 0
            {
                return Err((
                    "alerts",
                    text,
                    "windows are whole minutes, the short one shorter than the long one, the long one at most 3d".into(),
                ));
            }
            let f = a.factor_for(self.window);
            if !(f.is_finite() && f > 0.0) {
                return Err((
                    "alerts",
                    format!("{text} factor {f}"),
                    "the burn-rate factor must be above 0".into(),
                ));
            }
            if seen.contains(&(a.long, a.short)) {
                return Err(("alerts", text, "two alerts on the same windows".into()));
            }
            seen.push((a.long, a.short));
        }
        self.check_sli()
    }

    fn check_sli(&self) -> std::result::Result<(), (&'static str, String, String)> {
        match &self.sli {
            Sli::HttpLatency { threshold, .. } => {
                let bounds = ops_registry::Buckets::HTTP;
                let secs = threshold.as_secs_f64();
                if !bounds.bounds().contains(&secs) {
                    let known: Vec<String> =
                        bounds.bounds().iter().map(|b| format!("{b}s")).collect();
                    return Err((
                        "sli.http_latency.threshold",
                        ops_core::duration::format(*threshold),
                        format!(
                            "must be one of the bucket bounds of {HTTP_DURATION_FAMILY}: {}",
                            known.join(", ")
                        ),
                    ));
                }
            }
            Sli::Function { name } if name.trim().is_empty() => {
                return Err((
                    "sli.function.name",
                    format!("{name:?}"),
                    "must not be empty".into(),
                ));
            }
            Sli::Promql { good, bad, .. } if good.is_some() == bad.is_some() => {
                return Err((
                    "sli.promql",
                    format!("good {good:?}, bad {bad:?}"),
                    "needs exactly one of `good` and `bad`, and `total`".into(),
                ));
            }
            _ => {}
        }
        let (_, terms) = self.sli.terms(&self.id());
        for t in &terms {
            check_selector(&t.selector).map_err(|reason| {
                let field = match (&self.sli, t.side) {
                    (Sli::Promql { good: Some(_), .. }, Side::Numerator) => "sli.promql.good",
                    (Sli::Promql { .. }, Side::Numerator) => "sli.promql.bad",
                    (Sli::Promql { .. }, Side::Total) => "sli.promql.total",
                    _ => "sli",
                };
                (field, t.selector.clone(), reason)
            })?;
        }
        Ok(())
    }
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`.
fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `v` rounded to 12 decimals.
pub(crate) fn round12(v: f64) -> f64 {
    format!("{v:.12}").parse().unwrap_or(v)
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

/// A set of SLOs and the settings they share.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SloSet {
    /// The SLOs; ids (`service-name`) unique.
    pub slos: Vec<Slo>,
    /// Below this many events per minute in a burn-rate window, the window has no data (no
    /// error ratio, no alert). Default 1 ([`DEFAULT_MIN_EVENTS_PER_MINUTE`]).
    pub min_events_per_minute: f64,
    /// The file the set was read from (for error messages).
    pub origin: PathBuf,
}

impl Default for SloSet {
    fn default() -> Self {
        SloSet {
            slos: Vec::new(),
            min_events_per_minute: DEFAULT_MIN_EVENTS_PER_MINUTE,
            origin: PathBuf::from("<inline>"),
        }
    }
}

impl SloSet {
    /// A set of SLOs with the default settings.
    pub fn new(slos: Vec<Slo>) -> SloSet {
        SloSet {
            slos,
            ..SloSet::default()
        }
    }

    /// The playbook's two SLOs for `service`'s HTTP layer: availability 99.5 % over 30 days,
    /// and 99 % of requests within `latency` (2 s in the playbook).
    pub fn playbook(service: &str, latency: Duration) -> SloSet {
        SloSet::new(vec![
            Slo::availability(service),
            Slo::latency(service, latency),
        ])
    }

    /// Checks every SLO: names, objective, window, alert windows and factors, labels, the
    /// SLI's selectors (`PromQL` counter selectors) and the latency bound (one of the
    /// histogram's bucket bounds); ids unique; the minimum traffic a number ≥ 0.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the SLO, field and value, or [`Error::Setting`].
    pub fn validate(&self) -> Result<()> {
        if !(self.min_events_per_minute.is_finite() && self.min_events_per_minute >= 0.0) {
            return Err(Error::Setting {
                origin: self.origin.clone(),
                field: "min_events_per_minute",
                value: self.min_events_per_minute.to_string(),
                reason: "must be a number at least 0".into(),
            });
        }
        let mut ids = std::collections::HashSet::new();
        let mut prefixes = std::collections::HashSet::new();
        for slo in &self.slos {
            let invalid = |(field, value, reason): (&'static str, String, String)| Error::Invalid {
                origin: self.origin.clone(),
                slo: slo.id(),
                field,
                value,
                reason,
            };
            slo.check().map_err(invalid)?;
            if !ids.insert(slo.id()) {
                return Err(invalid((
                    "name",
                    slo.name.clone(),
                    "duplicate SLO id".into(),
                )));
            }
            if !prefixes.insert(slo.alert_prefix()) {
                return Err(invalid((
                    "alert_name",
                    slo.alert_prefix(),
                    "another SLO's alerts have this name".into(),
                )));
            }
        }
        Ok(())
    }

    /// What the state file records of each SLO.
    pub fn metas(&self) -> Vec<SloMeta> {
        self.slos
            .iter()
            .map(|s| s.meta(self.min_events_per_minute))
            .collect()
    }

    /// Reads and checks a definitions file: `.toml`, or `.yaml`/`.yml` (native, or `OpenSLO` v1
    /// `SLO` documents; feature `yaml`).
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::Format`], [`Error::Syntax`], or a validation error.
    pub fn load(path: impl AsRef<Path>) -> Result<SloSet> {
        let path = path.as_ref();
        let meta = std::fs::metadata(path).map_err(crate::error::io("cannot read", path))?;
        if meta.len() > crate::file::MAX_DEFINITIONS_BYTES {
            return Err(Error::Format {
                path: path.to_path_buf(),
                reason: format!("larger than {} bytes", crate::file::MAX_DEFINITIONS_BYTES),
            });
        }
        let text = std::fs::read_to_string(path).map_err(crate::error::io("cannot read", path))?;
        match path.extension().and_then(|e| e.to_str()) {
            Some("toml") => SloSet::from_toml_at(&text, path),
            Some("yaml" | "yml") => SloSet::from_yaml_at(&text, path),
            _ => Err(Error::Format {
                path: path.to_path_buf(),
                reason: "unknown definitions format: use .toml, .yaml or .yml".into(),
            }),
        }
    }

    /// Parses and checks TOML definitions.
    ///
    /// # Errors
    /// [`Error::Syntax`] or a validation error.
    pub fn from_toml(text: &str) -> Result<SloSet> {
        SloSet::from_toml_at(text, Path::new("<inline>"))
    }

    fn from_toml_at(text: &str, origin: &Path) -> Result<SloSet> {
        let file: crate::file::SloFile = toml::from_str(text).map_err(|e| Error::Syntax {
            origin: origin.to_path_buf(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        file.into_set(origin)
    }

    /// Parses and checks YAML definitions: the native form, or `OpenSLO` v1 documents
    /// (`apiVersion: openslo/v1`, `kind: SLO`; see the `openslo` module).
    ///
    /// # Errors
    /// [`Error::Format`] without the `yaml` feature, [`Error::Syntax`] or a validation error.
    pub fn from_yaml(text: &str) -> Result<SloSet> {
        SloSet::from_yaml_at(text, Path::new("<inline>"))
    }

    #[cfg(feature = "yaml")]
    fn from_yaml_at(text: &str, origin: &Path) -> Result<SloSet> {
        if crate::openslo::is_openslo(text) {
            return crate::openslo::parse(text, origin);
        }
        let file: crate::file::SloFile =
            serde_norway::from_str(text).map_err(|e| Error::Syntax {
                origin: origin.to_path_buf(),
                message: e.to_string(),
            })?;
        file.into_set(origin)
    }

    #[cfg(not(feature = "yaml"))]
    fn from_yaml_at(_: &str, origin: &Path) -> Result<SloSet> {
        Err(Error::Format {
            path: origin.to_path_buf(),
            reason: "YAML definitions need ops-slo's feature `yaml`".into(),
        })
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn workbook_factors_are_exact_for_30_days() {
        let f: Vec<f64> = BurnAlert::workbook()
            .iter()
            .map(|a| a.factor_for(DEFAULT_WINDOW))
            .collect();
        assert_eq!(f, [14.4, 6.0, 3.0, 1.0]);
        // A 7-day SLO spends the same shares in the same windows.
        let week: Vec<f64> = BurnAlert::workbook()
            .iter()
            .map(|a| a.factor_for(Duration::from_hours(168)))
            .collect();
        assert_eq!(week[0], 3.36);
    }

    #[test]
    fn playbook_budgets() {
        let set = SloSet::playbook("quickstart", Duration::from_millis(2500));
        set.validate().unwrap();
        assert_eq!(set.slos[0].error_budget(), 0.005);
        assert_eq!(set.slos[1].error_budget(), 0.01);
        assert_eq!(set.slos[0].id(), "quickstart-availability");
        assert_eq!(set.slos[0].alert_prefix(), "QuickstartAvailability");
        let (num, terms) = set.slos[1].sli.terms("x");
        assert_eq!(num, Numerator::Good);
        assert_eq!(
            terms[0].selector,
            "http_server_request_duration_seconds_bucket{le=\"2.5\"}"
        );
    }

    #[test]
    fn the_latency_bound_must_be_a_bucket_bound() {
        let set = SloSet::playbook("q", Duration::from_millis(1500));
        let err = set.validate().unwrap_err().to_string();
        assert!(
            err.contains("must be one of the bucket bounds of http_server_request_duration_seconds: 0.005s, 0.01s"),
            "{err}"
        );
        assert!(err.contains("field `sli.http_latency.threshold`"), "{err}");
    }

    #[test]
    fn selectors_are_checked() {
        for (bad, reason) in [
            ("rate(x[5m])", "must be a counter selector"),
            ("x offset 5m", "no offset"),
            ("x{", "not PromQL"),
        ] {
            let set = SloSet::new(vec![Slo::new("s", "n", Sli::bad_total(bad, "t_total"))]);
            let err = set.validate().unwrap_err().to_string();
            assert!(
                err.contains(reason) && err.contains("sli.promql.bad"),
                "{bad}: {err}"
            );
        }
    }
}
