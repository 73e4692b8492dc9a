//! HTTP health checks with Docker's HEALTHCHECK fields: every attempt bounded by its own
//! timeout (a hanging endpoint is one failed attempt, not a hang), failures during the start
//! period not counted, a bounded number of consecutive failures, and a release whose process
//! or container has exited failing at once rather than after the whole budget.
//!
//! [`wait_healthy`] probes an address over HTTP; [`wait_healthy_with`] takes the probe and the
//! exit check as functions (the deploy engine asks its [`Runtime`](crate::Runtime), so a fake
//! runtime answers without a socket).

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// A health-check policy. Defaults are the playbook's: `GET /health`, 30 attempts 10 s apart,
/// 5 s per attempt, no start period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct HealthCheck {
    /// The path probed with `GET` (a 2xx answer is healthy).
    pub path: String,
    /// Time between the end of one attempt and the start of the next (not zero, at most
    /// 366 days).
    #[serde(with = "ops_core::duration::serde::nonzero")]
    pub interval: Duration,
    /// The longest one attempt may take (connect, send, first line of the answer; not zero).
    #[serde(with = "ops_core::duration::serde::nonzero")]
    pub timeout: Duration,
    /// Failed attempts (after the start period) before the release is declared unhealthy.
    pub retries: u32,
    /// Failures during this time after start do not count (one success ends it).
    #[serde(with = "ops_core::duration::serde::any")]
    pub start_period: Duration,
}

impl Default for HealthCheck {
    fn default() -> Self {
        HealthCheck {
            path: "/health".into(),
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
            retries: 30,
            start_period: Duration::ZERO,
        }
    }
}

impl HealthCheck {
    /// The longest [`wait_healthy`] can take: `start_period + retries × (interval + timeout)`
    /// (saturating: never overflows, whatever the fields hold).
    pub fn budget(&self) -> Duration {
        self.interval
            .saturating_add(self.timeout)
            .saturating_mul(self.retries.max(1))
            .saturating_add(self.start_period)
    }
}

/// `now + d`, or the furthest instant that can be represented within `d` when the sum would
/// overflow: a deadline that can never panic.
pub(crate) fn deadline_after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .or_else(|| now.checked_add(d.min(ops_core::duration::MAX)))
        .unwrap_or(now)
}

/// Why one attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// The connection was refused or could not be made in time.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// No (complete) answer within the timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// An answer that is not HTTP.
    #[error("not an HTTP answer: {0:?}")]
    Protocol(String),
    /// An HTTP status other than 2xx.
    #[error("HTTP {0}")]
    Status(u16),
    /// The release's process or container is gone: `exited with status 3`, `was killed by
    /// signal 9`.
    #[error("the release {0}")]
    Exited(String),
}

/// One probe: `GET path` on `addr`, the whole exchange bounded by `timeout`.
///
/// # Errors
/// A [`ProbeError`] saying what failed.
pub fn probe(addr: SocketAddr, path: &str, timeout: Duration) -> Result<u16, ProbeError> {
    let deadline = deadline_after(timeout);
    let left = || {
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    };
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| {
        if e.kind() == std::io::ErrorKind::TimedOut {
            ProbeError::Timeout(timeout)
        } else {
            ProbeError::Connect(e.to_string())
        }
    })?;
    let timed_out = |e: std::io::Error| {
        if matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ) {
            ProbeError::Timeout(timeout)
        } else {
            ProbeError::Connect(e.to_string())
        }
    };
    stream.set_write_timeout(Some(left())).map_err(timed_out)?;
    // One write: `write!` would send each piece separately, and a server that answers after the
    // first piece would see a truncated request.
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: ops-deploy\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).map_err(timed_out)?;
    let mut head = Vec::with_capacity(64);
    let mut buf = [0u8; 256];
    while !head.contains(&b'\n') && head.len() < 4096 {
        stream.set_read_timeout(Some(left())).map_err(timed_out)?;
        if Instant::now() >= deadline {
            return Err(ProbeError::Timeout(timeout));
        }
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) => return Err(timed_out(e)),
        }
    }
    let line = String::from_utf8_lossy(&head);
    let first = line.lines().next().unwrap_or("");
    let mut parts = first.split_whitespace();
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
        return Err(ProbeError::Protocol(first.chars().take(80).collect()));
    };
    let code: u16 = code
        .parse()
        .map_err(|_| ProbeError::Protocol(first.chars().take(80).collect()))?;
    if !version.starts_with("HTTP/") {
        return Err(ProbeError::Protocol(first.chars().take(80).collect()));
    }
    if (200..300).contains(&code) {
        Ok(code)
    } else {
        Err(ProbeError::Status(code))
    }
}

