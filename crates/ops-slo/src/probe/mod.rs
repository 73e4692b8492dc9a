/*!
Black-box probes, as Prometheus's `blackbox_exporter` does them: `GET` a URL at an interval,
each probe bounded by its own timeout, and report `probe_success`, `probe_duration_seconds`
and `probe_http_status_code` per `instance` (the URL) — plus two counters an SLI can be the
ratio of: `ops_probes_total{instance}` and `ops_probes_failed_total{instance, reason}`
(`connect`, `timeout`, `status`, `protocol`).

A probe that hangs is one failed probe, on time: every step (name resolution aside, connect,
send, read) runs against the probe's deadline, and the probe runs on a worker thread that the
round waits for no longer than the timeout (plus 100 ms); a worker still stuck then (a name
server that never answers) is counted as a timeout, and while it stays stuck each later probe
of that URL is one more timeout rather than one more thread.

The client is plain HTTP/1.1 over `std::net` (`Connection: close`; the answer's head and up
to 1 MiB of its body are read, by `Content-Length`, chunked or to the end): `http://` only.
A probe of an HTTPS service goes to its plain-HTTP address (the port the proxy forwards to),
which is also what tells the service's health apart from the proxy's.

```no_run
use std::time::Duration;
use ops_slo::Prober;

let prober = Prober::builder()
    .target("http://127.0.0.1:8080/health")?
    .interval(Duration::from_secs(15))
    .timeout(Duration::from_secs(5))
    .start()?;
// prober.section() goes on the monitor's page; an SLO with `Sli::probe(None)` reads it.
# drop(prober);
# Ok::<(), ops_slo::Error>(())
```
*/

mod http;
mod round;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ops_core::exposition::Exposition;
use ops_core::shutdown::Shutdown;

pub use self::http::{ExpectedStatus, ProbeTarget, probe};
use self::round::{Shared, Target};
use crate::error::{Error, Result};

/// `probe_success{instance}`: 1 when the last probe succeeded.
pub const SUCCESS_FAMILY: &str = "probe_success";
/// `probe_duration_seconds{instance}`: how long the last probe took.
pub const DURATION_FAMILY: &str = "probe_duration_seconds";
/// `probe_http_status_code{instance}`: the last answer's status (0 without one).
pub const STATUS_FAMILY: &str = "probe_http_status_code";
/// `ops_probes_total{instance}`: probes made.
pub const TOTAL_FAMILY: &str = "ops_probes_total";
/// `ops_probes_failed_total{instance, reason}`: probes that failed, by reason.
pub const FAILED_FAMILY: &str = "ops_probes_failed_total";

/// How much longer than the timeout a round waits for a worker.
const GRACE: Duration = Duration::from_millis(100);

/// Why a probe failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProbeFailure {
    /// The name did not resolve, or the connection was refused or reset.
    Connect,
    /// No complete answer within the timeout (a hanging server, or a previous probe of the
    /// same URL still stuck).
    Timeout,
    /// An answer with a status that is not the expected one.
    Status,
    /// An answer that is not HTTP.
    Protocol,
}

impl ProbeFailure {
    /// Every reason, in the order the page lists them.
    pub const ALL: [ProbeFailure; 4] = [
        ProbeFailure::Connect,
        ProbeFailure::Timeout,
        ProbeFailure::Status,
        ProbeFailure::Protocol,
    ];

    /// The `reason` label: `connect`, `timeout`, `status`, `protocol`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeFailure::Connect => "connect",
            ProbeFailure::Timeout => "timeout",
            ProbeFailure::Status => "status",
            ProbeFailure::Protocol => "protocol",
        }
    }

    fn index(self) -> usize {
        match self {
            ProbeFailure::Connect => 0,
            ProbeFailure::Timeout => 1,
            ProbeFailure::Status => 2,
            ProbeFailure::Protocol => 3,
        }
    }
}

