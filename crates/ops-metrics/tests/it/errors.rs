//! Missing and malformed proc files give typed errors naming the file and line.

use ops_metrics::{Error, FixedFsStat, FsUsage, MetricsSource, ProcSource};

use super::util::minimal_proc;

fn fs() -> FixedFsStat {
    FixedFsStat::new().with(
        "/",
        FsUsage {
            fragment_size: 4096,
            blocks: 1000,
            blocks_free: 400,
            blocks_avail: 300,
            files: 100,
            files_free: 50,
        },
    )
}

#[test]
fn minimal_tree_collects() {
    let dir = minimal_proc();
    let mut source = ProcSource::builder()
        .proc_root(dir.path())
        .fs_stat(fs())
        .build();
    let m = source.collect().unwrap();
    assert_eq!(m.cpu_percent, None);
    assert_eq!(m.memory_percent, 40.0);
    assert_eq!(m.process_count, 2);
    // used = 600 blocks, avail = 300: 600 / 900 = 66.666… → 66.7 (df), not 70.0 (naive).
    assert_eq!(m.disk_usage.get("/"), Some(&66.7));
    assert_eq!(m.network_io.bytes_recv, 6000);
    assert_eq!(m.network_io.dropout, Some(4));
    assert_eq!(m.kernel.unwrap().threads, 150);
    assert_eq!(m.uptime_seconds, Some(1234.5));
    assert_eq!(m.load_average.unwrap().one, 0.5);
}

#[test]
fn missing_file_names_the_file() {
    let dir = minimal_proc();
    std::fs::remove_file(dir.path().join("meminfo")).unwrap();
    let mut source = ProcSource::builder()
        .proc_root(dir.path())
        .fs_stat(fs())
        .build();
    match source.collect() {
        Err(Error::Read { path, source }) => {
            assert_eq!(path, dir.path().join("meminfo"));
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected a read error, got {other:?}"),
    }
}

#[test]
fn malformed_line_names_file_line_and_field() {
    let dir = minimal_proc();
    std::fs::write(
        dir.path().join("net/dev"),
        "h1\nh2\n  lo: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n eth0: 1 2 x 4 5 6 7 8 9 10 11 12 13 14 15 16\n",
    )
    .unwrap();
    let mut source = ProcSource::builder()
        .proc_root(dir.path())
        .fs_stat(fs())
        .build();
    let err = source.collect().unwrap_err();
    match &err {
        Error::Parse {
            path,
            line,
            field,
            value,
        } => {
            assert_eq!(path, &dir.path().join("net/dev"));
            assert_eq!((*line, *field, value.as_str()), (4, "counter", "x"));
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
    assert!(
        err.to_string().ends_with("net/dev:4: bad counter: \"x\""),
        "{err}"
    );
}

#[test]
fn missing_field_is_named() {
    let dir = minimal_proc();
    std::fs::write(dir.path().join("meminfo"), "MemFree: 10 kB\n").unwrap();
    let mut source = ProcSource::builder()
        .proc_root(dir.path())
        .fs_stat(fs())
        .build();
    match source.collect() {
        Err(Error::Missing { field, .. }) => assert_eq!(field, "MemTotal"),
        other => panic!("expected a missing-field error, got {other:?}"),
    }
}

#[test]
fn unreadable_mount_is_reported_not_fatal() {
    let dir = minimal_proc();
    std::fs::write(
        dir.path().join("self/mounts"),
        "/dev/vda1 / ext4 rw 0 0\n/dev/vdb1 /secret ext4 rw 0 0\n",
    )
    .unwrap();
    let fs = fs().with_error("/secret", std::io::ErrorKind::PermissionDenied);
    let mut source = ProcSource::builder()
        .proc_root(dir.path())
        .fs_stat(fs)
        .build();
    let m = source.collect().unwrap();
    assert_eq!(m.disk_usage.keys().collect::<Vec<_>>(), ["/"]);
    assert_eq!(m.mount_errors.len(), 1);
    let e = &m.mount_errors[0];
    assert_eq!(
        (e.mountpoint.as_str(), e.device.as_str()),
        ("/secret", "/dev/vdb1")
    );
    assert_eq!(e.kind, ops_metrics::MountErrorKind::Io);
    assert!(
        e.message.to_lowercase().contains("permission denied"),
        "{}",
        e.message
    );
}

#[test]
fn mount_table_changes_are_seen() {
    let dir = minimal_proc();
    let fs = fs().with(
        "/data",
        FsUsage {
            fragment_size: 1024,
            blocks: 100,
            blocks_free: 100,
            blocks_avail: 100,
            files: 1,
            files_free: 1,
        },
    );
    let mut source = ProcSource::builder()
        .proc_root(dir.path())
        .fs_stat(fs)
        .build();
    assert_eq!(source.collect().unwrap().disks.len(), 1);
    std::fs::write(
        dir.path().join("self/mounts"),
        "/dev/vda1 / ext4 rw 0 0\n/dev/vdc /data ext4 ro 0 0\n",
    )
    .unwrap();
    let m = source.collect().unwrap();
    assert_eq!(m.disks.len(), 2);
    assert!(m.disks[1].readonly);
    assert_eq!(m.disk_usage.get("/data"), Some(&0.0));
}

/// Regression: `MemFree` above `MemTotal` (a distorted container view) made `used` underflow.
#[test]
fn distorted_memory_figures_do_not_underflow() {
    let dir = minimal_proc();
    std::fs::write(
        dir.path().join("meminfo"),
        "MemTotal: 100 kB\nMemFree: 200 kB\nMemAvailable: 300 kB\n",
    )
    .unwrap();
    let mut source = ProcSource::builder()
        .proc_root(dir.path())
        .fs_stat(fs())
        .build();
    let m = source.collect().unwrap();
    assert_eq!((m.memory.available, m.memory.used), (102_400, 0));
    assert_eq!(m.memory_percent, 0.0);
}
