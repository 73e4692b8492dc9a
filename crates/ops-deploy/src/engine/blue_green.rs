//! Blue-green: start beside the old release, check, switch the traffic, check again through
//! the proxy, drain and stop the old release. On failure the old release is untouched and
//! keeps (or gets back) the traffic.

use std::sync::Arc;
use std::time::Duration;

use super::{Deployer, FailureReason, Run, StepError, addr};
use crate::health::{self, HealthCheck, ProbeError};
use crate::plan::Strategy;
use crate::proxy::TrafficSwitch;
use crate::runtime::{Instance, Runtime};
use crate::state::State;

impl<R: Runtime> Deployer<R> {
    /// Blue-green: start beside the old release, check, switch, re-check, verify, drain, stop
    /// the old.
    #[allow(clippy::too_many_lines)] // the strategy, step by step
    pub(super) fn blue_green(
        &self,
        release: &str,
        artifact: &str,
        run: &mut Run<'_>,
    ) -> Result<Instance, StepError> {
        let old = self.current().filter(|c| self.runtime.is_running(c));
        let port = self.next_port(old.as_ref());
        let beside = old.as_ref().map_or_else(String::new, |o| {
            format!(", beside {} on {}", o.release, o.port)
        });
        run.step(
            State::Starting,
            format!("{release} on 127.0.0.1:{port}{beside}"),
        )?;
        self.port_free(port)?;
        let instance = self
            .runtime
            .start(release, artifact, port)
            .map_err(|e| FailureReason::StartFailed(Arc::new(e)))?;
        // Until the switch, a failure stops the new release; the old one never lost traffic.
        let switched = self.check_and_switch(release, &instance, run);
        let switch = match switched {
            Ok(switch) => switch,
            Err(e) => {
                let _ = self.runtime.stop(&instance, self.config.stop_grace);
                return Err(e);
            }
        };
        run.live();
        // From here a failure must give the traffic back to the old release before the new
        // one stops; if that fails too, the reason says so and nothing claims it is serving.
        let after = self.recheck(switch).and_then(|()| {
            self.set_current(Some(&instance))
                .map_err(|e| FailureReason::State(Arc::new(e)))
        });
        if let Err(reason) = after {
            let reason = match &old {
                Some(o) => match switch.switch(&o.release, addr(o.port)) {
                    Ok(()) => reason,
                    Err(back) => {
                        run.note(
                            release,
                            &format!("cannot switch back to {}: {back}", o.release),
                        );
                        FailureReason::SwitchBackFailed {
                            reason: Box::new(reason),
                            to: o.release.clone(),
                            error: Arc::new(back),
                        }
                    }
                },
                None => reason,
            };
            let _ = self.runtime.stop(&instance, self.config.stop_grace);
            return Err(reason.into());
        }
        // The verification: the old release keeps running while the analysis watches the
        // new one; on failure the traffic goes back at once.
        if let Some(verify) = self
            .config
            .verify
            .filter(|_| run.analyse && !run.quiet && self.config.strategy == Strategy::BlueGreen)
        {
            match &old {
                None => run.note(
                    release,
                    "verify: no earlier release runs to switch back to, so there is nothing to verify against",
                ),
                Some(o) => {
                    if let Err(e) = self.verify(release, &instance, o, verify, run) {
                        let e = match e {
                            StepError::Failed(reason) => {
                                match switch.switch(&o.release, addr(o.port)) {
                                    Ok(()) => {
                                        run.note(
                                            release,
                                            &format!("switched back: all the traffic is on {} again", o.release),
                                        );
                                        StepError::Failed(reason)
                                    }
                                    Err(back) => StepError::Failed(FailureReason::SwitchBackFailed {
                                        reason: Box::new(reason),
                                        to: o.release.clone(),
                                        error: Arc::new(back),
                                    }),
                                }
                            }
                            StepError::Engine(e) => {
                                let _ = switch.switch(&o.release, addr(o.port));
                                StepError::Engine(e)
                            }
                        };
                        let _ = self.set_current(Some(o));
                        let _ = self.runtime.stop(&instance, self.config.stop_grace);
                        return Err(e);
                    }
                }
            }
        }
        match &old {
            Some(o) => self.drain(o, run)?,
            None => run.step(State::Draining, "no old release to drain")?,
        }
        Ok(instance)
    }

    /// The old release finishes its requests for `drain`, then stops (a failure to stop is
    /// a note: the new release already has the traffic).
    pub(super) fn drain(&self, old: &Instance, run: &mut Run<'_>) -> Result<(), StepError> {
        run.step(
            State::Draining,
            format!(
                "{} finishes its requests for {}",
                old.release,
                humantime::format_duration(self.config.drain)
            ),
        )?;
        std::thread::sleep(self.config.drain);
        if let Err(e) = self.runtime.stop(old, self.config.stop_grace) {
            run.note(&old.release, &format!("cannot stop the old release: {e}"));
        }
        Ok(())
    }

    /// Checks the new release, then moves the traffic to it. On error nothing routes to it.
    fn check_and_switch(
        &self,
        release: &str,
        instance: &Instance,
        run: &mut Run<'_>,
    ) -> Result<&dyn TrafficSwitch, StepError> {
        run.step(State::Checking, format!("GET {}", self.config.health.path))?;
        self.check(instance, run)?;
        let Some(switch) = self.switch.as_deref() else {
            return Err(FailureReason::NoSwitch.into());
        };
        let target = addr(instance.port);
        run.step(State::Switching, format!("{} -> {target}", switch.name()))?;
        switch
            .switch(release, target)
            .map_err(|e| FailureReason::SwitchRefused(Arc::new(e)))?;
        Ok(switch)
    }

    /// The release answers through the proxy after the switch (when the proxy has a public
    /// address to probe).
    fn recheck(&self, switch: &dyn TrafficSwitch) -> Result<(), FailureReason> {
        let policy = HealthCheck {
            interval: Duration::from_millis(200),
            retries: 5,
            start_period: Duration::ZERO,
            ..self.config.health.clone()
        };
        let Some(first) = switch.probe_public(&policy.path, policy.timeout) else {
            return Ok(());
        };
        let mut first = Some(first);
        health::wait_healthy_with(
            &policy,
            |timeout| {
                first.take().unwrap_or_else(|| {
                    switch
                        .probe_public(&policy.path, timeout)
                        .unwrap_or_else(|| Err(ProbeError::Connect("no public address".into())))
                })
            },
            || None,
            |_| {},
        )
        .map(|_| ())
        .map_err(FailureReason::ProxyRecheck)
    }
}
