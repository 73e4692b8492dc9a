//! The engines behind one trait: [`ArchiveEngine`] (built in: one tar file per backup) and
//! [`ResticEngine`] (restic: deduplicated, encrypted, any repository).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::manifest::Manifest;
use super::record::BackupRecord;
use crate::error::{Error, Result};
use crate::fs::io;

/// What an engine stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stored {
    /// Bytes it stored (archive size; restic: data added to the repository).
    pub bytes: u64,
    /// restic: the snapshot id.
    pub snapshot: Option<String>,
}

/// A source handed to [`BackupEngine::store_direct`].
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum DirectSource<'a> {
    /// A live host directory, read once.
    Live {
        /// Its name in the backup.
        name: &'a str,
        /// The directory.
        dir: &'a Path,
    },
    /// A staged copy (a Docker volume) and the manifest taken while it was copied.
    Staged {
        /// The staging tree's root (`<root>/<name>/…`).
        root: &'a Path,
        /// Its entries.
        manifest: &'a Manifest,
    },
}

/// Stores and restores backups. A backup is a tree `<tree>/<source>/…` plus the manifest
/// file, prepared by the caller in a private staging directory that nothing else writes.
pub trait BackupEngine: Send + Sync + std::fmt::Debug {
    /// `archive` or `restic`.
    fn name(&self) -> &'static str;

    /// Stores the tree at `tree` (`<source>/…` and the manifest) as backup `id`; `manifest`
    /// describes it (owners and modes the staging copy does not have). Nothing is visible
    /// under `id` until this returns `Ok`.
    ///
    /// # Errors
    /// The engine failed; what it wrote is removed (or left for [`cleanup`](Self::cleanup)).
    fn store(&self, id: &str, service: &str, tree: &Path, manifest: &Manifest) -> Result<Stored>;

    /// Whether the engine stores host directories directly, reading, hashing and writing
    /// every file in one pass ([`store_direct`](Self::store_direct)) instead of from a
    /// staging copy. The default: no (restic reads the files itself, so it is given an
    /// immutable staging copy whose manifest is exact).
    fn stores_directly(&self) -> bool {
        false
    }

    /// Stores `sources` as backup `id` in one pass, building the manifest as it reads.
    /// Only called when [`stores_directly`](Self::stores_directly) says so.
    ///
    /// # Errors
    /// A source cannot be read or the engine failed; nothing is visible under `id`.
    fn store_direct(
        &self,
        id: &str,
        _service: &str,
        _sources: &[DirectSource<'_>],
        _notes: &mut Vec<String>,
    ) -> Result<(Stored, Manifest)> {
        Err(Error::Backup {
            action: format!("storing {id}"),
            reason: format!("the {} engine needs a staging copy", self.name()),
        })
    }

    /// Restores backup `record` into `target` (an empty private directory): `target/<source>/…`.
    ///
    /// # Errors
    /// The engine failed; what it could restore is left in `target` for the comparison.
    fn restore(&self, record: &BackupRecord, target: &Path) -> Result<()>;

    /// The engine's own integrity check (restic: `check --read-data-subset`): `Ok(None)`
    /// when it has none, `Ok(Some(summary))` when it passed.
    ///
    /// # Errors
    /// The check failed, with its output.
    fn check(&self, record: &BackupRecord) -> Result<Option<String>>;

    /// Deletes a backup's data.
    ///
    /// # Errors
    /// The engine refused.
    fn delete(&self, record: &BackupRecord) -> Result<()>;

    /// Removes what interrupted backups left (data without a record): `known` are the ids
    /// of the catalogue. Returns what was removed.
    ///
    /// # Errors
    /// The engine failed.
    fn cleanup(&self, service: &str, known: &[String]) -> Result<Vec<String>>;
}

// ---------------------------------------------------------------------------------------------
// The built-in archive
// ---------------------------------------------------------------------------------------------

/// The built-in engine: `<dir>/<id>.tar` (uncompressed ustar/GNU tar any `tar` reads, files
/// with their recorded owners and modes, the manifest as `ops-manifest.jsonl` at the end),
/// written as `.<id>.tar.tmp`, fsynced, renamed, and the directory fsynced.
#[derive(Debug, Clone)]
pub struct ArchiveEngine {
    dir: PathBuf,
}

impl ArchiveEngine {
    /// Archives in `dir` (created 0700).
    pub fn new(dir: impl Into<PathBuf>) -> ArchiveEngine {
        ArchiveEngine { dir: dir.into() }
    }

