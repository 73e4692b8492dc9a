//! Copying trees safely: a host directory or a tar stream into the private staging directory
//! (hashing every byte as it is copied, so the manifest describes exactly what is stored),
//! a tar stream of the staging tree with the manifest's owners and modes, a tar stream back
//! into a scratch directory, and a restored tree onto its target.
//!
//! Nothing here follows a symbolic link: files are opened with `O_NOFOLLOW` and created with
//! `O_EXCL`, every parent directory is checked to be a real directory, and archive paths that
//! are absolute or hold `..` are refused. Staging and scratch files are 0600, directories
//! 0700; the real modes and owners live in the manifest.

use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{
    DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _,
};
use std::path::{Component, Path, PathBuf};

use super::manifest::{
    EntryKind, Manifest, ManifestEntry, copy_hashing, entry_of, escape, rel_path, unescape,
};
use crate::error::{Error, Result};
use crate::fs::io;

const PRIVATE_DIR: u32 = 0o700;
const PRIVATE_FILE: u32 = 0o600;

fn bad(action: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::Backup {
        action: action.into(),
        reason: reason.into(),
    }
}

pub(crate) fn mkdir_private(path: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .mode(PRIVATE_DIR)
        .create(path)
        .map_err(io("cannot create", path))?;
    // Whatever the umask.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(PRIVATE_DIR))
        .map_err(io("cannot set the mode of", path))
}

fn create_private(path: &Path) -> Result<File> {
    let f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(PRIVATE_FILE)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(io("cannot create", path))?;
    f.set_permissions(std::fs::Permissions::from_mode(PRIVATE_FILE))
        .map_err(io("cannot set the mode of", path))?;
    Ok(f)
}

/// Copies the host directory `src` into `dst` (which must not exist) as source `name`,
/// hashing as it copies. A file that changes size while it is copied is stored as read and
/// noted.
pub(crate) fn stage_dir(
    name: &str,
    src: &Path,
    dst: &Path,
    notes: &mut Vec<String>,
) -> Result<Manifest> {
    let meta = std::fs::symlink_metadata(src).map_err(io("cannot read", src))?;
    if !meta.is_dir() {
        return Err(bad(
            format!("backing up {}", src.display()),
            "not a directory",
        ));
    }
    let mut m = Manifest::default();
    mkdir_private(dst)?;
    m.entries
        .push(entry_of(name.to_owned(), &meta, EntryKind::Dir));
    let mut stack: Vec<(PathBuf, PathBuf, String)> =
        vec![(src.to_path_buf(), dst.to_path_buf(), name.to_owned())];
    while let Some((from, to, path)) = stack.pop() {
        let mut children: Vec<std::fs::DirEntry> = std::fs::read_dir(&from)
            .map_err(io("cannot read", &from))?
            .collect::<std::io::Result<_>>()
            .map_err(io("cannot read", &from))?;
        children.sort_by_key(std::fs::DirEntry::file_name);
        let mut dirs = Vec::new();
        for child in children {
            let cfrom = child.path();
            let cto = to.join(child.file_name());
            let cpath = format!("{path}/{}", escape(child.file_name().as_bytes()));
            let meta = match std::fs::symlink_metadata(&cfrom) {
                Ok(m) => m,
                // Removed since the directory was listed: not there at backup time.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => return Err(io("cannot inspect", &cfrom)(source)),
            };
            let ft = meta.file_type();
            if ft.is_dir() {
                mkdir_private(&cto)?;
                m.entries
                    .push(entry_of(cpath.clone(), &meta, EntryKind::Dir));
                dirs.push((cfrom, cto, cpath));
            } else if ft.is_symlink() {
                let target = std::fs::read_link(&cfrom).map_err(io("cannot read", &cfrom))?;
                std::os::unix::fs::symlink(&target, &cto).map_err(io("cannot create", &cto))?;
                let mut e = entry_of(cpath, &meta, EntryKind::Symlink);
                e.target = Some(escape(target.as_os_str().as_bytes()));
                m.entries.push(e);
            } else if ft.is_file() {
                let f = OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&cfrom)
                    .map_err(io("cannot open", &cfrom))?;
                let opened = f.metadata().map_err(io("cannot inspect", &cfrom))?;
                let mut out = create_private(&cto)?;
                let (sha, size) = copy_hashing(f, &mut out).map_err(io("cannot copy", &cfrom))?;
                if size != opened.len() {
                    notes.push(format!(
                        "{cpath} changed while it was copied ({} bytes when opened, {size} read): stored as read",
                        opened.len()
                    ));
                }
                let mut e = entry_of(cpath, &opened, EntryKind::File);
                e.size = size;
                e.sha256 = Some(sha);
                m.entries.push(e);
            } else {
                m.skipped.push(cpath);
            }
        }
        stack.extend(dirs.into_iter().rev());
    }
    Ok(m)
}

