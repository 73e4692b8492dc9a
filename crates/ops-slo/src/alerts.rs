//! The burn-rate alerts of an SLO, written once for both evaluators: the in-process monitor
//! (`ops_thresholds::Rule`s) and Prometheus (the exported rule file). Each reads the recorded
//! error ratios by their Sloth names, as Sloth's generated alerts do.

use std::time::Duration;

use crate::promql::num;
use crate::spec::{AlertSeverity, Slo, escape};
use crate::window;

/// `slo:sli_error:ratio_rate5m`: Sloth's name of an SLI's error ratio over a window.
pub(crate) fn ratio_series(w: Duration) -> String {
    format!("slo:sli_error:ratio_rate{}", window::prom(w))
}

/// One alert, as both evaluators get it.
#[derive(Debug, Clone)]
pub(crate) struct AlertDef {
    pub(crate) name: String,
    pub(crate) expr: String,
    pub(crate) severity: AlertSeverity,
    /// Labels besides `severity` (the alert's samples bring `sloth_id`, `sloth_service`,
    /// `sloth_slo`).
    pub(crate) labels: Vec<(String, String)>,
    pub(crate) summary: String,
    pub(crate) description: String,
}

/// The alerts of `slo`.
pub(crate) fn alert_defs(slo: &Slo) -> Vec<AlertDef> {
    let id = escape(&slo.id());
    let budget = num(slo.error_budget());
    let prefix = slo.alert_prefix();
    slo.alerts
        .iter()
        .map(|a| {
            let factor = a.factor_for(slo.window);
            let (long, short) = (window::prom(a.long), window::prom(a.short));
            let threshold = format!("({} * {budget})", num(factor));
            let expr = format!(
                "max({}{{sloth_id=\"{id}\"}} > {threshold}) without (sloth_window) and max({}{{sloth_id=\"{id}\"}} > {threshold}) without (sloth_window)",
                ratio_series(a.long),
                ratio_series(a.short),
            );
            let mut labels = vec![
                ("sloth_severity".to_owned(), a.severity.as_str().to_owned()),
                ("long_window".to_owned(), long.clone()),
                ("short_window".to_owned(), short.clone()),
            ];
            labels.extend(slo.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
            let exhausts = window::prom(Duration::from_secs_f64(
                (slo.window.as_secs_f64() / factor).round(),
            ));
            AlertDef {
                name: format!("{prefix}BurnRate{long}{short}"),
                expr,
                severity: a.severity,
                labels,
                summary: format!(
                    "{} {}: error budget burning at {}x or faster over {long} and {short}",
                    slo.service,
                    slo.name,
                    num(factor)
                ),
                description: format!(
                    "Objective {}% over {}: at {}x the whole error budget would be gone in {exhausts}.",
                    num(crate::spec::round12(slo.objective * 100.0)),
                    window::prom(slo.window),
                    num(factor)
                ),
            }
        })
        .collect()
}

/// The alerts as `ops_thresholds` rules (severity `page` or `ticket`).
#[cfg(feature = "monitor")]
pub(crate) fn rules(slo: &Slo) -> crate::Result<Vec<ops_thresholds::Rule>> {
    alert_defs(slo)
        .into_iter()
        .map(|d| {
            let mut rule = ops_thresholds::Rule::promql(d.name.clone(), &d.expr)
                .map_err(|e| crate::Error::Invalid {
                    origin: std::path::PathBuf::from("<inline>"),
                    slo: slo.id(),
                    field: "alerts",
                    value: d.expr.clone(),
                    reason: e.to_string(),
                })?
                .severity(match d.severity {
                    AlertSeverity::Page => ops_thresholds::Severity::Page,
                    AlertSeverity::Ticket => ops_thresholds::Severity::Ticket,
                })
                .summary(d.summary);
            rule.annotations.insert("description".into(), d.description);
            rule.labels.extend(d.labels);
            Ok(rule)
        })
        .collect()
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn the_workbook_alerts_of_the_playbook_slo() {
        let defs = alert_defs(&Slo::availability("quickstart"));
        let names: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "QuickstartAvailabilityBurnRate1h5m",
                "QuickstartAvailabilityBurnRate6h30m",
                "QuickstartAvailabilityBurnRate1d2h",
                "QuickstartAvailabilityBurnRate3d6h"
            ]
        );
        assert_eq!(
            defs[0].expr,
            "max(slo:sli_error:ratio_rate1h{sloth_id=\"quickstart-availability\"} > (14.4 * 0.005)) without (sloth_window) and max(slo:sli_error:ratio_rate5m{sloth_id=\"quickstart-availability\"} > (14.4 * 0.005)) without (sloth_window)"
        );
        assert_eq!(
            defs[0].summary,
            "quickstart availability: error budget burning at 14.4x or faster over 1h and 5m"
        );
        assert_eq!(
            defs[3].description,
            "Objective 99.5% over 30d: at 1x the whole error budget would be gone in 30d."
        );
        assert_eq!(defs[2].severity, AlertSeverity::Ticket);
    }
}