/// One attempt, as reported to the progress callback and recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// 1-based attempt number.
    pub number: u32,
    /// Counting attempts (outside the start period) made so far.
    pub counted: u32,
    /// Time since the checks began.
    pub elapsed: Duration,
    /// The result.
    pub result: Result<u16, ProbeError>,
}

/// The release never became healthy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unhealthy after {attempts} attempts over {elapsed:?}; last: {last}")]
pub struct Unhealthy {
    /// Attempts made.
    pub attempts: u32,
    /// Time spent.
    pub elapsed: Duration,
    /// The last attempt's failure.
    pub last: ProbeError,
}

/// How often the wait between attempts asks whether the release has exited.
const EXIT_POLL: Duration = Duration::from_millis(250);

/// Probes `GET policy.path` on `addr` until one attempt succeeds or `retries` counted attempts
/// failed, calling `on_attempt` after each one (for progress displays and logs). Never takes
/// longer than [`HealthCheck::budget`].
///
/// # Errors
/// [`Unhealthy`] with the last failure.
pub fn wait_healthy(
    addr: SocketAddr,
    policy: &HealthCheck,
    on_attempt: impl FnMut(&Attempt),
) -> Result<Vec<Attempt>, Unhealthy> {
    wait_healthy_with(
        policy,
        |timeout| probe(addr, &policy.path, timeout),
        || None,
        on_attempt,
    )
}

/// [`wait_healthy`] over any probe: `probe(timeout)` makes one attempt, and `exited()` says
/// whether the release is gone (`Some("exited with status 3")`), asked before each attempt
/// and every 250 ms while waiting between attempts, so a release that died fails at once
/// instead of after the whole budget.
///
/// ```
/// use std::time::Duration;
/// use ops_deploy::health::{self, HealthCheck, ProbeError};
/// let mut policy = HealthCheck::default();
/// policy.interval = Duration::from_millis(1);
/// policy.retries = 3;
/// // Healthy at the second attempt.
/// let mut answers = vec![Ok(200), Err(ProbeError::Status(503))];
/// let attempts =
///     health::wait_healthy_with(&policy, |_| answers.pop().unwrap(), || None, |_| {})?;
/// assert_eq!(attempts.len(), 2);
/// // A release that has exited fails at once.
/// let err = health::wait_healthy_with(
///     &policy,
///     |_| Err(ProbeError::Status(503)),
///     || Some("exited with status 3".to_owned()),
///     |_| {},
/// )
/// .unwrap_err();
/// assert_eq!(err.attempts, 1);
/// assert_eq!(err.last, ProbeError::Exited("exited with status 3".into()));
/// # Ok::<(), ops_deploy::Unhealthy>(())
/// ```
///
/// # Errors
/// [`Unhealthy`] with the last failure.
pub fn wait_healthy_with(
    policy: &HealthCheck,
    mut probe: impl FnMut(Duration) -> Result<u16, ProbeError>,
    mut exited: impl FnMut() -> Option<String>,
    mut on_attempt: impl FnMut(&Attempt),
) -> Result<Vec<Attempt>, Unhealthy> {
    let started = Instant::now();
    let mut attempts = Vec::new();
    let mut counted = 0u32;
    let mut number = 0u32;
    loop {
        number = number.saturating_add(1);
        let in_start_period = started.elapsed() < policy.start_period;
        let gone = exited();
        let result = match &gone {
            Some(how) => Err(ProbeError::Exited(how.clone())),
            None => probe(policy.timeout),
        };
        if result.is_err() && !in_start_period {
            counted = counted.saturating_add(1);
        }
        let attempt = Attempt {
            number,
            counted,
            elapsed: started.elapsed(),
            result,
        };
        on_attempt(&attempt);
        let ok = attempt.result.is_ok();
        let last = attempt.result.clone();
        attempts.push(attempt);
        if ok {
            return Ok(attempts);
        }
        if gone.is_some() || counted >= policy.retries.max(1) {
            return Err(Unhealthy {
                attempts: number,
                elapsed: started.elapsed(),
                last: last.err().unwrap_or(ProbeError::Status(0)),
            });
        }
        // Wait out the interval, looking for an exit every 250 ms (a `docker inspect` each for
        // Docker); the next round reports it.
        let until = deadline_after(policy.interval);
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(EXIT_POLL));
            if left > EXIT_POLL && exited().is_some() {
                break;
            }
        }
    }
}
