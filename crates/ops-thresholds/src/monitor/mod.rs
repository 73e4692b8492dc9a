//! The monitor: a sampler, the evaluator, the sinks, the current alert states and one
//! `/metrics` page — what `ops monitor`, the quickstart and a service embedding ops-rs all need,
//! in one value.

#[cfg(feature = "json")]
mod replay;
mod serve;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use ops_core::exposition::{Encoder, Exposition, MetricType};
use ops_metrics::{MetricsSource, Sampler, SamplerStats, SystemMetrics};

#[cfg(feature = "json")]
pub use self::replay::{MAX_REPLAY_LINE, ReplayStats};
pub use self::serve::{MetricsServer, ServerStats};
use crate::error::{Error, Result};
use crate::evaluator::{AlertState, AlertStatus, Evaluator, Notification, Observation};
use crate::rule::RuleSet;
use crate::sink::{AlertSink, Dispatcher, LogSink, RetryPolicy, SinkStats, StdoutSink};

/// How many notifications [`Monitor::recent`] keeps.
const RECENT: usize = 64;

type SharedSection = Box<dyn Exposition + Send + Sync>;

/// Series derived from the page at every evaluation, before the rules run — what Prometheus's
/// recording rules are to its alerting rules. An SLO engine (`ops_slo::SloEngine`) is one:
/// fed the page, it records its error ratios and budgets, and its burn-rate alerts read them.
///
/// Given to [`MonitorBuilder::recording`]: its [`rules`](Recording::rules) join the
/// monitor's, it is a section of the page, and at each evaluation
/// [`record`](Recording::record) gets the page (the sample, the profiler's report, the
/// sections) and appends the series it records, which go into the rules' series store only.
pub trait Recording: Exposition + Send + Sync {
    /// The alerting rules over what it records.
    fn rules(&self) -> Vec<crate::rule::Rule>;

    /// Records from `page`, taken at `at`, appending the recorded series (Prometheus text) to
    /// `out`.
    fn record(&self, page: &str, at: std::time::SystemTime, out: &mut String);

    /// The monitor stops ([`Monitor::stop`]): write what must survive.
    fn stop(&self) {}
}

/// A recording shared between the page's sections and the evaluation.
struct RecordingSection(Arc<dyn Recording>);

impl Exposition for RecordingSection {
    fn encode_prometheus(&self, out: &mut String) {
        self.0.encode_prometheus(out);
    }
}

/// Builds a [`Monitor`]. Defaults: the rule set's interval, the playbook's rules when none are
/// given, the log sink on, stdout off, the global profiler's report in every evaluation.
#[must_use]
pub struct MonitorBuilder {
    rules: RuleSet,
    source: Option<Box<dyn MetricsSource>>,
    interval: Option<Duration>,
    sinks: Vec<Box<dyn AlertSink>>,
    log: bool,
    stdout: bool,
    profiler: bool,
    sections: Vec<SharedSection>,
    recordings: Vec<Arc<dyn Recording>>,
    policy: RetryPolicy,
    capacity: usize,
}

impl std::fmt::Debug for MonitorBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitorBuilder")
            .field("rules", &self.rules.rules.len())
            .field("interval", &self.interval)
            .field(
                "sinks",
                &self.sinks.iter().map(AlertSink::name).collect::<Vec<_>>(),
            )
            .field("log", &self.log)
            .field("stdout", &self.stdout)
            .field("profiler", &self.profiler)
            .field("sections", &self.sections.len())
            .field("recordings", &self.recordings.len())
            .finish_non_exhaustive()
    }
}

impl MonitorBuilder {
    /// The rules (default: [`RuleSet::defaults`]). Checked by [`build`](Self::build) and
    /// [`start`](Self::start) as a rule file is.
    pub fn rules(mut self, rules: RuleSet) -> Self {
        self.rules = rules;
        self
    }

