//! Releases as local processes: started in their own session (so they outlive `ops`), logs to a
//! file, stopped with SIGTERM then SIGKILL after a grace period, identified by pid *and* start
//! time so a reused pid is never mistaken for ours.

use std::fs::OpenOptions;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::runtime::{Instance, Runtime};

/// Runs each release as `sh -c <command>` with `PORT` and `OPS_RELEASE` in its environment.
#[derive(Debug, Clone)]
pub struct LocalProcess {
    log_dir: PathBuf,
    env: Vec<(String, String)>,
}

impl LocalProcess {
    /// Releases log to `<log_dir>/<release>.log`.
    pub fn new(log_dir: impl Into<PathBuf>) -> LocalProcess {
        LocalProcess {
            log_dir: log_dir.into(),
            env: Vec::new(),
        }
    }

    /// `<release>-<port>.pid`: one per instance, so a release started on both ports (blue-green
    /// bringing back the running release's own id) leaves both findable.
    fn pid_path(&self, release: &str, port: u16) -> PathBuf {
        self.log_dir.join(format!("{release}-{port}.pid"))
    }

    /// Adds an environment variable for every release.
    #[must_use]
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> LocalProcess {
        self.env.push((key.into(), value.into()));
        self
    }
}

/// `(state, start time)` from `/proc/<pid>/stat`, or `None` if the process is gone.
fn proc_stat(pid: u32) -> Option<(char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: fields follow the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let start: u64 = fields.get(19)?.parse().ok()?;
    Some((state, start))
}

fn pid_of(instance: &Instance) -> Option<u32> {
    instance.id.parse().ok()
}

