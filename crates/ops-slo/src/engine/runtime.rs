//! One SLO inside the engine: its terms (the SLI's counters summed into cumulative counts),
//! its burn-rate windows (the last error ratios), its budget, and its status.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use ops_promql::{Expr, Labels};

use crate::buckets::HourlyBuckets;
use crate::budget::Budget;
use crate::events::SloEvents;
use crate::promql::{Guard, TERM_SERIES, term_selector, window_exprs};
use crate::state::{MAX_BURN_WINDOW, Side, SloMeta};
use crate::status::{AlertStatus, SloStatus, WindowStatus};

/// A series unseen this long is forgotten (a series seen again later counts from zero).
const FORGET_AFTER_MINUTES: i64 = (MAX_BURN_WINDOW.as_secs() / 60).cast_signed();

/// A term's source of samples.
pub(super) enum Source {
    /// A counter selector over the page.
    Selector(Option<Expr>),
    /// The engine's own event counters (`Sli::Events`): `(result, counter)`.
    Events(Vec<(Labels, ops_registry::Counter)>),
}

/// One counter of an SLI: its increases summed into a cumulative count.
pub(super) struct Term {
    pub(super) side: Side,
    pub(super) sign: i8,
    pub(super) source: Source,
    /// The aggregated series in the points store.
    pub(super) series: Labels,
    /// The cumulative count (`None` until the first record of a fresh SLO).
    pub(super) cumulative: Option<f64>,
    /// Each series matched: its last value and the minute it was last seen.
    pub(super) seen: HashMap<Labels, (f64, i64)>,
    /// The minute of the last point in the points store.
    pub(super) last_point: Option<i64>,
}

impl Term {
    /// Adds the samples' increases; returns the increase counted.
    pub(super) fn update(
        &mut self,
        samples: &[(Labels, f64)],
        minute: i64,
        count_new: bool,
    ) -> f64 {
        let mut inc = 0.0;
        let mut raw = 0.0;
        for (labels, v) in samples {
            let v = *v;
            if !(v.is_finite() && v >= 0.0) {
                continue;
            }
            raw += v;
            if let Some((last, seen)) = self.seen.get_mut(labels) {
                inc += if v >= *last { v - *last } else { v };
                *last = v;
                *seen = minute;
            } else {
                if count_new {
                    inc += v;
                }
                self.seen.insert(labels.clone(), (v, minute));
            }
        }
        self.seen
            .retain(|_, (_, seen)| minute.saturating_sub(*seen) <= FORGET_AFTER_MINUTES);
        match self.cumulative {
            // A fresh SLO starts at the raw sum, so its series is the raw counter's when
            // there is one series (as the differential test has it).
            None => {
                self.cumulative = Some(raw);
                if count_new { raw } else { 0.0 }
            }
            Some(c) => {
                self.cumulative = Some(c + inc);
                inc
            }
        }
    }
}

/// One burn-rate window: its expressions over the points store and its last values.
pub(super) struct WindowRt {
    pub(super) window: Duration,
    pub(super) error: Option<Expr>,
    pub(super) total: Option<Expr>,
    /// The last values: error ratio (`None`: no data), events per second.
    pub(super) ratio: Option<f64>,
    pub(super) rate: f64,
}

/// One SLO in the engine.
pub(super) struct Runtime {
    pub(super) meta: SloMeta,
    pub(super) terms: Vec<Term>,
    pub(super) hours: HourlyBuckets,
    pub(super) windows: Vec<WindowRt>,
    pub(super) events: Option<SloEvents>,
    /// A latency SLI: its good bucket must exist when its total does.
    pub(super) latency: bool,
    pub(super) budget: Budget,
    pub(super) as_of: Option<SystemTime>,
    pub(super) error: Option<String>,
    pub(super) source_errors: u64,
}

impl Runtime {
    pub(super) fn new(meta: SloMeta, events: Option<SloEvents>, latency: bool) -> Runtime {
        let id = meta.id.clone();
        let terms = meta
            .terms
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let source = match &events {
                    Some(ev) => {
                        let l = |r: &str| Labels::new([("sloth_id", id.as_str()), ("result", r)]);
                        let mut v = vec![(l("bad"), ev.bad.clone())];
                        if t.side == Side::Total {
                            v.insert(0, (l("good"), ev.good.clone()));
                        }
                        Source::Events(v)
                    }
                    None => Source::Selector(Expr::parse(&t.selector).ok()),
                };
                Term {
                    side: t.side,
                    sign: t.sign,
                    source,
                    series: Labels::new([
                        ("__name__", TERM_SERIES),
                        ("sloth_id", id.as_str()),
                        ("term", i.to_string().as_str()),
                    ]),
                    cumulative: None,
                    seen: HashMap::new(),
                    last_point: None,
                }
            })
            .collect();
        let guard = Guard::PerMinute(meta.min_events_per_minute);
        let windows = meta
            .windows()
            .into_iter()
            .map(|w| {
                let e = window_exprs(&meta, w, guard, &|i| term_selector(&id, i));
                WindowRt {
                    window: w,
                    error: Expr::parse(&e.error_ratio).ok(),
                    total: Expr::parse(&e.total_rate).ok(),
                    ratio: None,
                    rate: 0.0,
                }
            })
            .collect();
        let budget = Budget::new(0.0, 0.0, meta.error_budget, meta.window);
        Runtime {
            hours: HourlyBuckets::new(meta.hours()),
            terms,
            windows,
            events,
            latency,
            budget,
            as_of: None,
            error: None,
            source_errors: 0,
            meta,
        }
    }

    /// The bad events share over the budget window (`None` without events).
    pub(super) fn period_error_ratio(&self) -> Option<f64> {
        (self.budget.events > 0.0).then(|| self.budget.bad_events / self.budget.events)
    }

    pub(super) fn burn(&self, ratio: f64) -> f64 {
        ratio / self.meta.error_budget
    }

    pub(super) fn status(&self) -> SloStatus {
        let windows: Vec<WindowStatus> = self
            .windows
            .iter()
            .map(|w| WindowStatus {
                window: w.window,
                error_ratio: w.ratio,
                burn_rate: w.ratio.map(|r| self.burn(r)),
                events: w.rate * w.window.as_secs_f64(),
                no_data: w.ratio.is_none(),
            })
            .collect();
        let ratio_of = |d: Duration| {
            windows
                .iter()
                .find(|w| w.window == d)
                .and_then(|w| w.error_ratio)
        };
        let alerts = self
            .meta
            .alerts
            .iter()
            .map(|a| {
                let threshold = a.factor * self.meta.error_budget;
                let burns = |d| ratio_of(d).is_some_and(|r| r > threshold);
                AlertStatus {
                    alertname: a.name.clone(),
                    severity: a.severity.clone(),
                    long: a.long,
                    short: a.short,
                    factor: a.factor,
                    burning: burns(a.long) && burns(a.short),
                }
            })
            .collect();
        let burn_window = self.meta.current_burn_window();
        let time_to_exhaustion = burn_window.and_then(|w| {
            let r = ratio_of(w)?;
            self.budget
                .time_to_exhaustion(self.burn(r), self.meta.window)
        });
        SloStatus {
            id: self.meta.id.clone(),
            service: self.meta.service.clone(),
            slo: self.meta.slo.clone(),
            description: self.meta.description.clone(),
            objective: self.meta.objective,
            error_budget: self.meta.error_budget,
            window: self.meta.window,
            as_of: self.as_of,
            budget: self.budget,
            windows,
            alerts,
            burn_window,
            time_to_exhaustion,
            error: self.error.clone(),
        }
    }
}
