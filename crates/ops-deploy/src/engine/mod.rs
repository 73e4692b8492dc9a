//! The deploy engine: lock, record, run the strategy (stop-start, blue-green or canary),
//! health-check, and on failure bring back the newest release recorded healthy,
//! health-checked too. Every step is a [`State`] transition, emitted as a `tracing` event and
//! handed to the caller's observer.
//!
//! One concept per file: [`Deployer`] and the shared steps here; the plan (`plan.rs`); a
//! deploy (`deploy.rs`); the strategies (`stop_start.rs`, `blue_green.rs`, `canary.rs`); the
//! analysis loop of canary steps and blue-green's verification (`analyse.rs`); manual gates
//! (`gate.rs`); rollback and recovery, interrupted deploys included (`rollback.rs`); pruning
//! (`prune.rs`); outcomes and failure reasons (`outcome.rs`); backups, their verification and
//! restores (`backup/`).

mod analyse;
mod backup;
mod blue_green;
mod canary;
mod deploy;
mod gate;
mod outcome;
mod plan;
mod policy;
mod prune;
mod rollback;
mod stop_start;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

pub use self::gate::Progress;
pub(crate) use self::outcome::StepError;
pub use self::outcome::{DeployOutcome, FailureReason};
use crate::analysis::{AnalysisConfig, AnalysisRecord, Counts, Measurement, SignalSource};
use crate::audit::Actor;
use crate::config::DeployConfig;
use crate::error::{Error, Result};
use crate::fs::write_atomic;
use crate::health::{self, Attempt, HealthCheck, deadline_after};
use crate::history::ChangeRecord;
use crate::history::History;
use crate::hooks::Phase;
use crate::lock::DeployLock;
use crate::plan::Strategy;
use crate::proxy::TrafficSwitch;
use crate::runtime::{Instance, Runtime};
use crate::state::{Deployment, State, Transition};

/// What the engine reports while it works, for progress displays and logs.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Event<'a> {
    /// The deployment moved to another state.
    Transition {
        /// The release being deployed (or rolled back to).
        release: &'a str,
        /// The transition.
        transition: &'a Transition,
    },
    /// One health-check attempt.
    Attempt {
        /// The release checked.
        release: &'a str,
        /// The attempt.
        attempt: &'a Attempt,
        /// Counted failures allowed.
        retries: u32,
    },
    /// Something worth a line: a hook ran, the old release drains, a release was pruned.
    Note {
        /// The release concerned.
        release: &'a str,
        /// What happened.
        message: &'a str,
    },
    /// A measurement of a canary step or of blue-green's verification, decided: the step,
    /// the weight, each value against its condition.
    Analysis {
        /// The release analysed.
        release: &'a str,
        /// `canary` or `verify`.
        phase: &'a str,
        /// The canary's steps in all (0 for a verification).
        steps: u32,
        /// The measurement.
        measurement: &'a Measurement,
        /// The measurements so far, by status.
        counts: &'a Counts,
        /// The analysis's settings (limits, conditions).
        analysis: &'a AnalysisConfig,
    },
}

/// Runs deploys and rollbacks for one service.
///
/// ```no_run
/// use ops_deploy::{DeployConfig, DeployOutcome, Deployer, Event};
/// let config = DeployConfig::load("ops-deploy.toml")?;
/// let deployer = Deployer::new(config.clone(), config.runtime());
/// let outcome = deployer.deploy("web:2.4.1", "deploy web:2.4.1", None, |e| {
///     if let Event::Transition { release, transition } = e {
///         println!("{release}: {} -> {}", transition.from, transition.to);
///     }
/// })?;
/// match &outcome {
///     DeployOutcome::Healthy { release } => println!("{release} is live"),
///     other => println!("{:?}", other.reason()),
/// }
/// std::process::exit(outcome.exit_code().into());
/// # Ok::<(), ops_deploy::Error>(())
/// ```
///
/// Tests of code around a deploy run it on [`FakeRuntime`](crate::FakeRuntime) and
/// [`FakeTrafficSwitch`](crate::FakeTrafficSwitch): no process, no socket, no proxy.
#[derive(Debug)]
pub struct Deployer<R: Runtime> {
    config: DeployConfig,
    runtime: R,
    switch: Option<Box<dyn TrafficSwitch>>,
    /// `--ignore-error-budget`: deploy although an SLO's budget is spent.
    ignore_error_budget: bool,
    /// Where analyses read the signals (default: the config's source, made per analysis).
    source: Option<Mutex<Box<dyn SignalSource>>>,
    /// Who deploys (change records).
    actor: Actor,
}

