//! Lossless, fast structured logging on `tracing`: flat JSON lines, Python-style size rotation,
//! access/error/audit streams and redaction, installed in three lines.
//!
//! ```no_run
//! let _guard = ops_logging::Logging::builder("checkout").dir("logs").install()?;
//! tracing::info!(order_id = 42, total = 19.5, "order placed");
//! ops_logging::log_request("POST", "/orders", 201, 12.5, Some("u-7"));
//! # Ok::<(), ops_logging::Error>(())
//! ```
//! writes `logs/checkout.log`:
//! ```text
//! {"timestamp":"2026-11-25T02:40:11.123456Z","level":"info","message":"order placed","service":"checkout","order_id":42,"total":19.5}
//! ```
//! and the request to `logs/access.log`.
//!
//! # Lines
//! One flat JSON object per line: `timestamp` (RFC 3339 UTC), `level`, `message`, `service`, the
//! builder's static fields, the event's fields, then its spans' fields (innermost first) at the
//! top level. No key appears twice: a later duplicate is skipped, a field named like a reserved
//! key is written as `fields.<name>`. Numbers and booleans stay typed. Secret-looking fields
//! (`password`, `token`, `authorization`, `api_key`, `cookie`, `session`…) are written `"[REDACTED]"`.
//! [`FieldNames::Ecs`] and [`FieldNames::OpenTelemetry`] rename the keys for shippers.
//!
//! # Streams
//! `<service>.log` gets every event except access and audit ones; `access.log` the events with
//! target `access` ([`log_request`]); `audit.log` those with target `audit` (files 0600, never
//! dropped); `error.log` every WARN and ERROR besides. Each rotates on its own:
//! `name.log`, `name.log.1` … `name.log.5` at 10 MiB by default, decided before a line is
//! written (never split), files created 0640.
//!
//! # The writer
//! Callers only format the line and append it to an in-memory batch; a background thread writes
//! the batches, one `write` per run of lines. When the queue is full the caller waits
//! ([`Overflow::Block`], the default: nothing is lost) or, with [`Overflow::Drop`], the line is
//! dropped, counted, and a "dropped N lines" line is written in its place. The [`LogGuard`]
//! flushes on [`flush`](LogGuard::flush) and on drop (waiting as long as it takes, or up to a
//! timeout, then saying how many lines were left), and exposes every counter.

#![warn(missing_docs)]

mod error;
mod helpers;
mod json;
mod layer;
mod redact;
mod rotate;
mod time;
mod writer;

use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;

pub use crate::error::Error;
pub use crate::helpers::{RawJson, log_error, log_request};
pub use crate::layer::{FieldNames, StaticValue};
pub use crate::redact::{DEFAULT_REDACTED, REDACTED};
pub use crate::writer::{LogStats, Overflow, Stream, StreamStats};

use crate::layer::JsonLayer;
use crate::redact::Redactor;
use crate::rotate::RotatingFile;
use crate::writer::{Shared, WriterConfig};

/// Builds the logging set-up. Defaults are the playbook's: `logs/`, 10 MiB files, 5 backups,
/// INFO (or `RUST_LOG`), JSON files and human console lines.
#[derive(Debug, Clone)]
#[must_use]
#[allow(clippy::struct_excessive_bools)] // independent on/off settings
pub struct LoggingBuilder {
    service: String,
    dir: PathBuf,
    max_bytes: u64,
    backups: u32,
    level: String,
    use_env: bool,
    console: bool,
    console_level: tracing::Level,
    files: bool,
    separate_streams: bool,
    static_fields: Vec<(String, StaticValue)>,
    names: FieldNames,
    redacted: Vec<String>,
    overflow: Overflow,
    queue_bytes: usize,
    shutdown_timeout: Option<Duration>,
    fsync_on_flush: bool,
}

/// Entry point: [`Logging::builder`].
#[derive(Debug)]
pub struct Logging;

