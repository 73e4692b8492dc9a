//! One SLO ([`Slo`]): what it promises, its builders, what the state file records of it and
//! its checks.

use std::collections::BTreeMap;
use std::time::Duration;

use super::sli::check_selector;
use super::{BurnAlert, DEFAULT_WINDOW, HTTP_DURATION_FAMILY, Sli, round12};
use crate::state::{AlertMeta, MAX_BURN_WINDOW, MAX_WINDOW, Side, SloMeta};
use crate::window;

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
    pub(super) fn check(&self) -> std::result::Result<(), (&'static str, String, String)> {
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
