//! Named Docker volumes, read and written through short-lived containers of a local helper
//! image — no registry, no program in the container.
//!
//! The helper image is built on first use from a Dockerfile with nothing but metadata
//! (`FROM scratch`, a label, a command that is never run): `docker create` makes a container
//! that mounts the volume at `/data` and is never started; `docker cp <c>:/data -` streams the
//! volume as tar (owners, modes and times in the headers), and `docker cp -a - <c>:/` writes a
//! tar stream into it, owners kept. The container is removed right after (also on error).
//!
//! Writing a volume back replaces its content: the volume is removed and created again with
//! the same driver, options and labels (refused while any container uses it), then filled.
//! The restore that does this has backed the volume up first.

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};

use super::manifest::Manifest;
use crate::error::{Error, Result};

/// The Docker CLI for volume work.
#[derive(Debug, Clone)]
pub(crate) struct Volumes {
    pub(crate) helper_image: String,
    /// Helper containers are labelled with it, so the ones a killed backup left are found.
    pub(crate) service: String,
}

fn check_volume(name: &str) -> Result<()> {
    // Docker's own rule for volume names, which also keeps them from reading as options.
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && name.len() <= 255;
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidValue {
            field: "backup.volumes",
            value: name.to_owned(),
            expected: "a Docker volume name: a letter or digit, then letters, digits, _, . and -",
        })
    }
}

