//! A mount whose statvfs hangs (a dead NFS server) never hangs the sample.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use ops_metrics::{DiskFilter, FsStat, FsUsage, MetricsSource, MountErrorKind, ProcSource};

use super::util::minimal_proc;

/// statvfs that blocks on one path until released, and counts calls per path.
#[derive(Clone, Default)]
struct Gate {
    released: Arc<(Mutex<bool>, Condvar)>,
    calls: Arc<Mutex<HashMap<PathBuf, u32>>>,
}

impl Gate {
    fn release(&self) {
        *self.released.0.lock().unwrap() = true;
        self.released.1.notify_all();
    }

    fn calls(&self, path: &str) -> u32 {
        self.calls
            .lock()
            .unwrap()
            .get(Path::new(path))
            .copied()
            .unwrap_or(0)
    }
}

impl FsStat for Gate {
    fn stat(&self, path: &Path) -> std::io::Result<FsUsage> {
        *self
            .calls
            .lock()
            .unwrap()
            .entry(path.to_path_buf())
            .or_default() += 1;
        if path == Path::new("/nfs") {
            let (lock, cv) = &*self.released;
            let mut released = lock.lock().unwrap();
            while !*released {
                released = cv.wait(released).unwrap();
            }
        }
        Ok(FsUsage {
            fragment_size: 4096,
            blocks: 100,
            blocks_free: 50,
            blocks_avail: 50,
            files: 1,
            files_free: 1,
        })
    }
}

#[test]
fn hung_mount_times_out_then_is_stuck_then_recovers() {
    let dir = minimal_proc();
    std::fs::write(
        dir.path().join("self/mounts"),
        "/dev/vda1 / ext4 rw 0 0\nserver:/export /nfs nfs4 rw 0 0\n/dev/vdb /data ext4 rw 0 0\n",
    )
    .unwrap();
    let gate = Gate::default();
    let mut filter = DiskFilter::default();
    filter.include_fstypes.push("nfs4".into());
    let timeout = Duration::from_millis(200);
    let mut source = ProcSource::builder()
        .proc_root(dir.path())
        .fs_stat(gate.clone())
        .mount_timeout(Some(timeout))
        .disk_filter(filter)
        .build();

    // First sample: /nfs hangs, is reported as a timeout; the mounts after it are measured.
    let started = Instant::now();
    let m = source.collect().unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(10), "the sample waited {took:?}");
    assert_eq!(m.disk_usage.keys().collect::<Vec<_>>(), ["/", "/data"]);
    assert_eq!(m.mount_errors.len(), 1);
    assert_eq!(m.mount_errors[0].mountpoint, "/nfs");
    assert_eq!(m.mount_errors[0].kind, MountErrorKind::Timeout);
    assert_eq!(source.abandoned_statvfs_workers(), 1);

    // Second sample: the call is still hung, so no new one is issued and no wait happens.
    let m = source.collect().unwrap();
    assert_eq!(m.mount_errors[0].kind, MountErrorKind::Stuck);
    assert_eq!(
        gate.calls("/nfs"),
        1,
        "a stuck mount must not be asked again"
    );
    assert_eq!(gate.calls("/data"), 2);
    assert_eq!(source.abandoned_statvfs_workers(), 1);

    // The server comes back: the hung call returns and the mount is measured again.
    gate.release();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let m = source.collect().unwrap();
        if m.mount_errors.is_empty() {
            assert_eq!(m.disk_usage.get("/nfs"), Some(&50.0));
            break;
        }
        assert!(Instant::now() < deadline, "the mount never recovered");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(gate.calls("/nfs"), 2);
}

#[test]
fn without_timeout_statvfs_runs_inline() {
    let dir = minimal_proc();
    let gate = Gate::default();
    let mut source = ProcSource::builder()
        .proc_root(dir.path())
        .fs_stat(gate.clone())
        .mount_timeout(None)
        .build();
    let m = source.collect().unwrap();
    assert_eq!(m.disk_usage.get("/"), Some(&50.0));
    assert_eq!(gate.calls("/"), 1);
    assert_eq!(source.abandoned_statvfs_workers(), 0);
}
