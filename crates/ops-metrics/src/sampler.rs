//! A background thread that takes a sample at a fixed interval.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::metrics::SystemMetrics;
use crate::source::MetricsSource;

/// Counters of a running [`Sampler`]: nothing it skips or loses goes unseen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SamplerStats {
    /// Samples taken and handed on.
    pub samples: u64,
    /// Collections that failed (logged with `tracing` at WARN; the loop went on).
    pub failures: u64,
    /// Ticks skipped because a collection (or the callback) took longer than the interval.
    pub missed_ticks: u64,
    /// Samples not delivered because the channel was full (channel mode only).
    pub dropped: u64,
    /// Times the callback panicked (caught, counted, the loop went on).
    pub callback_panics: u64,
}

#[derive(Default)]
struct Counters {
    samples: AtomicU64,
    failures: AtomicU64,
    missed_ticks: AtomicU64,
    dropped: AtomicU64,
    callback_panics: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> SamplerStats {
        SamplerStats {
            samples: self.samples.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            missed_ticks: self.missed_ticks.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            callback_panics: self.callback_panics.load(Ordering::Relaxed),
        }
    }
}

struct Shared {
    stop: Mutex<bool>,
    wake: Condvar,
    counters: Counters,
}

/// Takes a sample every `interval` on a background thread and hands it to a callback or a
/// channel.
///
/// - Ticks are scheduled on the monotonic clock at `start + n × interval`, so the rate does not
///   drift with collection time; a tick missed because a collection overran is skipped and
///   counted, never bunched up.
/// - A failing collection is logged (WARN), counted, and the loop goes on; so does a panicking
///   callback.
/// - [`stop`](Sampler::stop) (or dropping the sampler) wakes the thread at once and joins it.
///
/// ```
/// use std::time::Duration;
/// use ops_metrics::{FakeSource, Sampler, SystemMetrics};
/// let source = FakeSource::new().then(SystemMetrics::empty(std::time::SystemTime::now()));
/// let (sampler, samples) = Sampler::with_channel(source, Duration::from_millis(10), 16)?;
/// let first = samples.recv().expect("a sample");
/// assert_eq!(first.process_count, 0);
/// let stats = sampler.stop();
/// assert!(stats.samples >= 1);
/// # Ok::<(), ops_metrics::Error>(())
/// ```
#[must_use = "the sampler stops when dropped"]
pub struct Sampler {
    shared: Arc<Shared>,
    handle: Option<JoinHandle<()>>,
    interval: Duration,
}

