//! Releases as Docker containers, driven through the `docker` CLI (which negotiates the API
//! version with whatever engine is there, and honours `DOCKER_HOST` and contexts).
//!
//! Containers are named `<service>-<release>-<port>`, labelled `ops-deploy.service` and
//! `ops-deploy.release`, restart `unless-stopped`, and published on 127.0.0.1 only. The image
//! a release ran is tagged `<service>:<release>` by its ID, so a rollback runs exactly that
//! image even if the tag it was deployed from moved (no `docker commit`, no pause). Containers
//! are removed without `-v`: volumes are never deleted.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::names::check_id;
use crate::runtime::{Instance, Runtime};

/// The Docker backend.
#[derive(Debug, Clone)]
pub struct DockerCli {
    service: String,
    container_port: u16,
    env: Vec<(String, String)>,
    volumes: Vec<String>,
    binary: PathBuf,
}

impl DockerCli {
    /// Containers of `service` serving on `container_port` inside.
    pub fn new(service: impl Into<String>, container_port: u16) -> DockerCli {
        DockerCli {
            service: service.into(),
            container_port,
            env: Vec::new(),
            volumes: Vec::new(),
            binary: PathBuf::from("docker"),
        }
    }

    /// An environment variable for every container.
    #[must_use]
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> DockerCli {
        self.env.push((key.into(), value.into()));
        self
    }

    /// A volume (`name:/path` or `/host:/path`) mounted in every container; never removed.
    #[must_use]
    pub fn volume(mut self, spec: impl Into<String>) -> DockerCli {
        self.volumes.push(spec.into());
        self
    }

    fn run(&self, args: &[&str]) -> Result<Output> {
        let out = Command::new(&self.binary)
            .args(args)
            .output()
            .map_err(|source| Error::Io {
                action: "cannot run",
                path: self.binary.clone(),
                source,
            })?;
        if out.status.success() {
            Ok(out)
        } else {
            Err(Error::Runtime {
                action: format!("docker {}", args.first().copied().unwrap_or("")),
                reason: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            })
        }
    }

    /// `<service>-<release>-<port>`: unique per instance, so starting a release on one port
    /// never removes the same release serving on the other (blue-green).
    fn container_name(&self, release: &str, port: u16) -> String {
        format!("{}-{release}-{port}", self.service)
    }

    fn inspect(&self, id: &str, format: &str) -> Option<String> {
        let out = Command::new(&self.binary)
            .args(["inspect", "-f", format, id])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }
}