    /// The archive of backup `id`.
    pub fn archive_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.tar"))
    }

    /// Writes `.<id>.tar.tmp` with `fill`, fsyncs it, renames it to `<id>.tar` and fsyncs the
    /// directory; on error the temporary file is removed.
    fn write_archive(
        &self,
        id: &str,
        fill: impl FnOnce(&mut tar::Builder<BufWriter<File>>, &Path) -> Result<()>,
    ) -> Result<Stored> {
        crate::names::check_id("backup id", id)?;
        crate::fs::create_dirs_mode(&self.dir, 0o700)?;
        let tmp = self.dir.join(format!(".{id}.tar.tmp"));
        let path = self.archive_path(id);
        let result = (|| {
            let file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(io("cannot create", &tmp))?;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(io("cannot set the mode of", &tmp))?;
            let mut builder = tar::Builder::new(BufWriter::with_capacity(1 << 20, file));
            fill(&mut builder, &tmp)?;
            let mut w = builder.into_inner().map_err(io("cannot write", &tmp))?;
            w.flush().map_err(io("cannot write", &tmp))?;
            let file = w
                .into_inner()
                .map_err(|e| io("cannot write", &tmp)(e.into_error()))?;
            file.sync_all().map_err(io("cannot fsync", &tmp))?;
            let bytes = file.metadata().map_err(io("cannot inspect", &tmp))?.len();
            std::fs::rename(&tmp, &path).map_err(io("cannot rename onto", &path))?;
            let _ = ops_core::fs::sync_dir(&self.dir);
            Ok(Stored {
                bytes,
                snapshot: None,
            })
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

/// The manifest as the archive's last entry.
fn append_manifest(
    builder: &mut tar::Builder<BufWriter<File>>,
    manifest: &Manifest,
    tmp: &Path,
) -> Result<()> {
    let bytes = manifest.to_bytes();
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o600);
    h.set_size(bytes.len() as u64);
    h.set_entry_type(tar::EntryType::Regular);
    builder
        .append_data(&mut h, super::manifest::MANIFEST_FILE, bytes.as_slice())
        .map_err(io("cannot write", tmp))
}

impl BackupEngine for ArchiveEngine {
    fn name(&self) -> &'static str {
        "archive"
    }

    fn store(&self, id: &str, _service: &str, tree: &Path, manifest: &Manifest) -> Result<Stored> {
        self.write_archive(id, |builder, tmp| {
            super::tree::write_tar(builder, manifest, tree, None, None)?;
            append_manifest(builder, manifest, tmp)
        })
    }

    fn stores_directly(&self) -> bool {
        true
    }

    fn store_direct(
        &self,
        id: &str,
        _service: &str,
        sources: &[DirectSource<'_>],
        notes: &mut Vec<String>,
    ) -> Result<(Stored, Manifest)> {
        let mut manifest = Manifest::default();
        let stored = self.write_archive(id, |builder, tmp| {
            for source in sources {
                match *source {
                    DirectSource::Live { name, dir } => {
                        let m = super::tree::archive_dir(builder, name, dir, notes)?;
                        manifest.entries.extend(m.entries);
                        manifest.skipped.extend(m.skipped);
                    }
                    DirectSource::Staged { root, manifest: m } => {
                        super::tree::write_tar(builder, m, root, None, None)?;
                        manifest.entries.extend(m.entries.iter().cloned());
                        manifest.skipped.extend(m.skipped.iter().cloned());
                    }
                }
            }
            append_manifest(builder, &manifest, tmp)
        })?;
        Ok((stored, manifest))
    }

    fn restore(&self, record: &BackupRecord, target: &Path) -> Result<()> {
        crate::names::check_id("backup id", &record.id)?;
        let path = self.archive_path(&record.id);
        let file = File::open(&path).map_err(io("cannot open", &path))?;
        super::tree::extract_tar(std::io::BufReader::with_capacity(1 << 20, file), target)
    }

    fn check(&self, _record: &BackupRecord) -> Result<Option<String>> {
        Ok(None)
    }

    fn delete(&self, record: &BackupRecord) -> Result<()> {
        crate::names::check_id("backup id", &record.id)?;
        let path = self.archive_path(&record.id);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(io("cannot remove", &path)(source)),
        }
    }

    fn cleanup(&self, service: &str, known: &[String]) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Ok(removed);
        };
        let prefix = format!("{service}-b");
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let orphan = if let Some(rest) = name.strip_prefix('.') {
                rest.starts_with(&prefix) && rest.ends_with(".tar.tmp")
            } else {
                name.starts_with(&prefix)
                    && name
                        .strip_suffix(".tar")
                        .is_some_and(|id| !known.iter().any(|k| k == id))
            };
            if orphan && std::fs::remove_file(e.path()).is_ok() {
                removed.push(name);
            }
        }
        Ok(removed)
    }
}

