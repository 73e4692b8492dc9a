//! Deploy hooks: shell command lines run at `pre_deploy`, `post_deploy` and `on_rollback`, with
//! the release in their environment. A failing `pre_deploy` aborts the deploy before anything
//! is touched; a failing `post_deploy` or `on_rollback` is reported, never undoes a deploy.
//!
//! Hooks run as `sh -c <command>` with `OPS_HOOK` (the phase), `OPS_SERVICE`, `OPS_RELEASE`,
//! `OPS_ARTIFACT`, `OPS_STRATEGY`, `OPS_PORT`, and when they apply `OPS_PREVIOUS_RELEASE`,
//! `OPS_FAILED_RELEASE` and `OPS_REASON`. Their output is appended to `<state_dir>/logs/hooks.log`;
//! one that outlives its timeout is killed and counts as failed.

use std::io::{Read as _, Seek as _, SeekFrom};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The hooks section of the config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Hooks {
    /// Runs after the lock is taken, before anything changes; a failure aborts the deploy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_deploy: Option<String>,
    /// Runs after the new release is healthy and receiving the traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_deploy: Option<String>,
    /// Runs after a rollback (automatic or `ops rollback`) brought a release back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_rollback: Option<String>,
    /// How long one hook may run before it is killed (default 5 minutes; not zero).
    #[serde(
        default = "default_timeout",
        with = "ops_core::duration::serde::nonzero"
    )]
    pub timeout: Duration,
}

impl Default for Hooks {
    fn default() -> Hooks {
        Hooks {
            pre_deploy: None,
            post_deploy: None,
            on_rollback: None,
            timeout: default_timeout(),
        }
    }
}

fn default_timeout() -> Duration {
    Duration::from_mins(5)
}

/// The phase a hook runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Before anything changes.
    PreDeploy,
    /// After a healthy deploy.
    PostDeploy,
    /// After a rollback.
    OnRollback,
}

impl Phase {
    /// `pre_deploy`, `post_deploy` or `on_rollback`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::PreDeploy => "pre_deploy",
            Phase::PostDeploy => "post_deploy",
            Phase::OnRollback => "on_rollback",
        }
    }
}

impl Hooks {
    /// The command configured for `phase`.
    #[must_use]
    pub fn command(&self, phase: Phase) -> Option<&str> {
        match phase {
            Phase::PreDeploy => self.pre_deploy.as_deref(),
            Phase::PostDeploy => self.post_deploy.as_deref(),
            Phase::OnRollback => self.on_rollback.as_deref(),
        }
        .filter(|c| !c.trim().is_empty())
    }

    /// Runs the hook for `phase`, if one is configured, with `env` added to its environment and
    /// its output appended to `log`. `Ok(false)` when there is none.
    ///
    /// # Errors
    /// [`Error::Hook`] when it exits non-zero, is killed by a signal or outlives the timeout
    /// (the message ends with its last output); [`Error::Io`] when it cannot be started.
    pub fn run(&self, phase: Phase, env: &[(&str, String)], log: &Path) -> Result<bool> {
        let Some(command) = self.command(phase) else {
            return Ok(false);
        };
        run_command(phase.as_str(), command, self.timeout, env, log)
    }
}

/// Runs `command` with `sh -c` as the hook of `phase` (`OPS_HOOK`), `env` added, its output
/// appended to `log`, killed (with its process group) after `timeout`. `Ok(true)` when it
/// succeeded.
///
/// # Errors
/// [`Error::Hook`] when it exits non-zero, is killed or times out; [`Error::Io`] when it
/// cannot be started.
pub(crate) fn run_command(
    phase: &'static str,
    command: &str,
    timeout: Duration,
    env: &[(&str, String)],
    log: &Path,
) -> Result<bool> {
    let io = |action: &'static str, path: PathBuf| {
        move |source| Error::Io {
            action,
            path,
            source,
        }
    };
    if let Some(dir) = log.parent() {
        crate::fs::create_dirs(dir)?;
    }
    let mut out = crate::fs::open_append(log, crate::fs::SHARED_FILE_MODE)?;
    let start_offset = out
        .seek(SeekFrom::End(0))
        .map_err(io("cannot seek", log.to_path_buf()))?;
    let err = out
        .try_clone()
        .map_err(io("cannot open", log.to_path_buf()))?;
    let stdout = out
        .try_clone()
        .map_err(io("cannot open", log.to_path_buf()))?;
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .env("OPS_HOOK", phase)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(err)
        .process_group(0);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().map_err(io("cannot run", PathBuf::from("sh")))?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() >= timeout => {
                kill_group(child.id());
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(source) => {
                return Err(Error::Io {
                    action: "cannot wait for",
                    path: PathBuf::from(command),
                    source,
                });
            }
        }
    };
    let outcome = match status {
        Some(s) if s.success() => {
            tracing::info!(target: "ops_deploy", hook = phase, command, "hook succeeded");
            return Ok(true);
        }
        Some(s) => s.to_string(),
        None => format!("killed after {timeout:?}"),
    };
    let mut tail = String::new();
    if out.seek(SeekFrom::Start(start_offset)).is_ok() {
        let _ = out.read_to_string(&mut tail);
    }
    let tail: String = {
        let lines: Vec<&str> = tail.lines().collect();
        lines[lines.len().saturating_sub(5)..].join(" | ")
    };
    tracing::warn!(target: "ops_deploy", hook = phase, command, outcome, "hook failed");
    Err(Error::Hook {
        phase,
        command: command.to_owned(),
        reason: if tail.is_empty() {
            outcome
        } else {
            format!("{outcome}; last output: {tail}")
        },
    })
}

/// SIGKILL to the hook's process group (it runs in its own, so its children die with it).
fn kill_group(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: kill(2) on a process group we created; no memory involved.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}