/// Appends the live host directory `src` to `builder` as source `name`, reading each file
/// once: the bytes go to the archive and the hash together. A file that shrinks while it is
/// read is padded with zeros (the tar header was written with its size), one that grows is
/// cut at the size it had when opened; both are noted, and the manifest hashes exactly the
/// bytes stored.
#[allow(clippy::too_many_lines)] // one arm per entry type
pub(crate) fn archive_dir<W: Write>(
    builder: &mut tar::Builder<W>,
    name: &str,
    src: &Path,
    notes: &mut Vec<String>,
) -> Result<Manifest> {
    let meta = std::fs::symlink_metadata(src).map_err(io("cannot read", src))?;
    if !meta.is_dir() {
        return Err(bad(
            format!("backing up {}", src.display()),
            "not a directory",
        ));
    }
    let mut m = Manifest::default();
    let header = |e: &ManifestEntry, kind: tar::EntryType, size: u64| {
        let mut h = tar::Header::new_gnu();
        h.set_mode(e.mode);
        h.set_uid(u64::from(e.uid));
        h.set_gid(u64::from(e.gid));
        h.set_mtime(u64::try_from(e.mtime).unwrap_or(0));
        h.set_entry_type(kind);
        h.set_size(size);
        h
    };
    let err = |path: &str| {
        let action = format!("archiving {path}");
        move |x: std::io::Error| bad(action, x.to_string())
    };
    let root = entry_of(name.to_owned(), &meta, EntryKind::Dir);
    builder
        .append_data(
            &mut header(&root, tar::EntryType::Directory, 0),
            name,
            std::io::empty(),
        )
        .map_err(err(name))?;
    m.entries.push(root);
    let mut stack: Vec<(PathBuf, PathBuf)> = vec![(src.to_path_buf(), PathBuf::from(name))];
    while let Some((from, rel)) = stack.pop() {
        let mut children: Vec<std::fs::DirEntry> = std::fs::read_dir(&from)
            .map_err(io("cannot read", &from))?
            .collect::<std::io::Result<_>>()
            .map_err(io("cannot read", &from))?;
        children.sort_by_key(std::fs::DirEntry::file_name);
        let mut dirs = Vec::new();
        for child in children {
            let cfrom = child.path();
            let crel = rel.join(child.file_name());
            let cpath = escape(crel.as_os_str().as_bytes());
            let meta = match std::fs::symlink_metadata(&cfrom) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => return Err(io("cannot inspect", &cfrom)(source)),
            };
            let ft = meta.file_type();
            if ft.is_dir() {
                let e = entry_of(cpath.clone(), &meta, EntryKind::Dir);
                builder
                    .append_data(
                        &mut header(&e, tar::EntryType::Directory, 0),
                        &crel,
                        std::io::empty(),
                    )
                    .map_err(err(&cpath))?;
                m.entries.push(e);
                dirs.push((cfrom, crel));
            } else if ft.is_symlink() {
                let target = std::fs::read_link(&cfrom).map_err(io("cannot read", &cfrom))?;
                let mut e = entry_of(cpath.clone(), &meta, EntryKind::Symlink);
                e.target = Some(escape(target.as_os_str().as_bytes()));
                builder
                    .append_link(&mut header(&e, tar::EntryType::Symlink, 0), &crel, &target)
                    .map_err(err(&cpath))?;
                m.entries.push(e);
            } else if ft.is_file() {
                let f = OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&cfrom)
                    .map_err(io("cannot open", &cfrom))?;
                let opened = f.metadata().map_err(io("cannot inspect", &cfrom))?;
                let size = opened.len();
                let mut e = entry_of(cpath.clone(), &opened, EntryKind::File);
                let mut reader = HashingReader::new(f.take(size), size);
                builder
                    .append_data(
                        &mut header(&e, tar::EntryType::Regular, size),
                        &crel,
                        &mut reader,
                    )
                    .map_err(err(&cpath))?;
                let (sha, read) = reader.finish();
                if read != size {
                    notes.push(format!(
                        "{cpath} shrank while it was read ({size} bytes when opened, {read} read): stored padded with zeros"
                    ));
                }
                e.size = size;
                e.sha256 = Some(sha);
                m.entries.push(e);
            } else {
                m.skipped.push(cpath);
            }
        }
        stack.extend(dirs.into_iter().rev());
    }
    Ok(m)
}

