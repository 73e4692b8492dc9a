//! Releases as local processes: started in their own session (so they outlive `ops`), logs to a
//! file, stopped with SIGTERM then SIGKILL after a grace period, identified by pid *and* start
//! time so a reused pid is never mistaken for ours. The log directory is 0750, logs 0640, pid
//! files 0600; a release's pid file goes when it is stopped.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::health::deadline_after;
use crate::names::check_id;
use crate::runtime::{Instance, Runtime};

/// Runs each release as `sh -c <command>` with `PORT` and `OPS_RELEASE` in its environment.
#[derive(Debug, Clone)]
pub struct LocalProcess {
    log_dir: PathBuf,
    env: Vec<(String, String)>,
    /// How releases this process reaped ended, by pid (a reaped pid can be reused).
    exits: Arc<Mutex<HashMap<u32, String>>>,
}

impl LocalProcess {
    /// Releases log to `<log_dir>/<release>.log`.
    pub fn new(log_dir: impl Into<PathBuf>) -> LocalProcess {
        LocalProcess {
            log_dir: log_dir.into(),
            env: Vec::new(),
            exits: Arc::default(),
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
        check_id("release id", release)?;
        crate::fs::ensure_private_dir(&self.log_dir)?;
        let log_path = self.log_dir.join(format!("{release}.log"));
        let log = crate::fs::open_append(&log_path, crate::fs::SHARED_FILE_MODE)?;
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
        let child = match cmd.spawn() {
            Ok(child) => child,
            Err(source) => {
                // The child may have written its pid file before exec failed.
                let _ = std::fs::remove_file(self.pid_path(release, port));
                return Err(io("cannot start", PathBuf::from(artifact))(source));
            }
        };
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
        stop_group(instance, grace);
        // Its pid file goes with it (if it still names this pid: never another instance's).
        if let (Some(pid), Ok(())) = (pid_of(instance), check_id("release id", &instance.release)) {
            let path = self.pid_path(&instance.release, instance.port);
            let recorded = std::fs::read_to_string(&path)
                .ok()
                .and_then(|t| t.trim().parse::<u32>().ok());
            if recorded == Some(pid) {
                let _ = std::fs::remove_file(&path);
            }
        }
        Ok(())
    }

    fn find(&self, release: &str, port: u16) -> Option<Instance> {
        check_id("release id", release).ok()?;
        self.find_instance(release, port)
    }

    fn exited(&self, instance: &Instance) -> Option<String> {
        let pid = pid_of(instance)?;
        if let Some(how) = self.exits.lock().ok()?.get(&pid) {
            return Some(how.clone());
        }
        if let Some((state, start)) = proc_stat(pid)
            && state != 'Z'
            && instance.start_ticks.is_none_or(|t| t == start)
        {
            return None;
        }
        // Gone, a zombie, or the pid now someone else's: collect the status if we are the
        // parent.
        let how = wait_status(pid).unwrap_or_else(|| "exited".to_owned());
        if let Ok(mut exits) = self.exits.lock() {
            exits.insert(pid, how.clone());
        }
        Some(how)
    }

    fn preflight(&self, artifact: &str) -> Result<()> {
        crate::fs::check_writable(&self.log_dir)?;
        let Some(program) = program_of(artifact) else {
            return Ok(());
        };
        let path_var = self
            .env
            .iter()
            .rev()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var("PATH").ok())
            .unwrap_or_default();
        check_program(&program, &path_var)
    }

