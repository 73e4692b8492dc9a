//! Size rotation with Python `RotatingFileHandler`'s names and rule, fixed: the decision is taken
//! before a line is written (a line is never split), sizes are bytes, an empty file is never
//! rotated (no empty backups, a line larger than the limit goes alone into a fresh file), only
//! regular files rotate (bpo-45401), and files are created with their final permissions.
//!
//! The file never holds part of a line: the size is re-read from the descriptor before every
//! batch (a truncation from outside is seen), and a write cut short (disk full) is cut back to
//! the last whole line, never past the file's current end (which would fill a gap with NULs).

use std::fs::File;
use std::io::{self, Seek as _, Write as _};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use crate::open::{Kind, Notice, open_log};

/// A log file that rotates `name.log` → `name.log.1` … `name.log.N`.
#[derive(Debug)]
pub(crate) struct RotatingFile {
    path: PathBuf,
    file: Option<File>,
    kind: Kind,
    via_link: bool,
    size: u64,
    max_bytes: u64,
    backups: u32,
    mode: u32,
    follow_links: bool,
    /// Where the file must be cut back to after a write that stopped inside a line; a cut that
    /// failed is tried again before anything else is written.
    trim_to: Option<u64>,
    notices: Vec<Notice>,
    pub(crate) rotations: u64,
}

fn backup(path: &Path, i: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{i}"));
    PathBuf::from(s)
}

impl RotatingFile {
    /// Opens (creating with `mode`) `path` for appending, under the file policy.
    pub(crate) fn open(
        path: PathBuf,
        max_bytes: u64,
        backups: u32,
        mode: u32,
        follow_links: bool,
    ) -> Result<Self, crate::Error> {
        let mut f = RotatingFile {
            path,
            file: None,
            kind: Kind::Regular,
            via_link: false,
            size: 0,
            max_bytes,
            backups,
            mode,
            follow_links,
            trim_to: None,
            notices: Vec::new(),
            rotations: 0,
        };
        f.open_path()?;
        Ok(f)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// What the policy did to files it opened, since the last call.
    pub(crate) fn take_notices(&mut self) -> Vec<Notice> {
        std::mem::take(&mut self.notices)
    }

    fn open_path(&mut self) -> Result<(), crate::Error> {
        let opened = open_log(&self.path, self.mode, self.follow_links)?;
        self.size = match opened.kind {
            Kind::Regular => opened
                .file
                .metadata()
                .map_err(|source| crate::Error::Open {
                    path: self.path.clone(),
                    source,
                })?
                .len(),
            Kind::Stream => 0,
        };
        self.kind = opened.kind;
        self.via_link = opened.via_link;
        self.notices.extend(opened.notice);
        self.trim_to = None;
        self.file = Some(opened.file);
        Ok(())
    }

    fn reopen(&mut self) -> io::Result<()> {
        self.file = None;
        self.open_path().map_err(|e| match e {
            crate::Error::Open { source, .. } => source,
            other => io::Error::other(other),
        })
    }

    /// Python's rule, `size + len >= max_bytes`, minus its empty-file rollover; never for a
    /// device or FIFO.
    fn should_rotate(&self, size: u64, len: u64) -> bool {
        self.kind == Kind::Regular
            && self.max_bytes > 0
            && self.backups > 0
            && size > 0
            && size + len >= self.max_bytes
    }

    /// `.N-1 → .N`, …, `.1 → .2`, `name → .1`, then a fresh `name`. Renames move links
    /// themselves, never what they point to.
    fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        for i in (1..self.backups).rev() {
            let from = backup(&self.path, i);
            if std::fs::symlink_metadata(&from).is_ok() {
                std::fs::rename(&from, backup(&self.path, i + 1))?;
            }
        }
        std::fs::rename(&self.path, backup(&self.path, 1))?;
        self.rotations += 1;
        self.reopen()
    }

    /// Re-reads the size from the descriptor (a truncation from outside shrinks it), and if
    /// the path no longer names the open file (an operator's `rm`, a rotator's rename, a link
    /// planted in its place) reopens the path under the policy: writing on to an unlinked file
    /// would lose every line silently. One `fstat` and one `lstat` per batch.
    fn follow_path(&mut self) -> io::Result<()> {
        let Some(file) = self.file.as_ref() else {
            return Ok(());
        };
        let current = file.metadata()?;
        if self.kind == Kind::Regular {
            self.size = current.len();
        }
        let at_path = match std::fs::symlink_metadata(&self.path) {
            Ok(m) if m.file_type().is_symlink() => {
                // Only a link we were allowed to open through may stand for the file.
                if self.via_link {
                    std::fs::metadata(&self.path).ok()
                } else {
                    None
                }
            }
            Ok(m) => Some(m),
            Err(_) => None,
        };
        let same = at_path.is_some_and(|m| m.ino() == current.ino() && m.dev() == current.dev());
        if !same {
            self.reopen()?;
        }
        Ok(())
    }