// ---------------------------------------------------------------------------------------------
// restic
// ---------------------------------------------------------------------------------------------

/// restic, run as a program. The repository is given as `RESTIC_REPOSITORY` and the password
/// only as `RESTIC_PASSWORD_FILE` (`RESTIC_PASSWORD` and `RESTIC_PASSWORD_COMMAND` are removed
/// from its environment): neither appears on a command line, and a repository URL is redacted
/// from every message. Snapshots are tagged `ops-backup`, `ops-service:<service>` and
/// `ops-id:<id>`.
#[derive(Debug, Clone)]
pub struct ResticEngine {
    binary: PathBuf,
    repository: String,
    password_file: PathBuf,
    cache_dir: Option<PathBuf>,
    check_subset: String,
    /// A local repository created on first use.
    init_local: bool,
}

impl ResticEngine {
    /// restic (`binary`) on `repository` with the password in `password_file`.
    pub fn new(
        binary: impl Into<PathBuf>,
        repository: impl Into<String>,
        password_file: impl Into<PathBuf>,
    ) -> ResticEngine {
        ResticEngine {
            binary: binary.into(),
            repository: repository.into(),
            password_file: password_file.into(),
            cache_dir: None,
            check_subset: "10%".into(),
            init_local: false,
        }
    }

    /// restic's cache directory (default: restic's own).
    #[must_use]
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> ResticEngine {
        self.cache_dir = Some(dir.into());
        self
    }

    /// What `check --read-data-subset` reads (validated by the config).
    #[must_use]
    pub fn check_subset(mut self, subset: impl Into<String>) -> ResticEngine {
        self.check_subset = subset.into();
        self
    }

    /// Creates the (local) repository with `restic init` when it has no `config` yet.
    #[must_use]
    pub fn init_local(mut self, yes: bool) -> ResticEngine {
        self.init_local = yes;
        self
    }

