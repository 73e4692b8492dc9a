//! A sink for tests: records what it is given, fails when scripted to.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::evaluator::Notification;
use crate::sink::{AlertSink, SinkError};

#[derive(Debug, Default)]
struct State {
    delivered: Vec<Notification>,
    batches: usize,
    attempts: usize,
    script: VecDeque<SinkError>,
}

/// Records every notification delivered to it, for your tests; clones share the record, so
/// keep one and give the other to a [`Dispatcher`](crate::Dispatcher) or
/// [`Monitor`](crate::Monitor). [`fail_next`](FakeSink::fail_next) scripts failures, to test
/// retries and counters.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use ops_metrics::SystemMetrics;
/// use ops_thresholds::{FakeSink, Monitor};
///
/// let sink = FakeSink::new();
/// let monitor = Monitor::builder().log(false).sink(sink.clone()).build()?;
/// let mut sample = SystemMetrics::empty(SystemTime::now());
/// sample.memory_percent = 97.0;
/// monitor.observe(sample);
/// assert!(sink.wait_for(1, Duration::from_secs(5)));
/// assert_eq!(sink.notifications()[0].message(), "High memory usage: 97.0%");
/// # Ok::<(), ops_thresholds::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct FakeSink {
    state: Arc<(Mutex<State>, Condvar)>,
}

impl FakeSink {
    /// A sink that accepts everything.
    pub fn new() -> FakeSink {
        FakeSink::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next delivery attempt fails with `error` (call it several times to script several
    /// failures, in order).
    pub fn fail_next(&self, error: SinkError) {
        self.lock().script.push_back(error);
    }

    /// Every notification delivered so far, in order.
    pub fn notifications(&self) -> Vec<Notification> {
        self.lock().delivered.clone()
    }

    /// Batches delivered so far.
    pub fn batches(&self) -> usize {
        self.lock().batches
    }

    /// Delivery attempts so far, failed ones included.
    pub fn attempts(&self) -> usize {
        self.lock().attempts
    }

    /// Waits until at least `count` notifications were delivered; whether they were.
    pub fn wait_for(&self, count: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        while state.delivered.len() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = self
                .state
                .1
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }
}

impl AlertSink for FakeSink {
    fn name(&self) -> &'static str {
        "fake"
    }

    fn send(&self, alerts: &[Notification]) -> Result<(), SinkError> {
        let mut state = self.lock();
        state.attempts += 1;
        if let Some(error) = state.script.pop_front() {
            return Err(error);
        }
        state.batches += 1;
        state.delivered.extend_from_slice(alerts);
        self.state.1.notify_all();
        Ok(())
    }
}
