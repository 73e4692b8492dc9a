//! A scripted source for tests of code that consumes samples.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};
use crate::metrics::SystemMetrics;
use crate::source::MetricsSource;

/// A [`MetricsSource`] that returns scripted samples, for testing code that consumes them
/// (alert rules, exporters, a sampler's callback).
///
/// Each [`collect`](MetricsSource::collect) takes the next scripted step; when the script is
/// used up, the last successful sample is returned again (with a fresh timestamp). Calls are
/// counted.
///
/// ```
/// use ops_metrics::{FakeSource, MetricsSource, SystemMetrics};
/// let mut sample = SystemMetrics::empty(std::time::SystemTime::now());
/// sample.cpu_percent = Some(93.2);
/// let mut source = FakeSource::new().then(sample).then_fail("disk on fire");
/// assert_eq!(source.collect().unwrap().cpu_percent, Some(93.2));
/// assert!(source.collect().is_err());
/// assert_eq!(source.collect().unwrap().cpu_percent, Some(93.2)); // repeats the last good one
/// assert_eq!(source.calls(), 3);
/// ```
#[derive(Debug, Default)]
pub struct FakeSource {
    script: VecDeque<std::result::Result<SystemMetrics, String>>,
    last: Option<SystemMetrics>,
    calls: Arc<AtomicU64>,
}

impl FakeSource {
    /// An empty script: `collect` returns an error until samples are added.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a sample to the script.
    #[must_use]
    pub fn then(mut self, sample: SystemMetrics) -> Self {
        self.script.push_back(Ok(sample));
        self
    }

    /// Appends a failing step to the script.
    #[must_use]
    pub fn then_fail(mut self, message: impl Into<String>) -> Self {
        self.script.push_back(Err(message.into()));
        self
    }

    /// How many times `collect` was called.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// A counter that keeps counting calls after the source was moved into a sampler.
    pub fn call_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.calls)
    }
}

impl MetricsSource for FakeSource {
    fn collect(&mut self) -> Result<SystemMetrics> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        match self.script.pop_front() {
            Some(Ok(sample)) => {
                self.last = Some(sample.clone());
                Ok(sample)
            }
            Some(Err(reason)) => Err(Error::Config {
                field: "fake source",
                reason,
            }),
            None => match &self.last {
                Some(last) => {
                    let mut again = last.clone();
                    again.timestamp = std::time::SystemTime::now();
                    Ok(again)
                }
                None => Err(Error::Config {
                    field: "fake source",
                    reason: "the script is empty".to_owned(),
                }),
            },
        }
    }

    fn name(&self) -> &'static str {
        "fake"
    }
}
