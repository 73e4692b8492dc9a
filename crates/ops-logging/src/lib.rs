//! Lossless, fast structured logging on `tracing`: flat JSON lines, Python-style size rotation,
//! access/error/audit streams, redaction of secret names and values, and log files that other
//! users cannot hijack. Installed in three lines, or stacked as a layer beside others.
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
//! # With other layers
//! [`LoggingBuilder::layer`] gives the same logger as a `tracing_subscriber::Layer`, its level
//! filter applied to itself only, to stack with OpenTelemetry, tokio-console, `fmt` or a layer
//! of your own; [`install`](LoggingBuilder::install) is the registry with this layer alone.
//!
//! ```no_run
//! use tracing_subscriber::prelude::*;
//!
//! let (ops, _guard) = ops_logging::Logging::builder("checkout").console(false).layer()?;
//! tracing_subscriber::registry()
//!     .with(ops)
//!     .with(tracing_subscriber::fmt::layer().with_target(false))
//!     .init();
//! # Ok::<(), ops_logging::Error>(())
//! ```
//!
//! # Lines
//! One flat JSON object per line: `timestamp` (RFC 3339 UTC), `level`, `message`, `service`, the
//! builder's static fields, the event's fields, then its spans' fields (innermost first) at the
//! top level. No key appears twice: a later duplicate is skipped, a field named like a reserved
//! key is written as `fields.<name>`. Numbers and booleans stay typed.
//! [`FieldNames::Ecs`] and [`FieldNames::OpenTelemetry`] rename the keys for shippers.
//!
//! # Redaction
//! A field whose name contains a fragment of [`DEFAULT_REDACTED`] (`password`, `pass`, `pwd`,
//! `token`, `jwt`, `auth`, `api_key`, `access_key`, `secret`, `cookie`, `session`…; any case,
//! `-` and `.` read as `_`) is written `"[REDACTED]"`. Text values are scanned too, in the
//! same pass that escapes them: `Bearer` tokens, `key=value` / `key: value` / `"key":"value"`
//! pairs and query parameters whose key matches (`?token=…`, `password=…`,
//! `Authorization: Basic …`), and URL credentials (`postgres://app:[REDACTED]@db`), in
//! messages, string fields, `Display` and `Debug` values (`Config { password: "[REDACTED]" }`)
//! and span fields. [`RawJson`] is checked when made (one JSON value, no raw newline) and its
//! members are redacted at any depth. [`LoggingBuilder::redact`] replaces the list;
//! [`LoggingBuilder::redact_values`] turns the value scan off.
//!
//! # Streams
//! `<service>.log` gets every event except access and audit ones; `access.log` the events with
//! target `access` ([`log_request`]); `audit.log` those with target `audit` (files 0600, never
//! dropped); `error.log` every WARN and ERROR besides. A service named `access`, `error` or
//! `audit` writes its own lines to `<service>-main.log`, so they never mix with a stream's
//! ([`LogGuard::path`] says where each stream goes). Each file rotates on its own: `name.log`,
//! `name.log.1` … `name.log.5` at 10 MiB by default, decided before a line is written (never
//! split).
//!
//! # Files
//! The file policy, after what syslog daemons and logrotate do, so that no other local user can
//! redirect, read or corrupt the logs:
//!
//! - **Directories** that ops-logging creates get mode 0750, whatever the umask. Existing ones
//!   are left alone.
//! - **Files** are created 0640 (`audit.log` 0600) at open, with no chmod race. An existing file
//!   looser than that is tightened (0666 → 0640, `audit.log` → 0600) and a `warn` line saying
//!   so is written once into it (and on stderr); when it is not ours to change, that line says
//!   so instead.
//! - **Links are not followed**: the file is opened with `O_NOFOLLOW`, and a log path that is a
//!   symbolic link to a regular file, a directory or nothing, or a file with other hard links,
//!   is refused at start with [`Error::Symlink`] or [`Error::UnsafeFile`] naming the path and
//!   the link's target. A link planted while the logger runs is refused the same way when the
//!   path is reopened: the lines are counted as lost and a write error is reported, and writing
//!   resumes once the link is gone. [`LoggingBuilder::follow_links`] opts out.
//! - **Devices and FIFOs** are written to and never rotated, renamed or truncated: a log path
//!   linked to `/dev/stdout`, `/dev/stderr` or `/dev/null` (the container pattern) works and
//!   stays a link. A FIFO must have a reader when the logger starts.
//! - **Owners**: a regular file or FIFO owned by another user (neither this process's user nor
//!   root) is refused, since that user could read every line; a FIFO that is this process's own
//!   stdout, stderr or stdin is fine.
//! - Every check is made on the opened descriptor (`fstat`), not on an earlier look at the path.
//! - **Whole lines only**: the size is re-read from the descriptor before each batch (a
//!   `copytruncate` or `: > file` from outside is seen), and a write cut short by a full disk is
//!   cut back to its last whole line, never past the file's current end: no file ever holds
//!   part of a line or a NUL byte it was not given.
//!
//! # The writer
//! Callers only format the line and append it to an in-memory batch; a background thread writes
//! the batches, one `write` per run of lines. When the queue is full the caller waits
//! ([`Overflow::Block`], the default: nothing is lost) or, with [`Overflow::Drop`], the line is
//! dropped, counted, and a "dropped N lines" line is written in its place. The [`LogGuard`]
//! flushes on [`flush`](LogGuard::flush) and on drop (waiting as long as it takes, or up to a
//! timeout, then saying how many lines were left), and exposes every counter, also as a
//! Prometheus page section ([`ops_core::exposition::Exposition`] for [`LogStats`] and
//! [`LogGuard`], and [`LogGuard::section`] for a [`LogSection`] that a monitor can keep):
//!
//! ```no_run
//! use ops_core::exposition::Exposition as _;
//! let guard = ops_logging::Logging::builder("checkout").install()?;
//! let mut page = String::new();
//! guard.encode_prometheus(&mut page); // ops_log_lines_written_total{stream="main"} …
//! # Ok::<(), ops_logging::Error>(())
//! ```

#![warn(missing_docs)]

mod builder;
mod console;
mod error;
mod exposition;
mod guard;
mod helpers;
mod json;
mod layer;
mod open;
mod ops_layer;
mod redact;
mod rotate;
mod scan;
mod time;
mod writer;

pub use crate::builder::{Logging, LoggingBuilder};
pub use crate::error::Error;
pub use crate::exposition::LogSection;
pub use crate::guard::LogGuard;
pub use crate::helpers::{RawJson, log_error, log_request};
pub use crate::layer::{FieldNames, StaticValue};
pub use crate::ops_layer::OpsLayer;
pub use crate::redact::{DEFAULT_REDACTED, REDACTED};
pub use crate::writer::{LogStats, Overflow, Stream, StreamStats};