/// What one probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProbeResult {
    /// The failure, or `None` for a success.
    pub failure: Option<ProbeFailure>,
    /// The answer's status, when there was one.
    pub status: Option<u16>,
    /// From the start of the probe to its end (or its deadline).
    pub duration: Duration,
    /// What went wrong, in words (`connection refused`), empty on success.
    pub detail: String,
}

impl ProbeResult {
    /// Whether the probe succeeded.
    pub fn success(&self) -> bool {
        self.failure.is_none()
    }

    fn failed(failure: ProbeFailure, status: Option<u16>, start: Instant, detail: String) -> Self {
        ProbeResult {
            failure: Some(failure),
            status,
            duration: start.elapsed(),
            detail,
        }
    }
}

/// The figures of one target so far.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TargetStats {
    /// The URL.
    pub url: String,
    /// Probes made.
    pub probes: u64,
    /// Probes failed, by reason ([`ProbeFailure::ALL`]'s order).
    pub failed: [u64; 4],
    /// The last probe, if any.
    pub last: Option<ProbeResult>,
}

impl TargetStats {
    /// Probes failed, all reasons.
    pub fn failures(&self) -> u64 {
        self.failed.iter().sum()
    }

    /// Probes that succeeded.
    pub fn successes(&self) -> u64 {
        self.probes - self.failures()
    }
}

/// Builds a [`Prober`]. Defaults: every 15 s, 5 s per probe, any 2xx is a success.
#[derive(Debug, Clone)]
#[must_use]
pub struct ProberBuilder {
    targets: Vec<ProbeTarget>,
    interval: Duration,
    timeout: Duration,
    expected: ExpectedStatus,
}

impl ProberBuilder {
    /// Adds a URL to probe.
    ///
    /// # Errors
    /// [`Error::ProbeTarget`] when it is not an `http://` URL ([`ProbeTarget::parse`]).
    pub fn target(mut self, url: &str) -> Result<Self> {
        self.targets.push(ProbeTarget::parse(url)?);
        Ok(self)
    }

    /// Time between the starts of two rounds (default 15 s).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// The longest one probe may take (default 5 s; at most the interval).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// A status that counts as success (repeatable; default: any 2xx).
    pub fn expect_status(mut self, code: u16) -> Self {
        match &mut self.expected {
            ExpectedStatus::Codes(c) => c.push(code),
            ExpectedStatus::Success => self.expected = ExpectedStatus::Codes(vec![code]),
        }
        self
    }

    fn check(&self) -> Result<()> {
        let setting = |field, value: Duration, reason: &str| Error::Setting {
            origin: std::path::PathBuf::from("<inline>"),
            field,
            value: ops_core::duration::format(value),
            reason: reason.to_owned(),
        };
        if self.timeout.is_zero() || self.timeout > ops_core::duration::MAX {
            return Err(setting("probe timeout", self.timeout, "must be above zero"));
        }
        if self.interval < ops_core::duration::MIN_INTERVAL
            || self.interval > ops_core::duration::MAX
        {
            return Err(setting(
                "probe interval",
                self.interval,
                "must be at least 10ms",
            ));
        }
        if self.timeout > self.interval {
            return Err(setting(
                "probe timeout",
                self.timeout,
                "must be at most the probe interval (a probe ends before the next one starts)",
            ));
        }
        if let ExpectedStatus::Codes(c) = &self.expected
            && let Some(bad) = c.iter().find(|c| !(100..600).contains(*c))
        {
            return Err(Error::Setting {
                origin: std::path::PathBuf::from("<inline>"),
                field: "expected status",
                value: bad.to_string(),
                reason: "an HTTP status is 100 to 599".into(),
            });
        }
        Ok(())
    }