/// A deployment in progress with its observer.
struct Run<'o> {
    d: Deployment,
    observe: &'o mut dyn FnMut(&Event<'_>),
    /// Inside a rollback the bring-up steps are notes, not transitions.
    quiet: bool,
    /// A deploy analyses (canary steps, verification); a rollback never does.
    analyse: bool,
    /// When the release first received production traffic.
    live_at: Option<SystemTime>,
    /// The analysis, for the history.
    analysis: Option<AnalysisRecord>,
    /// Change records made along the way (promotions, aborts), for the history.
    changes: Vec<ChangeRecord>,
}

impl<'o> Run<'o> {
    fn new(d: Deployment, observe: &'o mut dyn FnMut(&Event<'_>), analyse: bool) -> Run<'o> {
        Run {
            d,
            observe,
            quiet: false,
            analyse,
            live_at: None,
            analysis: None,
            changes: Vec::new(),
        }
    }

    /// The release gets production traffic now (the first time counts).
    fn live(&mut self) {
        if !self.quiet {
            self.live_at.get_or_insert_with(SystemTime::now);
        }
    }
}

impl Run<'_> {
    fn to(&mut self, state: State, detail: impl Into<String>) -> Result<()> {
        let t = self.d.advance(state, detail)?;
        let release = self.d.release().to_owned();
        (self.observe)(&Event::Transition {
            release: &release,
            transition: &t,
        });
        Ok(())
    }

    /// A transition during a deploy, a note during a rollback.
    fn step(&mut self, state: State, detail: impl Into<String>) -> Result<()> {
        if self.quiet {
            let detail = detail.into();
            let release = self.d.release().to_owned();
            self.note(&release, &format!("{state}: {detail}"));
            Ok(())
        } else {
            self.to(state, detail)
        }
    }

    fn note(&mut self, release: &str, message: &str) {
        tracing::info!(target: "ops_deploy", release, message);
        (self.observe)(&Event::Note { release, message });
    }
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

impl<R: Runtime> Deployer<R> {
    /// A deployer for `config` running releases on `runtime`, switching traffic through the
    /// config's `[proxy]` if it has one.
    pub fn new(config: DeployConfig, runtime: R) -> Deployer<R> {
        let switch = config.traffic_switch();
        Deployer {
            config,
            runtime,
            switch,
            ignore_error_budget: false,
            source: None,
            actor: Actor::current(),
        }
    }

    /// Reads the analyses' signals from `source` instead of the config's (`[analysis]
    /// source`): another source, or a [`FakeSource`](crate::FakeSource).
    #[must_use]
    pub fn with_source(mut self, source: Box<dyn SignalSource>) -> Deployer<R> {
        self.source = Some(Mutex::new(source));
        self
    }

    /// Records changes as made by `actor` (default: [`Actor::current`]).
    #[must_use]
    pub fn actor(mut self, actor: Actor) -> Deployer<R> {
        self.actor = actor;
        self
    }

