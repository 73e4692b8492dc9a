//! How a deploy or rollback ended ([`DeployOutcome`]), why a release failed
//! ([`FailureReason`]), and the exit code each outcome maps to.

use std::error::Error as _;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::error::Error;
use crate::health::Unhealthy;

/// How a deploy or rollback ended. [`exit_code`](DeployOutcome::exit_code) maps it to `ops`'s
/// exit codes 0, 1 and 4; it serializes as the object `ops deploy --json` prints, tagged by
/// `outcome` (`healthy`, `rolled_back`, `nothing_healthy`, `aborted`), with `reason` as text.
///
/// ```
/// use ops_deploy::{DeployOutcome, FailureReason};
/// let outcome = DeployOutcome::Aborted {
///     release: "web-3".into(),
///     reason: FailureReason::PortInUse { port: 8080 },
///     running: Some("web-2".into()),
/// };
/// assert_eq!(outcome.exit_code(), 1); // a healthy release still runs
/// let json = serde_json::to_value(&outcome)?;
/// assert_eq!(json["outcome"], "aborted");
/// assert_eq!(json["running"], "web-2");
/// assert!(json["reason"].as_str().unwrap().starts_with("127.0.0.1:8080 already accepts"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
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
        reason: FailureReason,
    },
    /// Nothing healthy is running.
    NothingHealthy {
        /// What failed last, and why.
        reason: FailureReason,
    },
    /// A check before any change failed (preflight, the pre-deploy hook, or the proxy could
    /// not be prepared): nothing was changed.
    Aborted {
        /// The release that was not deployed.
        release: String,
        /// Why.
        reason: FailureReason,
        /// The release still running, if any.
        running: Option<String>,
    },
}

impl DeployOutcome {
    /// `ops deploy`'s exit code: 0 the release asked for is healthy; 1 it failed (or was
    /// aborted) and a healthy release is running; 4 nothing healthy is running.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            DeployOutcome::Healthy { .. } => 0,
            DeployOutcome::RolledBack { .. }
            | DeployOutcome::Aborted {
                running: Some(_), ..
            } => 1,
            DeployOutcome::Aborted { running: None, .. } | DeployOutcome::NothingHealthy { .. } => {
                4
            }
        }
    }

    /// Why it did not end healthy, if it did not.
    pub fn reason(&self) -> Option<&FailureReason> {
        match self {
            DeployOutcome::Healthy { .. } => None,
            DeployOutcome::RolledBack { reason, .. }
            | DeployOutcome::NothingHealthy { reason }
            | DeployOutcome::Aborted { reason, .. } => Some(reason),
        }
    }
}

