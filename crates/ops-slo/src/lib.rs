//! SLOs and error budgets: the playbook's "availability ≥ 99.5 %" and "response time ≤ 2 s",
//! measured in the service, alerted on with the Google SRE Workbook's multi-window,
//! multi-burn-rate alerts, kept across restarts, and exported as Prometheus rules (with
//! Sloth's names, so Sloth's and Pyrra's dashboards work) for a fleet.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use ops_slo::{SloEngine, SloSet};
//!
//! // The playbook's two SLOs over the HTTP layer (ops-http): 99.5 % of requests answered
//! // without a 5xx, 99 % within 2 s (a bucket bound of the layer's histogram), 30 days.
//! let slos = SloSet::playbook("shop", Duration::from_secs(2));
//! let engine = SloEngine::builder(slos).build()?;
//!
//! // Each evaluation, the monitor hands the engine its page; here, by hand, one a minute.
//! let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(28_333_333 * 60);
//! for minute in 0..=10u64 {
//!     let (ok, failed) = (100 * minute, 2 * minute); // 2 % of the requests fail
//!     let page = format!(
//!         "http_server_request_duration_seconds_bucket{{route=\"/\",status=\"200\",le=\"2.5\"}} {ok}\n\
//!          http_server_request_duration_seconds_count{{route=\"/\",status=\"200\"}} {ok}\n\
//!          http_server_request_duration_seconds_bucket{{route=\"/\",status=\"500\",le=\"2.5\"}} {failed}\n\
//!          http_server_request_duration_seconds_count{{route=\"/\",status=\"500\"}} {failed}\n"
//!     );
//!     engine.record(&page, t0 + Duration::from_secs(60 * minute));
//! }
//! let availability = &engine.status()[0];
//! let five_minutes = availability.window(Duration::from_secs(300)).unwrap();
//! assert_eq!(five_minutes.burn_rate.map(|b| (b * 1e6).round() / 1e6), Some(3.921569)); // 2/102 ÷ 0.005
//! // The window's only events are these 1,020, 2 % of them bad: 4 × the budget, spent.
//! assert!(availability.budget.exhausted);
//! assert_eq!(availability.budget.remaining_ratio, 0.0);
//! # Ok::<(), ops_slo::Error>(())
//! ```
//!
//! # Objectives as data
//!
//! [`SloSet::load`] reads TOML (see [`file`](mod@file) for the format) or YAML — the same
//! shape, or `OpenSLO` v1 `SLO` documents ([`openslo`], feature `yaml`). In code:
//! [`Slo::new`], [`Slo::availability`], [`Slo::latency`], [`SloSet::playbook`]. The SLI of an
//! SLO is always the ratio of the increases of two aggregated counters ([`Sli`]):
//!
//! | [`Sli`] | good or bad | total |
//! |---|---|---|
//! | `HttpAvailability` | good: `http_server_request_duration_seconds_count{status!~"5.."}` | `…_count` (answered; ops-http counts abandoned requests apart, in neither) |
//! | `HttpLatency` | good: `…_bucket{le="<threshold>"}` — the threshold must be a bucket bound | `…_count` |
//! | `Function` | bad: `ops_function_errors_total{function}` | `ops_function_duration_seconds_count` − `ops_function_cancelled_total` |
//! | `Promql` | any counter selector | any counter selector |
//! | `Probe` | bad: `ops_probes_failed_total{instance}` ([`Prober`]) | `ops_probes_total{instance}` |
//! | `Events` | bad: [`SloEvents::bad`] | [`SloEvents::good`] + bad |
//!
//! Defaults are the playbook's: availability 99.5 %, latency 99 % (2 s: see
//! [`DEFAULT_LATENCY_BOUND`]), a 30-day rolling window.
//!
//! # Measuring: the engine
//!
//! An [`SloEngine`] is fed a page at each evaluation ([`SloEngine::record`]); the
//! [`engine`] module says exactly what it does. In short: the SLI's counters are summed
//! (counter resets handled as Prometheus does) into one cumulative series per counter, kept
//! at one-minute resolution for the burn-rate windows (up to 3 days) and in hourly buckets for
//! the budget window; once a minute the windows' error ratios are computed with ops-promql,
//! with the same `PromQL` the exported recording rules hold ([`promql`]).
//!
//! Per SLO, [`SloEngine::status`] and the page section ([`Exposition`](ops_core::Exposition))
//! give: the SLI over the window (`ops_slo_sli_ratio`), the error ratio and burn rate per
//! window (`ops_slo_sli_error_ratio`, `ops_slo_burn_rate`, `{sloth_window="5m"}`), the
//! budget left (`ops_slo_error_budget_remaining_ratio`, and in seconds of full outage), the
//! time to exhaustion at the current burn (`ops_slo_time_to_exhaustion_seconds`), and
//! `ops_slo_no_data{sloth_window}`. The rules read the same figures under Sloth's names
//! (`slo:sli_error:ratio_rate5m` … `slo:sli_error:ratio_rate3d`, `slo:objective:ratio`,
//! `slo:error_budget:ratio`, with `sloth_id`, `sloth_service`, `sloth_slo`):
//! [`SloEngine::recorded`]; [`SloEngineBuilder::sloth_names`] puts them on the page too.
//!
//! **Minimum traffic.** A window with fewer events than `min_events_per_minute` (default 1,
//! autometrics' reference) per minute has no data: no ratio series, so no alert, and
//! `ops_slo_no_data` says so — never a ratio of three requests, never a silent zero.
//!
//! # Alerts
//!
//! [`BurnAlert::workbook`]: page at 14.4× over 1 h and 5 m, page at 6× over 6 h and 30 m,
//! ticket at 3× over 1 d and 2 h, ticket at 1× over 3 d and 6 h; each fires only while both
//! of its windows burn. With the feature `monitor` they are `ops_thresholds::Rule`s
//! ([`SloEngine::rules`]), severity `page` or `ticket`; an engine given to
//! `MonitorBuilder::recording` is fed the monitor's page at every evaluation, and its alerts go
//! through the monitor's evaluator and sinks.
//!
//! ```no_run
//! # #[cfg(feature = "monitor")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use ops_slo::{SloEngine, SloSet};
//! use ops_thresholds::Monitor;
//!
//! let engine = SloEngine::builder(SloSet::playbook("shop", Duration::from_secs(2)))
//!     .state_file("/var/lib/shop/slo-state.json")
//!     .build()?;
//! let monitor = Monitor::builder()
//!     .recording(engine.clone()) // its rules, its section, its page every evaluation
//!     .start()?;
//! # drop(monitor);
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "monitor"))]
//! # fn main() {}
//! ```
//!
//! # Budgets that survive restarts
//!
//! With [`SloEngineBuilder::state_file`], the counts are written every minute and at
//! [`SloEngine::stop`], atomically ([`state`]); an unusable file is set aside
//! (`<file>.corrupt-<time>`) and reported ([`StateLoad::SetAside`], logged at ERROR, counted),
//! never read as zero. [`StateFile::load`] and [`StateFile::budgets`] read a budget without an
//! engine (what a deploy gate needs: no feature required).
//!
//! # Prometheus
//!
//! [`export::prometheus_rules`] writes one rule group per SLO: the recording rules (Sloth's
//! names and labels, plus `slo:sli_error:ratio_rate30d` as a ratio of increases) and the
//! alerting rules, the same expressions the engine evaluates. A differential test runs them
//! through `promtool test rules` against the engine and the monitor's evaluator: the same
//! alerts at every evaluation.
//!
//! ## Differences from Prometheus
//!
//! * In-process, each side of the SLI is one series, the sum of the counters' increases; in
//!   Prometheus it is `sum(rate(…))` over the raw series. With one series per counter and
//!   samples a minute apart — the differential test's case — the figures are the same to the
//!   bit; with several series, Prometheus extrapolates each one at the window's edges and the
//!   engine does not.
//! * A series that appears after the engine started counts from zero (its first value is
//!   events); Prometheus's `rate` loses a new series' first value.
//! * The budget window in-process is hourly (between `window − 1 h` and `window`); the
//!   exported `slo:sli_error:ratio_rate30d` is exact over the raw series.
//!
//! # Black-box probes
//!
//! [`Prober`]: `GET` URLs at an interval with a timeout per probe (a hanging server is one
//! failed probe, on time), `blackbox_exporter`'s `probe_success`, `probe_duration_seconds`,
//! `probe_http_status_code`, and counters an [`Sli::Probe`] reads. `ops monitor --probe URL`
//! runs one.
//!
//! # Features
//!
//! | feature | default | what |
//! |---|---|---|
//! | `engine` | yes | definitions (TOML), the engine, the export (ops-promql) |
//! | `monitor` | yes | the engine as an `ops_thresholds` monitor's recording, its alerts as rules |
//! | `yaml` | no | YAML definitions and `OpenSLO` v1 |
//!
//! Without features: the state file, [`Budget`] and the [`Prober`] only.

