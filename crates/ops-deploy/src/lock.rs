//! The deploy lock: an exclusive `flock` (the kernel drops it when the holder dies, even with
//! `kill -9`, so a crash never leaves it stuck) on a file that also says who holds it.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Who holds (or last held) the lock, as the holder wrote it down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[non_exhaustive]
pub struct Holder {
    /// Process id.
    pub pid: u32,
    /// Host name.
    pub host: String,
    /// When it took the lock (RFC 3339).
    pub since: String,
    /// The command line.
    pub command: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.pid == 0 {
            return f.write_str("holder unknown");
        }
        write!(
            f,
            "pid {} on {} since {}: {}",
            self.pid, self.host, self.since, self.command
        )
    }
}

pub(crate) fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: `buf` is writable for its length; gethostname NUL-terminates within it on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

fn read_holder(file: &mut File) -> Holder {
    let mut text = String::new();
    let _ = file.seek(SeekFrom::Start(0));
    let _ = file.read_to_string(&mut text);
    serde_json::from_str(&text).unwrap_or_default()
}

/// Opens (creating it 0640, its directory 0750) the lock file for writing the holder.
fn open(path: &Path) -> Result<File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::fs::create_dirs(dir)?;
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(crate::fs::SHARED_FILE_MODE)
        .open(path)
        .map_err(|source| Error::Io {
            action: "cannot open lock",
            path: path.to_path_buf(),
            source,
        })?;
    crate::fs::tighten_file(&file, path, crate::fs::SHARED_FILE_MODE)?;
    Ok(file)
}

/// A held deploy lock; dropping it releases the lock.
#[derive(Debug)]
#[must_use = "the lock is released when this is dropped"]
pub struct DeployLock {
    file: File,
    path: PathBuf,
}

impl DeployLock {
    /// Takes the lock at `path`, waiting up to `wait` (none: fail at once) for another holder.
    ///
    /// # Errors
    /// [`Error::Locked`] or [`Error::LockTimeout`] naming the holder; [`Error::Io`].
    pub fn acquire(
        path: impl AsRef<Path>,
        command: &str,
        wait: Option<Duration>,
    ) -> Result<DeployLock> {
        let path = path.as_ref();
        let started = Instant::now();
        loop {
            let mut file = open(path)?;
            match file.try_lock() {
                Ok(()) => {
                    // `lock release --force` may have unlinked the file we opened: lock the file
                    // that is at the path now.
                    let same = std::fs::metadata(path)
                        .ok()
                        .zip(file.metadata().ok())
                        .is_some_and(|(a, b)| a.ino() == b.ino());
                    if !same {
                        continue;
                    }
                    let holder = Holder {
                        pid: std::process::id(),
                        host: hostname(),
                        since: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
                        command: command.to_owned(),
                    };
                    let text = serde_json::to_string(&holder).unwrap_or_default();
                    let io = |source| Error::Io {
                        action: "cannot write lock",
                        path: path.to_path_buf(),
                        source,
                    };
                    file.set_len(0).map_err(io)?;
                    file.seek(SeekFrom::Start(0)).map_err(io)?;
                    file.write_all(text.as_bytes()).map_err(io)?;
                    file.sync_data().map_err(io)?;
                    tracing::info!(target: "ops_deploy", lock = %path.display(), "deploy lock taken");
                    return Ok(DeployLock {
                        file,
                        path: path.to_path_buf(),
                    });
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    let holder = read_holder(&mut file);
                    // No holder written yet: `ops lock status` probing for an instant, or a
                    // deploy that has just taken the lock. Look again shortly before refusing.
                    if holder.pid == 0 && started.elapsed() < Duration::from_millis(500) {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                    match wait {
                        Some(w) if started.elapsed() < w => {
                            std::thread::sleep(Duration::from_millis(100));
                        }
                        Some(w) => {
                            return Err(Error::LockTimeout {
                                path: path.to_path_buf(),
                                waited: w,
                                holder,
                            });
                        }
                        None => {
                            return Err(Error::Locked {
                                path: path.to_path_buf(),
                                holder,
                            });
                        }
                    }
                }
                Err(std::fs::TryLockError::Error(source)) => {
                    return Err(Error::Io {
                        action: "cannot lock",
                        path: path.to_path_buf(),
                        source,
                    });
                }
            }
        }
    }

    /// Who holds the lock at `path` now, if anyone. Needs only read access: it opens the
    /// file read-only and creates nothing (an operator without write access to the state
    /// directory can ask).
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn status(path: impl AsRef<Path>) -> Result<Option<Holder>> {
        let path = path.as_ref();
        let mut file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(Error::Io {
                    action: "cannot open lock",
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        match file.try_lock() {
            Ok(()) => Ok(None),
            Err(std::fs::TryLockError::WouldBlock) => Ok(Some(read_holder(&mut file))),
            Err(std::fs::TryLockError::Error(source)) => Err(Error::Io {
                action: "cannot lock",
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Removes the lock file so the next deploy can proceed even though a (hung, not dead)
    /// holder still has it locked. Returns who held it. A dead holder needs no forcing: the
    /// kernel already released its lock.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn force_release(path: impl AsRef<Path>) -> Result<Option<Holder>> {
        let path = path.as_ref();
        let holder = Self::status(path)?;
        match std::fs::remove_file(path) {
            Ok(()) => Ok(holder),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(holder),
            Err(source) => Err(Error::Io {
                action: "cannot remove lock",
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DeployLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}