    /// Where samples come from (default: [`ops_metrics::default_source`]).
    pub fn source(mut self, source: impl MetricsSource + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The sampling interval (default: the rule set's `interval`).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        self
    }

    /// Also delivers alerts to `sink` (a webhook, Alertmanager, your own).
    pub fn sink(mut self, sink: impl AlertSink + 'static) -> Self {
        self.sinks.push(Box::new(sink));
        self
    }

    /// Alerts as `tracing` events (default on).
    pub fn log(mut self, on: bool) -> Self {
        self.log = on;
        self
    }

    /// Alerts on stdout, one line each (default off).
    pub fn stdout(mut self, on: bool) -> Self {
        self.stdout = on;
        self
    }

    /// Evaluate `function_*` rules over the global profiler's report, and put the report on
    /// the page (default on).
    pub fn profiler(mut self, on: bool) -> Self {
        self.profiler = on;
        self
    }

    /// Appends a section to the page: your own figures, the log writer's counters, a registry.
    pub fn section(mut self, section: impl Exposition + Send + Sync + 'static) -> Self {
        self.sections.push(Box::new(section));
        self
    }

    /// Adds a [`Recording`]: its rules join the rule set (checked with it), it is a section
    /// of the page, and it records from the page at every evaluation, before the rules.
    pub fn recording(mut self, recording: impl Recording + 'static) -> Self {
        let recording: Arc<dyn Recording> = Arc::new(recording);
        self.sections
            .push(Box::new(RecordingSection(Arc::clone(&recording))));
        self.recordings.push(recording);
        self
    }

    /// How the sinks retry, and how many batches each queues (default: [`RetryPolicy`]'s
    /// defaults, 1,024).
    pub fn retry(mut self, policy: RetryPolicy, capacity: usize) -> Self {
        self.policy = policy;
        self.capacity = capacity;
        self
    }

    /// A monitor with no sampling thread: feed it with [`Monitor::observe`] or
    /// [`Monitor::replay`].
    ///
    /// # Errors
    /// An invalid rule set ([`Error::Invalid`], [`Error::Rule`], [`Error::Setting`]), a sink
    /// that can never deliver ([`Error::Sink`], such as an `https://` URL without the `tls`
    /// feature), or a thread that cannot start.
    pub fn build(self) -> Result<Monitor> {
        self.into_parts().map(|(monitor, _, _)| monitor)
    }

    /// A monitor that samples on a background thread at the interval and evaluates each
    /// sample.
    ///
    /// # Errors
    /// As [`build`](Self::build), and [`Error::Metrics`] when the sampler cannot start.
    pub fn start(self) -> Result<Monitor> {
        let (monitor, source, interval) = self.into_parts()?;
        let source = match source {
            Some(s) => s,
            None => ops_metrics::default_source().map_err(Error::Metrics)?,
        };
        let shared = Arc::clone(&monitor.shared);
        let sampler = Sampler::spawn(source, interval, move |sample| shared.observe(sample))
            .map_err(Error::Metrics)?;
        *monitor
            .sampler
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(sampler);
        Ok(monitor)
    }

    #[allow(clippy::type_complexity)]
    fn into_parts(self) -> Result<(Monitor, Option<Box<dyn MetricsSource>>, Duration)> {
        let mut rules = self.rules;
        if let Some(i) = self.interval {
            rules.interval = i;
        }
        for r in &self.recordings {
            rules.rules.extend(r.rules());
        }
        rules.validate()?;
        let interval = rules.interval;
        let mut sinks: Vec<Box<dyn AlertSink>> = Vec::with_capacity(self.sinks.len() + 2);
        if self.log {
            sinks.push(Box::new(LogSink));
        }
        if self.stdout {
            sinks.push(Box::new(StdoutSink));
        }
        for sink in self.sinks {
            sink.check().map_err(|e| Error::Sink {
                sink: sink.name().to_owned(),
                reason: e.to_string(),
            })?;
            sinks.push(sink);
        }
        let dispatcher =
            Dispatcher::with_policy(sinks, self.policy, self.capacity).map_err(|source| {
                Error::Start {
                    what: "the alert delivery threads",
                    source,
                }
            })?;
        let eval = Evaluator::new(rules);
        let uses_store = eval.uses_store() || !self.recordings.is_empty();
        let shared = Arc::new(Shared {
            uses_store,
            state: Mutex::new(State {
                eval,
                dispatcher,
                last: None,
                statuses: Vec::new(),
                recent: VecDeque::with_capacity(RECENT),
                samples: 0,
                notifications: 0,
                replay_skipped: 0,
                sampler_stats: SamplerStats::default(),
                scratch: Vec::new(),
            }),
            profiler: self.profiler,
            sections: self.sections,
            recordings: self.recordings,
        });
        let monitor = Monitor {
            shared,
            sampler: Mutex::new(None),
        };
        Ok((monitor, self.source, interval))
    }
}

struct State {
    eval: Evaluator,
    dispatcher: Dispatcher,
    last: Option<SystemMetrics>,
    statuses: Vec<AlertStatus>,
    recent: VecDeque<Notification>,
    samples: u64,
    notifications: u64,
    replay_skipped: u64,
    /// The sampler's counters when it stopped.
    sampler_stats: SamplerStats,
    scratch: Vec<Notification>,
}

struct Shared {
    /// Whether the rules read the series store (then every evaluation ingests the sections).
    uses_store: bool,
    state: Mutex<State>,
    profiler: bool,
    sections: Vec<SharedSection>,
    recordings: Vec<Arc<dyn Recording>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn observe(&self, sample: SystemMetrics) {
        let report = self.profiler.then(|| ops_profiler::global().report());
        // The sections (application metrics, your figures) go into the series store under
        // their own source, so PromQL rules can read them; rendered before taking the lock.
        let sections = self.uses_store.then(|| {
            let mut page = String::new();
            for section in &self.sections {
                section.encode_prometheus(&mut page);
            }
            page
        });
        // The recordings read the whole page (sample, report, sections) and record before
        // the rules run, as a Prometheus rule group's recording rules do.
        let recorded = (!self.recordings.is_empty()).then(|| {
            let mut page = String::new();
            sample.encode_prometheus(&mut page);
            if let Some(r) = &report {
                r.encode_prometheus(&mut page);
            }
            page.push_str(sections.as_deref().unwrap_or(""));
            let mut out = String::new();
            for r in &self.recordings {
                r.record(&page, sample.timestamp, &mut out);
            }
            out
        });
        let mut s = self.lock();
        if let Some(page) = &sections {
            s.eval.ingest("sections", page, sample.timestamp);
        }
        if let Some(page) = &recorded {
            s.eval.ingest("recorded", page, sample.timestamp);
        }
        let mut out = std::mem::take(&mut s.scratch);
        out.clear();
        s.eval.evaluate(
            sample.timestamp,
            Observation {
                metrics: &sample,
                profile: report.as_ref(),
            },
            &mut out,
        );
        s.samples += 1;
        s.notifications += out.len() as u64;
        for n in &out {
            if s.recent.len() == RECENT {
                s.recent.pop_front();
            }
            s.recent.push_back(n.clone());
        }
        if !out.is_empty() {
            s.dispatcher.dispatch(std::mem::take(&mut out));
        }
        s.statuses = s.eval.statuses();
        s.last = Some(sample);
        s.scratch = out;
    }

