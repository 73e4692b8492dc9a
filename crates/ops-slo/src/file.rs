/*!
The native definitions file, in TOML (or the same shape in YAML):

```toml
service = "quickstart"            # the default service of the SLOs below
min_events_per_minute = 1         # below this, a burn-rate window has no data

[[slo]]
name = "availability"             # id: quickstart-availability
objective = 99.5                  # percent; default 99.5 (latency: 99)
window = "30d"                    # default 30d, whole hours
description = "Requests answered without a server error"
[slo.sli.http_availability]       # good = not 5xx, total = answered requests
route = "/orders/{id}"            # optional; method = "GET" too

[[slo]]
name = "latency"
[slo.sli.http_latency]
threshold = "2.5s"                # a bucket bound of http_server_request_duration_seconds

[[slo]]
name = "checkout"
[slo.sli.function]                # bad = errors, total = calls − cancelled (ops-profiler)
name = "checkout"

[[slo]]
name = "payments"
objective = 99.9
[slo.sli.promql]                  # any two counter selectors: good or bad, and total
bad = 'shop_payments_total{result="failed"}'
total = 'shop_payments_total'
[[slo.alerts]]                    # replaces the Workbook's four alerts
severity = "page"
long = "1h"
short = "5m"
factor = 14.4                     # or budget_percent = 2 (share of the budget in `long`)

[[slo]]
name = "reachable"
[slo.sli.probe]                   # black-box probes (ops monitor --probe URL)
instance = "http://127.0.0.1:8080/health"

[[slo]]
name = "signups"
[slo.sli.events]                  # SloEngine::events("quickstart-signups").good()/.bad()
```

Other keys of an `[[slo]]`: `service` (overrides the file's), `alert_name` (the alerts' name
prefix), `labels` (added to every alert).
*/

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::spec::{
    AlertSeverity, BurnAlert, DEFAULT_MIN_EVENTS_PER_MINUTE, Factor, Sli, Slo, SloSet,
};

