//! Moving traffic between releases: the [`TrafficSwitch`] trait and its nginx implementation,
//! all at once (blue-green) or by weight (a canary's steps).

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::health::{self, ProbeError};

use crate::error::{Error, Result};
use crate::fs::write_atomic;

/// Something that routes a service's traffic to one release at a time (a reverse proxy), or
/// splits it between two by weight (a canary).
///
/// `switch` and `split` must be all-or-nothing: when they return an error, traffic still goes
/// where it went before.
pub trait TrafficSwitch: Send + Sync + fmt::Debug {
    /// A short name (`nginx`).
    fn name(&self) -> &'static str;

    /// Routes the traffic to `target`, where `release` serves.
    ///
    /// # Errors
    /// The proxy refused the change; the previous routing is still in place.
    fn switch(&self, release: &str, target: SocketAddr) -> Result<()>;

    /// Where the routing points now, if it can tell and it all goes to one address (`None`
    /// while the traffic is split).
    fn target(&self) -> Option<SocketAddr>;

    /// Sends `weight` percent (1 to 99) of the traffic to `canary` and the rest to `stable`,
    /// each a release and where it serves. The default refuses: a switch that cannot weigh.
    ///
    /// # Errors
    /// The proxy refused the change (or cannot split); the previous routing is still in
    /// place.
    fn split(
        &self,
        stable: (&str, SocketAddr),
        canary: (&str, SocketAddr),
        weight: u8,
    ) -> Result<()> {
        let _ = (stable, canary, weight);
        Err(Error::Proxy {
            action: format!("{} split", self.name()),
            reason: "this traffic switch cannot split the traffic by weight".into(),
        })
    }

    /// Where the traffic goes now: each address with its weight (one entry when it all goes
    /// to one release; empty when it cannot tell).
    fn routes(&self) -> Vec<(SocketAddr, u32)> {
        self.target().map(|t| vec![(t, 1)]).unwrap_or_default()
    }

    /// The address the proxy serves the traffic on, probed again after a switch.
    fn public(&self) -> Option<SocketAddr>;

    /// One health probe through the proxy (`GET path` on [`public`](TrafficSwitch::public)),
    /// made after each switch; `None` when there is no public address to probe. The default
    /// speaks HTTP; [`FakeTrafficSwitch`](crate::FakeTrafficSwitch) answers from a script.
    fn probe_public(&self, path: &str, timeout: Duration) -> Option<Result<u16, ProbeError>> {
        self.public().map(|addr| health::probe(addr, path, timeout))
    }

    /// One line for plans and logs.
    fn describe(&self) -> String;
}

/// nginx on this machine: the switch rewrites an upstream file (included by the server's
/// configuration), checks the whole configuration with `nginx -t`, and reloads gracefully
/// (`nginx -s reload`: new workers take new connections, old workers finish the requests they
/// have). A failing check or reload puts the previous file back.
///
/// The file holds one `upstream <name> { server 127.0.0.1:<port>; }` block (two weighted
/// `server` lines while a canary has part of the traffic: nginx's weighted round robin, per
/// worker); point a `proxy_pass http://<name>;` at it.
#[derive(Debug, Clone)]
pub struct Nginx {
    upstream_file: PathBuf,
    upstream_name: String,
    test_command: Vec<String>,
    reload_command: Vec<String>,
    public: Option<SocketAddr>,
    pid_file: Option<PathBuf>,
}

impl Nginx {
    /// nginx with `upstream_file` holding upstream `upstream_name`, checked with `nginx -t` and
    /// reloaded with `nginx -s reload`.
    pub fn new(upstream_file: impl Into<PathBuf>, upstream_name: impl Into<String>) -> Nginx {
        Nginx {
            upstream_file: upstream_file.into(),
            upstream_name: upstream_name.into(),
            test_command: vec!["nginx".into(), "-t".into()],
            reload_command: vec!["nginx".into(), "-s".into(), "reload".into()],
            public: None,
            pid_file: None,
        }
    }