impl Runtime for DockerCli {
    fn name(&self) -> &'static str {
        "docker"
    }

    fn start(&self, release: &str, artifact: &str, port: u16) -> Result<Instance> {
        check_id("release id", release)?;
        let name = self.container_name(release, port);
        check_id("container name", &name)?;
        check_image(artifact)?;
        // A leftover container of the same name (a deploy killed mid-way): remove it, keeping
        // its volumes.
        let _ = self.run(&["rm", "-f", &name]);
        let publish = format!("127.0.0.1:{port}:{}", self.container_port);
        let mut args: Vec<String> = vec![
            "run".into(),
            "-d".into(),
            "--name".into(),
            name.clone(),
            "--label".into(),
            format!("ops-deploy.service={}", self.service),
            "--label".into(),
            format!("ops-deploy.release={release}"),
            "--restart".into(),
            "unless-stopped".into(),
            "-p".into(),
            publish,
            "-e".into(),
            format!("OPS_RELEASE={release}"),
            "-e".into(),
            format!("PORT={}", self.container_port),
        ];
        for (k, v) in &self.env {
            args.push("-e".into());
            args.push(format!("{k}={v}"));
        }
        for v in &self.volumes {
            args.push("-v".into());
            args.push(v.clone());
        }
        args.push(artifact.to_owned());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = match self.run(&refs) {
            Ok(out) => out,
            Err(e) => {
                // A failed `run` (port taken, bad volume) can leave a created container that
                // holds the image; remove it (never its volumes).
                let _ = self.run(&["rm", "-f", &name]);
                return Err(e);
            }
        };
        let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        tracing::info!(target: "ops_deploy", release, container = %id, port, "release started");
        Ok(Instance {
            release: release.to_owned(),
            id,
            port,
            start_ticks: None,
        })
    }

    fn stop(&self, instance: &Instance, grace: Duration) -> Result<()> {
        let secs = grace.as_secs().max(1).to_string();
        let _ = self.run(&["stop", "-t", &secs, &instance.id]);
        // No `-v`: anonymous and named volumes stay.
        match self.run(&["rm", &instance.id]) {
            Ok(_) => Ok(()),
            Err(_) if self.inspect(&instance.id, "{{.Id}}").is_none() => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn is_running(&self, instance: &Instance) -> bool {
        self.inspect(&instance.id, "{{.State.Running}}")
            .is_some_and(|s| s == "true")
    }

    fn find(&self, release: &str, port: u16) -> Option<Instance> {
        check_id("release id", release).ok()?;
        let name = self.container_name(release, port);
        let id = self.inspect(&name, "{{.Id}}")?;
        Some(Instance {
            release: release.to_owned(),
            id,
            port,
            start_ticks: None,
        })
    }

    fn native_health(&self, instance: &Instance) -> Option<String> {
        self.inspect(
            &instance.id,
            "{{if .State.Health}}{{.State.Health.Status}}{{end}}",
        )
        .filter(|s| !s.is_empty())
    }

    fn artifacts_in_use(&self) -> Vec<String> {
        let Ok(out) = self.run(&["ps", "-q", "--no-trunc"]) else {
            return Vec::new();
        };
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|id| self.inspect(id.trim(), "{{.Image}}"))
            .collect()
    }

    fn exited(&self, instance: &Instance) -> Option<String> {
        let Some(state) = self.inspect(
            &instance.id,
            "{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}",
        ) else {
            return Some("no longer exists".to_owned());
        };
        let mut fields = state.split_whitespace();
        let status = fields.next().unwrap_or("");
        let code = fields.next().unwrap_or("?");
        let restarts: u64 = fields.next().and_then(|r| r.parse().ok()).unwrap_or(0);
        match status {
            "exited" | "dead" => Some(format!("exited with status {code}")),
            "restarting" => Some(format!("exited with status {code} (restarting)")),
            _ if restarts > 0 => Some(format!(
                "exited and was restarted {restarts} time(s) by the restart policy"
            )),
            _ => None,
        }
    }

    fn preflight(&self, artifact: &str) -> Result<()> {
        check_image(artifact)?;
        let local = Command::new(&self.binary)
            .args(["image", "inspect", "-f", "{{.Id}}", artifact])
            .output()
            .map_err(|source| Error::Preflight {
                what: format!("cannot run {}", self.binary.display()),
                path: Some(self.binary.clone()),
                source: Some(source),
            })?;
        if local.status.success() {
            return Ok(());
        }
        // Not on this machine: `docker run` would pull it; find out now whether it can.
        match self.run(&["pull", "-q", artifact]) {
            Ok(_) => Ok(()),
            Err(e) => Err(Error::Preflight {
                what: format!(
                    "the image {artifact} is not on this machine and cannot be pulled: {e}"
                ),
                path: None,
                source: None,
            }),
        }
    }

    fn prune(&self, release: &str) -> Result<bool> {
        check_id("release id", release)?;
        let tag = format!("{}:{release}", self.service);
        if self.inspect(&tag, "{{.Id}}").is_none() {
            return Ok(false);
        }
        // No `-f`: the engine keeps an image a container uses, and removing a tag never
        // touches volumes.
        self.run(&["rmi", &tag])?;
        Ok(true)
    }

    fn pin(&self, instance: &Instance) -> Option<String> {
        let image = self.inspect(&instance.id, "{{.Image}}")?;
        let tag = format!("{}:{}", self.service, instance.release);
        if let Err(e) = self.run(&["tag", &image, &tag]) {
            // The ID is what a rollback needs; the tag only keeps the image from being
            // garbage-collected.
            tracing::warn!(target: "ops_deploy", release = %instance.release, error = %e, "cannot tag the release's image");
        }
        Some(image)
    }
}

/// An image reference must not read as an option of `docker run` (`--privileged`) or hold
/// whitespace or control characters.
fn check_image(artifact: &str) -> Result<()> {
    if artifact.is_empty()
        || artifact.starts_with('-')
        || !artifact.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(Error::InvalidValue {
            field: "image",
            value: artifact.to_owned(),
            expected: "an image reference (name[:tag][@digest] or an image ID)",
        });
    }
    Ok(())
}