    fn page(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        {
            let s = self.lock();
            if let Some(sample) = &s.last {
                sample.encode_prometheus(&mut out);
            }
            crate::exposition::encode_alerts(&s.statuses, &s.dispatcher.stats(), &mut out);
            let mut e = Encoder::new(&mut out);
            e.single(
                "ops_monitor_samples_total",
                "Samples evaluated.",
                MetricType::Counter,
                s.samples,
            );
            e.single(
                "ops_monitor_notifications_total",
                "Alert notifications produced (firing and resolved).",
                MetricType::Counter,
                s.notifications,
            );
            e.single(
                "ops_monitor_replay_errors_total",
                "Replayed lines that could not be read.",
                MetricType::Counter,
                s.replay_skipped,
            );
            e.single(
                "ops_monitor_rule_failures_total",
                "Rule evaluations that failed (a PromQL error); the rule's alerts kept their state.",
                MetricType::Counter,
                s.eval.failures(),
            );
        }
        if self.profiler {
            ops_profiler::global().report().encode_prometheus(&mut out);
        }
        for section in &self.sections {
            section.encode_prometheus(&mut out);
        }
        out
    }
}

/// System sampling, alert rules, sinks and a promtool-clean `/metrics` page, running in your
/// service (or as `ops monitor`).
///
/// ```no_run
/// use ops_thresholds::{Monitor, RuleSet};
///
/// let monitor = Monitor::builder().rules(RuleSet::defaults()).stdout(true).start()?;
/// let server = monitor.serve("127.0.0.1:9187")?;   // GET /metrics, GET /health
/// ops_core::shutdown::Shutdown::on_signals().expect("signal handlers").wait();
/// drop(server);
/// let report = monitor.stop(std::time::Duration::from_secs(10));
/// println!("{} samples, {} notifications", report.samples, report.notifications);
/// # Ok::<(), ops_thresholds::Error>(())
/// ```
///
/// In a service with its own HTTP server, answer `GET /metrics` with [`Monitor::page`] and
/// the content type [`ops_core::exposition::CONTENT_TYPE`]. The page holds the last sample
/// (`node_*` families), the profiler's functions, `ops_alerts{alertname,alertstate}`, delivery
/// counters, the monitor's own counters, then every section added with
/// [`MonitorBuilder::section`].
pub struct Monitor {
    shared: Arc<Shared>,
    sampler: Mutex<Option<Sampler>>,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor")
            .field(
                "sampling",
                &self
                    .sampler
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .is_some(),
            )
            .field("samples", &self.shared.lock().samples)
            .finish_non_exhaustive()
    }
}

