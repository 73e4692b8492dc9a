//! Which mounts are measured, and which of them may hang a `statvfs`.

use std::collections::{HashMap, HashSet};

use super::parse::Mount;

/// Which mounts are measured.
///
/// The default is psutil's `disk_partitions(all=False)`: mounts whose filesystem type appears in
/// `/proc/filesystems` without `nodev` (plus `zfs`) and that name a device; then, unlike psutil,
/// one mount per device (bind mounts of the same device are not counted twice), keeping the
/// shortest mount point, so `/` wins over bind mounts beneath it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DiskFilter {
    /// Extra filesystem types to measure besides the physical ones (for example `tmpfs`, `nfs4`).
    pub include_fstypes: Vec<String>,
    /// Filesystem types never measured.
    pub exclude_fstypes: Vec<String>,
    /// If not empty, only mount points equal to or beneath one of these are measured.
    pub include_mountpoints: Vec<String>,
    /// Mount points equal to or beneath one of these are never measured.
    pub exclude_mountpoints: Vec<String>,
    /// Keep one mount per device (default true).
    pub dedupe_by_device: bool,
}

impl Default for DiskFilter {
    fn default() -> Self {
        DiskFilter {
            include_fstypes: Vec::new(),
            exclude_fstypes: Vec::new(),
            include_mountpoints: Vec::new(),
            exclude_mountpoints: Vec::new(),
            dedupe_by_device: true,
        }
    }
}

/// Filesystem types whose `statvfs` asks a server or a user-space daemon and so can hang.
const REMOTE_FSTYPES: &[&str] = &[
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "ncpfs",
    "ceph",
    "glusterfs",
    "lustre",
    "afs",
    "9p",
    "davfs",
    "sshfs",
    "gpfs",
    "beegfs",
    "ocfs2",
    "gfs2",
    "orangefs",
    "fuseblk",
    "fuse",
];

/// Whether `statvfs` on this mount can block: network and FUSE filesystems (and any mount whose
/// device names a server, `host:/path` or `//host/share`). Local filesystems answer from memory.
pub(super) fn may_hang(m: &Mount) -> bool {
    REMOTE_FSTYPES.contains(&m.fstype.as_str())
        || m.fstype.starts_with("fuse.")
        || m.device.contains(':')
        || m.device.starts_with("//")
}

fn beneath(mountpoint: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    prefix.is_empty()
        || mountpoint == prefix
        || mountpoint
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

impl DiskFilter {
    /// Applies the filter to a mount table, psutil's selection first.
    pub(super) fn select(&self, mounts: Vec<Mount>, physical: &HashSet<String>) -> Vec<Mount> {
        let mut selected: Vec<Mount> = mounts
            .into_iter()
            .filter(|m| {
                let device_ok = !m.device.is_empty() && m.device != "none";
                let fstype_ok = (physical.contains(&m.fstype)
                    || self.include_fstypes.contains(&m.fstype))
                    && !self.exclude_fstypes.contains(&m.fstype);
                let include_ok = self.include_mountpoints.is_empty()
                    || self
                        .include_mountpoints
                        .iter()
                        .any(|p| beneath(&m.mountpoint, p));
                let exclude_ok = !self
                    .exclude_mountpoints
                    .iter()
                    .any(|p| beneath(&m.mountpoint, p));
                device_ok && fstype_ok && include_ok && exclude_ok
            })
            .collect();
        if self.dedupe_by_device {
            let mut best: HashMap<&str, usize> = HashMap::new();
            for (i, m) in selected.iter().enumerate() {
                best.entry(m.device.as_str())
                    .and_modify(|b| {
                        if m.mountpoint.len() < selected[*b].mountpoint.len() {
                            *b = i;
                        }
                    })
                    .or_insert(i);
            }
            let keep: HashSet<usize> = best.into_values().collect();
            selected = selected
                .into_iter()
                .enumerate()
                .filter(|(i, _)| keep.contains(i))
                .map(|(_, m)| m)
                .collect();
        }
        selected
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn mount(device: &str, mountpoint: &str, fstype: &str) -> Mount {
        Mount {
            device: device.into(),
            mountpoint: mountpoint.into(),
            fstype: fstype.into(),
            readonly: false,
        }
    }

    #[test]
    fn only_remote_and_fuse_mounts_are_timed() {
        assert!(!may_hang(&mount("/dev/vda1", "/", "ext4")));
        assert!(!may_hang(&mount("tank/data", "/tank", "zfs")));
        assert!(may_hang(&mount("server:/export", "/nfs", "nfs4")));
        assert!(may_hang(&mount("user@host:", "/remote", "fuse.sshfs")));
        assert!(may_hang(&mount("//nas/share", "/share", "cifs")));
        assert!(may_hang(&mount("/dev/sdb1", "/win", "fuseblk")));
    }

    #[test]
    fn filter_is_psutils_then_dedupes_by_device() {
        let physical: HashSet<String> = ["ext4", "vfat", "zfs"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let table = vec![
            mount("/dev/vda1", "/etc/hosts", "ext4"),
            mount("/dev/vda1", "/", "ext4"),
            mount("none", "/x", "ext4"),
            mount("tmpfs", "/run", "tmpfs"),
            mount("/dev/vda15", "/boot/efi", "vfat"),
        ];
        let selected = DiskFilter::default().select(table.clone(), &physical);
        let points: Vec<&str> = selected.iter().map(|m| m.mountpoint.as_str()).collect();
        assert_eq!(points, ["/", "/boot/efi"]);

        let filter = DiskFilter {
            include_fstypes: vec!["tmpfs".into()],
            exclude_mountpoints: vec!["/boot".into()],
            dedupe_by_device: false,
            ..DiskFilter::default()
        };
        let selected = filter.select(table, &physical);
        let points: Vec<&str> = selected.iter().map(|m| m.mountpoint.as_str()).collect();
        assert_eq!(points, ["/etc/hosts", "/", "/run"]);
    }

    #[test]
    fn beneath_matches_whole_path_components() {
        assert!(beneath("/var/lib", "/var"));
        assert!(beneath("/var", "/var/"));
        assert!(!beneath("/variable", "/var"));
        assert!(beneath("/anything", "/"));
    }
}
