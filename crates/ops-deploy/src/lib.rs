//! Building blocks of health-gated releases.
//!
//! This crate currently provides the parts of `ops deploy` that make a deploy safe to interrupt
//! and to run concurrently:
//! - [`History`]: one versioned JSON document per service, written atomically (temp file,
//!   fsync, rename, fsync of the directory), so a `kill -9` at any moment leaves a file that
//!   parses and never loses a recorded release; [`History::last_healthy`] is the rollback
//!   target (the newest release recorded healthy, never merely the newest backup).
//! - [`DeployLock`]: an exclusive `flock` that the kernel releases when its holder dies, with
//!   the holder's pid, host, start time and command for `ops lock status`, a wait option and a
//!   forced release.
//! - [`health`]: HTTP health checks with Docker's HEALTHCHECK fields, every attempt bounded by
//!   its own timeout, so a hanging endpoint is a failed attempt, never a hang.
//! - [`Deployer`]: the stop-start strategy over a [`Runtime`] ([`LocalProcess`] so far): lock,
//!   record, replace, health-check, and on failure bring back the newest release recorded
//!   healthy, health-checked too. Docker and blue/green are not written yet.
//!
//! ```
//! use ops_deploy::{DeployLock, History, Outcome, ReleaseRecord};
//! let dir = tempfile::tempdir()?;
//! let _lock = DeployLock::acquire(dir.path().join("deploy.lock"), "ops deploy v2", None)?;
//! let path = dir.path().join("history.json");
//! let mut history = History::load(&path, "web")?;
//! let mut release = ReleaseRecord::new("web-2", "web:2", "blue-green");
//! release.outcome = Outcome::Healthy;
//! history.upsert(release);
//! history.save(&path)?;
//! assert_eq!(History::load(&path, "web")?.last_healthy().map(|r| r.id.as_str()), Some("web-2"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod config;
mod deploy;
mod error;
pub mod health;
mod history;
mod lock;
mod runtime;

pub use crate::config::DeployConfig;
pub use crate::deploy::{DeployOutcome, Deployer};
pub use crate::error::{Error, Result};
pub use crate::health::{HealthCheck, ProbeError, Unhealthy};
pub use crate::history::{HISTORY_VERSION, History, Outcome, ReleaseRecord, write_atomic};
pub use crate::lock::{DeployLock, Holder};
pub use crate::runtime::{DockerCli, Instance, LocalProcess, Runtime};
