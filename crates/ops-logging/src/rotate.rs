//! Size rotation with Python `RotatingFileHandler`'s names and rule, fixed: the decision is taken
//! before a line is written (a line is never split), sizes are bytes, an empty file is never
//! rotated (no empty backups, a line larger than the limit goes alone into a fresh file), and
//! files are created with their final permissions.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

/// A log file that rotates `name.log` → `name.log.1` … `name.log.N`.
#[derive(Debug)]
pub(crate) struct RotatingFile {
    path: PathBuf,
    file: Option<File>,
    size: u64,
    max_bytes: u64,
    backups: u32,
    mode: u32,
    pub(crate) rotations: u64,
}

fn backup(path: &Path, i: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{i}"));
    PathBuf::from(s)
}

impl RotatingFile {
    /// Opens (creating with `mode`) `path` for appending.
    pub(crate) fn open(path: PathBuf, max_bytes: u64, backups: u32, mode: u32) -> io::Result<Self> {
        let mut f = RotatingFile {
            path,
            file: None,
            size: 0,
            max_bytes,
            backups,
            mode,
            rotations: 0,
        };
        f.reopen()?;
        Ok(f)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn reopen(&mut self) -> io::Result<()> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(self.mode)
            .open(&self.path)?;
        self.size = file.metadata()?.len();
        self.file = Some(file);
        Ok(())
    }

    /// Python's rule, `size + len >= max_bytes`, minus its empty-file rollover.
    fn should_rotate(&self, size: u64, len: u64) -> bool {
        self.max_bytes > 0 && self.backups > 0 && size > 0 && size + len >= self.max_bytes
    }

    /// `.N-1 → .N`, …, `.1 → .2`, `name → .1`, then a fresh `name`.
    fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        for i in (1..self.backups).rev() {
            let from = backup(&self.path, i);
            if from.exists() {
                std::fs::rename(&from, backup(&self.path, i + 1))?;
            }
        }
        std::fs::rename(&self.path, backup(&self.path, 1))?;
        self.rotations += 1;
        self.reopen()
    }

    /// If the file at our path was removed or replaced (an operator's `rm`, a log rotator that
    /// renames), reopen the path: writing on to an unlinked file would lose every line silently.
    /// One `stat` per batch.
    fn follow_path(&mut self) -> io::Result<()> {
        use std::os::unix::fs::MetadataExt as _;
        let Some(file) = self.file.as_ref() else {
            return Ok(());
        };
        let current = file.metadata()?;
        let same = std::fs::metadata(&self.path)
            .is_ok_and(|m| m.ino() == current.ino() && m.dev() == current.dev());
        if !same {
            self.file = None;
            self.reopen()?;
        }
        Ok(())
    }

    fn write_chunk(&mut self, chunk: &[u8]) -> io::Result<()> {
        if chunk.is_empty() {
            return Ok(());
        }
        if self.file.is_none() {
            self.reopen()?;
        }
        match self.file.as_mut() {
            Some(f) => {
                if let Err(e) = f.write_all(chunk) {
                    // A partial write (disk full) must not leave half a line for the next one
                    // to run into: cut the file back to its last whole line.
                    let _ = f.set_len(self.size);
                    return Err(e);
                }
            }
            None => return Err(io::Error::other("log file not open")),
        }
        self.size += chunk.len() as u64;
        Ok(())
    }

    /// Writes whole lines (`lens` gives each line's length in `buf`), rotating between lines
    /// as needed, with one `write` per run of lines that fit. Returns how many lines were
    /// written; on error, the lines not written are the rest.
    pub(crate) fn write_lines(&mut self, buf: &[u8], lens: &[u32]) -> (usize, io::Result<()>) {
        if let Err(e) = self.follow_path() {
            return (0, Err(e));
        }
        let mut start = 0usize;
        let mut pos = 0usize;
        let mut first_line = 0usize;
        let mut pending_size = self.size;
        for (i, &len) in lens.iter().enumerate() {
            let len = len as usize;
            if self.should_rotate(pending_size, len as u64) {
                if let Err(e) = self.write_chunk(&buf[start..pos]) {
                    return (first_line, Err(e));
                }
                first_line = i;
                if let Err(e) = self.rotate() {
                    return (first_line, Err(e));
                }
                start = pos;
                pending_size = self.size;
            }
            pos += len;
            pending_size += len as u64;
        }
        match self.write_chunk(&buf[start..pos]) {
            Ok(()) => (lens.len(), Ok(())),
            Err(e) => (first_line, Err(e)),
        }
    }

    /// Flushes to the operating system (and to disk with `sync`).
    pub(crate) fn sync(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.sync_data(),
            None => Ok(()),
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
        let mut f = RotatingFile::open(path.clone(), 10, 2, 0o640).unwrap();
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
        let mut f = RotatingFile::open(path.clone(), 8, 5, 0o640).unwrap();
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
        let mut f = RotatingFile::open(path.clone(), 0, 5, 0o640).unwrap();
        let (buf, lens) = lines(&["é".repeat(100).as_str(), "z"]);
        f.write_lines(&buf, &lens).1.unwrap();
        assert_eq!(f.rotations, 0);
        // With a limit, multi-byte characters count as bytes: "éé\n" is 5 bytes.
        let path = dir.path().join("c.log");
        let mut f = RotatingFile::open(path.clone(), 6, 1, 0o640).unwrap();
        let (buf, lens) = lines(&["éé", "éé"]);
        f.write_lines(&buf, &lens).1.unwrap();
        assert_eq!(read(&path), "éé\n");
        assert_eq!(read(&backup(&path, 1)), "éé\n");
    }

    #[test]
    fn files_are_created_with_their_mode() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let mut f = RotatingFile::open(path.clone(), 4, 1, 0o600).unwrap();
        let (buf, lens) = lines(&["one", "two"]);
        f.write_lines(&buf, &lens).1.unwrap();
        for p in [path.clone(), backup(&path, 1)] {
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", p.display());
        }
    }
}
