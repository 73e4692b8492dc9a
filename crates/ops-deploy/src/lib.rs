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
//! - [`Strategy::Canary`]: the new release starts beside the stable one and gets a growing
//!   share of the traffic in steps (`[canary] steps = [10, 25, 50, 100]`, nginx weights, each
//!   a graceful reload); at each step an [`analysis`] measures its signals — error ratio, a
//!   latency quantile, any `PromQL` — against conditions, absolute or relative to the stable
//!   release, with Argo Rollouts' limits (failed, inconclusive and errored measurements
//!   counted cumulatively; too few requests hold the deploy, never promote it, never fail
//!   it). A failure aborts: weight back to 0, the canary stopped, the release recorded
//!   failed with the failing value ([`FailureReason::Analysis`]: `error ratio 0.21 > 0.01 at
//!   step 2, 25 %`), the `on_rollback` hook run. Steps can pause for `ops deploy promote` or
//!   `abort` ([`Deployer::decide`]); blue-green's `verify = "2m"` runs the same analysis after
//!   the switch and switches back at once on failure. The signals come from the releases' own
//!   `/metrics`, nginx's JSON access log or a Prometheus server ([`analysis::SignalSource`]).
//! - Change records: every deploy, promotion, abort and rollback is a `tracing` event with
//!   target `audit` (who — [`Actor`], user and host —, what, when, how it ended), which
//!   ops-logging writes to its audit stream, and a [`ChangeRecord`] in the release's history;
//!   [`DeployStats`] turns the history into deployments by outcome, change-failure ratio and
//!   time to restore (DORA), a `/metrics` section.
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
//!   event and an [`Event`] for the caller; an invalid transition is a typed error
//!   ([`Error::Transition`]), never ignored. [`Hooks`] run at pre-deploy (a failure aborts),
//!   post-deploy and on-rollback; pruning keeps the newest `keep` releases.
//! - [`DeployOutcome`]: healthy, rolled back, nothing healthy or aborted, with a typed
//!   [`FailureReason`] (start failed, unhealthy with its [`Unhealthy`], switch refused, proxy
//!   re-check failed, hook failed, interrupted, …) whose text is what outcomes and history
//!   records show; [`DeployOutcome::exit_code`] gives `ops deploy`'s 0, 1 or 4, and it
//!   serializes as `ops deploy --json` prints it.
//! - Before a stop-start deploy stops the running release it checks what it can: the state
//!   and log directories take files, the command exists or the image is there
//!   ([`Runtime::preflight`]); a failure aborts with the operating system's reason and the old
//!   release keeps serving. A release whose process or container exits fails its health wait
//!   at once ([`Runtime::exited`]).
//! - Safe by construction: durations are parsed by [`ops_core::duration`] (at most 366 days,
//!   zero refused for intervals and timeouts); names that become files, nginx configuration
//!   or commands (service, release ids — also those read from `history.json` —, container
//!   names, the upstream name, the health path) are checked ([`Error::InvalidValue`]); the
//!   state directory is created 0750, logs and the lock 0640, history, current state and pid
//!   files 0600 whatever the umask.
//! - [`backup`]: the service's data (host directories, named Docker volumes) backed up by
//!   restic or a built-in tar archive with a SHA-256 manifest, on request or before every
//!   deploy (`backup = "before-deploy"`: a failed backup aborts the deploy with nothing
//!   changed, [`FailureReason::Backup`]); verified by a restore into a scratch directory
//!   compared file by file; restored on request ([`Deployer::restore`], `ops restore
//!   --before-release X`) after a backup of what it overwrites; retention that never deletes
//!   the newest verified backup; a `/metrics` section ([`backup::BackupStatus`]).
//! - [`FakeRuntime`], [`FakeTrafficSwitch`] and [`FakeSource`]: scripted releases (healthy,
//!   unhealthy after N checks, failing to start, crashing, hanging, missing), a recording
//!   switch (weights too) that can refuse, and scripted signals, for tests of code around
//!   deploys without processes, sockets or nginx.
//!
//! ```
//! use ops_deploy::{DeployConfig, DeployOutcome, Deployer, FailureReason, FakeBehavior, FakeRuntime};
//!
//! let dir = tempfile::tempdir()?;
//! let mut config = DeployConfig::from_toml(
//!     "service = \"web\"\nport = 8080\n[health]\ninterval = \"1ms\"\nretries = 3\n",
//!     "web.toml".as_ref(),
//! )?;
//! config.state_dir = dir.path().join("state");
//! let runtime = FakeRuntime::new()
//!     .artifact("web:2", FakeBehavior::FailStart("image not found".into()));
//! let deployer = Deployer::new(config, runtime.clone());
//! assert_eq!(deployer.deploy("web:1", "ci", None, |_| {})?.exit_code(), 0);
//! let outcome = deployer.deploy("web:2", "ci", None, |_| {})?;
//! match &outcome {
//!     DeployOutcome::RolledBack { restored, reason: FailureReason::StartFailed(e), .. } => {
//!         assert_eq!(restored, "web-1");
//!         assert_eq!(e.to_string(), "start web:2: image not found");
//!     }
//!     other => panic!("{other:?}"),
//! }
//! assert_eq!(outcome.exit_code(), 1);
//! assert_eq!(runtime.running(), ["web-1"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The history and the lock on their own:
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

pub mod analysis;
mod audit;
pub mod backup;
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
mod stats;

pub use crate::analysis::{AnalysisConfig, CanaryConfig, Decision};
pub use crate::audit::Actor;
pub use crate::config::{DeployConfig, ProxyConfig, SloPolicy};
pub use crate::engine::{DeployOutcome, Deployer, Event, FailureReason, Progress};
pub use crate::error::{Error, Result};
pub use crate::fake::{
    FakeBehavior, FakeCall, FakeRuntime, FakeSource, FakeTrafficSwitch, SwitchCall,
};
pub use crate::health::{HealthCheck, ProbeError, Unhealthy};
pub use crate::history::{ChangeRecord, HISTORY_VERSION, History, Outcome, ReleaseRecord};
pub use crate::hooks::{Hooks, Phase};
pub use crate::lock::{DeployLock, Holder};
pub use crate::plan::{DeployPlan, Strategy, UnknownStrategy};
pub use crate::proxy::{Nginx, TrafficSwitch};
pub use crate::runtime::{DockerCli, Instance, LocalProcess, Runtime};
pub use crate::state::{Deployment, InvalidTransition, State, Transition};
pub use crate::stats::DeployStats;
