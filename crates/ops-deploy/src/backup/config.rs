//! The `[backup]` section of the deploy config.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{Error, Result};

/// When backups are taken besides `ops backup run`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum BackupWhen {
    /// Only on request (`ops backup run`, [`Deployer::backup`](crate::Deployer::backup)).
    #[default]
    Manual,
    /// Also before every deploy: a backup is taken and verified before the new release
    /// starts (and before the `pre_deploy` hook, which may migrate data); a failure aborts
    /// the deploy with nothing changed.
    BeforeDeploy,
}

/// Which engine stores backups.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum EngineKind {
    /// restic when the `restic` binary runs, else the built-in archive.
    #[default]
    Auto,
    /// restic (a local repository under the backup directory by default).
    Restic,
    /// The built-in archive: one tar file per backup plus a SHA-256 manifest.
    Archive,
}

impl EngineKind {
    /// `auto`, `restic` or `archive`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::Auto => "auto",
            EngineKind::Restic => "restic",
            EngineKind::Archive => "archive",
        }
    }
}

/// `[backup.restic]`: where restic keeps backups and how it opens the repository.
///
/// The password is only ever handed to restic as `RESTIC_PASSWORD_FILE` (never on a command
/// line, never in a log), and the repository as `RESTIC_REPOSITORY` (a URL may hold
/// credentials; it is redacted from error messages).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ResticConfig {
    /// The restic program (default `restic`, found on `PATH`).
    #[serde(default = "default_restic_binary")]
    pub binary: PathBuf,
    /// Any restic repository (`/mnt/backup/web`, `sftp:backup@host:/srv/web`,
    /// `rest:https://…`). Default: `<backup dir>/restic`, created on first use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// The file holding the repository's password. Default (local repository only):
    /// `<backup dir>/restic.password`, generated on first use (mode 0600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// What `restic check --read-data-subset` reads during a verification: `n/t`, `x%` or a
    /// size (`500M`). Default `10%`.
    #[serde(default = "default_subset")]
    pub check_subset: String,
}

impl Default for ResticConfig {
    fn default() -> Self {
        ResticConfig {
            binary: default_restic_binary(),
            repository: None,
            password_file: None,
            check_subset: default_subset(),
        }
    }
}

fn default_restic_binary() -> PathBuf {
    PathBuf::from("restic")
}

fn default_subset() -> String {
    "10%".into()
}

/// The `[backup]` section: what is backed up, by which engine, when, and how long backups
/// are kept.
///
/// ```toml
/// [backup]
/// when = "before-deploy"        # or "manual" (default)
/// engine = "auto"               # restic if installed, else the built-in archive
/// paths = ["/srv/web/data"]     # host directories (process runtime)
/// volumes = ["web-data"]        # named Docker volumes (default: the named ones in `volumes`)
/// pre_backup = "sqlite3 /srv/web/data/app.db '.backup /srv/web/data/app.db.copy'"
/// stop_service = false          # stop the release while its data is copied
/// keep_last = 7                 # retention: the newest 7 …
/// keep_days = 30                # … and every backup younger than 30 days
/// max_age = "26h"               # the newest verified backup must be younger (alert)
/// restore_on_rollback = false   # never restore data on an automatic rollback unless true
///
/// [backup.restic]
/// repository = "sftp:backup@vault:/srv/restic/web"
/// password_file = "/etc/ops/restic-web.pass"
/// ```
///
/// `backup = "before-deploy"` (or `"manual"`) at the top level is short for a `[backup]`
/// section with only `when` set: the service's named Docker volumes are backed up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct BackupConfig {
    /// When backups are taken besides `ops backup run`.
    #[serde(default)]
    pub when: BackupWhen,
    /// The engine.
    #[serde(default)]
    pub engine: EngineKind,
    /// Where the catalogue, manifests, archives, the local restic repository and the work
    /// directory live (default `<state_dir>/backups`; created 0700).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// Host directories to back up.
    #[serde(default)]
    pub paths: Vec<PathBuf>,
    /// Named Docker volumes to back up (read and written through a short-lived container of
    /// a local, empty FROM-scratch helper image, with `docker cp`).
    #[serde(default)]
    pub volumes: Vec<String>,
    /// A command run (`sh -c`) before the data is read; a failure aborts the backup. It gets
    /// `OPS_HOOK=pre_backup`, `OPS_SERVICE`, `OPS_BACKUP_ID`, `OPS_BACKUP_KIND` and
    /// `OPS_RELEASE` (the running release, if any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_backup: Option<String>,
    /// How long `pre_backup` may run (default 5 minutes).
    #[serde(
        default = "default_hook_timeout",
        with = "ops_core::duration::serde::nonzero"
    )]
    pub hook_timeout: Duration,
    /// Stop the running release while the data is copied (consistency), and start it again
    /// afterwards, health-checked, whatever happened.
    #[serde(default)]
    pub stop_service: bool,
    /// Verify every backup right after it is taken (a restore into a scratch directory
    /// compared with the manifest). Backups taken before a deploy are always verified.
    #[serde(default = "default_true")]
    pub verify: bool,
    /// Retention keeps the newest `keep_last` backups (at least 1) …
    #[serde(default = "default_keep_last")]
    pub keep_last: usize,
    /// … and every backup younger than `keep_days` days (0: none kept for age). The newest
    /// verified backup is never deleted.
    #[serde(default)]
    pub keep_days: u32,
    /// The newest verified backup must be younger than this (`ops backup status` is
    /// CRITICAL past it; `/metrics` shows the age and the limit). Default 26 hours.
    #[serde(
        default = "default_max_age",
        with = "ops_core::duration::serde::nonzero"
    )]
    pub max_age: Duration,
    /// After a deploy that failed and was rolled back, restore the backup taken before it.
    /// Off by default: restores only happen on request.
    #[serde(default)]
    pub restore_on_rollback: bool,
    /// The helper image used to read and write Docker volumes: built locally on first use
    /// (an empty FROM-scratch image; no registry).
    #[serde(default = "default_helper_image")]
    pub helper_image: String,
    /// restic's settings.
    #[serde(default)]
    pub restic: ResticConfig,
}

