//! Sinks and their delivery off the evaluation path.

#[cfg(feature = "http")]
mod alertmanager;
mod fake;
#[cfg(feature = "http")]
mod http;
mod log;
mod stdout;
#[cfg(feature = "http")]
mod webhook;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[cfg(feature = "http")]
pub use self::alertmanager::AlertmanagerSink;
pub use self::fake::FakeSink;
pub use self::log::LogSink;
pub use self::stdout::StdoutSink;
#[cfg(feature = "http")]
pub use self::webhook::WebhookSink;
use crate::evaluator::Notification;

/// Why a delivery failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// Worth retrying: a connection error, a timeout, a 5xx, a 429 (with its `Retry-After`).
    #[error("{reason} (will retry)")]
    Retryable {
        /// What happened (never contains a webhook URL).
        reason: String,
        /// The server's `Retry-After`, if it gave one.
        retry_after: Option<Duration>,
    },
    /// Not worth retrying: the receiver refused the payload (4xx other than 408/429).
    #[error("{reason} (not retried)")]
    Permanent {
        /// What happened (never contains a webhook URL).
        reason: String,
    },
}

/// Something that delivers alerts: a log, stdout, a webhook, Alertmanager.
///
/// `send` may block (a network call): the [`Dispatcher`] calls it on the sink's own thread, so
/// a slow sink never holds up the evaluator or the other sinks.
pub trait AlertSink: Send + Sync {
    /// A short name for logs and counters (`log`, `stdout`, `webhook`, `alertmanager`).
    fn name(&self) -> &str;

    /// Delivers a batch.
    ///
    /// # Errors
    /// [`SinkError::Retryable`] or [`SinkError::Permanent`].
    fn send(&self, alerts: &[Notification]) -> Result<(), SinkError>;

    /// Checks, before the first delivery, that the sink can ever deliver (a well-formed URL
    /// with a supported scheme, for instance). [`Monitor`](crate::Monitor) refuses to start
    /// with a sink that fails this. The default accepts.
    ///
    /// # Errors
    /// [`SinkError::Permanent`] saying what is wrong.
    fn check(&self) -> Result<(), SinkError> {
        Ok(())
    }
}

impl<T: AlertSink + ?Sized> AlertSink for Box<T> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn send(&self, alerts: &[Notification]) -> Result<(), SinkError> {
        (**self).send(alerts)
    }
    fn check(&self) -> Result<(), SinkError> {
        (**self).check()
    }
}

/// Retry policy: exponential backoff with full jitter, bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (the first one included).
    pub max_attempts: u32,
    /// Backoff base: attempt n waits a random time in `[0, min(cap, base·2^n))`.
    pub base: Duration,
    /// Backoff cap (also the longest `Retry-After` honoured).
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(10),
        }
    }
}

/// Delivery counters of one sink.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SinkStats {
    /// The sink's name.
    pub name: String,
    /// Batches delivered.
    pub delivered: u64,
    /// Batches given up on (permanent error or attempts exhausted).
    pub failed: u64,
    /// Retries made.
    pub retries: u64,
    /// Batches dropped because the sink's queue was full (it is far behind).
    pub dropped: u64,
}

#[derive(Default)]
struct Counters {
    delivered: AtomicU64,
    failed: AtomicU64,
    retries: AtomicU64,
    dropped: AtomicU64,
}

struct Lane {
    name: String,
    tx: Option<SyncSender<Arc<[Notification]>>>,
    counters: Arc<Counters>,
    handle: Option<JoinHandle<()>>,
}