    /// The command that checks the configuration (default `nginx -t`).
    #[must_use]
    pub fn test_command(mut self, argv: Vec<String>) -> Nginx {
        self.test_command = argv;
        self
    }

    /// The command that reloads it (default `nginx -s reload`).
    #[must_use]
    pub fn reload_command(mut self, argv: Vec<String>) -> Nginx {
        self.reload_command = argv;
        self
    }

    /// The address nginx serves the service on, probed after each switch.
    #[must_use]
    pub fn public(mut self, addr: SocketAddr) -> Nginx {
        self.public = Some(addr);
        self
    }

    /// nginx's pid file. A reload only signals the master, which then starts workers with
    /// the new configuration; with the pid file the switch waits until new workers exist, so
    /// the old release is not drained and stopped while nginx still sends it traffic. Without
    /// one (or when it cannot be read) the switch does not wait.
    #[must_use]
    pub fn pid_file(mut self, path: impl Into<PathBuf>) -> Nginx {
        self.pid_file = Some(path.into());
        self
    }

    fn master(&self) -> Option<u32> {
        std::fs::read_to_string(self.pid_file.as_ref()?)
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Waits until the master has a worker that was not in `before` and every worker that
    /// was is gone or shutting down (it has closed its listening sockets and takes no new
    /// connection): from then on every new connection gets the new configuration.
    fn wait_for_new_workers(&self, master: u32, before: &HashSet<u32>) -> Result<()> {
        let deadline = crate::health::deadline_after(Duration::from_secs(10));
        loop {
            let now = children(master);
            let started = now.iter().any(|p| !before.contains(p));
            let old_quiet = before.iter().filter(|p| now.contains(p)).all(|p| {
                let title = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
                let title = String::from_utf8_lossy(&title);
                !title.contains("worker process") || title.contains("shutting down")
            });
            if started && old_quiet {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::Proxy {
                    action: self.reload_command.join(" "),
                    reason: format!(
                        "nginx (master pid {master}) started no worker with the new configuration within 10 s"
                    ),
                });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The upstream file's content routing to `target`.
    #[must_use]
    pub fn render(&self, release: &str, target: SocketAddr) -> String {
        format!(
            "# Written by ops-deploy: traffic for {name} goes to release {release}.\nupstream {name} {{\n    server {target};\n}}\n",
            name = self.upstream_name
        )
    }

    /// The upstream file's content sending `weight` percent of the traffic to `canary` and
    /// the rest to `stable`.
    #[must_use]
    pub fn render_split(
        &self,
        stable: (&str, SocketAddr),
        canary: (&str, SocketAddr),
        weight: u8,
    ) -> String {
        let weight = weight.clamp(1, 99);
        format!(
            "# Written by ops-deploy: traffic for {name} is split: {} % to release {}, {weight} % to release {} (canary).\nupstream {name} {{\n    server {} weight={};\n    server {} weight={weight};\n}}\n",
            100 - weight,
            stable.0,
            canary.0,
            stable.1,
            100 - weight,
            canary.1,
            name = self.upstream_name
        )
    }

    /// Writes `content`, checks it with `nginx -t`, reloads and waits for the new workers;
    /// any failure puts the previous file back.
    fn apply(&self, content: &str) -> Result<()> {
        crate::names::check_upstream_name(&self.upstream_name)?;
        let previous = std::fs::read(&self.upstream_file).ok();
        write_atomic(&self.upstream_file, content.as_bytes())?;
        if let Err(e) = Self::run(&self.test_command, "nginx -t") {
            self.restore(previous.as_deref());
            return Err(e);
        }
        let master = self.master();
        let before = master.map(children);
        let reloaded = Self::run(&self.reload_command, "nginx -s reload").and_then(|()| {
            match (master, &before) {
                (Some(m), Some(before)) => self.wait_for_new_workers(m, before),
                _ => Ok(()),
            }
        });
        if let Err(e) = reloaded {
            self.restore(previous.as_deref());
            // Best effort: the old file is back; a reload that failed once may work now.
            let _ = Self::run(&self.reload_command, "nginx -s reload");
            return Err(e);
        }
        Ok(())
    }

    fn run(argv: &[String], what: &str) -> Result<()> {
        let Some((program, args)) = argv.split_first() else {
            return Err(Error::Proxy {
                action: what.to_owned(),
                reason: "empty command".into(),
            });
        };
        let out = Command::new(program)
            .args(args)
            .output()
            .map_err(|source| Error::Io {
                action: "cannot run",
                path: PathBuf::from(program),
                source,
            })?;
        if out.status.success() {
            Ok(())
        } else {
            Err(Error::Proxy {
                action: argv.join(" "),
                reason: format!(
                    "{}: {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            })
        }
    }

    fn restore(&self, previous: Option<&[u8]>) {
        let restored = match previous {
            Some(bytes) => write_atomic(&self.upstream_file, bytes),
            None => std::fs::remove_file(&self.upstream_file).map_err(|source| Error::Io {
                action: "cannot remove",
                path: self.upstream_file.clone(),
                source,
            }),
        };
        if let Err(e) = restored {
            tracing::error!(target: "ops_deploy", error = %e, "cannot put the previous upstream file back");
        }
    }
}

/// The processes whose parent is `pid`.
fn children(pid: u32) -> HashSet<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return HashSet::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            std::fs::read_to_string(format!("/proc/{child}/stat"))
                .ok()
                .and_then(|t| {
                    let rest = &t[t.rfind(')')? + 1..];
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(pid)
        })
        .collect()
}

/// Reads the `server <addr> [weight=N];` lines back from an upstream file.
fn parse_routes(path: &Path) -> Vec<(SocketAddr, u32)> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix("server "))
        .filter_map(|rest| {
            let mut words = rest.trim_end_matches(';').split_whitespace();
            let addr: SocketAddr = words.next()?.parse().ok()?;
            let weight = words
                .find_map(|w| w.strip_prefix("weight="))
                .and_then(|w| w.parse().ok())
                .unwrap_or(1);
            Some((addr, weight))
        })
        .collect()
}

impl TrafficSwitch for Nginx {
    fn name(&self) -> &'static str {
        "nginx"
    }

    fn switch(&self, release: &str, target: SocketAddr) -> Result<()> {
        // Both are written into nginx's configuration: only identifiers.
        crate::names::check_id("release id", release)?;
        self.apply(&self.render(release, target))?;
        tracing::info!(target: "ops_deploy", release, %target, file = %self.upstream_file.display(), "nginx now routes to the release");
        Ok(())
    }

    fn split(
        &self,
        stable: (&str, SocketAddr),
        canary: (&str, SocketAddr),
        weight: u8,
    ) -> Result<()> {
        crate::names::check_id("release id", stable.0)?;
        crate::names::check_id("release id", canary.0)?;
        if weight == 0 || weight >= 100 {
            return Err(Error::InvalidValue {
                field: "canary weight",
                value: weight.to_string(),
                expected: "1 to 99 (0 and 100 are a switch)",
            });
        }
        self.apply(&self.render_split(stable, canary, weight))?;
        tracing::info!(target: "ops_deploy", stable = stable.0, canary = canary.0, weight, file = %self.upstream_file.display(), "nginx now splits the traffic");
        Ok(())
    }

    fn target(&self) -> Option<SocketAddr> {
        match parse_routes(&self.upstream_file).as_slice() {
            [(addr, _)] => Some(*addr),
            _ => None,
        }
    }

    fn routes(&self) -> Vec<(SocketAddr, u32)> {
        parse_routes(&self.upstream_file)
    }

    fn public(&self) -> Option<SocketAddr> {
        self.public
    }

    fn describe(&self) -> String {
        format!(
            "nginx: upstream {} in {}, checked with `{}`, reloaded with `{}`",
            self.upstream_name,
            self.upstream_file.display(),
            self.test_command.join(" "),
            self.reload_command.join(" ")
        )
    }
}
