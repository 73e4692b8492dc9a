//! The deploy configuration file (TOML).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::health::HealthCheck;
use crate::hooks::Hooks;
use crate::plan::Strategy;
use crate::proxy::{Nginx, TrafficSwitch};

/// What `ops deploy` reads from `--config FILE`.
///
/// ```toml
/// service = "web"
/// state_dir = ".ops-deploy"   # history.json, deploy.lock, current.json, logs/
/// runtime = "process"         # each release is a local command ("docker": an image)
/// port = 18080                # where a release serves, on 127.0.0.1
/// stop_grace = "10s"          # SIGTERM, then SIGKILL after this
///
/// [health]
/// path = "/health"
/// interval = "1s"
/// timeout = "2s"
/// retries = 10
///
/// [env]
/// RUST_LOG = "info"
///
/// # Blue-green behind nginx (optional):
/// # strategy = "blue-green", alt_port = 18081 and drain = "2s" at the top, plus:
/// [proxy]
/// upstream_file = "/etc/nginx/conf.d/web-upstream.conf"
/// public = "127.0.0.1:8080"
///
/// [hooks]
/// pre_deploy = "./migrate.sh"        # a failure aborts the deploy
/// post_deploy = "echo $OPS_RELEASE is live"
/// on_rollback = "./page-oncall.sh"
/// ```
///
/// Other top-level keys: `keep = 5` (pruning), `container_port`, `volumes` (Docker),
/// `[backup]` (or `backup = "before-deploy"`: see [`crate::backup`]), `[slo]`, the
/// error-budget policy ([`SloPolicy`]), and progressive delivery: `strategy = "canary"` with
/// `[canary]` ([`CanaryConfig`](crate::analysis::CanaryConfig)), blue-green's `verify = "2m"`
/// (after the switch the old release keeps running while the analysis watches the new one;
/// on failure the traffic switches back at once), and `[analysis]` for both
/// ([`AnalysisConfig`](crate::analysis::AnalysisConfig)).
///
/// Durations are humantime strings parsed by [`ops_core::duration`]: no sign, at most 366
/// days, and not zero where zero means nothing (`health.interval`, `health.timeout`,
/// `hooks.timeout`). Names that become files, proxy configuration or commands are checked:
/// `service` (letters, digits, `-`, `_`), `proxy.upstream_name` (an nginx identifier),
/// `health.path` (an origin-form path: `/` first, printable ASCII, no space).
///
/// A config serializes back to TOML that loads into an equal config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct DeployConfig {
    /// The service name (file names, labels).
    pub service: String,
    /// Where history, lock, current state and release logs live.
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// `process` (each release is a command line) or `docker` (each release is an image).
    #[serde(default = "default_runtime")]
    pub runtime: String,
    /// The port a release serves on (127.0.0.1); passed to it as `PORT`.
    pub port: u16,
    /// Docker: the port the container listens on (default: `port`); published on
    /// `127.0.0.1:<port>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_port: Option<u16>,
    /// Docker: volumes (`name:/path`, `/host:/path`) mounted in every release; never removed.
    #[serde(default)]
    pub volumes: Vec<String>,
    /// How long a release may take to stop after SIGTERM.
    #[serde(default = "default_grace", with = "ops_core::duration::serde::any")]
    pub stop_grace: Duration,
    /// The health gate.
    #[serde(default)]
    pub health: HealthCheck,
    /// Extra environment for every release.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// `stop-start` (default) or `blue-green` (needs `alt_port` and `[proxy]`).
    #[serde(default)]
    pub strategy: Strategy,
    /// Blue-green: the second port; releases alternate between `port` and `alt_port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt_port: Option<u16>,
    /// Blue-green: how long the old release keeps serving in-flight requests after the switch
    /// before it is stopped (default 2 s).
    #[serde(default = "default_drain", with = "ops_core::duration::serde::any")]
    pub drain: Duration,
    /// Pruning keeps this many newest releases' images and logs (default 5).
    #[serde(default = "default_keep")]
    pub keep: usize,
    /// Hooks run at `pre_deploy`, `post_deploy` and `on_rollback`.
    #[serde(default)]
    pub hooks: Hooks,
    /// The reverse proxy blue-green switches; optional for stop-start (pointed at `port`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<ProxyConfig>,
    /// Backups of the service's data (`[backup]`, or `backup = "before-deploy"`): see
    /// [`crate::backup`].
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::backup::deserialize_opt"
    )]
    pub backup: Option<crate::backup::BackupConfig>,
    /// The error-budget policy (`[slo]`): refuse a release while an SLO's budget is spent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<SloPolicy>,
    /// Canary: the steps (`[canary]`; default 10, 25, 50, 100 %).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<crate::analysis::CanaryConfig>,
    /// Blue-green: after the switch, analyse the new release this long while the old one
    /// keeps running; on failure switch back at once.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_nonzero")]
    pub verify: Option<Duration>,
    /// The analysis of canary steps and of blue-green's verification (`[analysis]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<crate::analysis::AnalysisConfig>,
}

