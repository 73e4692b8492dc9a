//! Filesystem statistics (`statvfs`) behind a trait, so disk figures can come from fixtures in
//! tests and a hung mount can be simulated.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

/// The `statvfs` figures the disk metrics are computed from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FsUsage {
    /// `f_frsize`: the fragment size every block count is in.
    pub fragment_size: u64,
    /// `f_blocks`: size of the filesystem in fragments.
    pub blocks: u64,
    /// `f_bfree`: free fragments (root's view).
    pub blocks_free: u64,
    /// `f_bavail`: free fragments for unprivileged users.
    pub blocks_avail: u64,
    /// `f_files`: inodes.
    pub files: u64,
    /// `f_ffree`: free inodes.
    pub files_free: u64,
}

/// Something that answers `statvfs` for a mount point.
///
/// [`SystemFsStat`] asks the kernel; [`FixedFsStat`] answers from a table (for tests). An
/// implementation may block (a dead NFS server): the disk collector calls it on a worker thread
/// with a per-mount timeout.
pub trait FsStat: Send + Sync + 'static {
    /// Returns the filesystem figures of the filesystem mounted at `path`.
    ///
    /// # Errors
    /// The operating system's error (permission denied, stale handle, …).
    fn stat(&self, path: &Path) -> io::Result<FsUsage>;
}

/// The real `statvfs(2)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemFsStat;

impl FsStat for SystemFsStat {
    fn stat(&self, path: &Path) -> io::Result<FsUsage> {
        use std::os::unix::ffi::OsStrExt as _;
        let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
        let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
        // SAFETY: `c_path` is a valid NUL-terminated string and `st` points to writable memory
        // of the right size; statvfs initialises it fully when it returns 0.
        let rc = unsafe { libc::statvfs(c_path.as_ptr(), st.as_mut_ptr()) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: rc == 0, so the kernel filled the struct.
        let st = unsafe { st.assume_init() };
        #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
        Ok(FsUsage {
            fragment_size: st.f_frsize as u64,
            blocks: st.f_blocks as u64,
            blocks_free: st.f_bfree as u64,
            blocks_avail: st.f_bavail as u64,
            files: st.f_files as u64,
            files_free: st.f_ffree as u64,
        })
    }
}

/// Answers `statvfs` from a table: for tests and fixtures.
///
/// ```
/// use ops_metrics::{FixedFsStat, FsStat, FsUsage};
/// let fs = FixedFsStat::new()
///     .with("/", FsUsage { fragment_size: 4096, blocks: 100, blocks_free: 40, blocks_avail: 30, files: 10, files_free: 5 })
///     .with_error("/secret", std::io::ErrorKind::PermissionDenied);
/// assert_eq!(fs.stat("/".as_ref()).unwrap().blocks, 100);
/// assert!(fs.stat("/secret".as_ref()).is_err());
/// assert!(fs.stat("/nowhere".as_ref()).is_err());
/// ```
#[derive(Debug, Clone, Default)]
pub struct FixedFsStat {
    table: HashMap<PathBuf, Result<FsUsage, io::ErrorKind>>,
}

impl FixedFsStat {
    /// An empty table: every path answers `NotFound`.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Answers `usage` for `path`.
    #[must_use]
    pub fn with(mut self, path: impl Into<PathBuf>, usage: FsUsage) -> Self {
        self.table.insert(path.into(), Ok(usage));
        self
    }

    /// Answers an error of `kind` for `path`.
    #[must_use]
    pub fn with_error(mut self, path: impl Into<PathBuf>, kind: io::ErrorKind) -> Self {
        self.table.insert(path.into(), Err(kind));
        self
    }
}

impl FsStat for FixedFsStat {
    fn stat(&self, path: &Path) -> io::Result<FsUsage> {
        match self.table.get(path) {
            Some(Ok(usage)) => Ok(*usage),
            Some(Err(kind)) => Err(io::Error::from(*kind)),
            None => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no fixture for {}", path.display()),
            )),
        }
    }
}
