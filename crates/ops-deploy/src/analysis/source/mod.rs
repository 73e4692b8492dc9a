//! Where the analysis reads the releases' signals: the [`SignalSource`] trait and its three
//! implementations.

mod access_log;
mod http;
pub(crate) mod prometheus;
mod scrape;

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

pub use self::access_log::AccessLogSource;
pub use self::prometheus::PrometheusSource;
pub use self::scrape::ScrapeSource;
use super::config::{Condition, Signal};
use super::measure::{Figures, Role};

/// A release the analysis measures.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Target {
    /// Its id.
    pub release: String,
    /// Where it serves (`127.0.0.1:<port>`; what nginx's `$upstream_addr` shows).
    pub addr: SocketAddr,
    /// The new release, or the stable one.
    pub role: Role,
}

impl Target {
    /// `release` serving on `addr`, in `role`.
    pub fn new(release: impl Into<String>, addr: SocketAddr, role: Role) -> Target {
        Target {
            release: release.into(),
            addr,
            role,
        }
    }
}

/// What the conditions need besides requests and errors: latency quantiles and queries, in
/// the order [`Figures`] returns them.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Wanted {
    /// Latency quantiles (0.99, …), each once.
    pub quantiles: Vec<f64>,
    /// `PromQL` expressions, each once.
    pub queries: Vec<String>,
}

impl Wanted {
    /// What `conditions` need.
    #[must_use]
    pub fn of(conditions: &[Condition]) -> Wanted {
        let mut w = Wanted::default();
        for c in conditions {
            match c.signal {
                Signal::Latency => {
                    if let Some(q) = c.quantile
                        && !w.quantiles.contains(&q)
                    {
                        w.quantiles.push(q);
                    }
                }
                Signal::Query => {
                    if let Some(q) = &c.query
                        && !w.queries.contains(q)
                    {
                        w.queries.push(q.clone());
                    }
                }
                Signal::ErrorRatio => {}
            }
        }
        w
    }
}

/// A source could not be read: a provider error, counted against
/// `consecutive_error_limit`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: {reason}")]
#[non_exhaustive]
pub struct SourceError {
    /// The source (`metrics`, `access-log`, `prometheus`, `fake`).
    pub source_name: String,
    /// What went wrong, with the address or file.
    pub reason: String,
}

impl SourceError {
    /// An error of `source_name`.
    pub fn new(source_name: impl Into<String>, reason: impl Into<String>) -> SourceError {
        SourceError {
            source_name: source_name.into(),
            reason: reason.into(),
        }
    }
}

/// Where the analysis reads the releases' signals.
///
/// An analysis calls [`begin`](SignalSource::begin) once with its targets (the new release,
/// and the stable one when there is one), then [`measure`](SignalSource::measure) at the end
/// of every measurement: the figures of each target over the window since the previous call,
/// in the targets' order. A failure is a provider error, never a failed measurement.
pub trait SignalSource: Send + fmt::Debug {
    /// A short name (`metrics`, `access-log`, `prometheus`).
    fn name(&self) -> &'static str;

    /// One line for plans and history: what is read where.
    fn describe(&self) -> String;

    /// An analysis of `targets` begins now: forget earlier ones, take the starting point
    /// (a first page, the log's end). Failing here is not fatal: the first measurement then
    /// reports the error.
    fn begin(&mut self, targets: &[Target], wanted: &Wanted);

    /// The figures of each target (in `targets`' order) over the `window` that just ended.
    ///
    /// # Errors
    /// The source could not be read.
    fn measure(
        &mut self,
        targets: &[Target],
        window: Duration,
        wanted: &Wanted,
    ) -> Result<Vec<Figures>, SourceError>;

    /// The stable release's figures before the analysis began, when the source can tell them
    /// (its counters since it started, the window before the switch): what relative
    /// conditions compare with while the stable release gets no traffic (a verification, a
    /// canary at 100 %). The default: `None`.
    fn baseline(
        &mut self,
        _stable: &Target,
        _window: Duration,
        _wanted: &Wanted,
    ) -> Option<Figures> {
        None
    }
}

impl SignalSource for Box<dyn SignalSource> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn begin(&mut self, targets: &[Target], wanted: &Wanted) {
        (**self).begin(targets, wanted);
    }
    fn measure(
        &mut self,
        targets: &[Target],
        window: Duration,
        wanted: &Wanted,
    ) -> Result<Vec<Figures>, SourceError> {
        (**self).measure(targets, window, wanted)
    }
    fn baseline(&mut self, stable: &Target, window: Duration, wanted: &Wanted) -> Option<Figures> {
        (**self).baseline(stable, window, wanted)
    }
}

/// `$instance`, `$release` and `$window` in a query.
pub(crate) fn substitute(query: &str, target: &Target, window: Duration) -> String {
    query
        .replace("$instance", &target.addr.to_string())
        .replace("$release", &target.release)
        .replace("$window", &promql_duration(window))
}

/// A duration as `PromQL` writes it: whole seconds (`30s`) or milliseconds (`1500ms`).
pub(crate) fn promql_duration(d: Duration) -> String {
    let ms = d.as_millis().max(1);
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// The `route!~"..."` matcher of the ignored routes (empty when there are none).
pub(crate) fn ignore_matcher(routes: &[String]) -> String {
    if routes.is_empty() {
        return String::new();
    }
    let alternatives: Vec<String> = routes.iter().map(|r| regex_escape(r)).collect();
    format!("route!~\"{}\"", alternatives.join("|"))
}

/// `text` as a literal in a `PromQL` regex inside a double-quoted string.
fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            // A backslash in the regex, itself escaped in the PromQL string.
            out.push_str("\\\\");
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn queries_are_templated() {
        let t = Target::new(
            "web-3",
            "127.0.0.1:8081".parse().unwrap_or_else(|_| unreachable!()),
            Role::Canary,
        );
        assert_eq!(
            substitute(
                "x{instance=\"$instance\",r=\"$release\"}[$window]",
                &t,
                Duration::from_millis(1500)
            ),
            "x{instance=\"127.0.0.1:8081\",r=\"web-3\"}[1500ms]"
        );
        assert_eq!(promql_duration(Duration::from_secs(30)), "30s");
        assert_eq!(
            ignore_matcher(&["/health".into(), "/a.b".into()]),
            "route!~\"/health|/a\\\\.b\""
        );
    }
}
