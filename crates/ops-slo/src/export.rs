/*!
Prometheus rules for the same SLOs: what `ops slo export` writes, for Prometheus to evaluate
when the service runs on many instances.

One group per SLO, `ops-slo-<id>`, evaluated every minute, holding in order:

* `slo:sli_error:ratio_rate<w>` for every burn-rate window (5m, 30m, 1h, 2h, 6h, 1d, 3d by
  default): the SLI's error ratio over the raw counters, with the minimum-traffic guard
  ([`crate::promql`]), labelled `sloth_id`, `sloth_service`, `sloth_slo`, `sloth_window`;
* `slo:sli_error:ratio_rate<window>` (30d): the same over the budget window (no traffic
  guard);
* `ops_slo_no_data{sloth_window}`: 1 where a window has too little traffic;
* Sloth's metadata series: `slo:objective:ratio`, `slo:error_budget:ratio`,
  `slo:time_period:days`, `slo:current_burn_rate:ratio`, `slo:period_burn_rate:ratio`,
  `slo:period_error_budget_remaining:ratio`, `sloth_slo_info`;
* the burn-rate alerts, reading the recorded ratios, with `severity` (`page`/`ticket`),
  `sloth_severity`, `long_window`, `short_window` and the SLO's labels.

Recording and alerting rules share the group so each evaluation's alerts read that
evaluation's ratios (as in-process). The names and labels are Sloth's, so Sloth's and Pyrra's
Grafana dashboards read them; `promtool check rules` accepts the file.
*/

use std::fmt::Write as _;

use crate::alerts::{alert_defs, ratio_series};
use crate::promql::{Guard, num, window_exprs};
use crate::spec::{SloSet, escape, round12};
use crate::window;