/// Reads `inner`, hashing what passes, padded with zeros up to `size` if it ends early.
struct HashingReader<R> {
    inner: R,
    hasher: sha2::Sha256,
    size: u64,
    passed: u64,
    read: u64,
}

impl<R: Read> HashingReader<R> {
    fn new(inner: R, size: u64) -> Self {
        HashingReader {
            inner,
            hasher: <sha2::Sha256 as sha2::Digest>::new(),
            size,
            passed: 0,
            read: 0,
        }
    }

    /// The hash of every byte passed, and how many came from the file.
    fn finish(self) -> (String, u64) {
        let digest = sha2::Digest::finalize(self.hasher);
        let hex = digest.iter().fold(String::with_capacity(64), |mut s, b| {
            let _ = std::fmt::Write::write_fmt(&mut s, format_args!("{b:02x}"));
            s
        });
        (hex, self.read)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut n = self.inner.read(buf)?;
        self.read += n as u64;
        if n == 0 && self.passed < self.size {
            // The file shrank: zeros up to the size in the header.
            let pad = usize::try_from(self.size - self.passed)
                .unwrap_or(usize::MAX)
                .min(buf.len());
            buf[..pad].fill(0);
            n = pad;
        }
        sha2::Digest::update(&mut self.hasher, &buf[..n]);
        self.passed += n as u64;
        Ok(n)
    }
}

/// Checks an archive path: relative, no `..`, no root, no empty name.
fn safe_rel(bytes: &[u8]) -> Option<PathBuf> {
    let p = rel_path(bytes);
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// Checks that every parent of `rel` under `root` is a real directory (not a link), creating
/// missing ones privately.
fn ensure_parents(root: &Path, rel: &Path) -> Result<()> {
    let mut cur = root.to_path_buf();
    let parents: Vec<&OsStr> = rel.parent().map(|p| p.iter().collect()).unwrap_or_default();
    for part in parents {
        cur.push(part);
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(bad(
                    format!("extracting {}", rel.display()),
                    format!("{} is not a directory (a link or a file)", cur.display()),
                ));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => mkdir_private(&cur)?,
            Err(source) => return Err(io("cannot inspect", &cur)(source)),
        }
    }
    Ok(())
}

