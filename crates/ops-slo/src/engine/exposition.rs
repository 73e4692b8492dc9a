//! The engine's page section: the `ops_slo_*` gauges and counters, and the Sloth-named
//! series the alert rules read (`slo:sli_error:ratio_rate5m`…).

use std::time::Duration;

use ops_core::exposition::{Encoder, Exposition, MetricType};

use super::SloEngine;
use super::runtime::{Runtime, WindowRt};
use crate::events::EVENTS_FAMILY;
use crate::state::SloMeta;
use crate::window;

/// The labels every SLO series carries.
fn ids(meta: &SloMeta) -> [(&'static str, &str); 3] {
    [
        ("sloth_id", meta.id.as_str()),
        ("sloth_service", meta.service.as_str()),
        ("sloth_slo", meta.slo.as_str()),
    ]
}

/// One family with one sample per SLO that has a value.
fn per_slo<V: ops_core::exposition::ExpositionValue>(
    enc: &mut Encoder<'_>,
    slos: &[Runtime],
    name: &str,
    help: &str,
    kind: MetricType,
    value: impl Fn(&Runtime) -> Option<V>,
) {
    let values: Vec<(&Runtime, V)> = slos
        .iter()
        .filter_map(|r| value(r).map(|v| (r, v)))
        .collect();
    if values.is_empty() {
        return;
    }
    enc.family(name, help, kind);
    for (r, v) in values {
        enc.sample(name, &ids(&r.meta), v);
    }
}

/// One family with one sample per SLO and window that has a value.
fn per_window<V: ops_core::exposition::ExpositionValue>(
    enc: &mut Encoder<'_>,
    slos: &[Runtime],
    name: &str,
    help: &str,
    value: impl Fn(&Runtime, &WindowRt) -> Option<V>,
) {
    let mut first = true;
    for r in slos {
        for w in &r.windows {
            let Some(v) = value(r, w) else { continue };
            if first {
                enc.family(name, help, MetricType::Gauge);
                first = false;
            }
            let label = window::prom(w.window);
            let [a, b, c] = ids(&r.meta);
            enc.sample(name, &[a, b, c, ("sloth_window", label.as_str())], v);
        }
    }
}

/// One family with one sample per SLO that has a value, labelled with a window.
fn per_slo_window(
    enc: &mut Encoder<'_>,
    slos: &[Runtime],
    name: &str,
    help: &str,
    value: impl Fn(&Runtime) -> Option<(Duration, f64)>,
) {
    let mut first = true;
    for r in slos {
        let Some((window, v)) = value(r) else {
            continue;
        };
        if first {
            enc.family(name, help, MetricType::Gauge);
            first = false;
        }
        let label = window::prom(window);
        let [id, service, slo] = ids(&r.meta);
        enc.sample(
            name,
            &[id, service, slo, ("sloth_window", label.as_str())],
            v,
        );
    }
}

/// The Sloth-named series: what Sloth's recording rules record, as the alert rules read them.
#[allow(clippy::too_many_lines)] // one family after another
pub(super) fn encode_sloth(slos: &[Runtime], out: &mut String) {
    if slos.iter().all(|r| r.as_of.is_none()) {
        return;
    }
    let mut enc = Encoder::new(out);
    // Every burn-rate window and the budget window in one family per name.
    let mut names: Vec<Duration> = slos
        .iter()
        .flat_map(|r| r.windows.iter().map(|w| w.window))
        .collect();
    names.extend(slos.iter().map(|r| r.meta.window));
    names.sort();
    names.dedup();
    for d in names {
        let name = crate::alerts::ratio_series(d);
        let label = window::prom(d);
        let mut first = true;
        for r in slos {
            let v = if d == r.meta.window {
                r.period_error_ratio()
            } else {
                r.windows
                    .iter()
                    .find(|w| w.window == d)
                    .and_then(|w| w.ratio)
            };
            let Some(v) = v else { continue };
            if first {
                enc.family(
                    &name,
                    "The SLI's error ratio over the window (Sloth's name).",
                    MetricType::Gauge,
                );
                first = false;
            }
            let [a, b, c] = ids(&r.meta);
            enc.sample(&name, &[a, b, c, ("sloth_window", label.as_str())], v);
        }
    }
    per_slo(
        &mut enc,
        slos,
        "slo:objective:ratio",
        "The SLO's objective (Sloth's name).",
        MetricType::Gauge,
        |r| Some(r.meta.objective),
    );
    per_slo(
        &mut enc,
        slos,
        "slo:error_budget:ratio",
        "The SLO's error budget, 1 - objective (Sloth's name).",
        MetricType::Gauge,
        |r| Some(r.meta.error_budget),
    );
    per_slo(
        &mut enc,
        slos,
        "slo:time_period:days",
        "The SLO's window in days (Sloth's name).",
        MetricType::Gauge,
        |r| Some(r.meta.window.as_secs_f64() / 86_400.0),
    );
    // As Sloth's rules record them, these keep the window of the ratio they divide.
    per_slo_window(
        &mut enc,
        slos,
        "slo:current_burn_rate:ratio",
        "The burn rate over the shortest window (Sloth's name).",
        |r| {
            let w = r.windows.first()?;
            w.ratio.map(|x| (w.window, r.burn(x)))
        },
    );
    per_slo_window(
        &mut enc,
        slos,
        "slo:period_burn_rate:ratio",
        "The burn rate over the SLO's window (Sloth's name).",
        |r| r.period_error_ratio().map(|x| (r.meta.window, r.burn(x))),
    );
    per_slo_window(
        &mut enc,
        slos,
        "slo:period_error_budget_remaining:ratio",
        "The error budget left over the SLO's window; negative when overspent (Sloth's name).",
        |r| {
            r.period_error_ratio()
                .map(|x| (r.meta.window, 1.0 - r.burn(x)))
        },
    );
    let mut first = true;
    for r in slos {
        if first {
            enc.family(
                "sloth_slo_info",
                "The SLO (Sloth's info series).",
                MetricType::Gauge,
            );
            first = false;
        }
        let objective = crate::promql::num(crate::spec::round12(r.meta.objective * 100.0));
        let [a, b, c] = ids(&r.meta);
        enc.sample(
            "sloth_slo_info",
            &[
                a,
                b,
                c,
                ("sloth_mode", "ops-rs"),
                ("sloth_objective", objective.as_str()),
            ],
            1u64,
        );
    }
}

impl Exposition for SloEngine {
    /// The `ops_slo_*` gauges (promtool-clean), the recorded events, the engine's counters,
    /// and, with [`SloEngineBuilder::sloth_names`](super::SloEngineBuilder::sloth_names), the
    /// Sloth-named series.
    #[allow(clippy::too_many_lines)] // one family after another
    fn encode_prometheus(&self, out: &mut String) {
        let s = self.lock();
        let slos = &s.slos;
        let mut e = Encoder::new(out);
        per_slo(
            &mut e,
            slos,
            "ops_slo_objective_ratio",
            "The SLO's objective: the share of events that must be good.",
            MetricType::Gauge,
            |r| Some(r.meta.objective),
        );
        per_slo(
            &mut e,
            slos,
            "ops_slo_error_budget_ratio",
            "The SLO's error budget: 1 - objective.",
            MetricType::Gauge,
            |r| Some(r.meta.error_budget),
        );
        per_slo(
            &mut e,
            slos,
            "ops_slo_window_seconds",
            "The SLO's rolling budget window.",
            MetricType::Gauge,
            |r| Some(r.meta.window.as_secs_f64()),
        );
        per_window(
            &mut e,
            slos,
            "ops_slo_sli_error_ratio",
            "The share of bad events over the burn-rate window; absent without data (fewer events than the minimum traffic).",
            |_, w| w.ratio,
        );
        per_window(
            &mut e,
            slos,
            "ops_slo_burn_rate",
            "The error ratio over the window divided by the error budget: 1 spends the budget exactly over the SLO's window.",
            |r, w| w.ratio.map(|x| r.burn(x)),
        );
        per_window(
            &mut e,
            slos,
            "ops_slo_window_events",
            "Events in the burn-rate window.",
            |r, w| r.as_of.map(|_| w.rate * w.window.as_secs_f64()),
        );
        per_window(
            &mut e,
            slos,
            "ops_slo_no_data",
            "1 when the window had fewer events than the minimum traffic, so no ratio and no alert.",
            |r, w| r.as_of.map(|_| u64::from(w.ratio.is_none())),
        );
        per_slo(
            &mut e,
            slos,
            "ops_slo_sli_ratio",
            "The share of good events over the SLO's window; absent without events.",
            MetricType::Gauge,
            |r| r.budget.sli,
        );
        per_slo(
            &mut e,
            slos,
            "ops_slo_error_budget_remaining_ratio",
            "The share of the error budget left over the SLO's window (0 when spent).",
            MetricType::Gauge,
            |r| Some(r.budget.remaining_ratio),
        );
        per_slo(
            &mut e,
            slos,
            "ops_slo_error_budget_consumed_ratio",
            "The share of the error budget spent over the SLO's window (above 1 when overspent).",
            MetricType::Gauge,
            |r| Some(r.budget.consumed_ratio),
        );
        per_slo(
            &mut e,
            slos,
            "ops_slo_error_budget_remaining_seconds",
            "The error budget left, as seconds of full outage at the window's traffic.",
            MetricType::Gauge,
            |r| Some(r.budget.remaining_minutes * 60.0),
        );
        per_slo(
            &mut e,
            slos,
            "ops_slo_time_to_exhaustion_seconds",
            "How long the budget left lasts at the burn rate of the shortest long alert window (+Inf when not burning); absent without data.",
            MetricType::Gauge,
            |r| {
                let w = r.meta.current_burn_window()?;
                let ratio = r.windows.iter().find(|x| x.window == w)?.ratio?;
                Some(
                    r.budget
                        .time_to_exhaustion(r.burn(ratio), r.meta.window)
                        .map_or(f64::INFINITY, |d| d.as_secs_f64()),
                )
            },
        );
        per_slo(
            &mut e,
            slos,
            "ops_slo_sli_source_errors_total",
            "Records where the SLI could not be read (a latency bound missing from the histogram's buckets).",
            MetricType::Counter,
            |r| Some(r.source_errors),
        );
        let events: Vec<&Runtime> = slos.iter().filter(|r| r.events.is_some()).collect();
        if !events.is_empty() {
            e.family(
                EVENTS_FAMILY,
                "Events the service recorded into its SLOs, by result.",
                MetricType::Counter,
            );
            for r in events {
                if let Some(ev) = &r.events {
                    e.sample(
                        EVENTS_FAMILY,
                        &[("sloth_id", r.meta.id.as_str()), ("result", "good")],
                        ev.good.get(),
                    );
                    e.sample(
                        EVENTS_FAMILY,
                        &[("sloth_id", r.meta.id.as_str()), ("result", "bad")],
                        ev.bad.get(),
                    );
                }
            }
        }
        if s.state_path.is_some() {
            e.single(
                "ops_slo_state_writes_total",
                "SLO state files written.",
                MetricType::Counter,
                s.stats.state_writes,
            );
            e.single(
                "ops_slo_state_write_errors_total",
                "SLO state files that could not be written.",
                MetricType::Counter,
                s.stats.state_write_errors,
            );
            e.single(
                "ops_slo_state_set_aside_total",
                "Unusable SLO state files set aside at start (the budgets started empty).",
                MetricType::Counter,
                s.stats.state_set_aside,
            );
        }
        if s.sloth_names {
            out.push_str(&s.recorded);
        }
    }
}
