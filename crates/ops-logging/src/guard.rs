//! The guard that owns the writer thread.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::writer::{LogStats, Shared, Stream};

/// Owns the writer thread. Dropping it writes every queued line (waiting as long as it takes,
/// or up to the builder's timeout) and reports on stderr any line it could not write.
#[must_use = "dropping the guard stops the writer: keep it alive for the program's lifetime"]
pub struct LogGuard {
    shared: Option<Arc<Shared>>,
    handle: Option<JoinHandle<()>>,
    timeout: Option<Duration>,
    dir: PathBuf,
    paths: [Option<PathBuf>; 4],
}

impl std::fmt::Debug for LogGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogGuard")
            .field("dir", &self.dir)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl LogGuard {
    pub(crate) fn new(
        shared: Option<Arc<Shared>>,
        handle: Option<JoinHandle<()>>,
        timeout: Option<Duration>,
        dir: PathBuf,
        paths: [Option<PathBuf>; 4],
    ) -> Self {
        LogGuard {
            shared,
            handle,
            timeout,
            dir,
            paths,
        }
    }

    /// The writer's shared state, for [`LogGuard::section`].
    pub(crate) fn shared_counters(&self) -> Option<Arc<Shared>> {
        self.shared.clone()
    }

    /// Waits until every line logged before the call is written (or counted as lost).
    ///
    /// # Errors
    /// The number of lines still unwritten when the guard's timeout ran out, as `Err(lines)`.
    pub fn flush(&self) -> Result<(), u64> {
        match &self.shared {
            Some(shared) => match shared.flush(self.timeout) {
                0 => Ok(()),
                n => Err(n),
            },
            None => Ok(()),
        }
    }

    /// Every counter: accepted, written, dropped, lost lines, write errors and rotations, per
    /// stream.
    pub fn stats(&self) -> LogStats {
        self.shared.as_ref().map(|s| s.stats()).unwrap_or_default()
    }

    /// The log directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file a stream is written to (`None` without files, or for access, error and audit
    /// when streams are not separate).
    ///
    /// ```no_run
    /// let (_, guard) = ops_logging::Logging::builder("audit").dir("logs").build()?;
    /// assert_eq!(guard.path(ops_logging::Stream::Main), Some("logs/audit-main.log".as_ref()));
    /// assert_eq!(guard.path(ops_logging::Stream::Audit), Some("logs/audit.log".as_ref()));
    /// # Ok::<(), ops_logging::Error>(())
    /// ```
    pub fn path(&self, stream: Stream) -> Option<&Path> {
        self.paths[stream.index()].as_deref()
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.take() {
            let left = shared.shutdown(self.timeout);
            if left > 0 {
                #[allow(clippy::print_stderr)]
                {
                    eprintln!(
                        "ops-logging: {left} lines were not written before the shutdown timeout"
                    );
                }
            } else if let Some(handle) = self.handle.take() {
                let _ = handle.join();
            }
        }
    }
}