/// Extracts a tar stream into `dst` (created here) privately, as source `name`, hashing each
/// file. `strip`: the first component every entry starts with (`docker cp`'s directory
/// name), dropped. Owners, modes and times come from the stream's headers. Hard links are
/// copied from the file they name.
#[allow(clippy::too_many_lines)] // one arm per entry type
pub(crate) fn stage_tar(
    name: &str,
    stream: impl Read,
    strip: &str,
    dst: &Path,
) -> Result<Manifest> {
    let action = || format!("reading the data of {name}");
    let mut m = Manifest::default();
    mkdir_private(dst)?;
    let mut archive = tar::Archive::new(stream);
    let mut root_seen = false;
    for entry in archive
        .entries()
        .map_err(|e| bad(action(), e.to_string()))?
    {
        let mut entry = entry.map_err(|e| bad(action(), e.to_string()))?;
        let raw = entry.path_bytes().into_owned();
        let Some(full) = safe_rel(&raw) else {
            return Err(bad(
                action(),
                format!("unsafe path {:?} in the stream", escape(&raw)),
            ));
        };
        let mut comps = full.components();
        if comps.next().map(|c| c.as_os_str().to_owned()).as_deref() != Some(OsStr::new(strip)) {
            return Err(bad(
                action(),
                format!("unexpected path {:?} in the stream", full.display()),
            ));
        }
        let rel: PathBuf = comps.as_path().to_path_buf();
        let header = entry.header();
        let mode = header.mode().unwrap_or(0o644) & 0o7777;
        let uid = header.uid().unwrap_or(0) as u32;
        let gid = header.gid().unwrap_or(0) as u32;
        let mtime = i64::try_from(header.mtime().unwrap_or(0)).unwrap_or(i64::MAX);
        let path = if rel.as_os_str().is_empty() {
            name.to_owned()
        } else {
            format!("{name}/{}", escape(rel.as_os_str().as_bytes()))
        };
        let mk = |kind| ManifestEntry {
            path: path.clone(),
            kind,
            size: 0,
            sha256: None,
            target: None,
            mode,
            uid,
            gid,
            mtime,
        };
        let kind = header.entry_type();
        if rel.as_os_str().is_empty() {
            if kind.is_dir() && !root_seen {
                root_seen = true;
                m.entries.insert(0, mk(EntryKind::Dir));
                continue;
            }
            return Err(bad(action(), "the stream's root is not a directory"));
        }
        ensure_parents(dst, &rel)?;
        let to = dst.join(&rel);
        if kind.is_dir() {
            match std::fs::symlink_metadata(&to) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => return Err(bad(action(), format!("{path} appears twice"))),
                Err(_) => mkdir_private(&to)?,
            }
            m.entries.push(mk(EntryKind::Dir));
        } else if kind.is_symlink() {
            let target = entry
                .link_name_bytes()
                .map(std::borrow::Cow::into_owned)
                .unwrap_or_default();
            std::os::unix::fs::symlink(OsStr::from_bytes(&target), &to)
                .map_err(io("cannot create", &to))?;
            let mut e = mk(EntryKind::Symlink);
            e.target = Some(escape(&target));
            m.entries.push(e);
        } else if kind.is_file() || kind == tar::EntryType::Continuous {
            let mut out = create_private(&to)?;
            let (sha, size) =
                copy_hashing(&mut entry, &mut out).map_err(io("cannot write", &to))?;
            let mut e = mk(EntryKind::File);
            e.size = size;
            e.sha256 = Some(sha);
            m.entries.push(e);
        } else if kind.is_hard_link() {
            let target = entry
                .link_name_bytes()
                .map(std::borrow::Cow::into_owned)
                .unwrap_or_default();
            let Some(tfull) = safe_rel(&target) else {
                return Err(bad(action(), format!("unsafe link {:?}", escape(&target))));
            };
            let trel: PathBuf = tfull.components().skip(1).collect();
            let tpath = format!("{name}/{}", escape(trel.as_os_str().as_bytes()));
            let Some(orig) = m
                .entries
                .iter()
                .find(|e| e.path == tpath && e.kind == EntryKind::File)
                .cloned()
            else {
                return Err(bad(
                    action(),
                    format!("{path} links to {tpath}, which is not a file before it"),
                ));
            };
            let from = OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(dst.join(&trel))
                .map_err(io("cannot open", &dst.join(&trel)))?;
            let mut out = create_private(&to)?;
            std::io::copy(&mut &from, &mut out).map_err(io("cannot write", &to))?;
            let mut e = mk(EntryKind::File);
            e.size = orig.size;
            e.sha256 = orig.sha256;
            m.entries.push(e);
        } else {
            m.skipped.push(path);
        }
    }
    if !root_seen {
        return Err(bad(action(), "the stream has no root directory"));
    }
    Ok(m)
}

/// Writes the tar stream of `root/<source>/…` for the entries of `manifest` whose source is
/// `source`, named `<prefix><path inside the source>` (`prefix` ends with `/`), with the
/// manifest's modes, owners and times.
pub(crate) fn write_tar<W: Write>(
    builder: &mut tar::Builder<W>,
    manifest: &Manifest,
    root: &Path,
    source: Option<&str>,
    rename_root: Option<&str>,
) -> Result<()> {
    for e in &manifest.entries {
        if source.is_some_and(|s| e.source() != s) {
            continue;
        }
        let bytes = e.path_bytes();
        let rel = rel_path(&bytes);
        let name: PathBuf = match rename_root {
            Some(r) => Path::new(r).join(rel.components().skip(1).collect::<PathBuf>()),
            None => rel.clone(),
        };
        let mut h = tar::Header::new_gnu();
        h.set_mode(e.mode);
        h.set_uid(u64::from(e.uid));
        h.set_gid(u64::from(e.gid));
        h.set_mtime(u64::try_from(e.mtime).unwrap_or(0));
        let from = root.join(&rel);
        let err = |x: std::io::Error| bad(format!("archiving {}", e.path), x.to_string());
        match e.kind {
            EntryKind::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                builder
                    .append_data(&mut h, &name, std::io::empty())
                    .map_err(err)?;
            }
            EntryKind::Symlink => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                let target = rel_path(&e.target_bytes().unwrap_or_default());
                builder.append_link(&mut h, &name, &target).map_err(err)?;
            }
            EntryKind::File => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(e.size);
                let f = OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&from)
                    .map_err(io("cannot open", &from))?;
                let got = f.metadata().map_err(io("cannot inspect", &from))?.len();
                if got != e.size {
                    return Err(bad(
                        format!("archiving {}", e.path),
                        format!(
                            "{got} bytes in the staging copy, {} in the manifest",
                            e.size
                        ),
                    ));
                }
                builder.append_data(&mut h, &name, f).map_err(err)?;
            }
        }
    }
    Ok(())
}

