//! The manifest of a backup: every file, directory and symbolic link of every source, with
//! its size and SHA-256 (files), its target (links), mode, owner and modification time, taken
//! while the data is copied. A verification restores the backup into a scratch directory and
//! compares it with the manifest, file by file.
//!
//! Stored as JSON lines (one entry a line, sources' roots first). Paths are `<source>/<path>`
//! with `/` separators; bytes that are not printable UTF-8 (and `%`) are written `%XX`, so any
//! file name round-trips.

use std::collections::BTreeMap;
use std::fmt;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead as _, BufReader, Read, Write as _};
use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};
use crate::fs::io;

/// The manifest's name inside a backup (beside the sources' directories).
pub const MANIFEST_FILE: &str = "ops-manifest.jsonl";

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (never followed).
    Symlink,
}

/// One file, directory or link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ManifestEntry {
    /// `<source>/<path>` (`<source>` alone for its root), `%XX`-escaped.
    pub path: String,
    /// What it is.
    #[serde(rename = "type")]
    pub kind: EntryKind,
    /// Files: the size in bytes.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub size: u64,
    /// Files: the SHA-256 of the content, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Links: the target, `%XX`-escaped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Permission bits (`0o7777`).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Modification time, seconds since the epoch.
    #[serde(default)]
    pub mtime: i64,
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl ManifestEntry {
    /// The path's bytes (`<source>/<path>`).
    pub fn path_bytes(&self) -> Vec<u8> {
        unescape(&self.path)
    }

    /// The link target's bytes.
    pub fn target_bytes(&self) -> Option<Vec<u8>> {
        self.target.as_deref().map(unescape)
    }

    /// The source the entry belongs to (the first component).
    pub fn source(&self) -> &str {
        self.path.split('/').next().unwrap_or("")
    }
}

/// Every entry of a backup, in the order they were copied (parents before children).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The entries.
    pub entries: Vec<ManifestEntry>,
    /// Special files (sockets, FIFOs, devices) that were not backed up, by path: counted and
    /// shown, never silently dropped.
    pub skipped: Vec<String>,
}

/// How a tree differs from its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mismatch {
    /// In the manifest, not in the tree.
    Missing(String),
    /// In the tree, not in the manifest.
    Extra(String),
    /// Another kind (a file where a directory was).
    Kind {
        /// The path.
        path: String,
        /// In the manifest.
        expected: EntryKind,
        /// In the tree.
        found: EntryKind,
    },
    /// Another size.
    Size {
        /// The path.
        path: String,
        /// In the manifest.
        expected: u64,
        /// In the tree.
        found: u64,
    },
    /// Same size, other content.
    Hash {
        /// The path.
        path: String,
        /// In the manifest.
        expected: String,
        /// In the tree.
        found: String,
    },
    /// A link pointing elsewhere.
    Target {
        /// The path.
        path: String,
    },
}

impl Mismatch {
    /// The path concerned.
    pub fn path(&self) -> &str {
        match self {
            Mismatch::Missing(p) | Mismatch::Extra(p) => p,
            Mismatch::Kind { path, .. }
            | Mismatch::Size { path, .. }
            | Mismatch::Hash { path, .. }
            | Mismatch::Target { path } => path,
        }
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Missing(p) => write!(f, "{p}: missing"),
            Mismatch::Extra(p) => write!(f, "{p}: not in the manifest"),
            Mismatch::Kind {
                path,
                expected,
                found,
            } => write!(f, "{path}: a {found:?}, expected a {expected:?}"),
            Mismatch::Size {
                path,
                expected,
                found,
            } => write!(f, "{path}: {found} bytes, expected {expected}"),
            Mismatch::Hash {
                path,
                expected,
                found,
            } => write!(
                f,
                "{path}: SHA-256 {}…, expected {}…",
                &found[..found.len().min(12)],
                &expected[..expected.len().min(12)]
            ),
            Mismatch::Target { path } => write!(f, "{path}: the link points elsewhere"),
        }
    }
}

/// A short text for a list of mismatches: the count and the first few.
pub(crate) fn describe(mismatches: &[Mismatch], total: usize) -> String {
    let shown: Vec<String> = mismatches.iter().take(5).map(ToString::to_string).collect();
    let more = mismatches.len().saturating_sub(5);
    format!(
        "{} of {total} entries differ: {}{}",
        mismatches.len(),
        shown.join("; "),
        if more > 0 {
            format!("; and {more} more")
        } else {
            String::new()
        }
    )
}

impl Manifest {
    /// Files and their bytes.
    pub fn totals(&self) -> (u64, u64) {
        self.entries
            .iter()
            .filter(|e| e.kind == EntryKind::File)
            .fold((0, 0), |(n, b), e| (n + 1, b + e.size))
    }