    /// Cuts the file back to `trim_to`, only ever shrinking it: if it was truncated from outside
    /// meanwhile, the partial line is already gone and setting a larger length would fill the
    /// gap with NUL bytes.
    fn finish_trim(&mut self) -> io::Result<()> {
        let (Some(cut), Some(file)) = (self.trim_to, self.file.as_ref()) else {
            self.trim_to = None;
            return Ok(());
        };
        let len = file.metadata()?.len();
        if len > cut {
            file.set_len(cut)?;
        }
        self.trim_to = None;
        self.size = cut.min(len);
        Ok(())
    }

    /// Writes one run of whole lines with as few `write` calls as the kernel allows. Returns how
    /// many of its lines are in the file; on error the rest are not, and no part of one is.
    fn write_run(&mut self, chunk: &[u8], lens: &[u32]) -> (usize, io::Result<()>) {
        if chunk.is_empty() {
            return (0, Ok(()));
        }
        if self.file.is_none()
            && let Err(e) = self.reopen()
        {
            return (0, Err(e));
        }
        if let Err(e) = self.finish_trim() {
            return (0, Err(e));
        }
        let Some(f) = self.file.as_mut() else {
            return (0, Err(io::Error::other("log file not open")));
        };
        let mut done = 0usize;
        let error = loop {
            if done == chunk.len() {
                break None;
            }
            match f.write(&chunk[done..]) {
                Ok(0) => break Some(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Some(e),
            }
        };
        let Some(error) = error else {
            self.size += done as u64;
            return (lens.len(), Ok(()));
        };
        // Whole lines among the bytes the kernel took.
        let (mut whole, mut lines) = (0usize, 0usize);
        for &len in lens {
            if whole + len as usize > done {
                break;
            }
            whole += len as usize;
            lines += 1;
        }
        if done > whole && self.kind == Kind::Regular {
            // With O_APPEND the offset is just past the bytes written, wherever the end was.
            let partial = (done - whole) as u64;
            let end = f
                .stream_position()
                .or_else(|_| f.metadata().map(|m| m.len()));
            if let Ok(end) = end {
                self.trim_to = Some(end.saturating_sub(partial));
                let _ = self.finish_trim();
            }
        }
        self.size += whole as u64;
        (lines, Err(error))
    }

    /// Writes whole lines (`lens` gives each line's length in `buf`), rotating between lines
    /// as needed, with one `write` per run of lines that fit. Returns how many lines were
    /// written; on error, the lines not written are the rest.
    pub(crate) fn write_lines(&mut self, buf: &[u8], lens: &[u32]) -> (usize, io::Result<()>) {
        if let Err(e) = self.follow_path() {
            return (0, Err(e));
        }
        let mut written = 0usize;
        let (mut run_line, mut run_byte, mut pos) = (0usize, 0usize, 0usize);
        let mut pending_size = self.size;
        for (i, &len) in lens.iter().enumerate() {
            let len = len as usize;
            if self.should_rotate(pending_size, len as u64) {
                let (n, r) = self.write_run(&buf[run_byte..pos], &lens[run_line..i]);
                written += n;
                if let Err(e) = r {
                    return (written, Err(e));
                }
                if let Err(e) = self.rotate() {
                    return (written, Err(e));
                }
                run_line = i;
                run_byte = pos;
                pending_size = self.size;
            }
            pos += len;
            pending_size += len as u64;
        }
        let (n, r) = self.write_run(&buf[run_byte..pos], &lens[run_line..]);
        (written + n, r)
    }

    /// Flushes to the operating system (and to disk with `sync`).
    pub(crate) fn sync(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) if self.kind == Kind::Regular => f.sync_data(),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod test {
    use super::*;

    fn lines(items: &[&str]) -> (Vec<u8>, Vec<u32>) {
        let mut buf = Vec::new();
        let mut lens = Vec::new();
        for l in items {
            buf.extend_from_slice(l.as_bytes());
            buf.push(b'\n');
            lens.push(u32::try_from(l.len() + 1).unwrap());
        }
        (buf, lens)
    }

    fn read(p: &Path) -> String {
        std::fs::read_to_string(p).unwrap_or_else(|_| "<missing>".into())
    }

    #[test]
    fn rotates_like_python_without_splitting_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        let mut f = RotatingFile::open(path.clone(), 10, 2, 0o640, false).unwrap();
        // Each line is 4 bytes: "aaa\n". 4 + 4 = 8 < 10 fits; a third would make 12 >= 10.
        let (buf, lens) = lines(&["aaa", "bbb", "ccc", "ddd", "eee", "fff", "ggg"]);
        let (n, r) = f.write_lines(&buf, &lens);
        r.unwrap();
        assert_eq!(n, 7);
        assert_eq!(read(&path), "ggg\n");
        assert_eq!(read(&backup(&path, 1)), "eee\nfff\n");
        assert_eq!(read(&backup(&path, 2)), "ccc\nddd\n");
        assert_eq!(
            read(&backup(&path, 3)),
            "<missing>",
            "only two backups are kept"
        );
        assert_eq!(f.rotations, 3);
    }

    #[test]
    fn oversized_line_goes_alone_and_no_empty_backup() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        let mut f = RotatingFile::open(path.clone(), 8, 5, 0o640, false).unwrap();
        let (buf, lens) = lines(&["this line is longer than eight bytes", "x"]);
        f.write_lines(&buf, &lens).1.unwrap();
        assert_eq!(
            read(&backup(&path, 1)),
            "this line is longer than eight bytes\n"
        );
        assert_eq!(read(&path), "x\n");
        assert_eq!(
            read(&backup(&path, 2)),
            "<missing>",
            "the empty file was not rotated"
        );
    }