/// A YAML double-quoted scalar (JSON's string syntax is YAML's).
fn q(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

fn labels(out: &mut String, pairs: &[(&str, &str)]) {
    out.push_str("    labels:\n");
    for (k, v) in pairs {
        let _ = writeln!(out, "      {k}: {}", q(v));
    }
}

/// The Prometheus rule file (YAML) for `set`.
///
/// ```
/// let set = ops_slo::SloSet::playbook("shop", std::time::Duration::from_millis(2500));
/// let rules = ops_slo::export::prometheus_rules(&set);
/// assert!(rules.contains("- record: \"slo:sli_error:ratio_rate5m\""));
/// assert!(rules.contains("- alert: \"ShopAvailabilityBurnRate1h5m\""));
/// ```
#[allow(clippy::too_many_lines)] // one rule after another, in the group's order
pub fn prometheus_rules(set: &SloSet) -> String {
    let mut out = String::from(
        "# Prometheus rules for SLOs, written by ops-slo (ops slo export): recording rules with\n\
         # Sloth's names and labels, and multi-window, multi-burn-rate alerts over them.\n",
    );
    if set.slos.is_empty() {
        out.push_str("groups: []\n");
        return out;
    }
    out.push_str("groups:\n");
    for slo in &set.slos {
        let meta = slo.meta(set.min_events_per_minute);
        let id = meta.id.as_str();
        let ids = [
            ("sloth_id", id),
            ("sloth_service", meta.service.as_str()),
            ("sloth_slo", meta.slo.as_str()),
        ];
        let _ = writeln!(
            out,
            "- name: {}\n  interval: 1m\n  rules:",
            q(&format!("ops-slo-{id}"))
        );
        let selector = |i: usize| meta.terms[i].selector.clone();
        let guard = Guard::PerMinute(meta.min_events_per_minute);
        let windows = meta.windows();
        let mut no_data = Vec::new();
        for &w in windows.iter().chain(std::iter::once(&meta.window)) {
            let budget_window = w == meta.window;
            let e = window_exprs(
                &meta,
                w,
                if budget_window { Guard::Any } else { guard },
                &selector,
            );
            let label = window::prom(w);
            let _ = writeln!(
                out,
                "  - record: {}\n    expr: {}",
                q(&ratio_series(w)),
                q(&e.error_ratio)
            );
            let mut l = ids.to_vec();
            l.push(("sloth_window", &label));
            labels(&mut out, &l);
            if !budget_window {
                let threshold = match guard {
                    Guard::PerMinute(m) if m > 0.0 => format!("< bool {}", num(m / 60.0)),
                    _ => "<= bool 0".to_owned(),
                };
                no_data.push((label, format!("({}) {threshold}", e.total_rate)));
            }
        }
        for (label, expr) in &no_data {
            let _ = writeln!(
                out,
                "  - record: \"ops_slo_no_data\"\n    expr: {}",
                q(expr)
            );
            let mut l = ids.to_vec();
            l.push(("sloth_window", label));
            labels(&mut out, &l);
        }
        let sel = |name: &str| format!("{name}{{sloth_id=\"{}\"}}", escape(id));
        let on = "on(sloth_id, sloth_slo, sloth_service) group_left";
        let period = ratio_series(meta.window);
        let mut meta_rules = vec![
            (
                "slo:objective:ratio",
                format!("vector({})", num(meta.objective)),
            ),
            (
                "slo:error_budget:ratio",
                format!("vector({})", num(meta.error_budget)),
            ),
            (
                "slo:time_period:days",
                format!("vector({})", num(meta.window.as_secs_f64() / 86_400.0)),
            ),
        ];
        if let Some(shortest) = windows.first() {
            meta_rules.push((
                "slo:current_burn_rate:ratio",
                format!(
                    "{} / {on} {}",
                    sel(&ratio_series(*shortest)),
                    sel("slo:error_budget:ratio")
                ),
            ));
        }
        meta_rules.push((
            "slo:period_burn_rate:ratio",
            format!("{} / {on} {}", sel(&period), sel("slo:error_budget:ratio")),
        ));
        meta_rules.push((
            "slo:period_error_budget_remaining:ratio",
            format!("1 - {}", sel("slo:period_burn_rate:ratio")),
        ));
        for (name, expr) in meta_rules {
            let _ = writeln!(out, "  - record: {}\n    expr: {}", q(name), q(&expr));
            labels(&mut out, &ids);
        }
        let objective = num(round12(meta.objective * 100.0));
        let _ = writeln!(
            out,
            "  - record: \"sloth_slo_info\"\n    expr: \"vector(1)\""
        );
        let mut l = ids.to_vec();
        l.push(("sloth_mode", "ops-rs"));
        l.push(("sloth_objective", &objective));
        labels(&mut out, &l);
        for a in alert_defs(slo) {
            let _ = writeln!(out, "  - alert: {}\n    expr: {}", q(&a.name), q(&a.expr));
            let mut l: Vec<(&str, &str)> = vec![("severity", a.severity.as_str())];
            l.extend(a.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            labels(&mut out, &l);
            let _ = writeln!(
                out,
                "    annotations:\n      summary: {}\n      description: {}",
                q(&a.summary),
                q(&a.description)
            );
        }
    }
    out
}

#[cfg(test)]
mod test {
    use std::time::Duration;

    use super::*;

    #[test]
    fn one_group_per_slo_with_recordings_then_alerts() {
        let set = SloSet::playbook("quickstart", Duration::from_millis(2500));
        let text = prometheus_rules(&set);
        assert_eq!(text.matches("- name: ").count(), 2);
        // 7 windows + 30d, 7 no-data flags, 7 meta series, per SLO.
        assert_eq!(text.matches("- record: ").count(), 2 * (8 + 7 + 7));
        assert_eq!(text.matches("- alert: ").count(), 8);
        let first_alert = text.find("- alert: ").unwrap();
        let last_record_of_first = text
            [..text.find("- name: \"ops-slo-quickstart-latency\"").unwrap()]
            .rfind("- record: ")
            .unwrap();
        assert!(last_record_of_first < first_alert);
        assert!(text.contains("      sloth_window: \"30d\"\n"), "{text}");
    }
}
