//! The writer's counters as a section of a Prometheus page.

use ops_core::exposition::{Encoder, Exposition, MetricType};

use crate::guard::LogGuard;
use crate::writer::{LogStats, Stream, StreamStats};

/// One family: its name, its help text, and which counter it shows.
type Family = (&'static str, &'static str, fn(&StreamStats) -> u64);

/// The families, in page order.
const FAMILIES: [Family; 5] = [
    ("ops_log_lines_written_total", "Log lines written.", |s| {
        s.written
    }),
    (
        "ops_log_lines_dropped_total",
        "Log lines dropped: queue full.",
        |s| s.dropped,
    ),
    (
        "ops_log_lines_lost_total",
        "Log lines lost to write errors.",
        |s| s.lost,
    ),
    (
        "ops_log_write_errors_total",
        "Log write and rotation errors.",
        |s| s.write_errors,
    ),
    ("ops_log_rotations_total", "Log file rotations.", |s| {
        s.rotations
    }),
];

/// Five counter families, each with one series per stream (`stream` = `main`, `access`,
/// `error`, `audit`): `ops_log_lines_written_total`, `ops_log_lines_dropped_total`,
/// `ops_log_lines_lost_total`, `ops_log_write_errors_total`, `ops_log_rotations_total`.
///
/// ```
/// use ops_core::exposition::Exposition as _;
/// let page = ops_logging::LogStats::default().to_prometheus();
/// assert!(page.starts_with("# HELP ops_log_lines_written_total Log lines written.\n"));
/// assert!(page.contains("ops_log_rotations_total{stream=\"audit\"} 0\n"));
/// ```
impl Exposition for LogStats {
    fn encode_prometheus(&self, out: &mut String) {
        let mut e = Encoder::new(out);
        for (name, help, counter) in FAMILIES {
            e.family(name, help, MetricType::Counter);
            for stream in Stream::ALL {
                e.sample(
                    name,
                    &[("stream", stream.name())],
                    counter(&self.stream(stream)),
                );
            }
        }
    }
}

/// The guard's counters as they are now: the same section as [`LogStats`]'.
///
/// ```no_run
/// use ops_core::exposition::Exposition as _;
/// let guard = ops_logging::Logging::builder("api").install()?;
/// let page = guard.to_prometheus(); // serve it on /metrics
/// # Ok::<(), ops_logging::Error>(())
/// ```
impl Exposition for LogGuard {
    fn encode_prometheus(&self, out: &mut String) {
        self.stats().encode_prometheus(out);
    }
}

/// The writer's counters as a page section that lives apart from the guard: give it to a
/// monitor (`Monitor::builder().section(guard.section())`) while the guard stays with the
/// program. It reads the counters at every scrape.
#[derive(Clone)]
pub struct LogSection {
    shared: Option<std::sync::Arc<crate::writer::Shared>>,
}

impl std::fmt::Debug for LogSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSection").finish_non_exhaustive()
    }
}

impl LogSection {
    /// The counters now.
    pub fn stats(&self) -> LogStats {
        self.shared.as_ref().map(|s| s.stats()).unwrap_or_default()
    }
}

impl Exposition for LogSection {
    fn encode_prometheus(&self, out: &mut String) {
        self.stats().encode_prometheus(out);
    }
}

impl LogGuard {
    /// The counters as a page section that can outlive this borrow (it shares the counters,
    /// not the writer: dropping the guard still stops the writer).
    ///
    /// ```no_run
    /// use ops_core::exposition::Exposition as _;
    /// let guard = ops_logging::Logging::builder("api").install()?;
    /// let section = guard.section(); // 'static + Send + Sync, for a monitor's page
    /// assert!(section.to_prometheus().contains("ops_log_lines_written_total{stream=\"main\"}"));
    /// # Ok::<(), ops_logging::Error>(())
    /// ```
    pub fn section(&self) -> LogSection {
        LogSection {
            shared: self.shared_counters(),
        }
    }
}