impl Logging {
    /// A builder for `service` with the defaults.
    pub fn builder(service: impl Into<String>) -> LoggingBuilder {
        LoggingBuilder {
            service: service.into(),
            dir: PathBuf::from("logs"),
            max_bytes: 10 * 1024 * 1024,
            backups: 5,
            level: "info".to_owned(),
            use_env: true,
            console: true,
            console_level: tracing::Level::TRACE,
            files: true,
            separate_streams: true,
            static_fields: Vec::new(),
            names: FieldNames::Default,
            redacted: DEFAULT_REDACTED.iter().map(|s| (*s).to_owned()).collect(),
            overflow: Overflow::Block,
            queue_bytes: 8 * 1024 * 1024,
            shutdown_timeout: None,
            fsync_on_flush: false,
        }
    }
}

impl LoggingBuilder {
    /// The directory of the log files (created if missing). Default `logs`.
    pub fn dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.dir = dir.as_ref().to_path_buf();
        self
    }

    /// Rotate a file before a line would make it reach this size. 0 never rotates. Default
    /// 10 MiB.
    pub fn max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// How many rotated files to keep (`.1` … `.N`). 0 never rotates (as Python). Default 5.
    pub fn backups(mut self, backups: u32) -> Self {
        self.backups = backups;
        self
    }

    /// The level filter, `tracing` directive syntax without regexes: `info`,
    /// `warn,my_app=debug`. Default `info`. `RUST_LOG`, when set, takes precedence unless
    /// [`ignore_env`](Self::ignore_env) is called.
    pub fn level(mut self, filter: impl Into<String>) -> Self {
        self.level = filter.into();
        self
    }

    /// Ignores `RUST_LOG`.
    pub fn ignore_env(mut self) -> Self {
        self.use_env = false;
        self
    }

    /// Human lines on stderr (default on).
    pub fn console(mut self, on: bool) -> Self {
        self.console = on;
        self
    }

    /// Only events at `level` or more severe reach the console (default: everything the level
    /// filter lets through). The files are not affected: a service can keep every access line
    /// in `access.log` and show only warnings on its terminal.
    ///
    /// ```
    /// let builder = ops_logging::Logging::builder("api").console_level(tracing::Level::WARN);
    /// # drop(builder);
    /// ```
    pub fn console_level(mut self, level: tracing::Level) -> Self {
        self.console_level = level;
        self
    }

    /// JSON files (default on).
    pub fn files(mut self, on: bool) -> Self {
        self.files = on;
        self
    }

    /// Separate access, error and audit files (default on). Off: everything goes to the main
    /// file.
    pub fn separate_streams(mut self, on: bool) -> Self {
        self.separate_streams = on;
        self
    }

    /// A field written on every line (`version`, `host`, `env`…).
    pub fn static_field(mut self, key: impl Into<String>, value: impl Into<StaticValue>) -> Self {
        self.static_fields.push((key.into(), value.into()));
        self
    }

    /// Key names for shippers (default: the playbook's).
    pub fn field_names(mut self, names: FieldNames) -> Self {
        self.names = names;
        self
    }

    /// Replaces the list of secret name fragments (matched case-insensitively inside field
    /// names). An empty list turns redaction off.
    pub fn redact<I, S>(mut self, fragments: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.redacted = fragments.into_iter().map(Into::into).collect();
        self
    }

    /// What a caller does when the queue is full (default [`Overflow::Block`]).
    pub fn overflow(mut self, overflow: Overflow) -> Self {
        self.overflow = overflow;
        self
    }

    /// Bytes of formatted lines the queue holds before callers wait or drop (default 8 MiB).
    pub fn queue_bytes(mut self, bytes: usize) -> Self {
        self.queue_bytes = bytes;
        self
    }

    /// How long dropping the guard waits for the writer (default: as long as it takes).
    pub fn shutdown_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// `fsync` the files on every explicit flush (default off).
    pub fn fsync_on_flush(mut self, on: bool) -> Self {
        self.fsync_on_flush = on;
        self
    }

    fn filter(&self) -> Result<Targets, Error> {
        let from_env = if self.use_env {
            std::env::var("RUST_LOG")
                .ok()
                .filter(|v| !v.trim().is_empty())
        } else {
            None
        };
        let (value, origin) = match from_env {
            Some(v) => (v, "RUST_LOG"),
            None => (self.level.clone(), "builder"),
        };
        Targets::from_str(&value).map_err(|e| Error::Filter {
            value,
            origin,
            reason: e.to_string(),
        })
    }

    fn open_files(&self) -> Result<[Option<RotatingFile>; 4], Error> {
        std::fs::create_dir_all(&self.dir).map_err(|source| Error::CreateDir {
            path: self.dir.clone(),
            source,
        })?;
        let open = |name: String, mode: u32| {
            let path = self.dir.join(name);
            RotatingFile::open(path.clone(), self.max_bytes, self.backups, mode)
                .map_err(|source| Error::Open { path, source })
        };
        let main = open(format!("{}.log", self.service), 0o640)?;
        if !self.separate_streams {
            return Ok([Some(main), None, None, None]);
        }
        Ok([
            Some(main),
            Some(open("access.log".into(), 0o640)?),
            Some(open("error.log".into(), 0o640)?),
            Some(open("audit.log".into(), 0o600)?),
        ])
    }

    /// Builds the subscriber without installing it (for tests and scoped use with
    /// `tracing::dispatcher::with_default`), and the guard that owns the writer.
    ///
    /// # Errors
    /// A bad filter, a directory or file that cannot be created, a zero queue, or a thread that
    /// cannot start.
    pub fn build(self) -> Result<(tracing::Dispatch, LogGuard), Error> {
        if self.service.trim().is_empty() || self.service.contains('/') {
            return Err(Error::Config {
                field: "service",
                reason: format!("{:?} cannot name a log file", self.service),
            });
        }
        if self.queue_bytes == 0 {
            return Err(Error::Config {
                field: "queue_bytes",
                reason: "must be greater than zero".into(),
            });
        }
        let filter = self.filter()?;
        let (shared, handle) = if self.files {
            let files = self.open_files()?;
            let (shared, handle) = writer::start(WriterConfig {
                files,
                capacity: self.queue_bytes,
                overflow: self.overflow,
                service: self.service.clone(),
                fsync_on_flush: self.fsync_on_flush,
            })
            .map_err(Error::Spawn)?;
            (Some(shared), Some(handle))
        } else {
            (None, None)
        };
        let mut static_fields = Vec::new();
        for (k, v) in &self.static_fields {
            layer::encode_static(&mut static_fields, k, v);
        }
        let layer = JsonLayer {
            shared: shared.clone(),
            service: self.service.clone(),
            static_fields,
            static_keys: self.static_fields.iter().map(|(k, _)| k.clone()).collect(),
            names: self.names,
            redactor: Redactor::new(&self.redacted),
            console: self.console.then_some(self.console_level),
            separate_streams: self.separate_streams,
        };
        let subscriber = tracing_subscriber::registry().with(layer.with_filter(filter));
        let guard = LogGuard {
            shared,
            handle,
            timeout: self.shutdown_timeout,
            dir: self.dir,
        };
        Ok((tracing::Dispatch::new(subscriber), guard))
    }

    /// Builds and installs the subscriber as the global default.
    ///
    /// # Errors
    /// As [`build`](Self::build), and [`Error::AlreadyInstalled`].
    pub fn install(self) -> Result<LogGuard, Error> {
        let (dispatch, guard) = self.build()?;
        tracing::dispatcher::set_global_default(dispatch).map_err(|_| Error::AlreadyInstalled)?;
        Ok(guard)
    }
}

/// Owns the writer thread. Dropping it writes every queued line (waiting as long as it takes,
/// or up to the builder's timeout) and reports on stderr any line it could not write.
#[must_use = "dropping the guard stops the writer: keep it alive for the program's lifetime"]
pub struct LogGuard {
    shared: Option<Arc<Shared>>,
    handle: Option<JoinHandle<()>>,
    timeout: Option<Duration>,
    dir: PathBuf,
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
    /// Waits until every line logged before the call is written (or counted as lost).
    ///
    /// # Errors
    /// [`Error::Config`] never; returns the number of lines still unwritten when the guard's
    /// timeout ran out, as `Err(lines)`.
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
