//! Files and directories of the state directory, created with explicit modes whatever the
//! umask: directories 0750, logs and the lock 0640, history, current state and pid files 0600.
//! An existing state or log directory (or file) with looser bits is tightened.

use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

use crate::error::{Error, Result};

/// Directories ops-deploy creates: owner all, group read and search, others nothing.
pub(crate) const DIR_MODE: u32 = 0o750;
/// Logs and the lock file: owner read-write, group read (operators reading logs and
/// `ops lock status`).
pub(crate) const SHARED_FILE_MODE: u32 = 0o640;
/// History, current state, pid files: owner only.
pub(crate) const PRIVATE_FILE_MODE: u32 = 0o600;

/// Maps an I/O error to [`Error::Io`] naming the action and the file.
pub(crate) fn io<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Writes exactly `bytes` to `path` atomically and durably ([`ops_core::fs::write_atomic`]:
/// a temporary file in the same directory, mode 0600 whatever the umask, missing directories
/// created 0750, fsync, rename over `path`, fsync of the directory). A crash at any step
/// leaves the previous content or the new one.
///
/// # Errors
/// [`Error::Io`] naming the step that failed and its file (the temporary file is removed).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    Ok(ops_core::fs::write_atomic(path, bytes)?)
}

/// Creates `dir` and its missing parents with mode 0750 (less what the umask removes);
/// existing directories are left as they are.
pub(crate) fn create_dirs(dir: &Path) -> Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(io("cannot create", dir))
}

/// Creates `dir` and its missing parents with `mode` (then set explicitly on `dir`, whatever
/// the umask, when it was created here).
pub(crate) fn create_dirs_mode(dir: &Path, mode: u32) -> Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)
        .map_err(io("cannot create", dir))?;
    std::fs::set_permissions(dir, Permissions::from_mode(mode))
        .map_err(io("cannot set the mode of", dir))
}

/// Creates `dir` like [`create_dirs`], and takes away any bit beyond 0750 from it if it
/// already existed (a state directory made by an older version under umask 000).
pub(crate) fn ensure_private_dir(dir: &Path) -> Result<()> {
    create_dirs(dir)?;
    tighten_path(dir, DIR_MODE)
}

/// Removes the bits of `path`'s mode that are not in `mode` (best effort: a file of another
/// owner is left as it is, with a warning).
pub(crate) fn tighten_path(path: &Path, mode: u32) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(io("cannot inspect", path))?;
    let now = meta.permissions().mode() & 0o7777;
    if now & !mode == 0 {
        return Ok(());
    }
    if let Err(e) = std::fs::set_permissions(path, Permissions::from_mode(now & mode)) {
        // Not ours to change (another owner): said, not fatal.
        tracing::warn!(target: "ops_deploy", path = %path.display(), mode = format!("{now:o}"), error = %e, "cannot restrict the permissions");
    }
    Ok(())
}

/// Removes the bits of an open file's mode that are not in `mode` (best effort, as
/// [`tighten_path`]).
pub(crate) fn tighten_file(file: &File, path: &Path, mode: u32) -> Result<()> {
    let meta = file.metadata().map_err(io("cannot inspect", path))?;
    let now = meta.permissions().mode() & 0o7777;
    if now & !mode == 0 {
        return Ok(());
    }
    if let Err(e) = file.set_permissions(Permissions::from_mode(now & mode)) {
        tracing::warn!(target: "ops_deploy", path = %path.display(), mode = format!("{now:o}"), error = %e, "cannot restrict the permissions");
    }
    Ok(())
}

/// Opens `path` for appending (and reading), creating it with `mode`; an existing file with
/// looser bits is tightened.
pub(crate) fn open_append(path: &Path, mode: u32) -> Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .mode(mode)
        .open(path)
        .map_err(io("cannot open", path))?;
    tighten_file(&file, path, mode)?;
    Ok(file)
}

/// Checks that files can be created in `dir` (creating it 0750 if needed): creates and
/// removes a probe file, so a read-only or full directory is found before anything is
/// stopped.
pub(crate) fn check_writable(dir: &Path) -> Result<()> {
    ensure_private_dir(dir).map_err(|e| match e {
        Error::Io {
            action,
            path,
            source,
        } => Error::Preflight {
            what: format!("{action} {}", path.display()),
            path: Some(path),
            source: Some(source),
        },
        other => other,
    })?;
    let probe = dir.join(format!(".ops-deploy-probe.{}", std::process::id()));
    let created = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(PRIVATE_FILE_MODE)
        .open(&probe);
    match created {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(source) => Err(Error::Preflight {
            what: format!("cannot create files in {}", dir.display()),
            path: Some(dir.to_path_buf()),
            source: Some(source),
        }),
    }
}