impl std::fmt::Debug for Sampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sampler")
            .field("interval", &self.interval)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Sampler {
    /// Starts sampling `source` every `interval`, calling `on_sample` with each sample on the
    /// sampler's thread. The first sample is taken at once.
    ///
    /// # Errors
    /// [`Error::Config`] for a zero interval; [`Error::Spawn`] if the thread cannot start.
    pub fn spawn<S, F>(source: S, interval: Duration, on_sample: F) -> Result<Sampler>
    where
        S: MetricsSource + 'static,
        F: FnMut(SystemMetrics) + Send + 'static,
    {
        Self::start(source, interval, Delivery::Callback(Box::new(on_sample)))
    }

    /// Starts sampling `source` every `interval`, sending each sample on a channel of
    /// `capacity` places. A sample that finds the channel full is dropped and counted in
    /// [`SamplerStats::dropped`]; when the receiver is dropped the sampler stops by itself.
    ///
    /// # Errors
    /// [`Error::Config`] for a zero interval or capacity; [`Error::Spawn`] if the thread cannot
    /// start.
    pub fn with_channel<S>(
        source: S,
        interval: Duration,
        capacity: usize,
    ) -> Result<(Sampler, Receiver<SystemMetrics>)>
    where
        S: MetricsSource + 'static,
    {
        if capacity == 0 {
            return Err(Error::Config {
                field: "capacity",
                reason: "the channel needs at least one place".to_owned(),
            });
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(capacity);
        let sampler = Self::start(source, interval, Delivery::Channel(tx))?;
        Ok((sampler, rx))
    }

    fn start<S>(mut source: S, interval: Duration, mut delivery: Delivery) -> Result<Sampler>
    where
        S: MetricsSource + 'static,
    {
        if interval.is_zero() {
            return Err(Error::Config {
                field: "interval",
                reason: "must be greater than zero".to_owned(),
            });
        }
        let shared = Arc::new(Shared {
            stop: Mutex::new(false),
            wake: Condvar::new(),
            counters: Counters::default(),
        });
        let thread_shared = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name("ops-metrics-sampler".into())
            .spawn(move || run(&mut source, interval, &mut delivery, &thread_shared))
            .map_err(Error::Spawn)?;
        Ok(Sampler {
            shared,
            handle: Some(handle),
            interval,
        })
    }

    /// The counters so far.
    pub fn stats(&self) -> SamplerStats {
        self.shared.counters.snapshot()
    }

    /// The sampling interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Whether the background thread is still running.
    pub fn is_running(&self) -> bool {
        self.handle.as_ref().is_some_and(|h| !h.is_finished())
    }

    /// Stops the thread (waking it if it waits for the next tick), waits for it, and returns
    /// the final counters. A collection in progress is finished first.
    pub fn stop(mut self) -> SamplerStats {
        self.shutdown();
        self.stats()
    }

    fn shutdown(&mut self) {
        *self
            .shared
            .stop
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = true;
        self.shared.wake.notify_all();
        if let Some(handle) = self.handle.take() {
            // The loop catches callback panics, so a join error cannot carry one of ours.
            let _ = handle.join();
        }
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.shutdown();
    }
}

enum Delivery {
    Callback(Box<dyn FnMut(SystemMetrics) + Send>),
    Channel(SyncSender<SystemMetrics>),
}

/// What happened to a delivered sample.
enum Delivered {
    Yes,
    Dropped,
    Panicked,
    ReceiverGone,
}

impl Delivery {
    fn deliver(&mut self, sample: SystemMetrics) -> Delivered {
        match self {
            Delivery::Callback(f) => match catch_unwind(AssertUnwindSafe(|| f(sample))) {
                Ok(()) => Delivered::Yes,
                Err(_) => Delivered::Panicked,
            },
            Delivery::Channel(tx) => match tx.try_send(sample) {
                Ok(()) => Delivered::Yes,
                Err(TrySendError::Full(_)) => Delivered::Dropped,
                Err(TrySendError::Disconnected(_)) => Delivered::ReceiverGone,
            },
        }
    }
}

fn run<S: MetricsSource>(
    source: &mut S,
    interval: Duration,
    delivery: &mut Delivery,
    shared: &Shared,
) {
    let c = &shared.counters;
    let start = Instant::now();
    let mut tick: u64 = 0;
    loop {
        match source.collect() {
            Ok(sample) => match delivery.deliver(sample) {
                Delivered::Yes => {
                    c.samples.fetch_add(1, Ordering::Relaxed);
                }
                Delivered::Dropped => {
                    c.dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        source = source.name(),
                        "sample dropped: the channel is full"
                    );
                }
                Delivered::Panicked => {
                    c.callback_panics.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(source = source.name(), "the sample callback panicked");
                }
                Delivered::ReceiverGone => {
                    tracing::debug!("sample receiver dropped: sampler stops");
                    return;
                }
            },
            Err(error) => {
                c.failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(source = source.name(), error = %error, "metrics collection failed");
            }
        }
        // Next tick on the fixed grid start + n·interval; skip (and count) ticks already past.
        let now = Instant::now();
        let elapsed = now.duration_since(start);
        let due =
            u64::try_from(elapsed.as_nanos() / interval.as_nanos()).unwrap_or(u64::MAX - 1) + 1;
        let next_tick = due.max(tick.saturating_add(1));
        let missed = next_tick - tick - 1;
        if missed > 0 {
            c.missed_ticks.fetch_add(missed, Ordering::Relaxed);
        }
        tick = next_tick;
        let Some(deadline) = u32::try_from(tick)
            .ok()
            .and_then(|t| interval.checked_mul(t))
            .and_then(|d| start.checked_add(d))
        else {
            return;
        };
        let mut stop = shared.stop.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if *stop {
                return;
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            stop = shared
                .wake
                .wait_timeout(stop, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}