/// The largest definitions file read (bytes).
pub const MAX_DEFINITIONS_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SloFile {
    #[serde(default)]
    service: Option<String>,
    #[serde(default)]
    min_events_per_minute: Option<f64>,
    #[serde(default, alias = "slos")]
    slo: Vec<SloEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SloEntry {
    #[serde(default)]
    service: Option<String>,
    name: String,
    #[serde(default)]
    description: String,
    /// Percent.
    #[serde(default)]
    objective: Option<f64>,
    #[serde(default, with = "opt_duration")]
    window: Option<std::time::Duration>,
    sli: Sli,
    #[serde(default)]
    alerts: Option<Vec<AlertEntry>>,
    #[serde(default)]
    alert_name: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertEntry {
    severity: AlertSeverity,
    #[serde(with = "ops_core::duration::serde::nonzero")]
    long: std::time::Duration,
    #[serde(with = "ops_core::duration::serde::nonzero")]
    short: std::time::Duration,
    #[serde(default)]
    factor: Option<f64>,
    #[serde(default)]
    budget_percent: Option<f64>,
}

mod opt_duration {
    use serde::{Deserialize as _, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<std::time::Duration>, D::Error> {
        let text = String::deserialize(d)?;
        ops_core::duration::parse_within(&text, ops_core::duration::Bounds::NONZERO)
            .map(Some)
            .map_err(|e| serde::de::Error::custom(format!("{text:?}: {e}")))
    }
}

impl SloFile {
    pub(crate) fn into_set(self, origin: &Path) -> Result<SloSet> {
        let mut slos = Vec::with_capacity(self.slo.len());
        for e in self.slo {
            let Some(service) = e.service.or_else(|| self.service.clone()) else {
                return Err(Error::Invalid {
                    origin: origin.to_path_buf(),
                    slo: e.name,
                    field: "service",
                    value: "none".into(),
                    reason: "set `service` in the SLO or at the top of the file".into(),
                });
            };
            let mut slo = Slo::new(service, e.name, e.sli);
            slo.description = e.description;
            if let Some(p) = e.objective {
                if !(p > 0.0 && p < 100.0) {
                    return Err(Error::Invalid {
                        origin: origin.to_path_buf(),
                        slo: slo.id(),
                        field: "objective",
                        value: p.to_string(),
                        reason: "a percentage above 0 and below 100 (99.5)".into(),
                    });
                }
                // 99.9 / 100 is 0.9990000000000001 in floating point: rounded, it is 0.999.
                slo.objective = crate::spec::round12(p / 100.0);
            }
            if let Some(w) = e.window {
                slo.window = w;
            }
            if let Some(alerts) = e.alerts {
                let mut out = Vec::with_capacity(alerts.len());
                for a in alerts {
                    let factor = match (a.factor, a.budget_percent) {
                        (Some(f), None) => Factor::Rate(f),
                        (None, Some(p)) if p > 0.0 && p <= 100.0 && (p * 10.0).fract() == 0.0 => {
                            Factor::BudgetPermille((p * 10.0) as u32)
                        }
                        (f, p) => {
                            return Err(Error::Invalid {
                                origin: origin.to_path_buf(),
                                slo: slo.id(),
                                field: "alerts",
                                value: format!("factor {f:?}, budget_percent {p:?}"),
                                reason: "give exactly one of `factor` (a burn rate) and `budget_percent` (0.1 to 100, in steps of 0.1)".into(),
                            });
                        }
                    };
                    out.push(BurnAlert {
                        severity: a.severity,
                        long: a.long,
                        short: a.short,
                        factor,
                    });
                }
                slo.alerts = out;
            }
            slo.alert_name = e.alert_name;
            slo.labels = e.labels;
            slos.push(slo);
        }
        let min_events_per_minute = self
            .min_events_per_minute
            .unwrap_or(DEFAULT_MIN_EVENTS_PER_MINUTE);
        SloSet::checked(slos, min_events_per_minute, origin)
    }
}

/// The first fenced `lang` block of a module's source: the definitions its docs show.
#[cfg(test)]
pub(crate) fn documented<'a>(source: &'a str, lang: &str) -> &'a str {
    source
        .split(&format!("```{lang}\n"))
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .unwrap()
}

#[cfg(test)]
mod test {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_documented_file_loads() {
        let text = documented(include_str!("file.rs"), "toml");
        let set = SloSet::from_toml(text).unwrap();
        assert_eq!(set.slos.len(), 6);
        let ids: Vec<String> = set.slos.iter().map(Slo::id).collect();
        assert_eq!(
            ids,
            [
                "quickstart-availability",
                "quickstart-latency",
                "quickstart-checkout",
                "quickstart-payments",
                "quickstart-reachable",
                "quickstart-signups"
            ]
        );
        assert_eq!(set.slos[0].objective, 0.995);
        assert_eq!(set.slos[1].objective, 0.99);
        assert_eq!(set.slos[3].objective, 0.999);
        assert_eq!(set.slos[3].alerts.len(), 1);
        assert_eq!(set.slos[0].window, Duration::from_hours(720));
    }

    #[test]
    fn errors_name_the_file_slo_and_field() {
        let err = SloSet::from_toml("service = \"s\"\n[[slo]]\nname = \"a\"\nobjective = 100\n[slo.sli.http_availability]\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "SLO \"s-a\": field `objective`: a percentage above 0 and below 100 (99.5) (got 100)"
        );
        let err = SloSet::from_toml("[[slo]]\nname = \"a\"\nwindow = \"90m\"\nservice = \"s\"\n[slo.sli.http_availability]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("field `window`: must be whole hours"), "{err}");
        let err = SloSet::from_toml("[[slo]]\nname = \"a\"\nservice = \"s\"\n[slo.sli.nope]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown variant `nope`"), "{err}");
    }
}