    #[test]
    fn zero_max_bytes_never_rotates_and_bytes_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.log");
        let mut f = RotatingFile::open(path.clone(), 0, 5, 0o640, false).unwrap();
        let (buf, lens) = lines(&["é".repeat(100).as_str(), "z"]);
        f.write_lines(&buf, &lens).1.unwrap();
        assert_eq!(f.rotations, 0);
        // With a limit, multi-byte characters count as bytes: "éé\n" is 5 bytes.
        let path = dir.path().join("c.log");
        let mut f = RotatingFile::open(path.clone(), 6, 1, 0o640, false).unwrap();
        let (buf, lens) = lines(&["éé", "éé"]);
        f.write_lines(&buf, &lens).1.unwrap();
        assert_eq!(read(&path), "éé\n");
        assert_eq!(read(&backup(&path, 1)), "éé\n");
    }

    #[test]
    fn a_truncation_from_outside_is_seen_before_the_next_batch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.log");
        let mut f = RotatingFile::open(path.clone(), 12, 1, 0o640, false).unwrap();
        let (buf, lens) = lines(&["aaaa", "bbbb"]);
        f.write_lines(&buf, &lens).1.unwrap();
        assert_eq!(read(&path), "aaaa\nbbbb\n");
        // copytruncate: the file is emptied in place; the next line must not trigger a
        // rotation of a file that is now empty, nor be written after a gap.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        let (buf, lens) = lines(&["cccc"]);
        f.write_lines(&buf, &lens).1.unwrap();
        assert_eq!(read(&path), "cccc\n");
        assert_eq!(f.rotations, 0);
        assert_eq!(read(&backup(&path, 1)), "<missing>");
    }

    #[test]
    fn a_device_is_never_rotated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("null.log");
        std::os::unix::fs::symlink("/dev/null", &path).unwrap();
        let mut f = RotatingFile::open(path.clone(), 4, 3, 0o640, false).unwrap();
        let (buf, lens) = lines(&["one", "two", "three"]);
        assert_eq!(f.write_lines(&buf, &lens).0, 3);
        assert_eq!(f.rotations, 0);
        assert!(std::fs::symlink_metadata(backup(&path, 1)).is_err());
        assert_eq!(std::fs::read_link(&path).unwrap(), Path::new("/dev/null"));
    }

    #[test]
    fn files_are_created_with_their_mode() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let mut f = RotatingFile::open(path.clone(), 4, 1, 0o600, false).unwrap();
        let (buf, lens) = lines(&["one", "two"]);
        f.write_lines(&buf, &lens).1.unwrap();
        for p in [path.clone(), backup(&path, 1)] {
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", p.display());
        }
    }
}
