//! Change records: who (user and host) did what to which release, when, and how it ended.
//! Each is a `tracing` event with target `audit` — ops-logging writes those to its audit
//! stream (`audit.log`, 0600, never dropped) without this crate depending on it — and a
//! [`ChangeRecord`] in the release's history.

use std::fmt;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::history::ChangeRecord;

/// Who makes a change: a user on a host.
///
/// ```
/// let a = ops_deploy::Actor::new("alice", "build-1");
/// assert_eq!(a.to_string(), "alice@build-1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Actor {
    /// The user.
    pub user: String,
    /// The host.
    pub host: String,
}

impl Actor {
    /// `user` on `host`.
    pub fn new(user: impl Into<String>, host: impl Into<String>) -> Actor {
        Actor {
            user: user.into(),
            host: host.into(),
        }
    }

    /// The user running this process, on this host: `OPS_ACTOR` when set (a CI job naming
    /// who triggered it), else `SUDO_USER` (the person behind `sudo`), `USER`, `LOGNAME`, the
    /// password database's name for the uid, or `uid N`.
    #[must_use]
    pub fn current() -> Actor {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let user = env("OPS_ACTOR")
            .or_else(|| env("SUDO_USER"))
            .or_else(|| env("USER"))
            .or_else(|| env("LOGNAME"))
            .or_else(user_of_uid)
            .unwrap_or_else(|| format!("uid {}", uid()));
        // A name from the environment is bounded and printable before it is recorded.
        let user: String = user.chars().filter(|c| !c.is_control()).take(128).collect();
        Actor {
            user,
            host: crate::lock::hostname(),
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.user, self.host)
    }
}

/// This process's uid.
fn uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

/// The password database's name for this process's uid.
fn user_of_uid() -> Option<String> {
    let mut buf = vec![0u8; 4096];
    // SAFETY: `passwd` is plain data, all-zero is a valid value for it.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwuid_r writes into `pwd` and `buf` (of the length given) only, and sets
    // `result` to `&pwd` or null.
    let rc = unsafe {
        libc::getpwuid_r(
            libc::getuid(),
            &raw mut pwd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &raw mut result,
        )
    };
    if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
        return None;
    }
    // SAFETY: on success pw_name points at a NUL-terminated string inside `buf`.
    let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
    Some(name.to_string_lossy().into_owned())
}

/// Emits the audit event and returns its record.
pub(crate) fn record(
    service: &str,
    release: &str,
    action: &str,
    actor: &Actor,
    outcome: &str,
    detail: &str,
) -> ChangeRecord {
    let at = SystemTime::now();
    tracing::info!(
        target: "audit",
        service,
        release,
        action,
        actor = %actor.user,
        host = %actor.host,
        outcome,
        detail,
        at = %humantime::format_rfc3339_millis(at),
        "deploy change"
    );
    ChangeRecord {
        at,
        action: action.to_owned(),
        user: actor.user.clone(),
        host: actor.host.clone(),
        outcome: outcome.to_owned(),
        detail: detail.to_owned(),
    }
}