/// Extracts an archive written by [`write_tar`] into `dst` (an empty private directory),
/// refusing unsafe paths and never following links.
pub(crate) fn extract_tar(stream: impl Read, dst: &Path) -> Result<()> {
    let action = || format!("restoring into {}", dst.display());
    let mut archive = tar::Archive::new(stream);
    for entry in archive
        .entries()
        .map_err(|e| bad(action(), e.to_string()))?
    {
        let mut entry = entry.map_err(|e| bad(action(), e.to_string()))?;
        let raw = entry.path_bytes().into_owned();
        let Some(rel) = safe_rel(&raw) else {
            return Err(bad(
                action(),
                format!("unsafe path {:?} in the archive", escape(&raw)),
            ));
        };
        ensure_parents(dst, &rel)?;
        let to = dst.join(&rel);
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            if !std::fs::symlink_metadata(&to).is_ok_and(|m| m.is_dir()) {
                mkdir_private(&to)?;
            }
        } else if kind.is_symlink() {
            let target = entry
                .link_name_bytes()
                .map(std::borrow::Cow::into_owned)
                .unwrap_or_default();
            std::os::unix::fs::symlink(OsStr::from_bytes(&target), &to)
                .map_err(io("cannot create", &to))?;
        } else if kind.is_file() {
            let mut out = create_private(&to)?;
            std::io::copy(&mut entry, &mut out).map_err(io("cannot write", &to))?;
        } else {
            return Err(bad(
                action(),
                format!("unexpected entry type for {}", rel.display()),
            ));
        }
    }
    Ok(())
}