/// An optional humantime duration, above zero and at most 366 days.
pub(crate) mod opt_nonzero {
    use std::time::Duration;

    use serde::{Deserialize as _, Deserializer, Serializer};

    #[allow(clippy::ref_option)]
    pub(crate) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.collect_str(&humantime::format_duration(*d)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        let text = String::deserialize(d)?;
        ops_core::duration::parse_within(&text, ops_core::duration::Bounds::NONZERO)
            .map(Some)
            .map_err(|e| serde::de::Error::custom(format!("{text:?}: {e}")))
    }
}

/// The Workbook's error-budget policy, executable (`[slo]`): while an SLO's error budget is
/// spent, `ops deploy` refuses new releases (rollbacks still run), unless told
/// `--ignore-error-budget` — which the history records, with the SLOs whose budget was spent.
///
/// ```toml
/// [slo]
/// state = "/var/lib/quickstart/slo-state.json"   # the state file the monitor keeps
/// refuse_when_exhausted = true                   # default
/// slos = ["quickstart-availability"]             # default: every SLO in the file
/// ```
///
/// The budget is read from the state file's hourly counts at the time of the deploy. A
/// missing state file (no monitor has written it yet) refuses nothing; an unreadable or
/// unusable one refuses the release, as the budget cannot be known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SloPolicy {
    /// The SLO state file (`ops monitor --slo-state FILE`, `SloEngineBuilder::state_file`).
    pub state: PathBuf,
    /// Refuse a release while a budget is spent (default true).
    #[serde(default = "default_true")]
    pub refuse_when_exhausted: bool,
    /// Only these SLOs (ids, `service-name`); default: all of the state file's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slos: Vec<String>,
}

fn default_true() -> bool {
    true
}

fn default_state_dir() -> PathBuf {
    PathBuf::from(".ops-deploy")
}

fn default_runtime() -> String {
    "process".into()
}

fn default_grace() -> Duration {
    Duration::from_secs(10)
}

/// The reverse proxy that blue-green switches (`[proxy]`). Only `kind = "nginx"` exists.
///
/// ```toml
/// [proxy]
/// kind = "nginx"
/// upstream_file = "/etc/nginx/conf.d/web-upstream.conf"   # included by your server block
/// upstream_name = "web"                                   # default: the service name
/// test_command = ["nginx", "-t"]
/// reload_command = ["nginx", "-s", "reload"]
/// public = "127.0.0.1:8080"                               # probed again after each switch
/// pid_file = "/run/nginx.pid"                             # a switch waits for the new workers
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ProxyConfig {
    /// `nginx`.
    #[serde(default = "default_proxy_kind")]
    pub kind: String,
    /// The file holding the `upstream` block, rewritten by each switch.
    pub upstream_file: PathBuf,
    /// The upstream's name (default: the service name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_name: Option<String>,
    /// Checks the configuration before a reload.
    #[serde(default = "default_test_command")]
    pub test_command: Vec<String>,
    /// Reloads gracefully.
    #[serde(default = "default_reload_command")]
    pub reload_command: Vec<String>,
    /// The address the proxy serves the service on, health-checked after each switch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public: Option<SocketAddr>,
    /// nginx's pid file: each switch waits until nginx runs workers with the new
    /// configuration. Default: `/run/nginx.pid` with the default `reload_command`, none (no
    /// wait) with another one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_file: Option<PathBuf>,
}

fn default_proxy_kind() -> String {
    "nginx".into()
}

fn default_test_command() -> Vec<String> {
    vec!["nginx".into(), "-t".into()]
}

