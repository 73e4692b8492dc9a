//! The deploy configuration file (TOML).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::health::HealthCheck;

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
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
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
    #[serde(default)]
    pub container_port: Option<u16>,
    /// Docker: volumes (`name:/path`, `/host:/path`) mounted in every release; never removed.
    #[serde(default)]
    pub volumes: Vec<String>,
    /// How long a release may take to stop after SIGTERM.
    #[serde(default = "default_grace", with = "humantime_duration")]
    pub stop_grace: Duration,
    /// The health gate.
    #[serde(default)]
    pub health: HealthCheck,
    /// Extra environment for every release.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
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

mod humantime_duration {
    use std::time::Duration;

    use serde::{Deserialize as _, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(serde::de::Error::custom)
    }
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
        let config: DeployConfig = toml::from_str(&text).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        config.check(path)?;
        Ok(config)
    }

    fn check(&self, path: &Path) -> Result<()> {
        let bad = |reason: String| {
            Err(Error::Config {
                path: path.to_path_buf(),
                reason,
            })
        };
        if self.service.is_empty()
            || !self
                .service
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return bad(format!(
                "service {:?}: use letters, digits, - and _",
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
        if self.health.retries == 0 || self.health.timeout.is_zero() {
            return bad("health: retries and timeout must be greater than zero".into());
        }
        Ok(())
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

    /// Release logs.
    pub fn log_dir(&self) -> PathBuf {
        self.state_dir.join("logs")
    }
}