impl Runtime for LocalProcess {
    fn name(&self) -> &'static str {
        "process"
    }

    fn start(&self, release: &str, artifact: &str, port: u16) -> Result<Instance> {
        let io = |action: &'static str, path: PathBuf| {
            move |source| Error::Io {
                action,
                path,
                source,
            }
        };
        std::fs::create_dir_all(&self.log_dir)
            .map_err(io("cannot create", self.log_dir.clone()))?;
        let log_path = self.log_dir.join(format!("{release}.log"));
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io("cannot open", log_path.clone()))?;
        let err_log = log
            .try_clone()
            .map_err(io("cannot open", log_path.clone()))?;
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(artifact)
            .env("PORT", port.to_string())
            .env("OPS_RELEASE", release)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err_log);
        // SAFETY: `setsid` is async-signal-safe and touches no memory of the parent; it puts the
        // release in its own session so it outlives `ops` and gets its own process group.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        // The child records its own pid before exec, so there is no moment when it runs
        // unrecorded: a deploy killed right after starting it still leaves a way to find it.
        let pid_path =
            std::ffi::CString::new(self.pid_path(release, port).as_os_str().as_encoded_bytes())
                .map_err(|_| Error::Runtime {
                    action: "start".into(),
                    reason: "the log directory path contains a NUL byte".into(),
                })?;
        // SAFETY: only async-signal-safe calls (getpid, open, write, close) on memory prepared
        // before the fork; no allocation.
        unsafe {
            cmd.pre_exec(move || {
                let mut digits = [0u8; 20];
                let mut n = libc::getpid().unsigned_abs();
                let mut i = digits.len();
                loop {
                    i -= 1;
                    digits[i] = b'0' + (n % 10) as u8;
                    n /= 10;
                    if n == 0 {
                        break;
                    }
                }
                let fd = libc::open(
                    pid_path.as_ptr(),
                    libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC,
                    0o600,
                );
                if fd >= 0 {
                    libc::write(fd, digits[i..].as_ptr().cast(), digits.len() - i);
                    libc::close(fd);
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(io("cannot start", PathBuf::from(artifact)))?;
        let pid = child.id();
        // The child is not waited for here: it must outlive us. `stop` reaps it if we are
        // still its parent.
        std::mem::forget(child);
        let start_ticks = proc_stat(pid).map(|(_, t)| t);
        tracing::info!(target: "ops_deploy", release, pid, port, "release started");
        Ok(Instance {
            release: release.to_owned(),
            id: pid.to_string(),
            port,
            start_ticks,
        })
    }

    fn stop(&self, instance: &Instance, grace: Duration) -> Result<()> {
        let Some(pid) = pid_of(instance) else {
            return Ok(());
        };
        let Ok(pgid) = i32::try_from(pid) else {
            return Ok(());
        };
        // The leader's pid reused by another program (other start time): not ours. Linux does
        // not reuse a pid while a process group of that number exists, so once the leader is
        // gone the group is still ours: its other members (a pipeline, forked workers) are
        // stopped too.
        if proc_stat(pid).is_some_and(|(state, start)| {
            state != 'Z' && instance.start_ticks.is_some_and(|t| t != start)
        }) {
            return Ok(());
        }
        reap(pid);
        if !group_alive(pgid) {
            return Ok(());
        }
        // SAFETY: sending a signal to the release's own process group.
        unsafe { libc::kill(-pgid, libc::SIGTERM) };
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            reap(pid);
            if !group_alive(pgid) {
                tracing::info!(target: "ops_deploy", release = %instance.release, pid, "release stopped");
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: as above; the group did not stop within the grace period.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while group_alive(pgid) && Instant::now() < deadline {
            reap(pid);
            std::thread::sleep(Duration::from_millis(20));
        }
        tracing::warn!(target: "ops_deploy", release = %instance.release, pid, "release killed after the grace period");
        Ok(())
    }

    fn find(&self, release: &str, port: u16) -> Option<Instance> {
        let pid: u32 = std::fs::read_to_string(self.pid_path(release, port))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let (state, start) = proc_stat(pid)?;
        // The pid must still be that release on that port: its environment names both.
        let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
        let release_marker = format!("OPS_RELEASE={release}");
        let port_marker = format!("PORT={port}");
        let has = |marker: &str| environ.split(|&b| b == 0).any(|kv| kv == marker.as_bytes());
        let ours = has(&release_marker) && has(&port_marker);
        (state != 'Z' && ours).then(|| Instance {
            release: release.to_owned(),
            id: pid.to_string(),
            port,
            start_ticks: Some(start),
        })
    }

    fn prune(&self, release: &str) -> Result<bool> {
        let mut removed = false;
        // The log, and the pid file of each port it ran on.
        let prefix = format!("{release}-");
        let pid_files = std::fs::read_dir(&self.log_dir)
            .into_iter()
            .flatten()
            .filter_map(std::result::Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                    n.strip_prefix(&prefix)
                        .and_then(|rest| rest.strip_suffix(".pid"))
                        .is_some_and(|port| port.parse::<u16>().is_ok())
                })
            });
        let paths: Vec<PathBuf> = std::iter::once(self.log_dir.join(format!("{release}.log")))
            .chain(pid_files)
            .collect();
        for path in paths {
            match std::fs::remove_file(&path) {
                Ok(()) => removed = true,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(Error::Io {
                        action: "cannot remove",
                        path,
                        source,
                    });
                }
            }
        }
        Ok(removed)
    }

    fn is_running(&self, instance: &Instance) -> bool {
        let Some(pid) = pid_of(instance) else {
            return false;
        };
        match proc_stat(pid) {
            // A zombie has exited; a different start time means the pid was reused.
            Some((state, start)) => state != 'Z' && instance.start_ticks.is_none_or(|t| t == start),
            None => false,
        }
    }
}

/// Whether any process of the group still exists (zombies aside: a group of zombies only is
/// gone for our purposes once its leader is reaped, which `reap` does when we are the parent).
fn group_alive(pgid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence and permission.
    let r = unsafe { libc::kill(-pgid, 0) };
    if r != 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EPERM) {
        return false;
    }
    if let Ok(leader) = u32::try_from(pgid)
        && proc_stat(leader).is_some_and(|(state, _)| state != 'Z')
    {
        return true;
    }
    // The leader is gone or a zombie nobody reaps (no init in a container): look for a live
    // member.
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return true;
    };
    entries.filter_map(Result::ok).any(|e| {
        let Ok(text) = std::fs::read_to_string(e.path().join("stat")) else {
            return false;
        };
        let Some(rest) = text.rfind(')').map(|i| &text[i + 1..]) else {
            return false;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next().unwrap_or("Z");
        let pgrp = fields.nth(1).and_then(|f| f.parse::<i32>().ok());
        state != "Z" && pgrp == Some(pgid)
    })
}

/// Collects the exit status if we are the parent (no-op otherwise).
fn reap(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        let mut status = 0;
        // SAFETY: non-blocking wait on a specific pid; ECHILD when it is not our child is fine.
        unsafe { libc::waitpid(pid, &raw mut status, libc::WNOHANG) };
    }
}