fn default_true() -> bool {
    true
}

fn default_hook_timeout() -> Duration {
    Duration::from_mins(5)
}

fn default_keep_last() -> usize {
    7
}

fn default_max_age() -> Duration {
    Duration::from_hours(26)
}

/// The helper image every ops-deploy version uses; the tag changes if its content does.
pub(crate) const HELPER_IMAGE: &str = "ops-backup-helper:1";

fn default_helper_image() -> String {
    HELPER_IMAGE.into()
}

impl Default for BackupConfig {
    fn default() -> Self {
        BackupConfig {
            when: BackupWhen::default(),
            engine: EngineKind::default(),
            dir: None,
            paths: Vec::new(),
            volumes: Vec::new(),
            pre_backup: None,
            hook_timeout: default_hook_timeout(),
            stop_service: false,
            verify: true,
            keep_last: default_keep_last(),
            keep_days: 0,
            max_age: default_max_age(),
            restore_on_rollback: false,
            helper_image: default_helper_image(),
            restic: ResticConfig::default(),
        }
    }
}

/// A source of a backup: its name inside the backup, and where its data is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// A host directory.
    Path { name: String, path: PathBuf },
    /// A named Docker volume.
    Volume { name: String },
}

impl Source {
    pub(crate) fn name(&self) -> &str {
        match self {
            Source::Path { name, .. } | Source::Volume { name } => name,
        }
    }
}

impl BackupConfig {
    /// The sources: `paths` (named by their last component) and `volumes`; when both are
    /// empty, the named volumes of the Docker runtime's `volumes` (`name:/path`).
    pub(crate) fn sources(&self, runtime_volumes: &[String]) -> Vec<Source> {
        let mut out: Vec<Source> = self
            .paths
            .iter()
            .map(|p| Source::Path {
                name: p
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
                path: p.clone(),
            })
            .collect();
        out.extend(
            self.volumes
                .iter()
                .map(|v| Source::Volume { name: v.clone() }),
        );
        if out.is_empty() {
            out.extend(
                runtime_volumes
                    .iter()
                    .filter_map(|spec| spec.split(':').next())
                    .filter(|name| {
                        !name.is_empty() && !name.starts_with('/') && !name.starts_with('.')
                    })
                    .map(|name| Source::Volume {
                        name: name.to_owned(),
                    }),
            );
        }
        out
    }