fn docker(args: &[&str]) -> Result<String> {
    let out = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| Error::Io {
            action: "cannot run",
            path: "docker".into(),
            source,
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(Error::Runtime {
            action: format!(
                "docker {}",
                args.iter().take(2).copied().collect::<Vec<_>>().join(" ")
            ),
            reason: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

/// A created (never started) helper container mounting a volume; removed on drop.
struct Helper {
    id: String,
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", &self.id])
            .stdin(Stdio::null())
            .output();
    }
}

impl Volumes {
    /// Builds the helper image if the engine does not have it.
    fn ensure_image(&self) -> Result<()> {
        super::config::check_image_ref("backup.helper_image", &self.helper_image)?;
        if docker(&["image", "inspect", "-f", "{{.Id}}", &self.helper_image]).is_ok() {
            return Ok(());
        }
        let mut child = Command::new("docker")
            .args(["build", "-q", "-t", &self.helper_image, "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| Error::Io {
                action: "cannot run",
                path: "docker".into(),
                source,
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(
                b"FROM scratch\nLABEL ops-deploy.backup-helper=\"1\"\nCMD [\"/ops-backup-helper-is-never-run\"]\n",
            );
        }
        let out = child.wait_with_output().map_err(|source| Error::Io {
            action: "cannot run",
            path: "docker".into(),
            source,
        })?;
        if out.status.success() {
            Ok(())
        } else {
            Err(Error::Runtime {
                action: format!("docker build {}", self.helper_image),
                reason: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            })
        }
    }

    pub(crate) fn exists(volume: &str) -> Result<bool> {
        check_volume(volume)?;
        Ok(docker(&["volume", "inspect", "-f", "{{.Name}}", volume]).is_ok())
    }

    fn helper(&self, volume: &str, read_only: bool) -> Result<Helper> {
        self.ensure_image()?;
        let label = format!("ops-deploy.backup-helper={}", self.service);
        // Left by a killed backup of this service (the deploy lock keeps two from running).
        if let Ok(ids) = docker(&["ps", "-a", "-q", "--filter", &format!("label={label}")]) {
            for id in ids.split_whitespace() {
                let _ = docker(&["rm", "-f", id]);
            }
        }
        let mount = format!("{volume}:/data{}", if read_only { ":ro" } else { "" });
        let id = docker(&[
            "create",
            "--label",
            &label,
            "--network",
            "none",
            "-v",
            &mount,
            &self.helper_image,
        ])?;
        Ok(Helper { id })
    }

    /// Copies the volume into `dst` (a new private directory) as source `name`.
    pub(crate) fn export(&self, volume: &str, name: &str, dst: &Path) -> Result<Manifest> {
        if !Self::exists(volume)? {
            return Err(Error::Backup {
                action: format!("backing up the volume {volume}"),
                reason: "no such volume".into(),
            });
        }
        let helper = self.helper(volume, true)?;
        let mut cp = Command::new("docker");
        super::die_with_parent(&mut cp);
        let mut child = cp
            .args(["cp", &format!("{}:/data", helper.id), "-"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| Error::Io {
                action: "cannot run",
                path: "docker".into(),
                source,
            })?;
        let stdout = child.stdout.take().ok_or_else(|| Error::Backup {
            action: "docker cp".into(),
            reason: "no output".into(),
        })?;
        let staged = super::tree::stage_tar(name, stdout, "data", dst);
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        let status = child.wait().map_err(|source| Error::Io {
            action: "cannot wait for",
            path: "docker".into(),
            source,
        })?;
        drop(helper);
        if !status.success() {
            return Err(Error::Runtime {
                action: format!("docker cp of the volume {volume}"),
                reason: err.trim().to_owned(),
            });
        }
        staged
    }

    /// Replaces the volume's content with `scratch/<name>` as `manifest` describes it
    /// (owners, modes, times): the volume is created again with its driver, options and
    /// labels, then filled through `docker cp -a`.
    pub(crate) fn import(
        &self,
        volume: &str,
        name: &str,
        manifest: &Manifest,
        scratch: &Path,
    ) -> Result<()> {
        check_volume(volume)?;
        let action = || format!("restoring the volume {volume}");
        let users = docker(&["ps", "-a", "-q", "--filter", &format!("volume={volume}")])?;
        if !users.is_empty() {
            return Err(Error::Backup {
                action: action(),
                reason: format!(
                    "containers use it ({}); stop and remove them first",
                    users.split_whitespace().collect::<Vec<_>>().join(", ")
                ),
            });
        }
        if Self::exists(volume)? {
            let info = docker(&["volume", "inspect", "-f", "{{json .}}", volume])?;
            let v: serde_json::Value = serde_json::from_str(&info).map_err(|e| Error::Backup {
                action: action(),
                reason: format!("docker volume inspect: {e}"),
            })?;
            let mut create = vec![
                "volume".to_owned(),
                "create".to_owned(),
                format!("--driver={}", v["Driver"].as_str().unwrap_or("local")),
            ];
            for (key, flag) in [("Options", "--opt"), ("Labels", "--label")] {
                if let Some(map) = v[key].as_object() {
                    for (k, val) in map {
                        create.push(format!("{flag}={k}={}", val.as_str().unwrap_or_default()));
                    }
                }
            }
            create.push(volume.to_owned());
            self.ensure_image()?;
            docker(&["volume", "rm", volume])?;
            let refs: Vec<&str> = create.iter().map(String::as_str).collect();
            docker(&refs)?;
        } else {
            docker(&["volume", "create", volume])?;
        }
        let helper = self.helper(volume, false)?;
        let mut cp = Command::new("docker");
        super::die_with_parent(&mut cp);
        let mut child = cp
            .args(["cp", "-a", "-", &format!("{}:/", helper.id)])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| Error::Io {
                action: "cannot run",
                path: "docker".into(),
                source,
            })?;
        let written = child.stdin.take().map(|stdin| {
            let mut builder = tar::Builder::new(std::io::BufWriter::new(stdin));
            super::tree::write_tar(&mut builder, manifest, scratch, Some(name), Some("data"))
                .and_then(|()| {
                    builder
                        .into_inner()
                        .and_then(|mut w| w.flush())
                        .map_err(|e| Error::Backup {
                            action: action(),
                            reason: e.to_string(),
                        })
                })
        });
        let out = child.wait_with_output().map_err(|source| Error::Io {
            action: "cannot wait for",
            path: "docker".into(),
            source,
        })?;
        drop(helper);
        if !out.status.success() {
            return Err(Error::Runtime {
                action: format!("docker cp into the volume {volume}"),
                reason: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        written.unwrap_or(Ok(()))
    }
}
