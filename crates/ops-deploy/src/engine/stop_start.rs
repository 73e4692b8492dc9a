//! Stop-start: stop what runs, start the release on the same port, check it. The engine checks
//! what it can before (see `Deployer::preflight`), so a release that cannot start never costs
//! the running one.

use std::sync::Arc;

use super::{Deployer, FailureReason, Run, StepError};
use crate::runtime::{Instance, Runtime};
use crate::state::State;

impl<R: Runtime> Deployer<R> {
    /// Stop-start: stop what runs, start `artifact` as `release` on `port`, check it. A
    /// release that fails its check is stopped (its pid file or container goes with it).
    pub(super) fn stop_start(
        &self,
        release: &str,
        artifact: &str,
        run: &mut Run<'_>,
    ) -> Result<Instance, StepError> {
        let port = self.config.port;
        let old = self.current();
        let detail = match &old {
            Some(o) => format!("stopping {}; {release} on 127.0.0.1:{port}", o.release),
            None => format!("{release} on 127.0.0.1:{port}"),
        };
        run.step(State::Starting, detail)?;
        if let Some(old) = old {
            self.runtime
                .stop(&old, self.config.stop_grace)
                .map_err(|e| FailureReason::StopFailed(Arc::new(e)))?;
            self.set_current(None)
                .map_err(|e| FailureReason::State(Arc::new(e)))?;
        }
        self.port_free(port)?;
        let instance = self
            .runtime
            .start(release, artifact, port)
            .map_err(|e| FailureReason::StartFailed(Arc::new(e)))?;
        // Stop-start has nothing else serving: the new release gets the traffic as it starts.
        run.live();
        let checked = self
            .set_current(Some(&instance))
            .map_err(|e| StepError::Failed(FailureReason::State(Arc::new(e))))
            .and_then(|()| {
                run.step(State::Checking, format!("GET {}", self.config.health.path))?;
                self.check(&instance, run)?;
                Ok(())
            });
        match checked {
            Ok(()) => Ok(instance),
            Err(e) => {
                let _ = self.runtime.stop(&instance, self.config.stop_grace);
                let _ = self.set_current(None);
                Err(e)
            }
        }
    }
}