/// Hands batches to every sink, each on its own thread with a bounded queue; retries per the
/// policy; counts everything. Dropping it (or [`shutdown`](Dispatcher::shutdown)) delivers what
/// is queued first, within a deadline.
pub struct Dispatcher {
    lanes: Vec<Lane>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field(
                "sinks",
                &self.lanes.iter().map(|l| &l.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// A small xorshift generator for jitter (seeded per lane from the OS's random hasher keys).
struct Jitter(u64);

impl Jitter {
    fn new() -> Jitter {
        use std::hash::{BuildHasher as _, Hasher as _};
        Jitter(
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
                | 1,
        )
    }

    fn below(&mut self, max: Duration) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            Duration::ZERO
        } else {
            Duration::from_nanos(self.0 % nanos)
        }
    }
}

/// The delay before retry number `attempt` (1-based): `Retry-After` if given (capped), else full
/// jitter over `min(cap, base·2^attempt)`.
pub(crate) fn backoff(
    policy: &RetryPolicy,
    attempt: u32,
    retry_after: Option<Duration>,
    jitter: &mut impl FnMut(Duration) -> Duration,
) -> Duration {
    if let Some(after) = retry_after {
        return after.min(policy.cap);
    }
    let exp = policy.base.saturating_mul(1u32 << attempt.min(20));
    jitter(exp.min(policy.cap))
}

fn run_lane(
    sink: &dyn AlertSink,
    rx: &Receiver<Arc<[Notification]>>,
    counters: &Counters,
    policy: RetryPolicy,
) {
    let mut jitter = Jitter::new();
    while let Ok(batch) = rx.recv() {
        let mut attempt = 1;
        loop {
            let sent = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink.send(&batch)))
                .unwrap_or_else(|_| {
                    Err(SinkError::Permanent {
                        reason: "the sink panicked".to_owned(),
                    })
                });
            match sent {
                Ok(()) => {
                    counters.delivered.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Err(SinkError::Retryable {
                    reason,
                    retry_after,
                }) if attempt < policy.max_attempts => {
                    let wait = backoff(&policy, attempt, retry_after, &mut |max| jitter.below(max));
                    tracing::warn!(target: "ops_thresholds", sink = sink.name(), attempt, retry_in_ms = wait.as_millis() as u64, %reason, "alert delivery failed; retrying");
                    counters.retries.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(wait);
                    attempt += 1;
                }
                Err(e) => {
                    tracing::error!(target: "ops_thresholds", sink = sink.name(), attempts = attempt, error = %e, alerts = batch.len(), "alert delivery failed");
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
        }
    }
}

impl Dispatcher {
    /// Starts one delivery thread per sink, with the default retry policy.
    ///
    /// # Errors
    /// A thread cannot be started.
    pub fn new(sinks: Vec<Box<dyn AlertSink>>) -> std::io::Result<Dispatcher> {
        Self::with_policy(sinks, RetryPolicy::default(), 1024)
    }

    /// Starts one delivery thread per sink with `policy`, each queue holding `capacity` batches.
    ///
    /// # Errors
    /// A thread cannot be started.
    pub fn with_policy(
        sinks: Vec<Box<dyn AlertSink>>,
        policy: RetryPolicy,
        capacity: usize,
    ) -> std::io::Result<Dispatcher> {
        let mut lanes = Vec::with_capacity(sinks.len());
        for sink in sinks {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Arc<[Notification]>>(capacity.max(1));
            let counters = Arc::new(Counters::default());
            let name = sink.name().to_owned();
            let c = Arc::clone(&counters);
            let handle = std::thread::Builder::new()
                .name(format!("ops-alerts-{name}"))
                .spawn(move || run_lane(&*sink, &rx, &c, policy))?;
            lanes.push(Lane {
                name,
                tx: Some(tx),
                counters,
                handle: Some(handle),
            });
        }
        Ok(Dispatcher { lanes })
    }

    /// Queues a batch for every sink; never blocks. A full queue drops the batch for that sink
    /// and counts it.
    pub fn dispatch(&self, alerts: Vec<Notification>) {
        if alerts.is_empty() {
            return;
        }
        let batch: Arc<[Notification]> = alerts.into();
        for lane in &self.lanes {
            let Some(tx) = &lane.tx else { continue };
            match tx.try_send(Arc::clone(&batch)) {
                Ok(()) => {}
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                    lane.counters.dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(target: "ops_thresholds", sink = %lane.name, "alert sink queue full: batch dropped");
                }
            }
        }
    }

    /// Counters per sink.
    pub fn stats(&self) -> Vec<SinkStats> {
        self.lanes
            .iter()
            .map(|l| SinkStats {
                name: l.name.clone(),
                delivered: l.counters.delivered.load(Ordering::Relaxed),
                failed: l.counters.failed.load(Ordering::Relaxed),
                retries: l.counters.retries.load(Ordering::Relaxed),
                dropped: l.counters.dropped.load(Ordering::Relaxed),
            })
            .collect()
    }

    /// Closes the queues and waits up to `deadline` for the sinks to deliver what is queued.
    /// Returns the names of sinks that did not finish in time.
    pub fn shutdown(&mut self, deadline: Duration) -> Vec<String> {
        for lane in &mut self.lanes {
            lane.tx = None;
        }
        let until = Instant::now() + deadline;
        let mut late = Vec::new();
        for lane in &mut self.lanes {
            let Some(handle) = lane.handle.take() else {
                continue;
            };
            while !handle.is_finished() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(5));
            }
            if handle.is_finished() {
                let _ = handle.join();
            } else {
                late.push(lane.name.clone());
            }
        }
        late
    }
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        let _ = self.shutdown(Duration::from_secs(10));
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn backoff_is_full_jitter_bounded_and_honours_retry_after() {
        let p = RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        let mut max_seen = Vec::new();
        let mut record = |max: Duration| {
            max_seen.push(max);
            max
        };
        assert_eq!(
            backoff(&p, 1, None, &mut record),
            Duration::from_millis(200)
        );
        assert_eq!(
            backoff(&p, 3, None, &mut record),
            Duration::from_millis(800)
        );
        assert_eq!(backoff(&p, 9, None, &mut record), Duration::from_secs(1));
        assert_eq!(
            backoff(&p, 1, Some(Duration::from_millis(300)), &mut record),
            Duration::from_millis(300)
        );
        assert_eq!(
            backoff(&p, 1, Some(Duration::from_mins(1)), &mut record),
            Duration::from_secs(1)
        );
        let mut j = Jitter::new();
        for _ in 0..1000 {
            assert!(j.below(Duration::from_millis(50)) < Duration::from_millis(50));
        }
    }
}