    /// Whether `binary version` runs.
    pub fn available(binary: &Path) -> bool {
        Command::new(binary)
            .arg("version")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.binary);
        super::die_with_parent(&mut cmd);
        cmd.env("RESTIC_REPOSITORY", &self.repository)
            .env("RESTIC_PASSWORD_FILE", &self.password_file)
            .env_remove("RESTIC_PASSWORD")
            .env_remove("RESTIC_PASSWORD_COMMAND")
            .env_remove("RESTIC_REPOSITORY_FILE")
            .stdin(Stdio::null());
        // A local repository needs no cache; a remote one's lives in the backup directory.
        match &self.cache_dir {
            Some(_) if self.init_local => {
                cmd.arg("--no-cache");
            }
            Some(c) => {
                cmd.arg("--cache-dir").arg(c);
            }
            None => {}
        }
        cmd.args(args);
        cmd
    }

    /// Runs restic; its stdout on success, its (redacted) stderr otherwise.
    fn run(&self, what: &str, cmd: &mut Command) -> Result<String> {
        let out = cmd.output().map_err(|source| Error::Io {
            action: "cannot run",
            path: self.binary.clone(),
            source,
        })?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(Error::Backup {
                action: format!("restic {what}"),
                reason: format!(
                    "{}: {}",
                    out.status,
                    self.redact(String::from_utf8_lossy(&out.stderr).trim())
                ),
            })
        }
    }

    /// The repository location with any `user:password@` removed.
    fn redacted_repository(&self) -> String {
        redact_url(&self.repository)
    }

    fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        if self.repository.contains('@') {
            text = text.replace(&self.repository, &self.redacted_repository());
        }
        text
    }

    /// Removes stale locks (of restic processes that are gone: a killed backup), never a
    /// live one: `restic unlock` without `--remove-all`.
    fn unlock_stale(&self) {
        if self.init_local && !Path::new(&self.repository).join("config").exists() {
            return;
        }
        let _ = self.run("unlock", &mut self.command(&["unlock", "-q"]));
    }

    fn ensure_repository(&self) -> Result<()> {
        if !self.init_local {
            return Ok(());
        }
        let dir = Path::new(&self.repository);
        if dir.join("config").exists() {
            return Ok(());
        }
        crate::fs::create_dirs_mode(dir, 0o700)?;
        self.run("init", &mut self.command(&["init", "-q"]))?;
        Ok(())
    }

    fn snapshot_of(record: &BackupRecord) -> Result<&str> {
        let s = record.snapshot.as_deref().ok_or_else(|| Error::Backup {
            action: format!("restoring {}", record.id),
            reason: "the record has no restic snapshot".into(),
        })?;
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::InvalidValue {
                field: "restic snapshot",
                value: s.to_owned(),
                expected: "a hexadecimal snapshot id",
            });
        }
        Ok(s)
    }
}

/// `scheme://user:pass@host/…` → `scheme://***@host/…` (and `user@host:` alike).
pub(crate) fn redact_url(url: &str) -> String {
    let Some(at) = url.rfind('@') else {
        return url.to_owned();
    };
    let start = match url[..at].find("://") {
        Some(i) => i + 3,
        None => url[..at].find(':').map_or(0, |i| i + 1),
    };
    format!("{}***{}", &url[..start], &url[at..])
}

