//! The file policy: how log directories are created and log files opened, so that another local
//! user cannot redirect, read or corrupt them (see the crate docs, "Files").
//!
//! Every decision is taken on the opened descriptor (`fstat`), never on an earlier look at the
//! path, so a path swapped between a check and the open changes nothing.

use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io;
use std::os::fd::{AsFd as _, AsRawFd as _};
use std::os::unix::fs::{
    DirBuilderExt as _, FileTypeExt as _, MetadataExt as _, OpenOptionsExt as _,
    PermissionsExt as _,
};
use std::path::{Path, PathBuf};

use crate::error::Error;

/// The mode of every directory ops-logging creates, whatever the umask.
pub(crate) const DIR_MODE: u32 = 0o750;

/// What a log path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A regular file: rotated by size, cut back after a partial write.
    Regular,
    /// A character device or a FIFO (`/dev/null`, `/dev/stdout` → a pipe or a terminal):
    /// written to, never rotated, renamed or truncated.
    Stream,
}

/// Something the policy did to an existing file (or could not do), written once into that
/// file's stream as a `warn` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Notice {
    pub(crate) message: &'static str,
    pub(crate) path: PathBuf,
    pub(crate) mode_was: u32,
    pub(crate) mode: u32,
    pub(crate) error: Option<String>,
}

/// An opened log file.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) file: File,
    pub(crate) kind: Kind,
    /// Opened through a symbolic link (to a device or FIFO, or to anything with `follow_links`).
    pub(crate) via_link: bool,
    pub(crate) notice: Option<Notice>,
}

/// Creates `dir` and its missing parents with mode 0750 (set explicitly, so the umask neither
/// loosens nor tightens it). Existing directories are left as they are.
pub(crate) fn create_dirs(dir: &Path) -> io::Result<()> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => return Ok(()),
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                "exists and is not a directory",
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    if let Some(parent) = dir.parent()
        && !parent.as_os_str().is_empty()
    {
        create_dirs(parent)?;
    }
    match DirBuilder::new().mode(DIR_MODE).create(dir) {
        Ok(()) => {
            // Through a descriptor that did not follow a link: the directory just made, not
            // whatever may have replaced it since.
            let d = OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(dir)?;
            d.set_permissions(Permissions::from_mode(DIR_MODE))
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}

fn open_err(path: &Path, source: io::Error) -> Error {
    Error::Open {
        path: path.to_path_buf(),
        source,
    }
}

fn unsafe_file(path: &Path, reason: String) -> Error {
    Error::UnsafeFile {
        path: path.to_path_buf(),
        reason,
    }
}

/// Opens `path` for appending under the policy:
///
/// - the last component is opened with `O_NOFOLLOW`: a regular file is created (with `mode`)
///   or appended to;
/// - a symbolic link to a character device or FIFO is followed (the `/dev/stdout` pattern);
///   a link to anything else, or a dangling one, is refused unless `follow_links`;
/// - the opened descriptor must be a regular file, a character device or a FIFO; a regular
///   file with other hard links is refused unless `follow_links`; a regular file or FIFO owned
///   by another user (neither this process's user nor root) is refused, unless the FIFO is
///   this process's own stdin, stdout or stderr;
/// - a regular file whose mode is looser than `mode` is tightened to `mode & existing` (or, when
///   that is not permitted, left and reported).
///
/// FIFOs are opened without blocking: one with no reader is refused (`ENXIO`).
pub(crate) fn open_log(path: &Path, mode: u32, follow_links: bool) -> Result<Opened, Error> {
    let opened = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path);
    match opened {
        Ok(file) => check_opened(path, file, mode, follow_links, false),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => open_link(path, mode, follow_links, e),
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => Err(unsafe_file(
            path,
            "is a FIFO with no reader, or a socket (nothing can be written to it)".into(),
        )),
        Err(e) => Err(open_err(path, e)),
    }
}

fn open_link(
    path: &Path,
    mode: u32,
    follow_links: bool,
    loop_error: io::Error,
) -> Result<Opened, Error> {
    let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if !is_link {
        // ELOOP from the directories above, not from a link at the file itself.
        return Err(open_err(path, loop_error));
    }
    let target = std::fs::read_link(path).map_err(|e| open_err(path, e))?;
    let refused = || Error::Symlink {
        path: path.to_path_buf(),
        target: target.clone(),
    };
    let follow = |create: bool| {
        OpenOptions::new()
            .append(true)
            .create(create)
            .mode(mode)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ENXIO) => unsafe_file(
                    path,
                    format!(
                        "links to {}, a FIFO with no reader, or a socket",
                        target.display()
                    ),
                ),
                _ => open_err(path, e),
            })
    };
    match std::fs::metadata(path) {
        Ok(m) if m.file_type().is_char_device() || m.file_type().is_fifo() => {
            // No O_CREAT: if the link changes meanwhile, nothing is created, and the descriptor
            // is checked again below.
            check_opened(path, follow(false)?, mode, follow_links, true)
        }
        Ok(_) if follow_links => check_opened(path, follow(false)?, mode, follow_links, true),
        Err(e) if e.kind() == io::ErrorKind::NotFound && follow_links => {
            check_opened(path, follow(true)?, mode, follow_links, true)
        }
        Ok(_) => Err(refused()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(refused()),
        Err(e) => Err(open_err(path, e)),
    }
}

