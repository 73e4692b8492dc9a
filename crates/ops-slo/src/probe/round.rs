//! The prober's targets and rounds: one worker thread per probe, each round waiting no
//! longer than the timeout (plus a grace); the figures of each target and their page section.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant};

use ops_core::exposition::{Encoder, MetricType};

use super::http::{ExpectedStatus, ProbeTarget, probe};
use super::{
    DURATION_FAMILY, FAILED_FAMILY, GRACE, ProbeFailure, ProbeResult, STATUS_FAMILY,
    SUCCESS_FAMILY, TOTAL_FAMILY, TargetStats,
};

/// One URL probed, with its figures.
pub(super) struct Target {
    pub(super) url: ProbeTarget,
    /// A worker of this target is running (maybe stuck past its round).
    pub(super) busy: Arc<AtomicBool>,
    pub(super) stats: Mutex<TargetStats>,
}

/// What the prober, its thread and its page sections share.
pub(super) struct Shared {
    pub(super) targets: Vec<Target>,
    pub(super) timeout: Duration,
    pub(super) expected: ExpectedStatus,
    /// One round at a time.
    pub(super) round: Mutex<()>,
}

impl Shared {
    pub(super) fn round(&self) {
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

    /// The figures of each target now.
    pub(super) fn stats(&self) -> Vec<TargetStats> {
        self.targets
            .iter()
            .map(|t| {
                t.stats
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()
            })
            .collect()
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

    pub(super) fn encode(&self, out: &mut String) {
        if self.targets.is_empty() {
            return;
        }
        let stats = self.stats();
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
