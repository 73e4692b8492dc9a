//! The sampler: fixed-rate ticks, failures counted and survived, prompt stop.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use ops_metrics::{Error, FakeSource, MetricsSource, Sampler, SystemMetrics};

fn sample(processes: u64) -> SystemMetrics {
    let mut m = SystemMetrics::empty(SystemTime::now());
    m.process_count = processes;
    m
}

/// Records when it was called; can be slow.
struct Clocked {
    calls: Arc<Mutex<Vec<Instant>>>,
    work: Duration,
}

impl MetricsSource for Clocked {
    fn collect(&mut self) -> ops_metrics::Result<SystemMetrics> {
        self.calls.lock().unwrap().push(Instant::now());
        std::thread::sleep(self.work);
        Ok(sample(1))
    }

    fn name(&self) -> &'static str {
        "clocked"
    }
}

#[test]
fn ticks_stay_on_the_grid_despite_collection_time() {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let source = Clocked {
        calls: Arc::clone(&calls),
        work: Duration::from_millis(30),
    };
    let interval = Duration::from_millis(100);
    let (sampler, rx) = Sampler::with_channel(source, interval, 64).unwrap();
    for _ in 0..6 {
        rx.recv_timeout(Duration::from_secs(5)).unwrap();
    }
    let stats = sampler.stop();
    let calls = calls.lock().unwrap();
    let start = calls[0];
    // Each collection starts on start + n·interval, not (work + interval) after the previous
    // one: with 30 ms of work per sample a drifting loop would be 150 ms late by the sixth.
    for (n, at) in calls.iter().enumerate().take(6) {
        let offset = at.duration_since(start);
        let ideal = interval * u32::try_from(n).unwrap();
        assert!(offset >= ideal, "tick {n} early: {offset:?}");
        assert!(
            offset < ideal + Duration::from_millis(80),
            "tick {n} drifted: {offset:?}"
        );
    }
    assert_eq!(stats.failures, 0);
    assert!(stats.samples >= 6);
}

#[test]
fn overrunning_collections_skip_and_count_ticks() {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let source = Clocked {
        calls: Arc::clone(&calls),
        work: Duration::from_millis(250),
    };
    let (sampler, rx) = Sampler::with_channel(source, Duration::from_millis(100), 64).unwrap();
    for _ in 0..3 {
        rx.recv_timeout(Duration::from_secs(5)).unwrap();
    }
    let stats = sampler.stop();
    // Each 250 ms collection covers ticks 0–2: ticks 1 and 2 are skipped and counted, the next
    // collection starts on tick 3 rather than immediately.
    assert!(stats.missed_ticks >= 4, "{stats:?}");
    let calls = calls.lock().unwrap();
    let gap = calls[1].duration_since(calls[0]);
    assert!(
        gap >= Duration::from_millis(300),
        "second collection started after {gap:?}"
    );
}

#[test]
fn failing_samples_are_counted_and_the_loop_goes_on() {
    let source = FakeSource::new()
        .then(sample(1))
        .then_fail("proc went away")
        .then_fail("proc went away")
        .then(sample(2));
    let calls = source.call_counter();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = Arc::clone(&seen);
    let sampler = Sampler::spawn(source, Duration::from_millis(10), move |m| {
        seen2.lock().unwrap().push(m.process_count);
    })
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while seen.lock().unwrap().len() < 3 {
        assert!(Instant::now() < deadline, "sampler stalled");
        std::thread::sleep(Duration::from_millis(5));
    }
    let stats = sampler.stop();
    assert_eq!(stats.failures, 2);
    assert_eq!(&seen.lock().unwrap()[..3], &[1, 2, 2]);
    assert_eq!(stats.samples, calls.load(Ordering::Relaxed) - 2);
}

#[test]
fn stop_is_prompt_even_with_a_long_interval() {
    let source = FakeSource::new().then(sample(1));
    let (sampler, rx) = Sampler::with_channel(source, Duration::from_hours(1), 4).unwrap();
    rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(sampler.is_running());
    let started = Instant::now();
    let stats = sampler.stop();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "stop took {:?}",
        started.elapsed()
    );
    assert_eq!(stats.samples, 1);
}

#[test]
fn drop_stops_the_thread() {
    let source = FakeSource::new().then(sample(1));
    let calls = source.call_counter();
    let sampler = Sampler::spawn(source, Duration::from_millis(5), |_| {}).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    drop(sampler);
    let after_drop = calls.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        calls.load(Ordering::Relaxed),
        after_drop,
        "collections went on after drop"
    );
    assert!(after_drop >= 2);
}

#[test]
fn full_channel_drops_are_counted_and_gone_receiver_stops_it() {
    let source = FakeSource::new().then(sample(7));
    let (sampler, rx) = Sampler::with_channel(source, Duration::from_millis(5), 1).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let stats = sampler.stats();
    assert!(stats.dropped >= 1, "{stats:?}");
    assert_eq!(stats.samples, 1, "only one place in the channel");
    assert_eq!(rx.recv().unwrap().process_count, 7);
    drop(rx);
    let deadline = Instant::now() + Duration::from_secs(5);
    while sampler.is_running() {
        assert!(
            Instant::now() < deadline,
            "sampler did not stop without a receiver"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn panicking_callback_is_counted_and_survived() {
    let source = FakeSource::new().then(sample(1));
    let mut n = 0;
    let sampler = Sampler::spawn(source, Duration::from_millis(5), move |_| {
        n += 1;
        assert!(n != 2, "callback fails on the second sample");
    })
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while sampler.stats().samples < 3 {
        assert!(Instant::now() < deadline, "sampler stalled");
        std::thread::sleep(Duration::from_millis(5));
    }
    let stats = sampler.stop();
    assert_eq!(stats.callback_panics, 1);
}

#[test]
fn zero_interval_and_capacity_are_refused() {
    let err = Sampler::spawn(FakeSource::new(), Duration::ZERO, |_| {}).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Config {
                field: "interval",
                ..
            }
        ),
        "{err:?}"
    );
    let err = Sampler::with_channel(FakeSource::new(), Duration::from_secs(1), 0).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Config {
                field: "capacity",
                ..
            }
        ),
        "{err:?}"
    );
}