    /// The entries of one source.
    pub fn source_entries<'a>(
        &'a self,
        source: &'a str,
    ) -> impl Iterator<Item = &'a ManifestEntry> {
        self.entries.iter().filter(move |e| e.source() == source)
    }

    /// Writes the manifest as JSON lines.
    ///
    /// # Errors
    /// Serialization cannot fail on these types; [`Error::Io`] when the file cannot be
    /// written.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * 160);
        for e in &self.entries {
            if serde_json::to_writer(&mut out, e).is_ok() {
                out.push(b'\n');
            }
        }
        for s in &self.skipped {
            let _ = writeln!(out, "{}", serde_json::json!({ "skipped": s }));
        }
        out
    }

    /// Reads a manifest written by [`to_bytes`](Manifest::to_bytes).
    ///
    /// # Errors
    /// [`Error::Io`]; [`Error::Backup`] naming the line that does not parse.
    pub fn read(path: &Path) -> Result<Manifest> {
        let file = File::open(path).map_err(io("cannot open", path))?;
        let mut m = Manifest::default();
        for (i, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(io("cannot read", path))?;
            if line.is_empty() {
                continue;
            }
            if line.starts_with("{\"skipped\"") {
                let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
                m.skipped
                    .push(v["skipped"].as_str().unwrap_or_default().to_owned());
                continue;
            }
            let e: ManifestEntry = serde_json::from_str(&line).map_err(|e| Error::Backup {
                action: format!("reading the manifest {} line {}", path.display(), i + 1),
                reason: e.to_string(),
            })?;
            m.entries.push(e);
        }
        Ok(m)
    }

    /// Compares the tree under `root` (`root/<source>/…`, as a restore leaves it) with the
    /// manifest: every entry must be there with its kind, size and SHA-256 (links: their
    /// target), and nothing else (the manifest file itself aside). Modes and owners are not
    /// compared (a scratch restore is private).
    ///
    /// # Errors
    /// A directory of the tree cannot be read.
    pub fn compare(&self, root: &Path) -> Result<Vec<Mismatch>> {
        let sources: Vec<&str> = {
            let mut s: Vec<&str> = self.entries.iter().map(ManifestEntry::source).collect();
            s.dedup();
            s
        };
        let mut found: BTreeMap<String, ManifestEntry> = BTreeMap::new();
        for source in &sources {
            let dir = root.join(source);
            if std::fs::symlink_metadata(&dir).is_err() {
                continue;
            }
            for e in scan(source, &dir)?.entries {
                found.insert(e.path.clone(), e);
            }
        }
        // Anything at the top beside the sources and the manifest.
        if let Ok(dir) = std::fs::read_dir(root) {
            for item in dir.flatten() {
                let name = escape(item.file_name().as_bytes());
                if name != MANIFEST_FILE && !sources.contains(&name.as_str()) {
                    found.insert(
                        name.clone(),
                        ManifestEntry {
                            path: name,
                            kind: EntryKind::File,
                            size: 0,
                            sha256: None,
                            target: None,
                            mode: 0,
                            uid: 0,
                            gid: 0,
                            mtime: 0,
                        },
                    );
                }
            }
        }
        Ok(self.diff(found))
    }

    /// Compares with entries found elsewhere (a scan of a restored target).
    pub(crate) fn diff(&self, mut found: BTreeMap<String, ManifestEntry>) -> Vec<Mismatch> {
        let mut out = Vec::new();
        for e in &self.entries {
            let Some(f) = found.remove(&e.path) else {
                out.push(Mismatch::Missing(e.path.clone()));
                continue;
            };
            if f.kind != e.kind {
                out.push(Mismatch::Kind {
                    path: e.path.clone(),
                    expected: e.kind,
                    found: f.kind,
                });
            } else if e.kind == EntryKind::File && f.size != e.size {
                out.push(Mismatch::Size {
                    path: e.path.clone(),
                    expected: e.size,
                    found: f.size,
                });
            } else if e.kind == EntryKind::File && f.sha256 != e.sha256 {
                out.push(Mismatch::Hash {
                    path: e.path.clone(),
                    expected: e.sha256.clone().unwrap_or_default(),
                    found: f.sha256.unwrap_or_default(),
                });
            } else if e.kind == EntryKind::Symlink && f.target != e.target {
                out.push(Mismatch::Target {
                    path: e.path.clone(),
                });
            }
        }
        out.extend(found.into_keys().map(Mismatch::Extra));
        out
    }
}

/// SHA-256 of a reader's content, and its length.
pub(crate) fn hash_reader(mut r: impl Read) -> std::io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut n = 0u64;
    loop {
        let k = r.read(&mut buf)?;
        if k == 0 {
            break;
        }
        hasher.update(&buf[..k]);
        n += k as u64;
    }
    Ok((hex(&hasher.finalize()), n))
}

/// Copies `r` to `w`, hashing what passes: `(sha256, bytes)`.
pub(crate) fn copy_hashing(
    mut r: impl Read,
    w: &mut impl std::io::Write,
) -> std::io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut n = 0u64;
    loop {
        let k = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..k]);
        w.write_all(&buf[..k])?;
        n += k as u64;
    }
    Ok((hex(&hasher.finalize()), n))
}