/// Why a release failed, was aborted, or could not be brought back.
///
/// [`Display`](fmt::Display) gives the text outcomes and history records show (errors with
/// their causes, e.g. the operating system's reason); [`kind`](FailureReason::kind) a stable
/// `snake_case` name. It serializes as its text. Two reasons are equal when they are of the
/// same kind and read the same.
///
/// ```
/// use ops_deploy::FailureReason;
/// let r = FailureReason::NoRollbackTarget {
///     failed: "web-1".into(),
///     reason: Box::new(FailureReason::NoSwitch),
/// };
/// assert_eq!(r.kind(), "no_rollback_target");
/// assert_eq!(
///     r.to_string(),
///     "web-1: blue-green needs a traffic switch ([proxy] in the config); no healthy release to roll back to"
/// );
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum FailureReason {
    /// A check before anything was stopped failed (stop-start): the state or log directory
    /// is not writable, or the artifact cannot be started.
    Preflight(Arc<Error>),
    /// The `pre_deploy` hook failed (or could not run).
    Hook(Arc<Error>),
    /// The backup taken before the deploy (`backup = "before-deploy"`) failed or did not
    /// verify: the deploy was aborted with nothing changed.
    Backup(Arc<Error>),
    /// The proxy could not be pointed at the release's port (stop-start behind a proxy).
    Proxy(Arc<Error>),
    /// The error-budget policy (`[slo]`) refused the release: an SLO's budget is spent, or
    /// the SLO state cannot be read. Nothing was changed.
    ErrorBudget(String),
    /// The running release could not be stopped (stop-start).
    StopFailed(Arc<Error>),
    /// Something that is not a recorded release already listens on the port.
    PortInUse {
        /// The port, on 127.0.0.1.
        port: u16,
    },
    /// The runtime could not start the release.
    StartFailed(Arc<Error>),
    /// The state directory could not record the running instance.
    State(Arc<Error>),
    /// The release never passed its health check.
    Unhealthy(Unhealthy),
    /// The runtime's own health check (Docker HEALTHCHECK) reports unhealthy.
    NativeUnhealthy,
    /// The runtime's own health check never settled.
    NativeStuck {
        /// What it still says (`starting`).
        status: String,
        /// How long it was given.
        waited: Duration,
    },
    /// The release's process or container exited (`exited with status 3`).
    Exited(String),
    /// The release answered its health check, then exited.
    ExitedAfterCheck,
    /// Blue-green without a traffic switch.
    NoSwitch,
    /// The traffic switch refused the change; the traffic stayed where it was.
    SwitchRefused(Arc<Error>),
    /// After the switch, the release did not answer through the proxy.
    ProxyRecheck(Unhealthy),
    /// A failure after the switch, and switching the traffic back failed too.
    SwitchBackFailed {
        /// The failure.
        reason: Box<FailureReason>,
        /// The release the traffic should have gone back to.
        to: String,
        /// Why switching back failed.
        error: Arc<Error>,
    },
    /// The rollback target was pruned.
    Pruned {
        /// Its id.
        release: String,
    },
    /// The deploy was killed before it finished (found by the next deploy).
    Interrupted,
    /// A release failed and no release is recorded healthy.
    NoRollbackTarget {
        /// The release that failed.
        failed: String,
        /// Why.
        reason: Box<FailureReason>,
    },
    /// A release failed and bringing back the rollback target failed too.
    RollbackFailed {
        /// The release that failed.
        failed: String,
        /// Why.
        reason: Box<FailureReason>,
        /// The release that could not be brought back.
        target: String,
        /// Why not.
        error: Box<FailureReason>,
    },
    /// `ops rollback` could not bring the target up, and nothing ran before.
    NothingBefore {
        /// The release asked for.
        target: String,
        /// Why it failed.
        reason: Box<FailureReason>,
    },
    /// The analysis of a canary step or of blue-green's verification stopped the release:
    /// a condition failed (`error ratio 0.21 > 0.01 at step 2, 25 %`), the source kept
    /// failing, a hold on inconclusive measurements ended without a promote, or a person
    /// aborted it. The traffic went back to the stable release; the measurements are in the
    /// history ([`ReleaseRecord::analysis`](crate::ReleaseRecord::analysis)).
    Analysis {
        /// `canary` or `verify`.
        phase: String,
        /// How the analysis ended.
        verdict: crate::analysis::Verdict,
        /// The canary step (1-based) it stopped at; `None` for a verification.
        step: Option<u32>,
        /// The new release's share of the traffic then, in percent.
        weight: u8,
        /// The failing value against its condition, where, and the limit it broke:
        /// `error ratio 0.21 > 0.01 at step 2, 25 % (1 failed measurement > failure limit 0)`.
        detail: String,
    },
    /// `ops rollback` could not bring the target up, nor the release it had stopped.
    RestoreFailed {
        /// The release asked for.
        target: String,
        /// Why it failed.
        reason: Box<FailureReason>,
        /// The release that ran before.
        previous: String,
        /// Why it could not be brought back.
        error: Box<FailureReason>,
    },
}

impl FailureReason {
    /// A stable `snake_case` name of the variant (`unhealthy`, `switch_refused`, …).
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            FailureReason::Preflight(_) => "preflight",
            FailureReason::Hook(_) => "hook",
            FailureReason::Backup(_) => "backup",
            FailureReason::Proxy(_) => "proxy",
            FailureReason::ErrorBudget(_) => "error_budget",
            FailureReason::StopFailed(_) => "stop_failed",
            FailureReason::PortInUse { .. } => "port_in_use",
            FailureReason::StartFailed(_) => "start_failed",
            FailureReason::State(_) => "state",
            FailureReason::Unhealthy(_) => "unhealthy",
            FailureReason::NativeUnhealthy => "native_unhealthy",
            FailureReason::NativeStuck { .. } => "native_stuck",
            FailureReason::Exited(_) => "exited",
            FailureReason::ExitedAfterCheck => "exited_after_check",
            FailureReason::NoSwitch => "no_switch",
            FailureReason::SwitchRefused(_) => "switch_refused",
            FailureReason::ProxyRecheck(_) => "proxy_recheck",
            FailureReason::SwitchBackFailed { .. } => "switch_back_failed",
            FailureReason::Pruned { .. } => "pruned",
            FailureReason::Interrupted => "interrupted",
            FailureReason::NoRollbackTarget { .. } => "no_rollback_target",
            FailureReason::RollbackFailed { .. } => "rollback_failed",
            FailureReason::NothingBefore { .. } => "nothing_before",
            FailureReason::RestoreFailed { .. } => "restore_failed",
            FailureReason::Analysis { .. } => "analysis",
        }
    }

    /// The error behind it, when there is one.
    pub fn error(&self) -> Option<&Error> {
        match self {
            FailureReason::Preflight(e)
            | FailureReason::Hook(e)
            | FailureReason::Backup(e)
            | FailureReason::Proxy(e)
            | FailureReason::StopFailed(e)
            | FailureReason::StartFailed(e)
            | FailureReason::State(e)
            | FailureReason::SwitchRefused(e) => Some(e),
            _ => None,
        }
    }
}

