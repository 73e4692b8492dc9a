//! Durable, private file writes for state files (deploy history, SLO state, backup records).
//!
//! [`write_atomic`] writes a whole file so that a crash at any point leaves either the previous
//! content or the new one, never a mix, and the file is readable by its owner only whatever the
//! umask.
//!
//! ```
//! let dir = std::env::temp_dir().join(format!("ops-core-fs-doc-{}", std::process::id()));
//! let path = dir.join("state.json");
//! ops_core::fs::write_atomic(&path, b"{}\n").unwrap();
//! assert_eq!(std::fs::read(&path).unwrap(), b"{}\n");
//! # use std::os::unix::fs::PermissionsExt as _;
//! assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// The mode of files written by [`write_atomic`]: owner read-write, nothing for anyone else.
pub const PRIVATE_FILE_MODE: u32 = 0o600;
/// The mode of directories [`write_atomic`] creates: owner all, group read and search.
pub const DIR_MODE: u32 = 0o750;

/// A step of [`write_atomic`] failed.
#[derive(Debug, thiserror::Error)]
#[error("{action} {path}: {source}")]
#[non_exhaustive]
pub struct WriteError {
    /// What was being done: `cannot create`, `cannot write`, `cannot fsync`, `cannot rename onto`…
    pub action: &'static str,
    /// The file or directory the step acted on.
    pub path: PathBuf,
    /// The operating system's error.
    #[source]
    pub source: std::io::Error,
}

fn step<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> WriteError + 'a {
    move |source| WriteError {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Writes exactly `bytes` to `path`, atomically and durably: a temporary file
/// `.<name>.tmp.<pid>` in the same directory (mode 0600 whatever the umask; missing directories
/// are created 0750), `fsync`, `rename` over `path`, `fsync` of the directory.
///
/// A crash at any step leaves the previous content or the new one. A temporary file left
/// behind by a dead process with the same pid is replaced, and its mode tightened.
///
/// # Errors
/// A step fails; the error names the step and the file, and the temporary file is removed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(dir)
            .map_err(step("cannot create", dir))?;
    }
    let name = path
        .file_name()
        .map_or_else(|| "state".into(), |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(PRIVATE_FILE_MODE)
            .open(&tmp)
            .map_err(step("cannot create", &tmp))?;
        f.set_permissions(Permissions::from_mode(PRIVATE_FILE_MODE))
            .map_err(step("cannot set the mode of", &tmp))?;
        f.write_all(bytes).map_err(step("cannot write", &tmp))?;
        f.sync_all().map_err(step("cannot fsync", &tmp))?;
        std::fs::rename(&tmp, path).map_err(step("cannot rename onto", path))?;
        sync_dir(dir).map_err(step("cannot fsync", dir))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `fsync`s a directory, so that a rename or an unlink in it survives a crash.
///
/// # Errors
/// The directory cannot be opened or synced.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ops-core-fs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn replaces_content_with_private_mode_and_leaves_no_temporary() {
        let dir = scratch("replace");
        let path = dir.join("a/b/state.json");
        write_atomic(&path, b"first").unwrap();
        std::fs::set_permissions(&path, Permissions::from_mode(0o644)).unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir.join("a/b")), 0o750 & !umask());
        let names: Vec<_> = std::fs::read_dir(dir.join("a/b"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["state.json"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_stale_temporary_file_is_replaced_and_tightened() {
        let dir = scratch("stale");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.json");
        let tmp = dir.join(format!(".s.json.tmp.{}", std::process::id()));
        std::fs::write(
            &tmp,
            b"leftover from a dead process, longer than the new content",
        )
        .unwrap();
        std::fs::set_permissions(&tmp, Permissions::from_mode(0o666)).unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert!(!tmp.exists());
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failing_step_is_named_and_cleans_up() {
        let dir = scratch("fail");
        std::fs::create_dir_all(dir.join("target-is-a-dir/inner")).unwrap();
        let err = write_atomic(&dir.join("target-is-a-dir"), b"x").unwrap_err();
        assert_eq!(err.action, "cannot rename onto");
        assert_eq!(err.path, dir.join("target-is-a-dir"));
        assert!(err.to_string().starts_with("cannot rename onto "), "{err}");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["target-is-a-dir"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The process's umask, read without changing it (`umask(2)` would, for every thread).
    fn umask() -> u32 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("Umask:")).unwrap();
        u32::from_str_radix(line["Umask:".len()..].trim(), 8).unwrap()
    }
}
