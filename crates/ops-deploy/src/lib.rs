//! Health-gated releases with automatic rollback and zero-downtime blue-green.
//!
//! `ops-deploy` is the engine behind `ops deploy`. A deploy takes an exclusive lock, records the
//! release, runs it with a [`Strategy`] on a [`Runtime`], gates it on health checks, and on
//! failure brings back the newest release recorded healthy — never merely the newest backup.
//! - [`Strategy::StopStart`]: the playbook's flow made safe (stop, start, check, roll back).
//! - [`Strategy::BlueGreen`]: the new release starts beside the old one, is checked, then the
//!   traffic moves through a [`TrafficSwitch`] ([`Nginx`]: upstream file, `nginx -t`, graceful
//!   reload), is checked again through the proxy, and the old release drains and stops. The
//!   old release serves until the switch; a failed release never receives traffic.
//! - Runtimes: [`LocalProcess`] (a command per release; SIGTERM, then SIGKILL) and
//!   [`DockerCli`] (containers named and labelled per release, published on 127.0.0.1, volumes
//!   never removed, the image ID pinned by a tag so a rollback runs exactly it, the image's own
//!   HEALTHCHECK honoured).
//! - [`History`]: one versioned JSON file per service, written atomically (temp file, fsync,
//!   rename, fsync of the directory): a `kill -9` at any moment leaves a file that parses.
//! - [`DeployLock`]: `flock`, released by the kernel when its holder dies; holder details for
//!   `ops lock status`.
//! - [`health`]: HTTP checks with Docker's HEALTHCHECK fields, each attempt bounded by its own
//!   timeout, so a hanging endpoint is one failed attempt, never a hang.
//! - [`Deployment`]: the state machine ([`State`]: locked, starting, checking, switching,
//!   draining, done; or rolling back, rolled back, failed); every transition is a `tracing`
//!   event and an [`Event`] for the caller. [`Hooks`] run at pre-deploy (a failure aborts), post-deploy and
//!   on-rollback; pruning keeps the newest `keep` releases.
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
mod engine;
mod error;
mod fake;
mod fs;
pub mod health;
mod history;
mod hooks;
mod lock;
mod names;
mod plan;
mod proxy;
mod runtime;
mod state;

pub use crate::config::{DeployConfig, ProxyConfig};
pub use crate::engine::{DeployOutcome, Deployer, Event, FailureReason};
pub use crate::error::{Error, Result};
pub use crate::fake::{FakeBehavior, FakeCall, FakeRuntime, FakeTrafficSwitch, SwitchCall};
pub use crate::health::{HealthCheck, ProbeError, Unhealthy};
pub use crate::history::{HISTORY_VERSION, History, Outcome, ReleaseRecord, write_atomic};
pub use crate::hooks::{Hooks, Phase};
pub use crate::lock::{DeployLock, Holder};
pub use crate::plan::{DeployPlan, Strategy, UnknownStrategy};
pub use crate::proxy::{Nginx, TrafficSwitch};
pub use crate::runtime::{DockerCli, Instance, LocalProcess, Runtime};
pub use crate::state::{Deployment, InvalidTransition, State, Transition};
