//! The deploy engine: lock, record, run the strategy (stop-start or blue-green), health-check,
//! and on failure bring back the newest release recorded healthy, health-checked too. Every
//! step is a [`State`] transition, emitted as a `tracing` event and handed to the caller's
//! observer.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

use crate::config::DeployConfig;
use crate::error::{Error, Result};
use crate::health::{self, Attempt, HealthCheck};
use crate::history::{History, Outcome, ReleaseRecord, write_atomic};
use crate::hooks::Phase;
use crate::lock::DeployLock;
use crate::plan::{DeployPlan, Strategy};
use crate::proxy::TrafficSwitch;
use crate::runtime::{Instance, Runtime};
use crate::state::{Deployment, State, Transition};

/// How a deploy or rollback ended. Maps to `ops`'s exit codes 0, 1 and 4.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeployOutcome {
    /// The release asked for is running and healthy.
    Healthy {
        /// Its id.
        release: String,
    },
    /// It failed; a healthy release is running again (blue-green: traffic never left it, or
    /// was switched back to it).
    RolledBack {
        /// The release that failed.
        failed: String,
        /// The release running again.
        restored: String,
        /// Why it failed.
        reason: String,
    },
    /// Nothing healthy is running.
    NothingHealthy {
        /// What failed last, and why.
        reason: String,
    },
    /// The pre-deploy hook failed (or the proxy could not be prepared): nothing was changed.
    Aborted {
        /// The release that was not deployed.
        release: String,
        /// Why.
        reason: String,
        /// The release still running, if any.
        running: Option<String>,
    },
}

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
}

/// Runs deploys and rollbacks for one service.
///
/// ```no_run
/// use ops_deploy::{DeployConfig, DeployOutcome, Deployer, Event};
/// let config = DeployConfig::load("ops-deploy.toml")?;
/// let deployer = Deployer::new(config.clone(), config.runtime());
/// match deployer.deploy("web:2.4.1", "deploy web:2.4.1", None, |e| {
///     if let Event::Transition { release, transition } = e {
///         println!("{release}: {} -> {}", transition.from, transition.to);
///     }
/// })? {
///     DeployOutcome::Healthy { release } => println!("{release} is live"),
///     other => println!("{other:?}"),
/// }
/// # Ok::<(), ops_deploy::Error>(())
/// ```
#[derive(Debug)]
pub struct Deployer<R: Runtime> {
    config: DeployConfig,
    runtime: R,
    switch: Option<Box<dyn TrafficSwitch>>,
}