// The docs link items of every feature; without them those links have nothing to point at.
#![cfg_attr(
    not(all(feature = "engine", feature = "monitor", feature = "yaml")),
    allow(rustdoc::broken_intra_doc_links)
)]
#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::float_cmp))]

#[cfg(feature = "engine")]
mod alerts;
mod buckets;
mod budget;
#[cfg(feature = "engine")]
pub mod engine;
mod error;
#[cfg(feature = "engine")]
mod events;
#[cfg(feature = "engine")]
pub mod export;
#[cfg(feature = "engine")]
pub mod file;
#[cfg(feature = "yaml")]
pub mod openslo;
pub mod probe;
#[cfg(feature = "engine")]
pub mod promql;
#[cfg(feature = "engine")]
mod spec;
pub mod state;
#[cfg(feature = "engine")]
mod status;
mod window;

pub use crate::buckets::HourlyBuckets;
pub use crate::budget::Budget;
#[cfg(feature = "engine")]
pub use crate::engine::{EngineStats, SloEngine, SloEngineBuilder, StateLoad, status_of};
pub use crate::error::{Error, Result};
#[cfg(feature = "engine")]
pub use crate::events::{EVENTS_FAMILY, SloEvents};
pub use crate::probe::{
    ExpectedStatus, ProbeFailure, ProbeResult, ProbeTarget, Prober, ProberBuilder, ProberSection,
};
#[cfg(feature = "engine")]
pub use crate::spec::{
    AlertSeverity, BurnAlert, DEFAULT_AVAILABILITY, DEFAULT_LATENCY_BOUND,
    DEFAULT_LATENCY_OBJECTIVE, DEFAULT_MIN_EVENTS_PER_MINUTE, DEFAULT_WINDOW, Factor,
    HTTP_DURATION_FAMILY, Sli, Slo, SloSet,
};
pub use crate::state::{
    AlertMeta, MAX_BURN_WINDOW, Numerator, STATE_VERSION, Side, SloMeta, SloState, StateFile,
    TermMeta,
};
#[cfg(feature = "engine")]
pub use crate::status::{AlertStatus, SloStatus, WindowStatus};
pub use crate::window::prom as window_label;