/// This process's effective user.
fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Whether `meta` is the file behind this process's stdin, stdout or stderr.
fn is_own_std_stream(meta: &std::fs::Metadata) -> bool {
    let std_fds = [
        std::io::stdin().as_fd().try_clone_to_owned(),
        std::io::stdout().as_fd().try_clone_to_owned(),
        std::io::stderr().as_fd().try_clone_to_owned(),
    ];
    std_fds.into_iter().flatten().any(|fd| {
        File::from(fd)
            .metadata()
            .is_ok_and(|m| m.dev() == meta.dev() && m.ino() == meta.ino())
    })
}

/// Makes the descriptor blocking again (it was opened `O_NONBLOCK` so that opening a FIFO never
/// waits for a reader).
fn set_blocking(file: &File) -> io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: `fd` is an open descriptor owned by `file` for the duration of both calls;
    // F_GETFL/F_SETFL take and return plain integers.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    if flags & libc::O_NONBLOCK != 0 {
        // SAFETY: as above.
        let r = unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

fn check_opened(
    path: &Path,
    file: File,
    mode: u32,
    follow_links: bool,
    via_link: bool,
) -> Result<Opened, Error> {
    let meta = file.metadata().map_err(|e| open_err(path, e))?;
    let ft = meta.file_type();
    let owner = meta.uid();
    let foreign = owner != euid() && owner != 0;
    if ft.is_file() {
        if via_link && !follow_links {
            // The link pointed at a device when looked at, and at a regular file when opened.
            let target = std::fs::read_link(path).unwrap_or_default();
            return Err(Error::Symlink {
                path: path.to_path_buf(),
                target,
            });
        }
        if meta.nlink() > 1 && !follow_links {
            return Err(unsafe_file(
                path,
                format!(
                    "has {} hard links: the same lines would be readable under another name",
                    meta.nlink()
                ),
            ));
        }
        if foreign {
            return Err(unsafe_file(
                path,
                format!(
                    "is owned by uid {owner}, neither this process's user ({}) nor root: that user could read every line",
                    euid()
                ),
            ));
        }
        // O_NONBLOCK means nothing to most file systems for a regular file, but not to all.
        set_blocking(&file).map_err(|e| open_err(path, e))?;
        let was = meta.mode() & 0o7777;
        let notice = if was & !mode == 0 {
            None
        } else {
            let tightened = was & mode;
            match file.set_permissions(Permissions::from_mode(tightened)) {
                Ok(()) => Some(Notice {
                    message: "log file mode tightened",
                    path: path.to_path_buf(),
                    mode_was: was,
                    mode: tightened,
                    error: None,
                }),
                Err(e) => Some(Notice {
                    message: "log file mode is looser than the policy and cannot be changed",
                    path: path.to_path_buf(),
                    mode_was: was,
                    mode: was,
                    error: Some(e.to_string()),
                }),
            }
        };
        return Ok(Opened {
            file,
            kind: Kind::Regular,
            via_link,
            notice,
        });
    }
    if ft.is_char_device() || ft.is_fifo() {
        // Character devices need privilege to create, so any is trusted. Anyone can make a FIFO
        // and read from it: only ours, root's, or this process's own stdio pipes.
        if ft.is_fifo() && foreign && !is_own_std_stream(&meta) {
            return Err(unsafe_file(
                path,
                format!(
                    "is a FIFO owned by uid {owner}, neither this process's user ({}) nor root, and not this process's stdin, stdout or stderr",
                    euid()
                ),
            ));
        }
        set_blocking(&file).map_err(|e| open_err(path, e))?;
        return Ok(Opened {
            file,
            kind: Kind::Stream,
            via_link,
            notice: None,
        });
    }
    let what = if ft.is_block_device() {
        "a block device"
    } else if ft.is_dir() {
        "a directory"
    } else if ft.is_socket() {
        "a socket"
    } else {
        "not a regular file, character device or FIFO"
    };
    Err(unsafe_file(path, format!("is {what}")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod test {
    use super::*;

    #[test]
    fn regular_files_are_created_with_their_mode_and_links_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        let o = open_log(&path, 0o600, false).unwrap();
        assert_eq!(o.kind, Kind::Regular);
        assert!(!o.via_link);
        assert_eq!(o.notice, None);
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep\n").unwrap();
        let link = dir.path().join("b.log");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        match open_log(&link, 0o640, false) {
            Err(Error::Symlink { path, target }) => {
                assert_eq!(path, link);
                assert_eq!(target, victim);
            }
            other => panic!("{other:?}"),
        }
        let o = open_log(&link, 0o640, true).unwrap();
        assert!(o.via_link);
        let dangling = dir.path().join("c.log");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        assert!(matches!(
            open_log(&dangling, 0o640, false),
            Err(Error::Symlink { .. })
        ));
        assert!(!dir.path().join("nowhere").exists());
    }

    #[test]
    fn a_link_to_dev_null_is_a_stream() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("n.log");
        std::os::unix::fs::symlink("/dev/null", &link).unwrap();
        let o = open_log(&link, 0o640, false).unwrap();
        assert_eq!(o.kind, Kind::Stream);
        assert!(o.via_link);
        let meta = std::fs::metadata("/dev/null").unwrap();
        assert_eq!(
            meta.mode() & 0o777,
            0o666,
            "a device's mode is never touched"
        );
    }

    #[test]
    fn directories_and_other_types_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        assert!(open_log(&sub, 0o640, false).is_err());
        let link = dir.path().join("d.log");
        std::os::unix::fs::symlink(&sub, &link).unwrap();
        assert!(matches!(
            open_log(&link, 0o640, false),
            Err(Error::Symlink { .. })
        ));
    }
}