impl BackupEngine for ResticEngine {
    fn name(&self) -> &'static str {
        "restic"
    }

    fn store(&self, id: &str, service: &str, tree: &Path, _manifest: &Manifest) -> Result<Stored> {
        crate::names::check_id("backup id", id)?;
        crate::names::check_service(service)?;
        self.ensure_repository()?;
        self.unlock_stale();
        let tag_id = format!("ops-id:{id}");
        let tag_service = format!("ops-service:{service}");
        let mut cmd = self.command(&[
            "backup",
            "--json",
            "--host",
            service,
            "--tag",
            "ops-backup",
            "--tag",
            &tag_service,
            "--tag",
            &tag_id,
            ".",
        ]);
        cmd.current_dir(tree);
        let out = self.run("backup", &mut cmd)?;
        let summary = out
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["message_type"] == "summary")
            .ok_or_else(|| Error::Backup {
                action: "restic backup".into(),
                reason: "no summary in its output".into(),
            })?;
        let short = summary["snapshot_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        // The full id, from the snapshot list.
        let list = self.run(
            "snapshots",
            &mut self.command(&["snapshots", "--json", "--tag", &tag_id]),
        )?;
        let full = serde_json::from_str::<serde_json::Value>(&list)
            .ok()
            .and_then(|v| {
                v.as_array()?
                    .iter()
                    .filter_map(|s| s["id"].as_str())
                    .find(|s| s.starts_with(&short))
                    .map(str::to_owned)
            })
            .unwrap_or(short);
        Ok(Stored {
            bytes: summary["data_added"].as_u64().unwrap_or(0),
            snapshot: Some(full),
        })
    }

    fn restore(&self, record: &BackupRecord, target: &Path) -> Result<()> {
        let snapshot = Self::snapshot_of(record)?;
        self.unlock_stale();
        let mut cmd = self.command(&["restore", snapshot, "--target"]);
        cmd.arg(target);
        self.run("restore", &mut cmd).map(|_| ())
    }

    fn check(&self, _record: &BackupRecord) -> Result<Option<String>> {
        self.unlock_stale();
        let out = self.run(
            "check",
            &mut self.command(&["check", "--read-data-subset", &self.check_subset]),
        )?;
        let last = out
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("ok");
        Ok(Some(format!(
            "restic check --read-data-subset {}: {}",
            self.check_subset,
            last.trim()
        )))
    }

    fn delete(&self, record: &BackupRecord) -> Result<()> {
        let snapshot = Self::snapshot_of(record)?;
        self.unlock_stale();
        self.run(
            "forget",
            &mut self.command(&["forget", "--prune", "-q", snapshot]),
        )
        .map(|_| ())
    }

    fn cleanup(&self, service: &str, known: &[String]) -> Result<Vec<String>> {
        if self.init_local && !Path::new(&self.repository).join("config").exists() {
            return Ok(Vec::new());
        }
        self.unlock_stale();
        let tag_service = format!("ops-backup,ops-service:{service}");
        let list = self.run(
            "snapshots",
            &mut self.command(&["snapshots", "--json", "--tag", &tag_service]),
        )?;
        let snapshots: Vec<serde_json::Value> = serde_json::from_str(&list).unwrap_or_default();
        let mut removed = Vec::new();
        for s in snapshots {
            let id = s["tags"]
                .as_array()
                .into_iter()
                .flatten()
                .find_map(|t| t.as_str()?.strip_prefix("ops-id:"))
                .map(str::to_owned);
            let Some(id) = id else { continue };
            let Some(snapshot) = s["id"]
                .as_str()
                .filter(|x| x.bytes().all(|b| b.is_ascii_hexdigit()))
            else {
                continue;
            };
            if !known.contains(&id) {
                self.run(
                    "forget",
                    &mut self.command(&["forget", "--prune", "-q", snapshot]),
                )?;
                removed.push(id);
            }
        }
        Ok(removed)
    }
}

/// A new random password file (mode 0600), 32 bytes from `/dev/urandom`, hex.
pub(crate) fn generate_password_file(path: &Path) -> Result<()> {
    if path.exists() {
        return crate::fs::tighten_path(path, 0o600);
    }
    let mut bytes = [0u8; 32];
    File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .map_err(io("cannot read", Path::new("/dev/urandom")))?;
    let text = bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = std::fmt::Write::write_fmt(&mut s, format_args!("{b:02x}"));
        s
    });
    crate::fs::write_atomic(path, format!("{text}\n").as_bytes())
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn urls_are_redacted() {
        assert_eq!(redact_url("/srv/restic"), "/srv/restic");
        assert_eq!(
            redact_url("rest:https://user:secret@host:8000/repo"),
            "rest:https://***@host:8000/repo"
        );
        assert_eq!(redact_url("sftp:backup@vault:/srv"), "sftp:***@vault:/srv");
    }
}