/// What a monitor did, when it stops.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MonitorReport {
    /// Samples evaluated.
    pub samples: u64,
    /// Notifications produced (firing and resolved).
    pub notifications: u64,
    /// The sampler's counters (zero without a sampler).
    pub sampler: SamplerStats,
    /// Delivery counters per sink, after the final delivery.
    pub sinks: Vec<SinkStats>,
    /// Sinks still delivering when the deadline passed.
    pub late_sinks: Vec<String>,
}

impl Monitor {
    /// A builder with the defaults.
    pub fn builder() -> MonitorBuilder {
        MonitorBuilder {
            rules: RuleSet::defaults(),
            source: None,
            interval: None,
            sinks: Vec::new(),
            log: true,
            stdout: false,
            profiler: true,
            sections: Vec::new(),
            recordings: Vec::new(),
            policy: RetryPolicy::default(),
            capacity: 1024,
        }
    }

    /// Evaluates one sample now (a monitor built without a sampler, or an extra sample).
    pub fn observe(&self, sample: SystemMetrics) {
        self.shared.observe(sample);
    }

    /// The whole `/metrics` page.
    pub fn page(&self) -> String {
        self.shared.page()
    }

    /// Every pending or firing alert instance.
    pub fn statuses(&self) -> Vec<AlertStatus> {
        self.shared.lock().statuses.clone()
    }

    /// How many alert instances fire now.
    pub fn firing(&self) -> usize {
        self.shared
            .lock()
            .statuses
            .iter()
            .filter(|s| s.state == AlertState::Firing)
            .count()
    }

    /// The last sample evaluated.
    pub fn last_sample(&self) -> Option<SystemMetrics> {
        self.shared.lock().last.clone()
    }

    /// Samples evaluated so far.
    pub fn samples(&self) -> u64 {
        self.shared.lock().samples
    }

    /// The last notifications produced (at most 64), oldest first.
    pub fn recent(&self) -> Vec<Notification> {
        self.shared.lock().recent.iter().cloned().collect()
    }

    /// Delivery counters per sink.
    pub fn sink_stats(&self) -> Vec<SinkStats> {
        self.shared.lock().dispatcher.stats()
    }

    /// The rules, for status pages.
    pub fn rules(&self) -> Vec<crate::rule::Rule> {
        self.shared.lock().eval.rules().to_vec()
    }

    /// Stops sampling, then waits up to `deadline` for the sinks to deliver what is queued.
    /// Takes `&self`, so a monitor shared with request handlers (`Arc<Monitor>`) can be
    /// stopped; the page stays available afterwards, and later calls report the same counts.
    pub fn stop(&self, deadline: Duration) -> MonitorReport {
        let sampler = self
            .sampler
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .map(Sampler::stop);
        for r in &self.shared.recordings {
            r.stop();
        }
        let mut s = self.shared.lock();
        if let Some(stats) = sampler {
            s.sampler_stats = stats;
        }
        let sampler = s.sampler_stats;
        let late_sinks = s.dispatcher.shutdown(deadline);
        MonitorReport {
            samples: s.samples,
            notifications: s.notifications,
            sampler,
            sinks: s.dispatcher.stats(),
            late_sinks,
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let sampler = self
            .sampler
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(sampler) = sampler {
            sampler.stop();
        }
    }
}

impl Exposition for Monitor {
    fn encode_prometheus(&self, out: &mut String) {
        out.push_str(&self.shared.page());
    }
}

#[cfg(test)]
mod test {
    use std::time::{Duration, SystemTime};

