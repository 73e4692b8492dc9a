//! On this machine: the first CPU figure is absent, the second is a real one, and `ProcSource`
//! agrees with sysinfo where both measure the same thing.

use std::time::Duration;

use ops_metrics::{MetricsSource, ProcSource, SysinfoSource};

#[test]
fn first_cpu_is_absent_then_present() {
    let mut source = ProcSource::new();
    let first = source.collect().unwrap();
    assert_eq!(first.cpu_percent, None);
    std::thread::sleep(Duration::from_millis(30));
    let second = source.collect().unwrap();
    let cpu = second
        .cpu_percent
        .expect("a CPU figure on the second sample");
    assert!((0.0..=100.0).contains(&cpu), "{cpu}");
    assert!(second.process_count > 0);
    assert!(second.memory.total > 0);
    assert!(
        second.interfaces.contains_key("lo"),
        "lo is counted, as psutil does"
    );
    let json = serde_json::to_value(&second).unwrap();
    for key in [
        "timestamp",
        "cpu_percent",
        "memory_percent",
        "disk_usage",
        "network_io",
        "process_count",
    ] {
        assert!(
            json.get(key).is_some(),
            "{key} missing from the JSON sample"
        );
    }
    let back: ops_metrics::SystemMetrics = serde_json::from_value(json).unwrap();
    assert_eq!(back.network_io, second.network_io);
}

/// The two sources read the same kernel tables: memory total must be equal to the byte, and the
/// process count may differ only by processes started or ended between the two reads (this
/// test suite's own threads do not count: both count processes, not threads). We allow 5 % or
/// 5 processes, whichever is larger.
#[test]
fn proc_and_sysinfo_agree_where_they_overlap() {
    let mut proc_source = ProcSource::new();
    let mut sys_source = SysinfoSource::new().unwrap();
    let a = proc_source.collect().unwrap();
    let b = sys_source.collect().unwrap();
    assert_eq!(a.memory.total, b.memory.total);
    let tolerance = (a.process_count / 20).max(5);
    assert!(
        a.process_count.abs_diff(b.process_count) <= tolerance,
        "procfs {} vs sysinfo {} processes",
        a.process_count,
        b.process_count
    );
    // sysinfo's first CPU figure is the since-boot average, so it is withheld too.
    assert_eq!(b.cpu_percent, None);
    // Counters only grow between the two reads.
    let (lo_a, lo_b) = (&a.interfaces["lo"], &b.interfaces["lo"]);
    assert!(lo_b.bytes_recv >= lo_a.bytes_recv);
    assert!(lo_b.bytes_recv - lo_a.bytes_recv < 1 << 30);
    // The root filesystem's size is the same statvfs figure for both.
    if let (Some(da), Some(db)) = (
        a.disks.iter().find(|d| d.mountpoint == "/"),
        b.disks.iter().find(|d| d.mountpoint == "/"),
    ) {
        assert_eq!(da.total_bytes, db.total_bytes);
    }
}
