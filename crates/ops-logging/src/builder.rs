//! The builder: settings, files, the layer, the subscriber.

use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::time::Duration;

use tracing::Subscriber;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;

use crate::error::Error;
use crate::guard::LogGuard;
use crate::layer::{self, FieldNames, JsonLayer, StaticValue};
use crate::ops_layer::OpsLayer;
use crate::redact::{DEFAULT_REDACTED, Redactor};
use crate::rotate::RotatingFile;
use crate::writer::{self, Overflow, Stream, WriterConfig};

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
    redact_values: bool,
    follow_links: bool,
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
            redact_values: true,
            follow_links: false,
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

    /// Replaces the list of secret name fragments (default [`DEFAULT_REDACTED`]), matched
    /// case-insensitively, with `-` and `.` read as `_`, inside field names, member names of
    /// [`RawJson`](crate::RawJson) values, and `key=value` / `key: value` keys inside text. An
    /// empty list turns all redaction off.
    ///
    /// ```
    /// let mut names: Vec<&str> = ops_logging::DEFAULT_REDACTED.to_vec();
    /// names.push("otp");
    /// let builder = ops_logging::Logging::builder("api").redact(names);
    /// # drop(builder);
    /// ```
    pub fn redact<I, S>(mut self, fragments: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.redacted = fragments.into_iter().map(Into::into).collect();
        self
    }

    /// Whether text values are scanned for secrets (default on): `Bearer` tokens, `key=value`
    /// and `key: value` pairs whose key matches the list, and URL credentials, in messages,
    /// string fields, `Display`/`Debug` values and span fields. Off, only field names are
    /// matched.
    pub fn redact_values(mut self, on: bool) -> Self {
        self.redact_values = on;
        self
    }

    /// Opts out of the file policy's refusal of links (default off): a log path that is a
    /// symbolic link to a regular file, or a dangling one, is followed (creating its target),
    /// and a file with other hard links is written to. Rotation then renames the link itself,
    /// as Python's handler does, and a fresh regular file takes its place. Links to a character
    /// device or FIFO (`/dev/stdout`) are followed either way, and never rotated. See the crate
    /// docs, "Files".
    pub fn follow_links(mut self, on: bool) -> Self {
        self.follow_links = on;
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

    /// The main stream's file name: `<service>.log`, or `<service>-main.log` for a service
    /// named like a stream's file (`access`, `error`, `audit`) when streams are separate.
    fn main_file_name(&self) -> String {
        let collides = self.separate_streams
            && Stream::ALL
                .iter()
                .any(|s| *s != Stream::Main && s.name() == self.service);
        if collides {
            format!("{}-main.log", self.service)
        } else {
            format!("{}.log", self.service)
        }
    }

    fn open_files(&self) -> Result<[Option<RotatingFile>; 4], Error> {
        crate::open::create_dirs(&self.dir).map_err(|source| Error::CreateDir {
            path: self.dir.clone(),
            source,
        })?;
        let open = |name: String, mode: u32| {
            RotatingFile::open(
                self.dir.join(name),
                self.max_bytes,
                self.backups,
                mode,
                self.follow_links,
            )
        };
        let main = open(self.main_file_name(), 0o640)?;
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

    /// Builds the layer, to stack with other layers, and the guard that owns the writer. The
    /// level filter is applied to this layer only.
    ///
    /// ```no_run
    /// use tracing_subscriber::prelude::*;
    ///
    /// let (ops, guard) = ops_logging::Logging::builder("checkout").dir("logs").layer()?;
    /// tracing_subscriber::registry().with(ops).init();
    /// # drop(guard);
    /// # Ok::<(), ops_logging::Error>(())
    /// ```
    ///
    /// # Errors
    /// A bad filter, a directory or file that cannot be created or that the file policy
    /// refuses ([`Error::Symlink`], [`Error::UnsafeFile`]), a zero queue, or a thread that
    /// cannot start.
    pub fn layer<S>(self) -> Result<(OpsLayer<S>, LogGuard), Error>
    where
        S: Subscriber + for<'a> LookupSpan<'a> + 'static,
    {
        if self.service.trim().is_empty() || self.service.contains(['/', '\0']) {
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
        let mut paths: [Option<PathBuf>; 4] = Default::default();
        let (shared, handle) = if self.files {
            let files = self.open_files()?;
            for (path, file) in paths.iter_mut().zip(&files) {
                *path = file.as_ref().map(|f| f.path().to_path_buf());
            }
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
        let redactor = Redactor::new(&self.redacted, self.redact_values);
        let mut static_fields = Vec::new();
        for (k, v) in &self.static_fields {
            layer::encode_static(&mut static_fields, k, v, &redactor);
        }
        let json_layer = JsonLayer {
            shared: shared.clone(),
            service: self.service.clone(),
            static_fields,
            static_keys: self.static_fields.iter().map(|(k, _)| k.clone()).collect(),
            names: self.names,
            redactor,
            console: self.console.then_some(self.console_level),
            separate_streams: self.separate_streams,
        };
        let guard = LogGuard::new(shared, handle, self.shutdown_timeout, self.dir, paths);
        Ok((OpsLayer::new(json_layer, filter), guard))
    }

    /// Builds the subscriber (the registry with the [`layer`](Self::layer)) without installing
    /// it, for tests and scoped use with `tracing::dispatcher::with_default`, and the guard
    /// that owns the writer.
    ///
    /// # Errors
    /// As [`layer`](Self::layer).
    pub fn build(self) -> Result<(tracing::Dispatch, LogGuard), Error> {
        let (layer, guard) = self.layer()?;
        let subscriber = tracing_subscriber::registry().with(layer);
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