    /// Switches traffic through `switch` instead of the config's proxy (another proxy than
    /// nginx, or a [`FakeTrafficSwitch`](crate::FakeTrafficSwitch)).
    #[must_use]
    pub fn with_switch(mut self, switch: Box<dyn TrafficSwitch>) -> Deployer<R> {
        self.switch = Some(switch);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &DeployConfig {
        &self.config
    }

    /// The runtime.
    pub fn runtime(&self) -> &R {
        &self.runtime
    }

    /// The recorded history.
    ///
    /// # Errors
    /// The history cannot be read.
    pub fn history(&self) -> Result<History> {
        History::load(&self.config.history_path(), &self.config.service)
    }

    /// The instance recorded as running (it may have died since). A record naming a release
    /// id that is not safe in a file name is ignored.
    pub fn current(&self) -> Option<Instance> {
        let text = std::fs::read_to_string(self.config.current_path()).ok()?;
        let instance: Instance = serde_json::from_str(&text).ok()?;
        crate::names::check_id("release id", &instance.release)
            .ok()
            .map(|()| instance)
    }

    fn set_current(&self, instance: Option<&Instance>) -> Result<()> {
        let path = self.config.current_path();
        match instance {
            Some(i) => {
                let json = serde_json::to_string(i).map_err(|e| Error::History {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
                write_atomic(&path, format!("{json}\n").as_bytes())
            }
            None => match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Io {
                    action: "cannot remove",
                    path,
                    source: e,
                }),
                _ => Ok(()),
            },
        }
    }

    /// Takes the deploy lock for `holder` (waiting at most `lock_wait`), in the state
    /// directory, created 0750 first (an existing looser one is tightened).
    fn lock(&self, holder: &str, lock_wait: Option<Duration>) -> Result<DeployLock> {
        crate::fs::ensure_private_dir(&self.config.state_dir)?;
        DeployLock::acquire(self.config.lock_path(), holder, lock_wait)
    }

    /// Takes the deploy lock as [`lock`](Self::lock) does, then reads the history under it.
    fn locked_history(
        &self,
        holder: &str,
        lock_wait: Option<Duration>,
    ) -> Result<(DeployLock, History)> {
        let lock = self.lock(holder, lock_wait)?;
        Ok((lock, self.history()?))
    }

    /// The port a new release gets: stop-start reuses `port`; blue-green takes whichever of
    /// `port` and `alt_port` the running release does not use.
    fn next_port(&self, running: Option<&Instance>) -> u16 {
        match (self.config.alt_port, running) {
            (Some(alt), Some(r))
                if self.config.strategy.side_by_side() && r.port == self.config.port =>
            {
                alt
            }
            _ => self.config.port,
        }
    }

    fn hook_env(
        &self,
        release: &str,
        artifact: &str,
        port: u16,
        extra: &[(&'static str, String)],
    ) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("OPS_SERVICE", self.config.service.clone()),
            ("OPS_RELEASE", release.to_owned()),
            ("OPS_ARTIFACT", artifact.to_owned()),
            ("OPS_STRATEGY", self.config.strategy.as_str().to_owned()),
            ("OPS_PORT", port.to_string()),
        ];
        env.extend(extra.iter().cloned());
        env
    }

    fn run_hook(&self, phase: Phase, env: &[(&'static str, String)]) -> Result<bool> {
        self.config
            .hooks
            .run(phase, env, &self.config.log_dir().join("hooks.log"))
    }

    /// Before a stop-start stops anything: the state and log directories take files, and the
    /// runtime finds nothing wrong with the artifact.
    fn preflight(&self, artifact: &str) -> Result<()> {
        if self.config.strategy != Strategy::StopStart {
            return Ok(());
        }
        crate::fs::check_writable(&self.config.state_dir)?;
        crate::fs::check_writable(&self.config.log_dir())?;
        self.runtime.preflight(artifact)
    }

    /// Refuses to start on a port something else already answers on (an instance nobody
    /// recorded): its health checks would be answered by the wrong program.
    fn port_free(&self, port: u16) -> Result<(), FailureReason> {
        if self.runtime.port_in_use(port) {
            Err(FailureReason::PortInUse { port })
        } else {
            Ok(())
        }
    }

    /// Health through the runtime's probe (HTTP unless a fake answers), failing at once when
    /// the release exits; then the runtime's own health (Docker HEALTHCHECK) when it has one.
    fn check(&self, instance: &Instance, run: &mut Run<'_>) -> Result<(), FailureReason> {
        let policy = &self.config.health;
        let release = instance.release.clone();
        health::wait_healthy_with(
            policy,
            |timeout| self.runtime.probe(instance, &policy.path, timeout),
            || self.runtime.exited(instance),
            |a| {
                (run.observe)(&Event::Attempt {
                    release: &release,
                    attempt: a,
                    retries: policy.retries,
                });
            },
        )?;
        let deadline = deadline_after(policy.budget());
        let mut last = None;
        while let Some(status) = self.runtime.native_health(instance) {
            if last.as_deref() != Some(status.as_str()) {
                run.note(&release, &format!("container health: {status}"));
            }
            match status.as_str() {
                "healthy" => break,
                "unhealthy" => return Err(FailureReason::NativeUnhealthy),
                _ => {
                    if let Some(how) = self.runtime.exited(instance) {
                        return Err(FailureReason::Exited(how));
                    }
                    if std::time::Instant::now() >= deadline {
                        return Err(FailureReason::NativeStuck {
                            status,
                            waited: policy.budget(),
                        });
                    }
                    std::thread::sleep(policy.interval.min(Duration::from_millis(250)));
                }
            }
            last = Some(status);
        }
        if self.runtime.is_running(instance) {
            Ok(())
        } else {
            Err(FailureReason::ExitedAfterCheck)
        }
    }

    /// A running instance that answers its health check (a few tries, not one) and gets the
    /// traffic, when a proxy says where the traffic goes.
    fn still_serving(&self, instance: &Instance) -> bool {
        let policy = HealthCheck {
            interval: Duration::from_millis(200),
            retries: 3,
            start_period: Duration::ZERO,
            ..self.config.health.clone()
        };
        self.runtime.is_running(instance)
            && self
                .switch
                .as_ref()
                .and_then(|s| s.target())
                .is_none_or(|t| t == addr(instance.port))
            && health::wait_healthy_with(
                &policy,
                |timeout| self.runtime.probe(instance, &policy.path, timeout),
                || self.runtime.exited(instance),
                |_| {},
            )
            .is_ok()
    }

    /// Brings `release` up with the configured strategy.
    fn bring_up(
        &self,
        release: &str,
        artifact: &str,
        run: &mut Run<'_>,
    ) -> Result<Instance, StepError> {
        match self.config.strategy {
            Strategy::StopStart => self.stop_start(release, artifact, run),
            // A rollback does not analyse: it goes back at once, as blue-green does.
            Strategy::Canary if run.analyse && !run.quiet => self.canary(release, artifact, run),
            Strategy::BlueGreen | Strategy::Canary => self.blue_green(release, artifact, run),
        }
    }

    /// A change record of `release` by this deployer's actor (also a `tracing` event with
    /// target `audit`).
    fn audit(&self, release: &str, action: &str, outcome: &str, detail: &str) -> ChangeRecord {
        crate::audit::record(
            &self.config.service,
            release,
            action,
            &self.actor,
            outcome,
            detail,
        )
    }

    /// A traffic split that an interrupted canary left: all the traffic goes back to the
    /// release recorded as running.
    fn unsplit(&self, release: &str, running: Option<&Instance>, run: &mut Run<'_>) {
        let (Some(s), Some(r)) = (&self.switch, running) else {
            return;
        };
        if s.routes().len() > 1 {
            match s.switch(&r.release, addr(r.port)) {
                Ok(()) => run.note(
                    release,
                    &format!(
                        "the traffic was split (an interrupted canary): all of it goes back to {}",
                        r.release
                    ),
                ),
                Err(e) => run.note(
                    release,
                    &format!("the traffic is split (an interrupted canary) and cannot be routed back to {}: {e}", r.release),
                ),
            }
        }
    }

    /// Stop-start behind a proxy: make sure it routes to `port` before anything else.
    fn route_to_port(&self, release: &str) -> Result<()> {
        if self.config.strategy == Strategy::StopStart
            && let Some(s) = &self.switch
        {
            let target = addr(self.config.port);
            if s.target() != Some(target) {
                s.switch(release, target)?;
            }
        }
        Ok(())
    }

    /// Saves the history once releases have changed: a failure is reported, and the deploy goes
    /// on to leave something healthy running rather than stopping half-way.
    fn save(&self, history: &History, run: &mut Run<'_>) {
        if let Err(e) = history.save(&self.config.history_path()) {
            let release = run.d.release().to_owned();
            tracing::error!(target: "ops_deploy", error = %e, "cannot record the deploy");
            run.note(
                &release,
                &format!("cannot record the outcome in the history: {e}"),
            );
        }
    }
}