/// Makes the directory `target` hold exactly what `scratch` (a verified restore of source
/// `source`) holds, with the manifest's modes, owners and times: what is not in the manifest
/// is removed, files are written to a temporary name in their directory and renamed over the
/// old ones, links replaced, never followed. Owners are set when the process may (root);
/// otherwise the count of entries left with another owner is returned.
#[allow(clippy::too_many_lines)] // remove, then write, then directory modes
pub(crate) fn apply(
    manifest: &Manifest,
    source: &str,
    scratch: &Path,
    target: &Path,
) -> Result<u64> {
    let entries: Vec<&ManifestEntry> = manifest.source_entries(source).collect();
    let wanted: std::collections::HashMap<Vec<u8>, EntryKind> = entries
        .iter()
        .map(|e| (unescape(&e.path), e.kind))
        .collect();
    // The target root.
    match std::fs::symlink_metadata(target) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(bad(
                format!("restoring into {}", target.display()),
                "it is not a directory",
            ));
        }
        Err(_) => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(PRIVATE_DIR)
                .create(target)
                .map_err(io("cannot create", target))?;
        }
    }
    // Remove what is not in the manifest (or is of another kind), depth first.
    let mut stack = vec![(target.to_path_buf(), source.as_bytes().to_vec())];
    while let Some((dir, name)) = stack.pop() {
        for child in std::fs::read_dir(&dir)
            .map_err(io("cannot read", &dir))?
            .flatten()
        {
            let path = child.path();
            let mut cname = name.clone();
            cname.push(b'/');
            cname.extend_from_slice(child.file_name().as_bytes());
            let meta = std::fs::symlink_metadata(&path).map_err(io("cannot inspect", &path))?;
            let kind = if meta.is_dir() {
                Some(EntryKind::Dir)
            } else if meta.file_type().is_symlink() {
                Some(EntryKind::Symlink)
            } else if meta.is_file() {
                Some(EntryKind::File)
            } else {
                None
            };
            match (wanted.get(&cname), kind) {
                (Some(EntryKind::Dir), Some(EntryKind::Dir)) => stack.push((path, cname)),
                (Some(w), Some(k)) if *w == k => {}
                (_, Some(EntryKind::Dir)) => {
                    std::fs::remove_dir_all(&path).map_err(io("cannot remove", &path))?;
                }
                _ => std::fs::remove_file(&path).map_err(io("cannot remove", &path))?,
            }
        }
    }
    let root_user = unsafe_geteuid() == 0;
    let mut not_owned = 0u64;
    let mut dirs: Vec<(PathBuf, &ManifestEntry)> = Vec::new();
    for e in &entries {
        let bytes = e.path_bytes();
        let rel: PathBuf = rel_path(&bytes).components().skip(1).collect();
        let to = target.join(&rel);
        if !rel.as_os_str().is_empty() {
            // Parents were created before (manifest order) and are real directories.
            if let Some(parent) = rel.parent().filter(|p| !p.as_os_str().is_empty()) {
                let pm = std::fs::symlink_metadata(target.join(parent))
                    .map_err(io("cannot inspect", &target.join(parent)))?;
                if !pm.is_dir() {
                    return Err(bad(
                        format!("restoring {}", e.path),
                        "its parent is not a directory",
                    ));
                }
            }
        }
        let from = scratch.join(&rel);
        match e.kind {
            EntryKind::Dir => {
                if !std::fs::symlink_metadata(&to).is_ok_and(|m| m.is_dir()) {
                    mkdir_private(&to)?;
                }
                dirs.push((to, e));
                continue;
            }
            EntryKind::Symlink => {
                let target_bytes = e.target_bytes().unwrap_or_default();
                let tmp = to.with_file_name(format!(".ops-restore.{}.tmp", std::process::id()));
                let _ = std::fs::remove_file(&tmp);
                std::os::unix::fs::symlink(OsStr::from_bytes(&target_bytes), &tmp)
                    .map_err(io("cannot create", &tmp))?;
                std::fs::rename(&tmp, &to).map_err(io("cannot rename onto", &to))?;
            }
            EntryKind::File => {
                let tmp = to.with_file_name(format!(".ops-restore.{}.tmp", std::process::id()));
                let _ = std::fs::remove_file(&tmp);
                let src = OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&from)
                    .map_err(io("cannot open", &from))?;
                let mut out = create_private(&tmp)?;
                std::io::copy(&mut &src, &mut out).map_err(io("cannot write", &tmp))?;
                out.sync_all().map_err(io("cannot fsync", &tmp))?;
                let mtime = std::time::UNIX_EPOCH
                    + std::time::Duration::from_secs(u64::try_from(e.mtime).unwrap_or(0));
                let _ = out.set_modified(mtime);
                out.set_permissions(std::fs::Permissions::from_mode(e.mode))
                    .map_err(io("cannot set the mode of", &tmp))?;
                if !chown(&tmp, e.uid, e.gid, root_user) {
                    not_owned += 1;
                }
                std::fs::rename(&tmp, &to).map_err(io("cannot rename onto", &to))?;
                continue;
            }
        }
        if !chown(&to, e.uid, e.gid, root_user) {
            not_owned += 1;
        }
    }
    // Directory modes last (a read-only directory would refuse its children).
    for (to, e) in dirs.into_iter().rev() {
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(e.mode))
            .map_err(io("cannot set the mode of", &to))?;
        if !chown(&to, e.uid, e.gid, root_user) {
            not_owned += 1;
        }
    }
    if let Ok(d) = File::open(target) {
        let _ = d.sync_all();
    }
    Ok(not_owned)
}

fn unsafe_geteuid() -> u32 {
    // SAFETY: geteuid has no preconditions and touches no memory.
    unsafe { libc::geteuid() }
}

/// `lchown`; `true` when the owner is as asked afterwards.
fn chown(path: &Path, uid: u32, gid: u32, root_user: bool) -> bool {
    if let Ok(m) = std::fs::symlink_metadata(path)
        && m.uid() == uid
        && m.gid() == gid
    {
        return true;
    }
    root_user && std::os::unix::fs::lchown(path, Some(uid), Some(gid)).is_ok()
}

/// Removes a directory tree if it is there.
pub(crate) fn remove_tree(path: &Path) -> Result<()> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(io("cannot remove", path)(source)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod test {
    use super::*;

    #[test]
    fn a_file_that_shrinks_is_padded_and_hashed_as_stored() {
        let mut r = HashingReader::new(&b"abc"[..], 5);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"abc\0\0");
        let (sha, read) = r.finish();
        assert_eq!(read, 3);
        assert_eq!(sha, super::super::manifest::sha256_hex(b"abc\0\0"));
    }

    #[test]
    fn unsafe_archive_paths_are_refused() {
        for bad in [&b"/etc/passwd"[..], b"../x", b"a/../../x", b"", b"."] {
            assert!(safe_rel(bad).is_none(), "{bad:?}");
        }
        assert_eq!(safe_rel(b"./a/b").unwrap(), PathBuf::from("a/b"));
    }
}