    use ops_core::exposition::{Encoder, MetricType, section};
    use ops_metrics::{FakeSource, SystemMetrics};

    use super::*;
    use crate::{FakeSink, SinkError};

    struct Never;
    impl AlertSink for Never {
        fn name(&self) -> &'static str {
            "never"
        }
        fn send(&self, _: &[Notification]) -> std::result::Result<(), SinkError> {
            Ok(())
        }
        fn check(&self) -> std::result::Result<(), SinkError> {
            Err(SinkError::Permanent {
                reason: "no route".into(),
            })
        }
    }

    fn memory(percent: f64, secs: u64) -> SystemMetrics {
        let mut m = SystemMetrics::empty(
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs),
        );
        m.memory_percent = percent;
        m
    }

    #[test]
    fn observing_fires_delivers_and_shows_on_the_page() {
        let sink = FakeSink::new();
        let monitor = Monitor::builder()
            .log(false)
            .profiler(false)
            .sink(sink.clone())
            .section(section(|out: &mut String| {
                Encoder::new(out).single("shop_orders_total", "Orders.", MetricType::Counter, 3u64);
            }))
            .build()
            .expect("monitor");
        monitor.observe(memory(50.0, 0));
        monitor.observe(memory(97.0, 1));
        assert!(sink.wait_for(1, Duration::from_secs(5)));
        assert_eq!(monitor.firing(), 1);
        assert_eq!(monitor.samples(), 2);
        assert_eq!(monitor.recent()[0].message(), "High memory usage: 97.0%");
        let page = monitor.page();
        assert!(
            page.contains("ops_alerts{alertname=\"HighMemoryUsage\",alertstate=\"firing\"} 1\n"),
            "{page}"
        );
        assert!(page.contains("ops_monitor_samples_total 2\n"), "{page}");
        assert!(page.ends_with("shop_orders_total 3\n"), "{page}");
        assert_eq!(
            ops_core::exposition::families(&page).map(|f| f.len() > 10),
            Ok(true)
        );
        monitor.observe(memory(40.0, 2));
        assert!(sink.wait_for(2, Duration::from_secs(5)));
        assert!(sink.notifications()[1].resolved);
        let report = monitor.stop(Duration::from_secs(5));
        assert_eq!((report.samples, report.notifications), (3, 2));
        assert_eq!(report.sinks[0].delivered, 2);
    }

    #[test]
    fn a_sampling_monitor_evaluates_every_sample() {
        let sink = FakeSink::new();
        // Fresh timestamps, as the fake gives once its script is used up: no resend is due.
        let now = |percent| {
            let mut m = SystemMetrics::empty(SystemTime::now());
            m.memory_percent = percent;
            m
        };
        let source = FakeSource::new().then(now(99.0)).then(now(99.5));
        let monitor = Monitor::builder()
            .log(false)
            .sink(sink.clone())
            .source(source)
            .interval(Duration::from_millis(10))
            .start()
            .expect("monitor");
        assert!(sink.wait_for(1, Duration::from_secs(10)));
        let report = monitor.stop(Duration::from_secs(5));
        assert!(report.sampler.samples >= 1, "{report:?}");
        assert_eq!(report.notifications, 1);
    }

    #[test]
    fn invalid_rules_and_sinks_are_refused_at_start() {
        let mut rules = RuleSet::defaults();
        rules.interval = Duration::from_nanos(1);
        let err = Monitor::builder().rules(rules).build().expect_err("1ns");
        assert_eq!(
            err.to_string(),
            "field `interval`: must be at least 10ms (got 1ns)"
        );
        let err = Monitor::builder().sink(Never).build().expect_err("sink");
        assert_eq!(err.to_string(), "alert sink never: no route (not retried)");
    }
}
