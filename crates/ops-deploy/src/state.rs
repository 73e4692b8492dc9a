//! The deployment state machine.
//!
//! ```text
//! Locked ─► Starting ─► Checking ─┬─► Done                      (stop-start)
//!    │         │           │      └─► Switching ─► Draining ─► Done   (blue-green)
//!    │         │           │              │ ▲  └─► Analysing ─► Draining  (canary steps,
//!    │         │           │              │ └────────┤ ▲          blue-green's verify)
//!    │         │           │              │          ▼ │
//!    │         │           │              │        Paused  (a manual gate, a hold)
//!    │         └───────────┴──────────────┴─► RollingBack ─┬─► RolledBack
//!    └─────────┴───────────┴─────────────────► Failed ◄────┘
//! ```
//!
//! From `Analysing` and `Paused` the machine may also go to `RollingBack` or `Failed` (an
//! abort).
//!
//! Every transition is checked against this graph ([`State::can_go_to`]) and emitted as a
//! structured `tracing` event (target `ops_deploy`, fields `release`, `from`, `to`, `at`,
//! `detail`). An invalid transition is a typed error, never a silent jump.

use std::fmt;
use std::time::SystemTime;

use serde::Serialize;

use crate::plan::Strategy;

/// Where a deployment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// The deploy lock is held; nothing has been touched yet.
    Locked,
    /// The release is being started (stop-start: after the old one was stopped).
    Starting,
    /// Its health is being checked.
    Checking,
    /// Traffic is being moved to it (blue-green).
    Switching,
    /// The new release's signals are being analysed under real traffic (a canary step,
    /// blue-green's verification).
    Analysing,
    /// Waiting for `ops deploy promote` or `ops deploy abort` (a manual gate, or a hold after
    /// inconclusive measurements).
    Paused,
    /// The old release is finishing its in-flight requests before it is stopped (blue-green).
    Draining,
    /// The release is running, healthy, and receiving the traffic.
    Done,
    /// The release failed; the previous healthy release is being brought back.
    RollingBack,
    /// The previous healthy release is running again.
    RolledBack,
    /// The deploy stopped without a healthy release to show for it (or was aborted by a hook).
    Failed,
}

impl State {
    /// Every state, in the order of the diagram.
    pub const ALL: [State; 11] = [
        State::Locked,
        State::Starting,
        State::Checking,
        State::Switching,
        State::Analysing,
        State::Paused,
        State::Draining,
        State::Done,
        State::RollingBack,
        State::RolledBack,
        State::Failed,
    ];

    /// Whether the machine may go from `self` to `next`.
    #[must_use]
    pub fn can_go_to(self, next: State) -> bool {
        use State::{
            Analysing, Checking, Done, Draining, Failed, Locked, Paused, RolledBack, RollingBack,
            Starting, Switching,
        };
        matches!(
            (self, next),
            (Locked, Starting | Failed)
                | (Starting, Checking | RollingBack | Failed)
                | (Checking, Switching | Done | RollingBack | Failed)
                | (Switching, Analysing | Draining | RollingBack | Failed)
                | (
                    Analysing,
                    Switching | Paused | Draining | RollingBack | Failed
                )
                | (
                    Paused,
                    Switching | Analysing | Draining | RollingBack | Failed
                )
                | (Draining, Done)
                | (RollingBack, RolledBack | Failed)
        )
    }

    /// `Done`, `RolledBack` and `Failed` end a deployment.
    #[must_use]
    pub fn is_terminal(self) -> bool {
        matches!(self, State::Done | State::RolledBack | State::Failed)
    }

    /// The `snake_case` name used in events and JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            State::Locked => "locked",
            State::Starting => "starting",
            State::Checking => "checking",
            State::Switching => "switching",
            State::Analysing => "analysing",
            State::Paused => "paused",
            State::Draining => "draining",
            State::Done => "done",
            State::RollingBack => "rolling_back",
            State::RolledBack => "rolled_back",
            State::Failed => "failed",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A transition the graph does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid deploy state transition {from} -> {to}")]
pub struct InvalidTransition {
    /// The state the machine was in.
    pub from: State,
    /// The state asked for.
    pub to: State,
}

/// One recorded transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transition {
    /// The state left.
    pub from: State,
    /// The state entered.
    pub to: State,
    /// When.
    #[serde(serialize_with = "ops_core::time::rfc3339::serialize")]
    pub at: SystemTime,
    /// What happened (which release, which port, why it failed).
    pub detail: String,
}

/// One deployment (or rollback) walking the state machine.
///
/// ```
/// use ops_deploy::{Deployment, State, Strategy};
/// let mut d = Deployment::begin("web-3", Strategy::BlueGreen);
/// d.advance(State::Starting, "port 9002")?;
/// d.advance(State::Checking, "GET /health")?;
/// assert!(d.advance(State::Draining, "too early").is_err()); // must switch first
/// d.advance(State::Switching, "nginx upstream -> 9002")?;
/// d.advance(State::Draining, "old release web-2")?;
/// d.advance(State::Done, "healthy")?;
/// assert_eq!(d.state(), State::Done);
/// assert_eq!(d.transitions().len(), 5);
/// # Ok::<(), ops_deploy::InvalidTransition>(())
/// ```
#[derive(Debug, Clone)]
pub struct Deployment {
    release: String,
    strategy: Strategy,
    state: State,
    transitions: Vec<Transition>,
}

impl Deployment {
    /// A deployment of `release` that holds the lock (state [`State::Locked`]).
    pub fn begin(release: impl Into<String>, strategy: Strategy) -> Deployment {
        let release = release.into();
        tracing::info!(
            target: "ops_deploy",
            release = %release,
            strategy = strategy.as_str(),
            to = "locked",
            at = %humantime::format_rfc3339_millis(SystemTime::now()),
            "deploy state"
        );
        Deployment {
            release,
            strategy,
            state: State::Locked,
            transitions: Vec::new(),
        }
    }

    /// Moves to `to`, recording and emitting the transition.
    ///
    /// # Errors
    /// [`InvalidTransition`] if the graph has no such edge; the state is then unchanged.
    pub fn advance(
        &mut self,
        to: State,
        detail: impl Into<String>,
    ) -> Result<Transition, InvalidTransition> {
        if !self.state.can_go_to(to) {
            return Err(InvalidTransition {
                from: self.state,
                to,
            });
        }
        let t = Transition {
            from: self.state,
            to,
            at: SystemTime::now(),
            detail: detail.into(),
        };
        tracing::info!(
            target: "ops_deploy",
            release = %self.release,
            strategy = self.strategy.as_str(),
            from = t.from.as_str(),
            to = t.to.as_str(),
            at = %humantime::format_rfc3339_millis(t.at),
            detail = %t.detail,
            "deploy state"
        );
        self.state = to;
        self.transitions.push(t.clone());
        Ok(t)
    }

    /// The release being deployed.
    pub fn release(&self) -> &str {
        &self.release
    }

    /// The strategy.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Every transition so far, oldest first.
    pub fn transitions(&self) -> &[Transition] {
        &self.transitions
    }
}