fn default_reload_command() -> Vec<String> {
    vec!["nginx".into(), "-s".into(), "reload".into()]
}

fn default_keep() -> usize {
    5
}

fn default_drain() -> Duration {
    Duration::from_secs(2)
}

impl DeployConfig {
    /// Reads and checks a config file.
    ///
    /// # Errors
    /// [`Error::Io`], or [`Error::Config`] naming the file and what is wrong.
    pub fn load(path: impl AsRef<Path>) -> Result<DeployConfig> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            action: "cannot read",
            path: path.to_path_buf(),
            source,
        })?;
        DeployConfig::from_toml(&text, path)
    }

    /// Parses and checks a config's text; `origin` names it in errors (the file it came
    /// from). Never panics, whatever the text.
    ///
    /// ```
    /// use ops_deploy::DeployConfig;
    /// let config = DeployConfig::from_toml("service = \"web\"\nport = 8080\n", "web.toml".as_ref())?;
    /// assert_eq!(config.health.path, "/health");
    /// let err = DeployConfig::from_toml("service = \"web\"\nport = 8080\nstop_grace = \"500000000000years\"\n", "web.toml".as_ref())
    ///     .unwrap_err()
    ///     .to_string();
    /// assert!(err.contains("stop_grace"), "{err}");
    /// # Ok::<(), ops_deploy::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] naming `origin`, the setting and what is wrong.
    pub fn from_toml(text: &str, origin: &Path) -> Result<DeployConfig> {
        let config: DeployConfig = toml::from_str(text).map_err(|e| Error::Config {
            path: origin.to_path_buf(),
            reason: e.to_string(),
        })?;
        config.check(origin)?;
        Ok(config)
    }

    /// Checks the settings together (after a field was changed, e.g. the strategy from a
    /// command-line flag).
    ///
    /// # Errors
    /// [`Error::Config`] naming what is wrong.
    pub fn validate(&self) -> Result<()> {
        self.check(Path::new("(config)"))
    }

    #[allow(clippy::too_many_lines)] // one rule after the other
    fn check(&self, path: &Path) -> Result<()> {
        let bad = |reason: String| {
            Err(Error::Config {
                path: path.to_path_buf(),
                reason,
            })
        };
        if let Err(e) = crate::names::check_service(&self.service) {
            return bad(e.to_string());
        }
        if let Err(e) = crate::names::check_health_path(&self.health.path) {
            return bad(e.to_string());
        }
        if self.health.interval.is_zero() {
            return bad("health.interval: must be greater than zero".into());
        }
        for (field, d) in [
            ("stop_grace", self.stop_grace),
            ("drain", self.drain),
            ("health.interval", self.health.interval),
            ("health.timeout", self.health.timeout),
            ("health.start_period", self.health.start_period),
            ("hooks.timeout", self.hooks.timeout),
        ] {
            if d > ops_core::duration::MAX {
                return bad(format!(
                    "{field}: must be at most {}",
                    ops_core::duration::format(ops_core::duration::MAX)
                ));
            }
        }
        if self.runtime == "docker" && self.service.chars().any(|c| c.is_ascii_uppercase()) {
            return bad(format!(
                "service {:?}: Docker image and container names must be lowercase",
                self.service
            ));
        }
        if self.runtime != "process" && self.runtime != "docker" {
            return bad(format!(
                "runtime {:?}: expected \"process\" or \"docker\"",
                self.runtime
            ));
        }
        if self.port == 0 {
            return bad("port: must not be 0".into());
        }
        if self.hooks.timeout.is_zero() {
            return bad("hooks.timeout: must be greater than zero".into());
        }
        if self.health.retries == 0 || self.health.timeout.is_zero() {
            return bad("health: retries and timeout must be greater than zero".into());
        }
        if self.keep == 0 {
            return bad("keep: must be at least 1 (the running release)".into());
        }
        if let Some(proxy) = &self.proxy {
            if proxy.kind != "nginx" {
                return bad(format!("proxy.kind {:?}: expected \"nginx\"", proxy.kind));
            }
            if proxy.test_command.is_empty() || proxy.reload_command.is_empty() {
                return bad("proxy: test_command and reload_command must not be empty".into());
            }
            let upstream = proxy.upstream_name.as_deref().unwrap_or(&self.service);
            if let Err(e) = crate::names::check_upstream_name(upstream) {
                return bad(e.to_string());
            }
        }
        if let Some(backup) = &self.backup
            && let Err(reason) = backup.check(&self.runtime, &self.volumes)
        {
            return bad(reason);
        }
        if self.strategy.side_by_side() {
            let strategy = self.strategy;
            match self.alt_port {
                None => {
                    return bad(format!(
                        "strategy \"{strategy}\" needs alt_port (the second port)"
                    ));
                }
                Some(p) if p == self.port || p == 0 => {
                    return bad(format!("alt_port {p}: must differ from port and not be 0"));
                }
                Some(_) => {}
            }
            if self.proxy.is_none() {
                return bad(format!(
                    "strategy \"{strategy}\" needs a [proxy] section to switch the traffic"
                ));
            }
        }
        if let Some(c) = &self.canary
            && let Err(e) = c.check()
        {
            return bad(e);
        }
        if let Some(a) = &self.analysis
            && let Err(e) = a.check()
        {
            return bad(e);
        }
        if self.verify.is_some() && self.strategy == Strategy::StopStart {
            return bad(
                "verify: needs strategy \"blue-green\" (stop-start keeps no old release to switch back to)"
                    .into(),
            );
        }
        Ok(())
    }

    /// The analysis in force: `[analysis]`, or the defaults.
    #[must_use]
    pub fn analysis(&self) -> crate::analysis::AnalysisConfig {
        self.analysis.clone().unwrap_or_default()
    }

    /// The canary's steps in force: `[canary]`, or the defaults.
    #[must_use]
    pub fn canary(&self) -> crate::analysis::CanaryConfig {
        self.canary.clone().unwrap_or_default()
    }

    /// `progress.json`: what a canary or verifying deploy is doing now (for `ops deploy
    /// promote` and `abort`).
    pub fn progress_path(&self) -> PathBuf {
        self.state_dir.join("progress.json")
    }

    /// `gate.json`: a decision (`promote`, `abort`) waiting for the deploy to take it.
    pub fn gate_path(&self) -> PathBuf {
        self.state_dir.join("gate.json")
    }

    /// `history.json` in the state directory.
    pub fn history_path(&self) -> PathBuf {
        self.state_dir.join("history.json")
    }

    /// `deploy.lock` in the state directory.
    pub fn lock_path(&self) -> PathBuf {
        self.state_dir.join("deploy.lock")
    }

    /// `current.json`: the instance running now.
    pub fn current_path(&self) -> PathBuf {
        self.state_dir.join("current.json")
    }

    /// The runtime the config names, with its environment and volumes.
    pub fn runtime(&self) -> Box<dyn crate::runtime::Runtime> {
        if self.runtime == "docker" {
            let mut d = crate::runtime::DockerCli::new(
                &self.service,
                self.container_port.unwrap_or(self.port),
            );
            for (k, v) in &self.env {
                d = d.env(k, v);
            }
            for v in &self.volumes {
                d = d.volume(v);
            }
            Box::new(d)
        } else {
            let mut p = crate::runtime::LocalProcess::new(self.log_dir());
            for (k, v) in &self.env {
                p = p.env(k, v);
            }
            Box::new(p)
        }
    }

    /// The traffic switch `[proxy]` describes, if any.
    pub fn traffic_switch(&self) -> Option<Box<dyn TrafficSwitch>> {
        let p = self.proxy.as_ref()?;
        let mut nginx = Nginx::new(
            &p.upstream_file,
            p.upstream_name
                .clone()
                .unwrap_or_else(|| self.service.clone()),
        )
        .test_command(p.test_command.clone())
        .reload_command(p.reload_command.clone());
        if let Some(addr) = p.public {
            nginx = nginx.public(addr);
        }
        // The default reload signals the master of the default pid file: wait on that one.
        match &p.pid_file {
            Some(pid_file) => nginx = nginx.pid_file(pid_file),
            None if p.reload_command == default_reload_command() => {
                nginx = nginx.pid_file("/run/nginx.pid");
            }
            None => {}
        }
        Some(Box::new(nginx))
    }

    /// Release logs.
    pub fn log_dir(&self) -> PathBuf {
        self.state_dir.join("logs")
    }
}