/// SHA-256 of bytes, hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Every entry under `dir` as entries of source `source`, hashed; links never followed. The
/// walk is iterative (no recursion on hostile depths) and sorted by name.
///
/// # Errors
/// A directory or file cannot be read.
pub(crate) fn scan(source: &str, dir: &Path) -> Result<Manifest> {
    let mut m = Manifest::default();
    let meta = std::fs::symlink_metadata(dir).map_err(io("cannot inspect", dir))?;
    m.entries
        .push(entry_of(source.to_owned(), &meta, EntryKind::Dir));
    let mut stack: Vec<(PathBuf, String)> = vec![(dir.to_path_buf(), source.to_owned())];
    while let Some((path, name)) = stack.pop() {
        let mut children: Vec<std::fs::DirEntry> = std::fs::read_dir(&path)
            .map_err(io("cannot read", &path))?
            .collect::<std::io::Result<_>>()
            .map_err(io("cannot read", &path))?;
        children.sort_by_key(std::fs::DirEntry::file_name);
        let mut dirs = Vec::new();
        for child in children {
            let child_path = child.path();
            let child_name = format!("{name}/{}", escape(child.file_name().as_bytes()));
            let meta = std::fs::symlink_metadata(&child_path)
                .map_err(io("cannot inspect", &child_path))?;
            let ft = meta.file_type();
            if ft.is_dir() {
                m.entries
                    .push(entry_of(child_name.clone(), &meta, EntryKind::Dir));
                dirs.push((child_path, child_name));
            } else if ft.is_symlink() {
                let target =
                    std::fs::read_link(&child_path).map_err(io("cannot read", &child_path))?;
                let mut e = entry_of(child_name, &meta, EntryKind::Symlink);
                e.target = Some(escape(target.as_os_str().as_bytes()));
                m.entries.push(e);
            } else if ft.is_file() {
                let f = std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&child_path)
                    .map_err(io("cannot open", &child_path))?;
                let (sha, size) = hash_reader(f).map_err(io("cannot read", &child_path))?;
                let mut e = entry_of(child_name, &meta, EntryKind::File);
                e.size = size;
                e.sha256 = Some(sha);
                m.entries.push(e);
            } else {
                m.skipped.push(child_name);
            }
        }
        // Depth first, in name order.
        stack.extend(dirs.into_iter().rev());
    }
    Ok(m)
}

pub(crate) fn entry_of(path: String, meta: &std::fs::Metadata, kind: EntryKind) -> ManifestEntry {
    ManifestEntry {
        path,
        kind,
        size: 0,
        sha256: None,
        target: None,
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
        mtime: meta.mtime(),
    }
}

/// `%XX` for bytes that are not printable (or not UTF-8), and for `%`.
pub(crate) fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                push_escaped(s, &mut out);
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                push_escaped(std::str::from_utf8(good).unwrap_or_default(), &mut out);
                let n = e.error_len().unwrap_or(bad.len());
                for b in &bad[..n] {
                    let _ = write!(out, "%{b:02X}");
                }
                rest = &bad[n..];
            }
        }
    }
    out
}

fn push_escaped(s: &str, out: &mut String) {
    for c in s.chars() {
        if c == '%' || c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "%{b:02X}");
            }
        } else {
            out.push(c);
        }
    }
}

/// The bytes [`escape`] wrote.
pub(crate) fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) =
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
        {
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// A relative path (bytes, `/`-separated) as a `PathBuf`.
pub(crate) fn rel_path(bytes: &[u8]) -> PathBuf {
    PathBuf::from(std::ffi::OsString::from_vec(bytes.to_vec()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod test {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in [
            &b"plain/name.txt"[..],
            b"100%",
            b"a\nb",
            b"caf\xc3\xa9",
            b"\xff\xfe bad",
            b"%41",
        ] {
            let e = escape(name);
            assert!(!e.contains('\n'));
            assert_eq!(unescape(&e), name, "{e}");
        }
        assert_eq!(escape(b"a%b"), "a%25b");
    }

    #[test]
    fn a_tree_compares_with_its_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("data");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("a.txt"), "hello").unwrap();
        std::fs::write(src.join("sub/b"), "x").unwrap();
        std::os::unix::fs::symlink("a.txt", src.join("link")).unwrap();
        let m = scan("data", &src).unwrap();
        let paths: Vec<&str> = m.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            ["data", "data/a.txt", "data/link", "data/sub", "data/sub/b"]
        );
        assert_eq!(m.totals(), (2, 6));
        assert_eq!(m.compare(dir.path()).unwrap(), []);
        std::fs::write(src.join("sub/b"), "y").unwrap();
        std::fs::write(src.join("new"), "").unwrap();
        let diff = m.compare(dir.path()).unwrap();
        assert_eq!(diff.len(), 2, "{diff:?}");
        assert!(matches!(&diff[0], Mismatch::Hash { path, .. } if path == "data/sub/b"));
        assert_eq!(diff[1], Mismatch::Extra("data/new".into()));
        let back = {
            let p = dir.path().join("m.jsonl");
            std::fs::write(&p, m.to_bytes()).unwrap();
            Manifest::read(&p).unwrap()
        };
        assert_eq!(back, m);
    }
}