/// An error and its causes: `cannot open /x: Permission denied (os error 13)`.
fn chain(f: &mut fmt::Formatter<'_>, e: &Error) -> fmt::Result {
    write!(f, "{e}")?;
    let mut source = e.source();
    while let Some(s) = source {
        write!(f, ": {s}")?;
        source = s.source();
    }
    Ok(())
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureReason::Preflight(e)
            | FailureReason::Hook(e)
            | FailureReason::Backup(e)
            | FailureReason::Proxy(e)
            | FailureReason::StopFailed(e)
            | FailureReason::StartFailed(e)
            | FailureReason::State(e) => chain(f, e),
            FailureReason::PortInUse { port } => write!(
                f,
                "127.0.0.1:{port} already accepts connections: something that is not a recorded release listens there"
            ),
            FailureReason::ErrorBudget(why) => f.write_str(why),
            FailureReason::Unhealthy(u) => write!(f, "{u}"),
            FailureReason::NativeUnhealthy => {
                f.write_str("the container's own HEALTHCHECK reports unhealthy")
            }
            FailureReason::NativeStuck { status, waited } => write!(
                f,
                "the container's own HEALTHCHECK still says {status:?} after {}",
                humantime::format_duration(*waited)
            ),
            FailureReason::Exited(how) => write!(f, "the release {how}"),
            FailureReason::ExitedAfterCheck => {
                f.write_str("the release exited after answering its health check")
            }
            FailureReason::NoSwitch => {
                f.write_str("blue-green needs a traffic switch ([proxy] in the config)")
            }
            FailureReason::SwitchRefused(e) => {
                f.write_str("switching the traffic: ")?;
                chain(f, e)
            }
            FailureReason::ProxyRecheck(u) => write!(f, "through the proxy after the switch: {u}"),
            FailureReason::SwitchBackFailed { reason, to, error } => {
                write!(f, "{reason}; switching back to {to} failed: ")?;
                chain(f, error)
            }
            FailureReason::Pruned { release } => {
                write!(
                    f,
                    "release {release:?} was pruned; it cannot be brought back"
                )
            }
            FailureReason::Interrupted => {
                f.write_str("interrupted: the deploy was killed before it finished")
            }
            FailureReason::NoRollbackTarget { failed, reason } => {
                write!(f, "{failed}: {reason}; no healthy release to roll back to")
            }
            FailureReason::RollbackFailed {
                failed,
                reason,
                target,
                error,
            } => write!(f, "{failed}: {reason}; rollback to {target}: {error}"),
            FailureReason::NothingBefore { target, reason } => {
                write!(
                    f,
                    "rollback to {target}: {reason}; nothing was running before"
                )
            }
            FailureReason::RestoreFailed {
                target,
                reason,
                previous,
                error,
            } => write!(
                f,
                "rollback to {target}: {reason}; bringing back {previous}: {error}"
            ),
            FailureReason::Analysis { detail, .. } => f.write_str(detail),
        }
    }
}

impl PartialEq for FailureReason {
    fn eq(&self, other: &Self) -> bool {
        self.kind() == other.kind() && self.to_string() == other.to_string()
    }
}

impl Eq for FailureReason {}

impl Serialize for FailureReason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl From<Unhealthy> for FailureReason {
    fn from(u: Unhealthy) -> Self {
        FailureReason::Unhealthy(u)
    }
}

/// How a step of the engine ends when it does not succeed: the release failed (a
/// [`FailureReason`], handled by rolling back), or the engine hit an error that is not the
/// release's fault (an invalid state transition: a bug), returned to the caller.
#[derive(Debug)]
pub(crate) enum StepError {
    /// The release failed.
    Failed(FailureReason),
    /// The engine failed.
    Engine(Error),
}

impl From<FailureReason> for StepError {
    fn from(r: FailureReason) -> Self {
        StepError::Failed(r)
    }
}

impl From<Error> for StepError {
    fn from(e: Error) -> Self {
        StepError::Engine(e)
    }
}

impl From<crate::state::InvalidTransition> for StepError {
    fn from(e: crate::state::InvalidTransition) -> Self {
        StepError::Engine(Error::Transition(e))
    }
}
