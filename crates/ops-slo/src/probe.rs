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

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs as _};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ops_core::exposition::{Encoder, Exposition, MetricType};
use ops_core::shutdown::Shutdown;

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

/// The most of an answer's body a probe reads.
const MAX_BODY: usize = 1024 * 1024;
/// The most of an answer's head a probe reads.
const MAX_HEAD: usize = 64 * 1024;
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

/// A URL the prober can request: `http://host[:port][/path][?query]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeTarget {
    url: String,
    host: String,
    port: u16,
    request_target: String,
    host_header: String,
}

impl ProbeTarget {
    /// Parses a URL.
    ///
    /// # Errors
    /// [`Error::ProbeTarget`] for anything but `http://` with a host, a port that is not a
    /// number, user information, spaces or control characters.
    pub fn parse(url: &str) -> Result<ProbeTarget> {
        let refuse = |reason: &str| Error::ProbeTarget {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        if url.len() > 2048 || url.chars().any(|c| c.is_control() || c == ' ') {
            return Err(refuse(
                "at most 2,048 characters, no spaces or control characters",
            ));
        }
        let Some(rest) = url.strip_prefix("http://") else {
            if url.starts_with("https://") {
                return Err(refuse(
                    "https:// needs TLS, which the prober does not have: probe the service's plain-HTTP address (the port the proxy forwards to)",
                ));
            }
            return Err(refuse("only http:// URLs can be probed"));
        };
        let rest = rest.split('#').next().unwrap_or("");
        let (authority, target) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.contains('@') {
            return Err(refuse("user information in the URL is not supported"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let Some((h, after)) = v6.split_once(']') else {
                return Err(refuse("an IPv6 address needs its closing ]"));
            };
            (h, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(refuse("no host"));
        }
        let port: u16 = match port {
            None => 80,
            Some(p) => p
                .parse()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| refuse("the port is not a number from 1 to 65535"))?,
        };
        let request_target = if target.starts_with('?') {
            format!("/{target}")
        } else {
            target.to_owned()
        };
        Ok(ProbeTarget {
            url: url.to_owned(),
            host: host.to_owned(),
            port,
            request_target,
            host_header: authority.to_owned(),
        })
    }

    /// The URL as given (the `instance` label).
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// Which statuses count as success.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ExpectedStatus {
    /// Any 2xx (`blackbox_exporter`'s default).
    #[default]
    Success,
    /// One of these.
    Codes(Vec<u16>),
}

impl ExpectedStatus {
    fn accepts(&self, code: u16) -> bool {
        match self {
            ExpectedStatus::Success => (200..300).contains(&code),
            ExpectedStatus::Codes(c) => c.contains(&code),
        }
    }
}

/// One probe of `target`, on this thread, bounded by `timeout` (name resolution aside: see
/// the module docs).
pub fn probe(target: &ProbeTarget, timeout: Duration, expected: &ExpectedStatus) -> ProbeResult {
    let start = Instant::now();
    let deadline = start.checked_add(timeout).unwrap_or(start);
    let left = || deadline.saturating_duration_since(Instant::now());
    let addrs: Vec<SocketAddr> = match (target.host.as_str(), target.port).to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(e) => {
            return ProbeResult::failed(
                ProbeFailure::Connect,
                None,
                start,
                format!("cannot resolve {}: {e}", target.host),
            );
        }
    };
    let mut last_error = format!("{} resolves to no address", target.host);
    let mut stream = None;
    for addr in addrs {
        let l = left();
        if l.is_zero() {
            return ProbeResult::failed(
                ProbeFailure::Timeout,
                None,
                start,
                "connect timed out".into(),
            );
        }
        match TcpStream::connect_timeout(&addr, l) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                return ProbeResult::failed(
                    ProbeFailure::Timeout,
                    None,
                    start,
                    format!("connect to {addr} timed out"),
                );
            }
            Err(e) => last_error = format!("connect to {addr}: {e}"),
        }
    }
    let Some(mut stream) = stream else {
        return ProbeResult::failed(ProbeFailure::Connect, None, start, last_error);
    };
    let timed_out = |e: &std::io::Error| {
        matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        )
    };
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: ops-slo-prober\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        target.request_target, target.host_header
    );
    let sent = stream
        .set_write_timeout(Some(left().max(Duration::from_millis(1))))
        .and_then(|()| stream.write_all(request.as_bytes()));
    if let Err(e) = sent {
        let f = if timed_out(&e) || left().is_zero() {
            ProbeFailure::Timeout
        } else {
            ProbeFailure::Connect
        };
        return ProbeResult::failed(f, None, start, format!("sending the request: {e}"));
    }
    // Reads into `buf` until `done(buf)`, the end, the limit or the deadline.
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut chunk = [0u8; 8192];
    let mut read_until = |buf: &mut Vec<u8>,
                          limit: usize,
                          done: &dyn Fn(&[u8]) -> bool|
     -> std::result::Result<bool, (ProbeFailure, String)> {
        while !done(buf) {
            if buf.len() >= limit {
                return Ok(false);
            }
            let l = left();
            if l.is_zero() {
                return Err((
                    ProbeFailure::Timeout,
                    "no complete answer within the timeout".into(),
                ));
            }
            stream
                .set_read_timeout(Some(l))
                .map_err(|e| (ProbeFailure::Connect, e.to_string()))?;
            match stream.read(&mut chunk) {
                Ok(0) => return Ok(false),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if timed_out(&e) => {
                    return Err((
                        ProbeFailure::Timeout,
                        "no complete answer within the timeout".into(),
                    ));
                }
                Err(e) => return Err((ProbeFailure::Connect, format!("reading the answer: {e}"))),
            }
        }
        Ok(true)
    };
    let head_end = |b: &[u8]| b.windows(4).position(|w| w == b"\r\n\r\n");
    match read_until(&mut buf, MAX_HEAD, &|b| head_end(b).is_some()) {
        Ok(_) => {}
        Err((f, d)) => return ProbeResult::failed(f, None, start, d),
    }
    let Some(end) = head_end(&buf) else {
        let first = String::from_utf8_lossy(&buf)
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(80)
            .collect::<String>();
        return ProbeResult::failed(
            ProbeFailure::Protocol,
            None,
            start,
            format!("no complete HTTP head (got {first:?})"),
        );
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.split_whitespace();
    let code = match (parts.next(), parts.next()) {
        (Some(v), Some(c)) if v.starts_with("HTTP/") => c.parse::<u16>().ok(),
        _ => None,
    };
    let Some(code) = code.filter(|c| (100..600).contains(c)) else {
        return ProbeResult::failed(
            ProbeFailure::Protocol,
            None,
            start,
            format!(
                "not an HTTP status line: {:?}",
                status_line.chars().take(80).collect::<String>()
            ),
        );
    };
    let mut length: Option<usize> = None;
    let mut chunked = false;
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().ok();
            } else if k.eq_ignore_ascii_case("transfer-encoding") {
                chunked = v.to_ascii_lowercase().contains("chunked");
            }
        }
    }
    let body_start = end + 4;
    let no_body = code < 200 || code == 204 || code == 304;
    let body = if no_body {
        Ok(true)
    } else if let Some(n) = length {
        let want = body_start.saturating_add(n.min(MAX_BODY));
        read_until(&mut buf, want, &|b| b.len() >= want)
    } else if chunked {
        read_until(&mut buf, body_start + MAX_BODY, &|b| {
            b.len() >= body_start + 5 && b[body_start..].windows(5).any(|w| w == b"0\r\n\r\n")
        })
    } else {
        read_until(&mut buf, body_start + MAX_BODY, &|_| false)
    };
    if let Err((f, d)) = body {
        return ProbeResult::failed(f, Some(code), start, d);
    }
    if expected.accepts(code) {
        ProbeResult {
            failure: None,
            status: Some(code),
            duration: start.elapsed(),
            detail: String::new(),
        }
    } else {
        ProbeResult::failed(
            ProbeFailure::Status,
            Some(code),
            start,
            format!("HTTP {code}"),
        )
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

struct Target {
    url: ProbeTarget,
    /// A worker of this target is running (maybe stuck past its round).
    busy: Arc<AtomicBool>,
    stats: Mutex<TargetStats>,
}

struct Shared {
    targets: Vec<Target>,
    timeout: Duration,
    expected: ExpectedStatus,
    /// One round at a time.
    round: Mutex<()>,
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
                    url: target.url.clone(),
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

impl Shared {
    fn round(&self) {
        let _one = self.round.lock().unwrap_or_else(PoisonError::into_inner);
        let start = Instant::now();
        let (tx, rx) = mpsc::channel::<(usize, ProbeResult)>();
        let mut pending = 0usize;
        let mut answered = vec![false; self.targets.len()];
        for (i, t) in self.targets.iter().enumerate() {
            if t.busy.swap(true, Ordering::AcqRel) {
                // The previous probe is still stuck: one more timeout, no second thread.
                answered[i] = true;
                self.count(
                    i,
                    ProbeResult::failed(
                        ProbeFailure::Timeout,
                        None,
                        start,
                        "the previous probe of this URL is still running".into(),
                    ),
                );
                continue;
            }
            let (tx, target, busy) = (tx.clone(), t.url.clone(), Arc::clone(&t.busy));
            let (timeout, expected) = (self.timeout, self.expected.clone());
            let spawned = std::thread::Builder::new()
                .name("ops-slo-probe".into())
                .spawn(move || {
                    let r = probe(&target, timeout, &expected);
                    busy.store(false, Ordering::Release);
                    let _ = tx.send((i, r));
                });
            if spawned.is_ok() {
                pending += 1;
            } else {
                t.busy.store(false, Ordering::Release);
                answered[i] = true;
                self.count(
                    i,
                    ProbeResult::failed(
                        ProbeFailure::Connect,
                        None,
                        start,
                        "cannot start a probe thread".into(),
                    ),
                );
            }
        }
        drop(tx);
        let deadline = start + self.timeout + GRACE;
        while pending > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok((i, r)) => {
                    answered[i] = true;
                    pending -= 1;
                    self.count(i, r);
                }
                Err(_) => break,
            }
        }
        // Workers still running past the deadline: each is one failed probe, now (a result
        // it sends later goes nowhere: the receiver is gone).
        for (i, done) in answered.iter().enumerate() {
            if !done {
                self.count(
                    i,
                    ProbeResult {
                        failure: Some(ProbeFailure::Timeout),
                        status: None,
                        duration: self.timeout,
                        detail: "no answer within the timeout".into(),
                    },
                );
            }
        }
    }

    fn count(&self, i: usize, r: ProbeResult) {
        let mut s = self.targets[i]
            .stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        s.probes += 1;
        if let Some(f) = r.failure {
            s.failed[f.index()] += 1;
        }
        s.last = Some(r);
    }

    fn encode(&self, out: &mut String) {
        if self.targets.is_empty() {
            return;
        }
        let stats: Vec<TargetStats> = self
            .targets
            .iter()
            .map(|t| {
                t.stats
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()
            })
            .collect();
        let mut e = Encoder::new(out);
        let last = |f: &dyn Fn(&ProbeResult) -> f64| {
            stats
                .iter()
                .filter_map(|s| s.last.as_ref().map(|l| (s.url.as_str(), f(l))))
                .collect::<Vec<_>>()
        };
        for (name, help, values) in [
            (
                SUCCESS_FAMILY,
                "Whether the last probe succeeded (`blackbox_exporter`'s name).",
                last(&|l| if l.success() { 1.0 } else { 0.0 }),
            ),
            (
                DURATION_FAMILY,
                "How long the last probe took, in seconds.",
                last(&|l| l.duration.as_secs_f64()),
            ),
            (
                STATUS_FAMILY,
                "The HTTP status of the last probe's answer, 0 without one.",
                last(&|l| f64::from(l.status.unwrap_or(0))),
            ),
        ] {
            if values.is_empty() {
                continue;
            }
            e.family(name, help, MetricType::Gauge);
            for (url, v) in values {
                e.sample(name, &[("instance", url)], v);
            }
        }
        e.family(TOTAL_FAMILY, "Black-box probes made.", MetricType::Counter);
        for s in &stats {
            e.sample(TOTAL_FAMILY, &[("instance", &s.url)], s.probes);
        }
        e.family(
            FAILED_FAMILY,
            "Black-box probes that failed, by reason (connect, timeout, status, protocol).",
            MetricType::Counter,
        );
        for s in &stats {
            for f in ProbeFailure::ALL {
                e.sample(
                    FAILED_FAMILY,
                    &[("instance", &s.url), ("reason", f.as_str())],
                    s.failed[f.index()],
                );
            }
        }
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
        self.shared
            .targets
            .iter()
            .map(|t| {
                t.stats
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()
            })
            .collect()
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
    fn urls() {
        let t = ProbeTarget::parse("http://127.0.0.1:8080/health?x=1#frag").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 8080));
        assert_eq!(t.request_target, "/health?x=1");
        assert_eq!(t.host_header, "127.0.0.1:8080");
        let t = ProbeTarget::parse("http://[::1]/").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 80));
        let t = ProbeTarget::parse("http://example.com?q").unwrap();
        assert_eq!(t.request_target, "/?q");
        for bad in [
            "https://example.com/",
            "ftp://x",
            "http://",
            "http://a:0/",
            "http://a:99999/",
            "http://u:p@a/",
            "http://a/ b",
        ] {
            assert!(ProbeTarget::parse(bad).is_err(), "{bad}");
        }
        let err = ProbeTarget::parse("https://example.com/")
            .unwrap_err()
            .to_string();
        assert!(err.contains("https:// needs TLS"), "{err}");
    }

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