/// A deployment in progress with its observer.
struct Run<'o> {
    d: Deployment,
    observe: &'o mut dyn FnMut(&Event<'_>),
    /// Inside a rollback the bring-up steps are notes, not transitions.
    quiet: bool,
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
        }
    }

    /// Switches traffic through `switch` instead of the config's proxy (another proxy than
    /// nginx, or a test double).
    #[must_use]
    pub fn with_switch(mut self, switch: Box<dyn TrafficSwitch>) -> Deployer<R> {
        self.switch = Some(switch);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &DeployConfig {
        &self.config
    }

    /// The recorded history.
    ///
    /// # Errors
    /// The history cannot be read.
    pub fn history(&self) -> Result<History> {
        History::load(&self.config.history_path(), &self.config.service)
    }

    /// The instance recorded as running (it may have died since).
    pub fn current(&self) -> Option<Instance> {
        let text = std::fs::read_to_string(self.config.current_path()).ok()?;
        serde_json::from_str(&text).ok()
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

    /// The port a new release gets: stop-start reuses `port`; blue-green takes whichever of
    /// `port` and `alt_port` the running release does not use.
    fn next_port(&self, running: Option<&Instance>) -> u16 {
        match (self.config.strategy, self.config.alt_port, running) {
            (Strategy::BlueGreen, Some(alt), Some(r)) if r.port == self.config.port => alt,
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

    /// What [`Deployer::deploy`] would do with `artifact`, touching nothing.
    ///
    /// # Errors
    /// The history cannot be read.
    pub fn plan(&self, artifact: &str) -> Result<DeployPlan> {
        let history = self.history()?;
        let running_instance = self.current().filter(|c| self.runtime.is_running(c));
        let port = self.next_port(running_instance.as_ref());
        let running = running_instance.map(|c| (c.release, c.port));
        let release = format!("{}-{}", self.config.service, history.releases.len() + 1);
        let h = &self.config.health;
        let rollback_target = history.last_healthy().map(|r| r.id.clone());
        let mut steps = vec![format!(
            "take the deploy lock {}",
            self.config.lock_path().display()
        )];
        let hooks: Vec<(String, String)> = [Phase::PreDeploy, Phase::PostDeploy, Phase::OnRollback]
            .into_iter()
            .filter_map(|p| {
                self.config
                    .hooks
                    .command(p)
                    .map(|c| (p.as_str().to_owned(), c.to_owned()))
            })
            .collect();
        if let Some(c) = self.config.hooks.command(Phase::PreDeploy) {
            steps.push(format!("run the pre_deploy hook `{c}` (a failure aborts)"));
        }
        let check = format!(
            "health-check GET {} on 127.0.0.1:{port} (up to {} failed attempts, {} apart, {} each, start period {}), then the container's own HEALTHCHECK if the image has one",
            h.path,
            h.retries,
            humantime::format_duration(h.interval),
            humantime::format_duration(h.timeout),
            humantime::format_duration(h.start_period),
        );
        let old = running
            .as_ref()
            .map_or_else(|| "nothing".to_owned(), |(r, p)| format!("{r} (port {p})"));
        match self.config.strategy {
            Strategy::StopStart => {
                if let Some(s) = &self.switch {
                    steps.push(format!("make sure {} routes to port {port}", s.name()));
                }
                steps.push(format!("stop {old}"));
                steps.push(format!(
                    "start `{artifact}` as {release} on 127.0.0.1:{port}"
                ));
                steps.push(check);
            }
            Strategy::BlueGreen => {
                steps.push(format!(
                    "start `{artifact}` as {release} on 127.0.0.1:{port}, beside {old}, which keeps the traffic"
                ));
                steps.push(check);
                if let Some(s) = &self.switch {
                    steps.push(format!("switch the traffic: {}", s.describe()));
                    if let Some(p) = s.public() {
                        steps.push(format!("health-check GET {} through {p}", h.path));
                    }
                }
                steps.push(format!(
                    "let {old} drain for {}, then stop it",
                    humantime::format_duration(self.config.drain)
                ));
            }
        }
        steps.push(format!(
            "record the outcome in {}",
            self.config.history_path().display()
        ));
        if let Some(c) = self.config.hooks.command(Phase::PostDeploy) {
            steps.push(format!("run the post_deploy hook `{c}`"));
        }
        steps.push(format!(
            "prune: keep the newest {} releases, never an image a kept healthy release, the rollback target or a running container uses",
            self.config.keep
        ));
        steps.push(match &rollback_target {
            Some(t) => format!("on failure: stop {release} and bring back {t} (newest healthy)"),
            None => format!("on failure: stop {release}; no healthy release to bring back"),
        });
        Ok(DeployPlan {
            service: self.config.service.clone(),
            release,
            artifact: artifact.to_owned(),
            strategy: self.config.strategy,
            runtime: self.runtime.name().to_owned(),
            running,
            port,
            health: h.clone(),
            proxy: self.switch.as_ref().map(|s| s.describe()),
            drain: self.config.drain,
            rollback_target,
            hooks,
            keep: self.config.keep,
            steps,
        })
    }

    /// Stops instances that are running but not the current one (started by a deploy killed
    /// before it recorded them, or an old blue-green release whose deploy was killed while it
    /// drained), and records interrupted deploys as failed. Looks at every in-progress release
    /// and the newest `keep + 2` others, on both ports.
    fn stop_orphans(&self, history: &mut History, except: &str, run: &mut Run<'_>) {
        let current = self.current();
        let is_current = |id: &str, port: u16| {
            current
                .as_ref()
                .is_some_and(|c| c.release == id && c.port == port)
        };
        let recent = history.releases.len().saturating_sub(self.config.keep + 2);
        let mut ports = vec![self.config.port];
        ports.extend(self.config.alt_port);
        let mut interrupted = Vec::new();
        for (i, r) in history.releases.iter().enumerate() {
            if r.id == except {
                continue;
            }
            let in_progress = r.outcome == Outcome::InProgress;
            if !in_progress && (i < recent || r.pruned) {
                continue;
            }
            for &port in &ports {
                if is_current(&r.id, port) {
                    continue;
                }
                if let Some(orphan) = self.runtime.find(&r.id, port) {
                    run.note(
                        &r.id,
                        &format!("stopping it on port {port}: running, but not the current release (an interrupted deploy)"),
                    );
                    if let Err(e) = self.runtime.stop(&orphan, self.config.stop_grace) {
                        run.note(&r.id, &format!("cannot stop it: {e}"));
                    }
                }
            }
            // We hold the lock: any other release still in progress belongs to a deploy that
            // was killed, and never passed its checks.
            if in_progress {
                interrupted.push(r.id.clone());
            }
        }
        for id in interrupted {
            if let Some(mut r) = history.get(&id).cloned() {
                r.outcome = Outcome::Failed;
                r.reason = Some("interrupted: the deploy was killed before it finished".into());
                history.upsert(r);
            }
        }
    }

    /// Refuses to start on a port something else already answers on (an instance nobody
    /// recorded): its health checks would be answered by the wrong program.
    fn port_free(port: u16) -> std::result::Result<(), String> {
        match std::net::TcpStream::connect_timeout(&addr(port), Duration::from_millis(300)) {
            Ok(_) => Err(format!(
                "127.0.0.1:{port} already accepts connections: something that is not a recorded release listens there"
            )),
            Err(_) => Ok(()),
        }
    }

    /// HTTP health, then the runtime's own health (Docker HEALTHCHECK) when it has one.
    fn check(&self, instance: &Instance, run: &mut Run<'_>) -> std::result::Result<(), String> {
        let policy = &self.config.health;
        let release = instance.release.clone();
        health::wait_healthy(addr(instance.port), policy, |a| {
            (run.observe)(&Event::Attempt {
                release: &release,
                attempt: a,
                retries: policy.retries,
            });
        })
        .map_err(|e| e.to_string())?;
        let deadline = Instant::now() + policy.budget();
        let mut last = None;
        while let Some(status) = self.runtime.native_health(instance) {
            if last.as_deref() != Some(status.as_str()) {
                run.note(&release, &format!("container health: {status}"));
            }
            match status.as_str() {
                "healthy" => break,
                "unhealthy" => {
                    return Err("the container's own HEALTHCHECK reports unhealthy".into());
                }
                _ if Instant::now() >= deadline => {
                    return Err(format!(
                        "the container's own HEALTHCHECK still says {status:?} after {}",
                        humantime::format_duration(policy.budget())
                    ));
                }
                _ => std::thread::sleep(policy.interval.min(Duration::from_millis(250))),
            }
            last = Some(status);
        }
        if self.runtime.is_running(instance) {
            Ok(())
        } else {
            Err("the release exited after answering its health check".into())
        }
    }

    /// Stop-start: stop what runs, start `artifact` as `release` on `port`, check it.
    fn stop_start(
        &self,
        release: &str,
        artifact: &str,
        run: &mut Run<'_>,
    ) -> std::result::Result<Instance, String> {
        let port = self.config.port;
        let old = self.current();
        let detail = match &old {
            Some(o) => format!("stopping {}; {release} on 127.0.0.1:{port}", o.release),
            None => format!("{release} on 127.0.0.1:{port}"),
        };
        run.step(State::Starting, detail)
            .map_err(|e| e.to_string())?;
        if let Some(old) = old {
            self.runtime
                .stop(&old, self.config.stop_grace)
                .map_err(|e| e.to_string())?;
            self.set_current(None).map_err(|e| e.to_string())?;
        }
        Self::port_free(port)?;
        let instance = self
            .runtime
            .start(release, artifact, port)
            .map_err(|e| e.to_string())?;
        self.set_current(Some(&instance))
            .map_err(|e| e.to_string())?;
        run.step(State::Checking, format!("GET {}", self.config.health.path))
            .map_err(|e| e.to_string())?;
        match self.check(&instance, run) {
            Ok(()) => Ok(instance),
            Err(e) => {
                let _ = self.runtime.stop(&instance, self.config.stop_grace);
                let _ = self.set_current(None);
                Err(e)
            }
        }
    }

    /// Blue-green: start beside the old release, check, switch, re-check, drain, stop the old.
    /// On failure the old release is untouched and keeps (or gets back) the traffic.
    fn blue_green(
        &self,
        release: &str,
        artifact: &str,
        run: &mut Run<'_>,
    ) -> std::result::Result<Instance, String> {
        let old = self.current().filter(|c| self.runtime.is_running(c));
        let port = self.next_port(old.as_ref());
        let beside = old.as_ref().map_or_else(String::new, |o| {
            format!(", beside {} on {}", o.release, o.port)
        });
        run.step(
            State::Starting,
            format!("{release} on 127.0.0.1:{port}{beside}"),
        )
        .map_err(|e| e.to_string())?;
        Self::port_free(port)?;
        let instance = self
            .runtime
            .start(release, artifact, port)
            .map_err(|e| e.to_string())?;
        let fail = |reason: String| {
            let _ = self.runtime.stop(&instance, self.config.stop_grace);
            Err(reason)
        };
        run.step(State::Checking, format!("GET {}", self.config.health.path))
            .map_err(|e| e.to_string())?;
        if let Err(e) = self.check(&instance, run) {
            return fail(e);
        }
        let Some(switch) = &self.switch else {
            return fail("blue-green needs a traffic switch ([proxy] in the config)".into());
        };
        let target = addr(port);
        if let Err(e) = run.step(State::Switching, format!("{} -> {target}", switch.name())) {
            return fail(e.to_string());
        }
        if let Err(e) = switch.switch(release, target) {
            return fail(format!("switching the traffic: {e}"));
        }
        // From here a failure must give the traffic back to the old release before the new
        // one stops; if that fails too, the reason says so and nothing claims it is serving.
        let fail_switched = |run: &mut Run<'_>, reason: String| {
            let reason = match &old {
                Some(o) => match switch.switch(&o.release, addr(o.port)) {
                    Ok(()) => reason,
                    Err(back) => {
                        run.note(
                            release,
                            &format!("cannot switch back to {}: {back}", o.release),
                        );
                        format!("{reason}; switching back to {} failed: {back}", o.release)
                    }
                },
                None => reason,
            };
            fail(reason)
        };
        if let Some(public) = switch.public() {
            let policy = HealthCheck {
                interval: Duration::from_millis(200),
                retries: 5,
                start_period: Duration::ZERO,
                ..self.config.health.clone()
            };
            if let Err(e) = health::wait_healthy(public, &policy, |_| {}) {
                return fail_switched(run, format!("through the proxy after the switch: {e}"));
            }
        }
        if let Err(e) = self.set_current(Some(&instance)) {
            return fail_switched(run, e.to_string());
        }
        match &old {
            Some(o) => {
                let _ = run.step(
                    State::Draining,
                    format!(
                        "{} finishes its requests for {}",
                        o.release,
                        humantime::format_duration(self.config.drain)
                    ),
                );
                std::thread::sleep(self.config.drain);
                if let Err(e) = self.runtime.stop(o, self.config.stop_grace) {
                    run.note(&o.release, &format!("cannot stop the old release: {e}"));
                }
            }
            None => {
                let _ = run.step(State::Draining, "no old release to drain");
            }
        }
        Ok(instance)
    }

    fn bring_up(
        &self,
        release: &str,
        artifact: &str,
        run: &mut Run<'_>,
    ) -> std::result::Result<Instance, String> {
        match self.config.strategy {
            Strategy::StopStart => self.stop_start(release, artifact, run),
            Strategy::BlueGreen => self.blue_green(release, artifact, run),
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

    /// Deploys `artifact` (a command line for the process runtime, an image for Docker) with
    /// the configured strategy, under the deploy lock. `observe` sees every transition,
    /// health-check attempt and note (progress displays).
    ///
    /// # Errors
    /// The lock is held, or the state directory cannot be used. A failed release is not an
    /// error: it is a [`DeployOutcome`].
    pub fn deploy(
        &self,
        artifact: &str,
        command_line: &str,
        lock_wait: Option<Duration>,
        mut observe: impl FnMut(&Event<'_>),
    ) -> Result<DeployOutcome> {
        let _lock = DeployLock::acquire(self.config.lock_path(), command_line, lock_wait)?;
        let mut history = self.history()?;
        let id = format!("{}-{}", self.config.service, history.releases.len() + 1);
        let strategy = self.config.strategy;
        let mut run = Run {
            d: Deployment::begin(&id, strategy),
            observe: &mut observe,
            quiet: false,
        };
        let running = self.current().filter(|c| self.runtime.is_running(c));
        let port = self.next_port(running.as_ref());
        let mut record = ReleaseRecord::new(&id, artifact, strategy.as_str());
        record.port = Some(port);
        history.upsert(record.clone());
        history.save(&self.config.history_path())?;

        let previous = running.as_ref().map(|r| r.release.clone());
        let env = self.hook_env(
            &id,
            artifact,
            port,
            &[("OPS_PREVIOUS_RELEASE", previous.clone().unwrap_or_default())],
        );
        let prepared = self.run_hook(Phase::PreDeploy, &env).and_then(|ran| {
            if ran {
                run.note(&id, "pre_deploy hook succeeded");
            }
            self.route_to_port(&id)
        });
        if let Err(e) = prepared {
            let reason = e.to_string();
            record.outcome = Outcome::Failed;
            record.finished_at = Some(SystemTime::now());
            record.reason = Some(format!("aborted: {reason}"));
            history.upsert(record);
            history.save(&self.config.history_path())?;
            run.to(
                State::Failed,
                format!("aborted before any change: {reason}"),
            )?;
            return Ok(DeployOutcome::Aborted {
                release: id,
                reason,
                running: running.filter(|r| self.still_serving(r)).map(|r| r.release),
            });
        }
        self.stop_orphans(&mut history, &id, &mut run);

        let result = self.bring_up(&id, artifact, &mut run);
        record.finished_at = Some(SystemTime::now());
        match result {
            Ok(instance) => {
                record.image_id = self.runtime.pin(&instance);
                record.outcome = Outcome::Healthy;
                history.upsert(record);
                self.save(&history, &mut run);
                run.to(State::Done, format!("{id} is healthy and serving"))?;
                match self.run_hook(Phase::PostDeploy, &env) {
                    Ok(true) => run.note(&id, "post_deploy hook succeeded"),
                    Ok(false) => {}
                    Err(e) => run.note(&id, &e.to_string()),
                }
                self.prune_history(&mut history, &mut |r, m| run.note(r, m))?;
                Ok(DeployOutcome::Healthy { release: id })
            }
            Err(reason) => {
                record.outcome = Outcome::Failed;
                record.reason = Some(reason.clone());
                history.upsert(record);
                self.save(&history, &mut run);
                self.recover(&mut history, &id, reason, running.as_ref(), &mut run)
            }
        }
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

    /// After `failed` failed: keep (blue-green) or bring back the newest healthy release.
    fn recover(
        &self,
        history: &mut History,
        failed: &str,
        reason: String,
        running: Option<&Instance>,
        run: &mut Run<'_>,
    ) -> Result<DeployOutcome> {
        let env = |restored: &str, artifact: &str, port: u16| {
            self.hook_env(
                restored,
                artifact,
                port,
                &[
                    ("OPS_FAILED_RELEASE", failed.to_owned()),
                    ("OPS_REASON", reason.clone()),
                ],
            )
        };
        // Blue-green: the old release was never stopped; if it still answers and the proxy
        // routes to it, it is the rollback (its traffic never moved, or was switched back).
        if self.config.strategy == Strategy::BlueGreen
            && let Some(old) = running.filter(|o| self.still_serving(o))
        {
            run.to(
                State::RollingBack,
                format!(
                    "{failed} failed: {reason}; traffic stays on {}",
                    old.release
                ),
            )?;
            run.to(State::RolledBack, format!("{} is serving", old.release))?;
            let artifact = history
                .get(&old.release)
                .map(|r| r.image_id.clone().unwrap_or_else(|| r.artifact.clone()))
                .unwrap_or_default();
            self.after_rollback(&old.release, &env(&old.release, &artifact, old.port), run);
            return Ok(DeployOutcome::RolledBack {
                failed: failed.to_owned(),
                restored: old.release.clone(),
                reason,
            });
        }
        let Some(target) = history.last_healthy().cloned() else {
            run.to(
                State::Failed,
                format!("{failed} failed: {reason}; no healthy release to roll back to"),
            )?;
            return Ok(DeployOutcome::NothingHealthy {
                reason: format!("{failed}: {reason}; no healthy release to roll back to"),
            });
        };
        run.to(
            State::RollingBack,
            format!("{failed} failed: {reason}; bringing back {}", target.id),
        )?;
        let restored = if target.pruned {
            Err(Error::Pruned {
                id: target.id.clone(),
            }
            .to_string())
        } else {
            run.quiet = true;
            let artifact = target.image_id.as_deref().unwrap_or(&target.artifact);
            let r = self.bring_up(&target.id, artifact, run);
            run.quiet = false;
            r
        };
        let artifact = target.image_id.as_deref().unwrap_or(&target.artifact);
        match restored {
            Ok(instance) => {
                run.to(State::RolledBack, format!("{} is healthy again", target.id))?;
                self.after_rollback(&target.id, &env(&target.id, artifact, instance.port), run);
                Ok(DeployOutcome::RolledBack {
                    failed: failed.to_owned(),
                    restored: target.id,
                    reason,
                })
            }
            Err(e) => {
                // The failed release's record says the rollback failed too; the target keeps
                // its outcome (the cause may be the machine, not the release).
                if let Some(mut r) = history.get(failed).cloned() {
                    r.reason = Some(format!("{reason}; rollback to {} failed: {e}", target.id));
                    history.upsert(r);
                    self.save(history, run);
                }
                run.to(
                    State::Failed,
                    format!("rollback to {} failed: {e}", target.id),
                )?;
                Ok(DeployOutcome::NothingHealthy {
                    reason: format!("{failed}: {reason}; rollback to {}: {e}", target.id),
                })
            }
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
            && health::wait_healthy(addr(instance.port), &policy, |_| {}).is_ok()
    }

    fn after_rollback(&self, restored: &str, env: &[(&'static str, String)], run: &mut Run<'_>) {
        match self.run_hook(Phase::OnRollback, env) {
            Ok(true) => run.note(restored, "on_rollback hook succeeded"),
            Ok(false) => {}
            Err(e) => run.note(restored, &e.to_string()),
        }
    }

    /// Rolls back to `to`, or to the newest healthy release other than the one running, with
    /// the configured strategy, health-checked. The release it replaces is recorded as rolled
    /// back.
    ///
    /// # Errors
    /// The lock is held, the release is unknown or pruned, or there is nothing to roll back to.
    pub fn rollback(
        &self,
        to: Option<&str>,
        command_line: &str,
        lock_wait: Option<Duration>,
        mut observe: impl FnMut(&Event<'_>),
    ) -> Result<DeployOutcome> {
        let _lock = DeployLock::acquire(self.config.lock_path(), command_line, lock_wait)?;
        let mut history = self.history()?;
        let running = self.current().filter(|c| self.runtime.is_running(c));
        let running_id = running.as_ref().map(|c| c.release.clone());
        let target = match to {
            Some(id) => history
                .get(id)
                .cloned()
                .ok_or_else(|| Error::UnknownRelease { id: id.to_owned() })?,
            None => history
                .releases
                .iter()
                .rev()
                .find(|r| {
                    r.outcome == Outcome::Healthy && !r.pruned && Some(&r.id) != running_id.as_ref()
                })
                .cloned()
                .ok_or(Error::NothingToRollBackTo)?,
        };
        if target.pruned {
            return Err(Error::Pruned { id: target.id });
        }
        let mut run = Run {
            d: Deployment::begin(&target.id, self.config.strategy),
            observe: &mut observe,
            quiet: false,
        };
        // Already running and serving: nothing to do.
        if let Some(r) = running.as_ref().filter(|r| r.release == target.id)
            && self.still_serving(r)
        {
            run.note(&target.id, "already running and healthy; nothing changed");
            return Ok(DeployOutcome::Healthy { release: target.id });
        }
        if let Err(e) = self.route_to_port(&target.id) {
            let reason = e.to_string();
            run.to(
                State::Failed,
                format!("aborted before any change: {reason}"),
            )?;
            return Ok(DeployOutcome::Aborted {
                release: target.id,
                reason,
                running: running.filter(|r| self.still_serving(r)).map(|r| r.release),
            });
        }
        self.stop_orphans(&mut history, "", &mut run);
        let artifact = target.image_id.as_deref().unwrap_or(&target.artifact);
        match self.bring_up(&target.id, artifact, &mut run) {
            Ok(instance) => {
                // Going back to a release rejects every healthy release recorded after it, so
                // the next automatic rollback does not bring one of them back.
                let newer: Vec<ReleaseRecord> = history
                    .releases
                    .iter()
                    .skip_while(|r| r.id != target.id)
                    .skip(1)
                    .filter(|r| r.outcome == Outcome::Healthy)
                    .cloned()
                    .collect();
                for mut r in newer {
                    r.outcome = Outcome::RolledBack;
                    history.upsert(r);
                }
                let mut r = target.clone();
                r.outcome = Outcome::Healthy;
                history.upsert(r);
                self.save(&history, &mut run);
                run.to(State::Done, format!("{} is healthy again", target.id))?;
                let env = self.hook_env(
                    &target.id,
                    artifact,
                    instance.port,
                    &[(
                        "OPS_PREVIOUS_RELEASE",
                        running_id.clone().unwrap_or_default(),
                    )],
                );
                self.after_rollback(&target.id, &env, &mut run);
                Ok(DeployOutcome::Healthy { release: target.id })
            }
            Err(reason) => {
                self.rollback_failed(&history, target.id, reason, running.as_ref(), &mut run)
            }
        }
    }

    /// `ops rollback` could not bring `target` up: say what runs instead, restoring the
    /// release stop-start had stopped.
    fn rollback_failed(
        &self,
        history: &History,
        target: String,
        reason: String,
        running: Option<&Instance>,
        run: &mut Run<'_>,
    ) -> Result<DeployOutcome> {
        // Blue-green: the running release was never touched.
        if self.config.strategy == Strategy::BlueGreen
            && let Some(o) = running.filter(|o| self.still_serving(o))
        {
            run.to(State::RollingBack, format!("{target}: {reason}"))?;
            run.to(
                State::RolledBack,
                format!("{} keeps the traffic", o.release),
            )?;
            return Ok(DeployOutcome::RolledBack {
                failed: target,
                restored: o.release.clone(),
                reason,
            });
        }
        // Stop-start stopped the running release: bring it back.
        let previous = running
            .and_then(|r| history.get(&r.release).cloned())
            .filter(|r| !r.pruned);
        let Some(previous) = previous else {
            run.to(State::Failed, format!("{target}: {reason}"))?;
            return Ok(DeployOutcome::NothingHealthy {
                reason: format!("rollback to {target}: {reason}; nothing was running before"),
            });
        };
        run.to(
            State::RollingBack,
            format!("{}: {reason}; bringing back {}", target, previous.id),
        )?;
        run.quiet = true;
        let artifact = previous.image_id.as_deref().unwrap_or(&previous.artifact);
        let back = self.bring_up(&previous.id, artifact, run);
        run.quiet = false;
        match back {
            Ok(_) => {
                run.to(
                    State::RolledBack,
                    format!("{} is healthy again", previous.id),
                )?;
                Ok(DeployOutcome::RolledBack {
                    failed: target,
                    restored: previous.id,
                    reason,
                })
            }
            Err(e) => {
                run.to(State::Failed, format!("bringing back {}: {e}", previous.id))?;
                Ok(DeployOutcome::NothingHealthy {
                    reason: format!(
                        "rollback to {}: {reason}; bringing back {}: {e}",
                        target, previous.id
                    ),
                })
            }
        }
    }

    /// Prunes old releases now, under the deploy lock (a deploy does it after every healthy
    /// release). Returns the releases pruned.
    ///
    /// # Errors
    /// The lock is held or the history cannot be written.
    pub fn prune(
        &self,
        lock_wait: Option<Duration>,
        mut observe: impl FnMut(&Event<'_>),
    ) -> Result<Vec<String>> {
        let _lock = DeployLock::acquire(self.config.lock_path(), "ops prune", lock_wait)?;
        let mut history = self.history()?;
        self.prune_history(&mut history, &mut |release, message| {
            observe(&Event::Note { release, message });
        })
    }

    /// Keeps the newest `keep` releases; an older one loses its runtime artifacts (image tag,
    /// logs) unless its image is used by a kept healthy release, the rollback target or a
    /// running container, or it is the rollback target or running itself.
    fn prune_history(
        &self,
        history: &mut History,
        note: &mut dyn FnMut(&str, &str),
    ) -> Result<Vec<String>> {
        let n = history.releases.len();
        let keep = self.config.keep.max(1);
        if n <= keep {
            return Ok(Vec::new());
        }
        let (old, kept) = history.releases.split_at(n - keep);
        let target = history.last_healthy().map(|r| r.id.clone());
        let current = self.current().map(|c| c.release);
        let mut protected: HashSet<String> = kept
            .iter()
            .filter(|r| r.outcome == Outcome::Healthy)
            .filter_map(|r| r.image_id.clone())
            .collect();
        // The rollback targets: the newest healthy release, and the newest other than the one
        // running (what `ops rollback` picks).
        let rollback_target = history
            .releases
            .iter()
            .rev()
            .find(|r| r.outcome == Outcome::Healthy && !r.pruned && Some(&r.id) != current.as_ref())
            .map(|r| (r.id.clone(), r.image_id.clone()));
        protected.extend(history.last_healthy().and_then(|r| r.image_id.clone()));
        protected.extend(rollback_target.as_ref().and_then(|(_, i)| i.clone()));
        protected.extend(self.runtime.artifacts_in_use());
        let candidates: Vec<ReleaseRecord> = old
            .iter()
            .filter(|r| !r.pruned && r.outcome != Outcome::InProgress)
            .cloned()
            .collect();
        let mut pruned = Vec::new();
        for mut r in candidates {
            if Some(&r.id) == target.as_ref()
                || Some(&r.id) == current.as_ref()
                || rollback_target.as_ref().is_some_and(|(id, _)| *id == r.id)
            {
                continue;
            }
            if r.image_id.as_ref().is_some_and(|i| protected.contains(i)) {
                note(&r.id, "kept by pruning: its image is still in use");
                continue;
            }
            match self.runtime.prune(&r.id) {
                Ok(_) => {
                    r.pruned = true;
                    pruned.push(r.id.clone());
                    tracing::info!(target: "ops_deploy", release = %r.id, "pruned");
                    note(&r.id, "pruned");
                    history.upsert(r);
                }
                Err(e) => note(&r.id, &format!("not pruned: {e}")),
            }
        }
        if !pruned.is_empty() {
            history.save(&self.config.history_path())?;
        }
        Ok(pruned)
    }
}
