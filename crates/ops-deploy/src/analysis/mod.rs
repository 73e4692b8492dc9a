//! Metric analysis of a release under real traffic: the canary's steps and blue-green's
//! post-switch verification measure the new release's signals — error ratio, a latency
//! quantile, any `PromQL` expression — against conditions, absolute and relative to the
//! stable release, with Argo Rollouts' semantics.
//!
//! - A **measurement** covers one analysis period (`interval`). It is *successful* when every
//!   condition holds, *failed* when one does not, *inconclusive* when one cannot be decided
//!   (too few requests — `min_requests` —, no data) and none failed, and an *error* when the
//!   source could not be read.
//! - Counted over the whole analysis (cumulatively, as Argo's `failureLimit` and
//!   `inconclusiveLimit`): more failed measurements than `failure_limit` (default 0) abort;
//!   more inconclusive ones than `inconclusive_limit` (default 0) **hold** — the deploy waits
//!   for `ops deploy promote` or `ops deploy abort`, never promoting on no data and never
//!   failing on it; more consecutive errors than `consecutive_error_limit` (default 4, Argo's
//!   `consecutiveErrorLimit`) abort.
//! - A canary step (or a verification) needs `measurements` decided measurements (successful,
//!   or failed within the limit); inconclusive and errored ones do not count.
//! - **Sources** ([`SignalSource`]): the releases' own `/metrics` pages scraped by the deployer
//!   ([`ScrapeSource`], the default, for services built with ops-rs), nginx's JSON access log
//!   ([`AccessLogSource`], black-box, for any service), a Prometheus server's query API
//!   ([`PrometheusSource`]), or a [`FakeSource`](crate::FakeSource) in tests.

mod config;
pub(crate) mod measure;
mod quantile;
pub(crate) mod run;
pub(crate) mod source;

pub use self::config::{AnalysisConfig, CanaryConfig, Condition, Signal, SourceKind};
pub use self::measure::{ConditionResult, Figures, Measurement, MeasurementStatus, Role};
pub use self::quantile::bucket_quantile;
pub(crate) use self::run::AnalysisRun;
pub use self::run::{AnalysisRecord, Counts, Decision, Verdict};
pub use self::source::{
    AccessLogSource, PrometheusSource, ScrapeSource, SignalSource, SourceError, Target, Wanted,
};
