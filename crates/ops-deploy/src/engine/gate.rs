//! Manual gates and holds: a canary step that pauses after its analysis, or an analysis held
//! on inconclusive measurements, waits for `ops deploy promote` or `ops deploy abort`.
//!
//! The deploy process waits: it keeps the deploy lock, the releases and the state machine, and
//! writes what it is doing to `<state_dir>/progress.json`. `promote` and `abort` run as other
//! processes (another terminal, another person, a CI job): they check that the lock's holder
//! is that deploy, and write their decision to `<state_dir>/gate.json` (atomically, with who
//! decided); the deploy polls the file every 100 ms, takes the decision (removing the file)
//! and records who made it. A deploy killed while it waits leaves its lock to the kernel; the
//! next deploy routes the traffic back to the release recorded as running, stops the canary
//! and clears both files. An `abort` is taken at any moment of an analysis, a `promote` only
//! while the deploy is paused.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use super::Deployer;
use crate::analysis::Decision;
use crate::audit::Actor;
use crate::error::{Error, Result};
use crate::fs::write_atomic;
use crate::lock::DeployLock;
use crate::runtime::Runtime;

/// How often a waiting deploy looks for a decision.
const POLL: Duration = Duration::from_millis(100);

/// What a canary or verifying deploy is doing now (`progress.json`), for `ops deploy
/// promote`, `ops deploy abort` and anyone who asks ([`Deployer::progress`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Progress {
    /// The release being analysed.
    pub release: String,
    /// `canary` or `verify`.
    pub phase: String,
    /// The deploy's process.
    pub pid: u32,
    /// `analysing` or `paused`.
    pub state: String,
    /// The canary step (1-based); `None` for a verification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<u32>,
    /// Canary steps in all.
    pub steps: u32,
    /// The new release's share of the traffic, in percent.
    pub weight: u8,
    /// Why it is paused (a manual gate, a hold on inconclusive measurements).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<String>,
    /// Since when it is in this state.
    #[serde(with = "ops_core::time::rfc3339")]
    pub since: SystemTime,
    /// The last measurement, in one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<String>,
}

impl Progress {
    /// `web-3: canary step 2/4 at 25 %, paused: …`.
    #[must_use]
    pub fn summary(&self) -> String {
        let at = match self.step {
            Some(s) => format!("canary step {s}/{} at {} %", self.steps, self.weight),
            None => "verification".to_owned(),
        };
        match &self.paused {
            Some(why) => format!("{}: {at}, paused: {why}", self.release),
            None => format!("{}: {at}, {}", self.release, self.state),
        }
    }
}

/// A decision waiting for the deploy (`gate.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Request {
    decision: Decision,
    release: String,
    actor: Actor,
    #[serde(with = "ops_core::time::rfc3339")]
    at: SystemTime,
}

/// The deploy's side: writes its progress, takes decisions.
#[derive(Debug)]
pub(crate) struct Gate {
    progress_path: PathBuf,
    decision_path: PathBuf,
    release: String,
}

impl Gate {
    pub(crate) fn new<R: Runtime>(d: &Deployer<R>, release: &str) -> Gate {
        let g = Gate {
            progress_path: d.config.progress_path(),
            decision_path: d.config.gate_path(),
            release: release.to_owned(),
        };
        // A decision left by an earlier deploy is not for this one.
        let _ = std::fs::remove_file(&g.decision_path);
        g
    }

    pub(crate) fn progress(&self, p: &Progress) {
        if let Ok(json) = serde_json::to_string(p) {
            let _ = write_atomic(&self.progress_path, format!("{json}\n").as_bytes());
        }
    }

    /// Takes a decision for this release, if one is there; a promote is taken only when
    /// `promote_ok` (paused). Decisions for another release are stale: removed.
    fn take(&self, promote_ok: bool) -> Option<(Decision, Actor)> {
        let text = std::fs::read_to_string(&self.decision_path).ok()?;
        let request: Option<Request> = serde_json::from_str(&text).ok();
        match request {
            Some(r) if r.release == self.release => {
                if r.decision == Decision::Promote && !promote_ok {
                    return None;
                }
                let _ = std::fs::remove_file(&self.decision_path);
                Some((r.decision, r.actor))
            }
            _ => {
                let _ = std::fs::remove_file(&self.decision_path);
                None
            }
        }
    }

    /// Waits `d`, returning early with an abort (promotes are left for a pause).
    pub(crate) fn sleep(&self, d: Duration) -> Option<Actor> {
        let until = crate::health::deadline_after(d);
        loop {
            if let Some((Decision::Abort, who)) = self.take(false) {
                return Some(who);
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            std::thread::sleep(left.min(POLL));
        }
    }

    /// Waits for a decision, at most `timeout` (`None`: as long as it takes).
    pub(crate) fn wait(&self, timeout: Option<Duration>) -> Option<(Decision, Actor)> {
        let until = timeout.map(crate::health::deadline_after);
        loop {
            if let Some(d) = self.take(true) {
                return Some(d);
            }
            if until.is_some_and(|u| Instant::now() >= u) {
                return None;
            }
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.progress_path);
        let _ = std::fs::remove_file(&self.decision_path);
    }
}

impl<R: Runtime> Deployer<R> {
    /// What a canary or verifying deploy of this service is doing now, if one is under way
    /// (its lock held by the process that wrote `progress.json`).
    ///
    /// # Errors
    /// The lock or the progress file cannot be read.
    pub fn progress(&self) -> Result<Option<Progress>> {
        let Some(holder) = DeployLock::status(self.config.lock_path())? else {
            return Ok(None);
        };
        let path = self.config.progress_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(Error::Io {
                    action: "cannot read",
                    path,
                    source,
                });
            }
        };
        let progress: Progress = serde_json::from_str(&text).map_err(|e| Error::History {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        Ok((holder.pid == progress.pid).then_some(progress))
    }

    /// Hands `decision` to the canary or verifying deploy under way (`ops deploy promote`,
    /// `ops deploy abort`), as `actor`. A promote needs a paused deploy (a manual gate, a
    /// hold); an abort is taken at any moment of the analysis. Returns the deploy's progress
    /// when the decision was handed over; [`Deployer::decision_taken`] says when the deploy
    /// took it.
    ///
    /// # Errors
    /// [`Error::Gate`] when no such deploy is under way, or a promote finds it not paused;
    /// [`Error::Io`] when the decision cannot be written.
    pub fn decide(&self, decision: Decision, actor: &Actor) -> Result<Progress> {
        let Some(progress) = self.progress()? else {
            return Err(Error::Gate {
                reason: format!(
                    "no canary or verification of {} is under way",
                    self.config.service
                ),
            });
        };
        if decision == Decision::Promote && progress.paused.is_none() {
            return Err(Error::Gate {
                reason: format!(
                    "{} is not paused ({}): promote applies to a paused step; abort stops it",
                    progress.release,
                    progress.summary()
                ),
            });
        }
        let request = Request {
            decision,
            release: progress.release.clone(),
            actor: actor.clone(),
            at: SystemTime::now(),
        };
        let json = serde_json::to_string(&request).map_err(|e| Error::Gate {
            reason: e.to_string(),
        })?;
        write_atomic(&self.config.gate_path(), format!("{json}\n").as_bytes())?;
        Ok(progress)
    }

    /// Whether the deploy took the last decision handed to it (waiting up to `wait`).
    pub fn decision_taken(&self, wait: Duration) -> bool {
        let until = crate::health::deadline_after(wait);
        loop {
            if !self.config.gate_path().exists() {
                return true;
            }
            if Instant::now() >= until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