    /// A prober without a thread: run rounds with [`Prober::round`].
    ///
    /// # Errors
    /// [`Error::Setting`] for a timeout above the interval or an interval under 10 ms.
    pub fn build(self) -> Result<Prober> {
        self.check()?;
        let targets = self
            .targets
            .into_iter()
            .map(|target| Target {
                stats: Mutex::new(TargetStats {
                    url: target.url().to_owned(),
                    probes: 0,
                    failed: [0; 4],
                    last: None,
                }),
                url: target,
                busy: Arc::new(AtomicBool::new(false)),
            })
            .collect();
        Ok(Prober {
            shared: Arc::new(Shared {
                targets,
                timeout: self.timeout,
                expected: self.expected,
                round: Mutex::new(()),
            }),
            interval: self.interval,
            thread: Mutex::new(None),
        })
    }

    /// A prober running a round every interval on its own thread until stopped.
    ///
    /// # Errors
    /// As [`build`](Self::build), and [`Error::Start`] when the thread cannot start.
    pub fn start(self) -> Result<Prober> {
        let prober = self.build()?;
        let stop = Shutdown::new();
        let (shared, interval, s) = (Arc::clone(&prober.shared), prober.interval, stop.clone());
        let handle = std::thread::Builder::new()
            .name("ops-slo-prober".into())
            .spawn(move || {
                let mut next = Instant::now();
                loop {
                    let wait = next.saturating_duration_since(Instant::now());
                    if s.wait_timeout(wait) {
                        return;
                    }
                    shared.round();
                    next += interval;
                    let now = Instant::now();
                    if next < now {
                        // Rounds that could not run on time are skipped, not run in a burst.
                        next = now;
                    }
                }
            })
            .map_err(|source| Error::Start {
                what: "the prober thread",
                source,
            })?;
        *prober.thread.lock().unwrap_or_else(PoisonError::into_inner) = Some((handle, stop));
        Ok(prober)
    }
}

/// Probes URLs at an interval; a page section with the results ([`Exposition`]).
pub struct Prober {
    shared: Arc<Shared>,
    interval: Duration,
    thread: Mutex<Option<(JoinHandle<()>, Shutdown)>>,
}

impl std::fmt::Debug for Prober {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prober")
            .field(
                "targets",
                &self
                    .shared
                    .targets
                    .iter()
                    .map(|t| t.url.url())
                    .collect::<Vec<_>>(),
            )
            .field("interval", &self.interval)
            .field("timeout", &self.shared.timeout)
            .finish_non_exhaustive()
    }
}

impl Prober {
    /// A builder with the defaults.
    pub fn builder() -> ProberBuilder {
        ProberBuilder {
            targets: Vec::new(),
            interval: Duration::from_secs(15),
            timeout: Duration::from_secs(5),
            expected: ExpectedStatus::Success,
        }
    }

    /// Probes every target once now (in parallel) and returns when each has an outcome: at
    /// most the timeout plus 100 ms later.
    pub fn round(&self) {
        self.shared.round();
    }

    /// The figures of each target.
    pub fn stats(&self) -> Vec<TargetStats> {
        self.shared.stats()
    }

    /// A handle on the prober's page section, for [`ops_core::exposition`] pages and
    /// monitors (it lives as long as the handle, after the prober stops too).
    pub fn section(&self) -> ProberSection {
        ProberSection(Arc::clone(&self.shared))
    }

    /// Stops the thread (after the round under way, if any). Later calls do nothing.
    pub fn stop(&self) {
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some((handle, stop)) = thread {
            stop.request();
            let _ = handle.join();
        }
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Exposition for Prober {
    fn encode_prometheus(&self, out: &mut String) {
        self.shared.encode(out);
    }
}

/// The prober's page section: `probe_success`, `probe_duration_seconds`,
/// `probe_http_status_code`, `ops_probes_total`, `ops_probes_failed_total`.
#[derive(Clone)]
pub struct ProberSection(Arc<Shared>);

impl std::fmt::Debug for ProberSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProberSection")
    }
}

impl Exposition for ProberSection {
    fn encode_prometheus(&self, out: &mut String) {
        self.0.encode(out);
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn settings_are_checked() {
        let err = Prober::builder()
            .interval(Duration::from_secs(1))
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap_err()
            .to_string();
        assert!(err.contains("must be at most the probe interval"), "{err}");
    }
}