    fn prune(&self, release: &str) -> Result<bool> {
        check_id("release id", release)?;
        self.prune_files(release)
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

/// SIGTERM to the release's process group, SIGKILL after `grace`.
fn stop_group(instance: &Instance, grace: Duration) {
    let Some(pid) = pid_of(instance) else {
        return;
    };
    let Ok(pgid) = i32::try_from(pid) else {
        return;
    };
    // The leader's pid reused by another program (other start time): not ours. Linux does
    // not reuse a pid while a process group of that number exists, so once the leader is
    // gone the group is still ours: its other members (a pipeline, forked workers) are
    // stopped too.
    if proc_stat(pid).is_some_and(|(state, start)| {
        state != 'Z' && instance.start_ticks.is_some_and(|t| t != start)
    }) {
        return;
    }
    reap(pid);
    if !group_alive(pgid) {
        return;
    }
    // SAFETY: sending a signal to the release's own process group.
    unsafe { libc::kill(-pgid, libc::SIGTERM) };
    let deadline = deadline_after(grace);
    while Instant::now() < deadline {
        reap(pid);
        if !group_alive(pgid) {
            tracing::info!(target: "ops_deploy", release = %instance.release, pid, "release stopped");
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: as above; the group did not stop within the grace period.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
    let deadline = deadline_after(Duration::from_secs(5));
    while group_alive(pgid) && Instant::now() < deadline {
        reap(pid);
        std::thread::sleep(Duration::from_millis(20));
    }
    tracing::warn!(target: "ops_deploy", release = %instance.release, pid, "release killed after the grace period");
}

impl LocalProcess {
    fn find_instance(&self, release: &str, port: u16) -> Option<Instance> {
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

    fn prune_files(&self, release: &str) -> Result<bool> {
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

/// How our child `pid` ended, collected without blocking: `exited with status 3`, `was killed
/// by signal 9`; `None` when it is not our child (or still runs).
fn wait_status(pid: u32) -> Option<String> {
    let pid = i32::try_from(pid).ok()?;
    let mut status = 0;
    // SAFETY: non-blocking wait on a specific pid; writes only `status`.
    let r = unsafe { libc::waitpid(pid, &raw mut status, libc::WNOHANG) };
    if r != pid {
        return None;
    }
    if libc::WIFEXITED(status) {
        Some(format!("exited with status {}", libc::WEXITSTATUS(status)))
    } else if libc::WIFSIGNALED(status) {
        Some(format!("was killed by signal {}", libc::WTERMSIG(status)))
    } else {
        Some("exited".to_owned())
    }
}

/// Shell words that are not a program on disk (keywords and builtins).
const SHELL_WORDS: &[&str] = &[
    ".", ":", "[", "alias", "bg", "break", "case", "cd", "command", "continue", "do", "done",
    "echo", "elif", "else", "esac", "eval", "exec", "exit", "export", "false", "fc", "fg", "fi",
    "for", "function", "getopts", "hash", "if", "jobs", "kill", "local", "printf", "pwd", "read",
    "readonly", "return", "select", "set", "shift", "source", "test", "then", "time", "times",
    "trap", "true", "type", "ulimit", "umask", "unalias", "unset", "until", "wait", "while",
];

/// The program a shell command line runs, when it can be told without a shell: the first
/// word after `NAME=value` assignments and `exec`, plain or in quotes without expansions.
/// `None` for anything else (a variable, a subshell, a redirect first, a builtin).
fn program_of(command: &str) -> Option<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                    if words.len() > 16 {
                        break;
                    }
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        q => word.push(q),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '$' | '`' | '\\' => return None,
                        q => word.push(q),
                    }
                }
            }
            // Shell syntax this reading does not follow.
            '$' | '`' | '\\' | '(' | ')' | '<' | '>' | '|' | ';' | '&' | '{' | '}' | '*' | '?'
            | '[' | ']' | '~' | '!' | '#' | '\n' => {
                // Glued to the first word, or before it: no program can be told.
                if words.is_empty() {
                    return None;
                }
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
                break;
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    let is_assignment = |w: &str| {
        w.split_once('=').is_some_and(|(name, _)| {
            !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
    };
    let program = words
        .into_iter()
        .skip_while(|w| is_assignment(w))
        .find(|w| w != "exec")?;
    (!SHELL_WORDS.contains(&program.as_str()) && !program.is_empty()).then_some(program)
}

/// `program` is an executable file (a path), or one is found in `path_var`.
fn check_program(program: &str, path_var: &str) -> Result<()> {
    let executable = |p: &Path| -> std::io::Result<()> {
        let meta = std::fs::metadata(p)?;
        if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
            Ok(())
        } else {
            Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied))
        }
    };
    if program.contains('/') {
        return executable(Path::new(program)).map_err(|source| Error::Preflight {
            what: format!("the release's command {program} cannot be run"),
            path: Some(PathBuf::from(program)),
            source: Some(source),
        });
    }
    if path_var
        .split(':')
        .filter(|d| !d.is_empty())
        .any(|d| executable(&Path::new(d).join(program)).is_ok())
    {
        return Ok(());
    }
    Err(Error::Preflight {
        what: format!("the release's command {program} is not in PATH ({path_var})"),
        path: Some(PathBuf::from(program)),
        source: Some(std::io::Error::from(std::io::ErrorKind::NotFound)),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod test {
    use super::*;

    #[test]
    fn the_program_of_a_command_line() {
        for (line, program) in [
            ("./server --port 1", Some("./server")),
            (
                "A=1 B_2=x exec '/opt/my app/srv' --x",
                Some("/opt/my app/srv"),
            ),
            ("exec \"/bin/sleep\" 1", Some("/bin/sleep")),
            ("sleep 5; echo", Some("sleep")),
            ("true", None),
            ("echo hi", None),
            ("$HOME/bin/x", None),
            ("(cd /tmp && ./x)", None),
            ("X=$(pwd) ./x", None),
            ("", None),
            ("'unterminated", None),
        ] {
            assert_eq!(program_of(line).as_deref(), program, "{line:?}");
        }
    }

    #[test]
    fn programs_are_found_or_refused_with_the_reason() {
        assert!(check_program("sh", "/usr/bin:/bin").is_ok());
        assert!(check_program("/bin/sh", "").is_ok());
        let err = check_program("/nonexistent/server", "/bin").unwrap_err();
        assert!(
            matches!(&err, Error::Preflight { source: Some(e), .. } if e.kind() == std::io::ErrorKind::NotFound),
            "{err:?}"
        );
        assert!(check_program("no-such-program-here", "/usr/bin:/bin").is_err());
    }
}