    /// Checks the section (called by [`DeployConfig`](crate::DeployConfig)'s checks).
    pub(crate) fn check(&self, runtime: &str, runtime_volumes: &[String]) -> Result<(), String> {
        let sources = self.sources(runtime_volumes);
        if sources.is_empty() {
            return Err("backup: nothing to back up: give backup.paths or backup.volumes".into());
        }
        let mut names: Vec<&str> = Vec::new();
        for s in &sources {
            let field = match s {
                Source::Path { .. } => "backup.paths",
                Source::Volume { .. } => "backup.volumes",
            };
            if let Source::Path { path, .. } = s
                && (path.as_os_str().is_empty() || path.parent().is_none())
            {
                return Err(format!(
                    "{field}: {}: not a directory to back up",
                    path.display()
                ));
            }
            crate::names::check_id(field, s.name()).map_err(|e| e.to_string())?;
            if names.contains(&s.name()) {
                return Err(format!(
                    "{field}: two sources are named {:?} (a path's last component or a volume name); they must differ",
                    s.name()
                ));
            }
            names.push(s.name());
            if matches!(s, Source::Volume { .. }) && runtime != "docker" && !self.volumes.is_empty()
            {
                // Volumes need Docker, not the docker runtime: allowed.
            }
        }
        if self.keep_last == 0 {
            return Err("backup.keep_last: must be at least 1".into());
        }
        for (field, d) in [
            ("backup.hook_timeout", self.hook_timeout),
            ("backup.max_age", self.max_age),
        ] {
            if d > ops_core::duration::MAX {
                return Err(format!("{field}: must be at most 366 days"));
            }
        }
        check_image_ref("backup.helper_image", &self.helper_image).map_err(|e| e.to_string())?;
        check_subset(&self.restic.check_subset).map_err(|e| e.to_string())?;
        if self.restic.repository.is_some() && self.restic.password_file.is_none() {
            return Err("backup.restic: a repository needs password_file (the password is never read from the config)".into());
        }
        if let Some(repo) = &self.restic.repository
            && (repo.is_empty() || repo.starts_with('-') || repo.chars().any(char::is_control))
        {
            return Err("backup.restic.repository: not a repository location".into());
        }
        Ok(())
    }

    /// The backup directory for a state directory.
    pub(crate) fn dir_for(&self, state_dir: &Path) -> PathBuf {
        self.dir
            .clone()
            .unwrap_or_else(|| state_dir.join("backups"))
    }
}

/// An image reference that cannot read as an option or hold whitespace.
pub(crate) fn check_image_ref(field: &'static str, value: &str) -> Result<()> {
    if value.is_empty() || value.starts_with('-') || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::InvalidValue {
            field,
            value: value.to_owned(),
            expected: "an image reference (name[:tag])",
        });
    }
    Ok(())
}

/// `n/t`, `x%` (x a decimal) or a size (`500`, `500K`, `2G`).
fn check_subset(value: &str) -> Result<()> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let ok = if let Some((n, t)) = value.split_once('/') {
        digits(n) && digits(t)
    } else if let Some(p) = value.strip_suffix('%') {
        match p.split_once('.') {
            Some((a, b)) => digits(a) && digits(b),
            None => digits(p),
        }
    } else {
        let v = value.trim_end_matches(['K', 'M', 'G', 'T']);
        digits(v) && value.len() - v.len() <= 1
    };
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidValue {
            field: "backup.restic.check_subset",
            value: value.to_owned(),
            expected: "n/t, x% or a size such as 500M",
        })
    }
}

/// Reads `backup = "before-deploy"` (a string) or a `[backup]` table.
pub(crate) fn deserialize_opt<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<BackupConfig>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Option<BackupConfig>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("\"before-deploy\", \"manual\" or a [backup] table")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            let when = match v {
                "before-deploy" => BackupWhen::BeforeDeploy,
                "manual" => BackupWhen::Manual,
                other => {
                    return Err(E::custom(format!(
                        "backup {other:?}: expected \"before-deploy\", \"manual\" or a [backup] table"
                    )));
                }
            };
            Ok(Some(BackupConfig {
                when,
                ..BackupConfig::default()
            }))
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            BackupConfig::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Some)
        }
    }
    d.deserialize_any(V)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod test {
    use super::*;

    #[test]
    fn subsets() {
        for ok in ["10%", "2.5%", "1/5", "500M", "100"] {
            assert!(check_subset(ok).is_ok(), "{ok}");
        }
        for bad in ["", "%", "-1%", "1/", "5MM", "x", "10% --x", "1/5;rm"] {
            assert!(check_subset(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sources_default_to_named_volumes() {
        let c = BackupConfig::default();
        let s = c.sources(&["data:/data".into(), "/host:/x".into(), "cache:/c:ro".into()]);
        assert_eq!(
            s,
            [
                Source::Volume {
                    name: "data".into()
                },
                Source::Volume {
                    name: "cache".into()
                }
            ]
        );
    }
}
