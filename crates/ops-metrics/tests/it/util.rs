//! Helpers of the ops-metrics tests: fixture trees.

use std::path::Path;

/// Copies a directory tree.
pub(crate) fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A small proc tree good enough for a `ProcSource`, in a temporary directory.
pub(crate) fn minimal_proc() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let files: &[(&str, &str)] = &[
        (
            "stat",
            "cpu  100 0 50 800 10 0 5 0 0 0\ncpu0 100 0 50 800 10 0 5 0 0 0\nintr 10 0\nctxt 20\nbtime 1700000000\nprocesses 30\nprocs_running 1\nprocs_blocked 0\n",
        ),
        (
            "meminfo",
            "MemTotal:        1000000 kB\nMemFree:          400000 kB\nMemAvailable:     600000 kB\nBuffers:           10000 kB\nCached:           150000 kB\nSReclaimable:      20000 kB\nShmem:              1000 kB\nSwapTotal:             0 kB\nSwapFree:              0 kB\n",
        ),
        (
            "net/dev",
            "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo: 1000 10 0 0 0 0 0 0 1000 10 0 0 0 0 0 0\n  eth0: 5000 50 1 2 0 0 0 0 3000 30 3 4 0 0 0 0\n",
        ),
        (
            "self/mounts",
            "/dev/vda1 / ext4 rw,relatime 0 0\nproc /proc proc rw 0 0\n",
        ),
        ("filesystems", "nodev\tproc\n\text4\n"),
        ("loadavg", "0.50 0.25 0.10 2/150 999\n"),
        ("uptime", "1234.50 2000.00\n"),
        ("1", ""),
        ("42", ""),
        ("version", "Linux\n"),
    ];
    for (name, text) in files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}
