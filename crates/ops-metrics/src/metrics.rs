//! The sample: what one collection of the machine's figures holds.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// One sample of the machine's figures.
///
/// The first six fields are the playbook's `SystemMetrics` with the same names and meanings
/// (psutil's definitions on Linux); the rest add the raw figures behind them. Serialised with
/// serde, it is the JSON object `ops metrics` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SystemMetrics {
    /// When the sample was taken (RFC 3339 in JSON, UTC).
    #[serde(with = "rfc3339")]
    pub timestamp: SystemTime,
    /// Busy CPU time over all CPUs since the previous sample, in percent rounded to 0.1 (psutil's
    /// `cpu_percent(interval=None)`). `None` on a source's first sample: there is no interval yet.
    pub cpu_percent: Option<f64>,
    /// `(total − available) / total` in percent rounded to 0.1 (psutil's `virtual_memory().percent`).
    pub memory_percent: f64,
    /// Mount point → used percent, rounded to 0.1 (psutil's `disk_usage(m).percent`, as `df`).
    pub disk_usage: BTreeMap<String, f64>,
    /// Totals over every interface, `lo` included, never decreasing across counter wraps.
    pub network_io: NetworkIo,
    /// Number of processes (thread-group leaders, not threads).
    pub process_count: u64,
    /// Memory in bytes.
    pub memory: Memory,
    /// Every mount that was measured, in mount-table order.
    pub disks: Vec<Disk>,
    /// Mounts that were selected but could not be measured, with why. Never fatal.
    pub mount_errors: Vec<MountError>,
    /// Per-interface counters (wrap-corrected like the totals).
    pub interfaces: BTreeMap<String, Interface>,
    /// CPU time counters summed over all CPUs, in seconds.
    pub cpu_times: Option<CpuTimes>,
    /// CPU time counters per CPU (`cpu0`, `cpu1`, …), in seconds.
    pub per_cpu_times: Vec<CpuTimes>,
    /// Load averages over 1, 5 and 15 minutes.
    pub load_average: Option<LoadAverage>,
    /// Seconds since boot.
    pub uptime_seconds: Option<f64>,
    /// Kernel-wide counters from `/proc/stat` and `/proc/loadavg`.
    pub kernel: Option<Kernel>,
}

/// Network totals, with psutil's `net_io_counters()` field names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkIo {
    /// Bytes transmitted.
    pub bytes_sent: u64,
    /// Bytes received.
    pub bytes_recv: u64,
    /// Packets transmitted.
    pub packets_sent: u64,
    /// Packets received.
    pub packets_recv: u64,
    /// Receive errors.
    pub errin: u64,
    /// Transmit errors.
    pub errout: u64,
    /// Received packets dropped. `None` where the source cannot tell (sysinfo).
    pub dropin: Option<u64>,
    /// Transmitted packets dropped. `None` where the source cannot tell (sysinfo).
    pub dropout: Option<u64>,
}

/// One network interface's counters.
pub type Interface = NetworkIo;

/// Memory figures in bytes, psutil's `virtual_memory()` definitions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    /// `MemTotal`.
    pub total: u64,
    /// `MemAvailable`, or psutil's estimate when the kernel does not give it (or gives 0).
    pub available: u64,
    /// `total − available`.
    pub used: u64,
    /// `MemFree`.
    pub free: u64,
    /// `Buffers`.
    pub buffers: u64,
    /// `Cached + SReclaimable`, as `free` shows it.
    pub cached: u64,
    /// `Shmem`.
    pub shared: u64,
    /// `SwapTotal`.
    pub swap_total: u64,
    /// `SwapFree`.
    pub swap_free: u64,
}

/// One measured mount.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Disk {
    /// Where it is mounted.
    pub mountpoint: String,
    /// The mounted device, as in the mount table.
    pub device: String,
    /// The filesystem type.
    pub fstype: String,
    /// Mounted read-only.
    pub readonly: bool,
    /// `f_blocks × f_frsize`.
    pub total_bytes: u64,
    /// `(f_blocks − f_bfree) × f_frsize`.
    pub used_bytes: u64,
    /// `f_bfree × f_frsize`: free for root.
    pub free_bytes: u64,
    /// `f_bavail × f_frsize`: free for unprivileged users.
    pub avail_bytes: u64,
    /// `used / (used + avail)` in percent rounded to 0.1, as psutil and `df`.
    pub percent: f64,
    /// Inodes in total.
    pub files: u64,
    /// Inodes free.
    pub files_free: u64,
}

/// A mount that was selected but could not be measured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MountError {
    /// Where it is mounted.
    pub mountpoint: String,
    /// The mounted device.
    pub device: String,
    /// The filesystem type.
    pub fstype: String,
    /// What went wrong.
    pub kind: MountErrorKind,
    /// A human-readable explanation.
    pub message: String,
}

/// Why a mount could not be measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MountErrorKind {
    /// `statvfs` did not answer within the per-mount timeout.
    Timeout,
    /// An earlier `statvfs` on this mount has still not returned; no new one was issued.
    Stuck,
    /// `statvfs` failed (permission denied, stale handle, …).
    Io,
}

/// CPU time counters in seconds (ticks ÷ `CLK_TCK`), as in `/proc/stat`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CpuTimes {
    /// `cpu` for the sum over all CPUs, `cpuN` for one CPU.
    pub cpu: String,
    /// Time in user mode (guest time included, as the kernel counts it).
    pub user: f64,
    /// Time in user mode with low priority (`guest_nice` included).
    pub nice: f64,
    /// Time in kernel mode.
    pub system: f64,
    /// Idle time.
    pub idle: f64,
    /// Time waiting for I/O.
    pub iowait: f64,
    /// Time servicing interrupts.
    pub irq: f64,
    /// Time servicing soft interrupts.
    pub softirq: f64,
    /// Time stolen by the hypervisor.
    pub steal: f64,
    /// Time running a guest.
    pub guest: f64,
    /// Time running a niced guest.
    pub guest_nice: f64,
}

/// Load averages.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct LoadAverage {
    /// Over 1 minute.
    pub one: f64,
    /// Over 5 minutes.
    pub five: f64,
    /// Over 15 minutes.
    pub fifteen: f64,
}

/// Kernel-wide counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Kernel {
    /// Boot time, seconds since the Unix epoch (`btime`).
    pub boot_time: u64,
    /// Context switches since boot (`ctxt`).
    pub context_switches: u64,
    /// Processes and threads created since boot (`processes`).
    pub forks: u64,
    /// Interrupts serviced since boot (`intr`, first figure).
    pub interrupts: u64,
    /// Runnable tasks (`procs_running`).
    pub procs_running: u64,
    /// Tasks blocked on I/O (`procs_blocked`).
    pub procs_blocked: u64,
    /// Scheduling entities (threads) in the system (`/proc/loadavg`, fourth field).
    pub threads: u64,
}

impl SystemMetrics {
    /// An empty sample taken at `timestamp`: every figure zero or absent.
    ///
    /// Sources fill it in; tests use it as a starting point.
    pub fn empty(timestamp: SystemTime) -> Self {
        SystemMetrics {
            timestamp,
            cpu_percent: None,
            memory_percent: 0.0,
            disk_usage: BTreeMap::new(),
            network_io: NetworkIo::default(),
            process_count: 0,
            memory: Memory::default(),
            disks: Vec::new(),
            mount_errors: Vec::new(),
            interfaces: BTreeMap::new(),
            cpu_times: None,
            per_cpu_times: Vec::new(),
            load_average: None,
            uptime_seconds: None,
            kernel: None,
        }
    }
}

/// RFC 3339 timestamps (UTC, microseconds) for `SystemTime` fields.
pub(crate) mod rfc3339 {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_rfc3339_micros(*t))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        humantime::parse_rfc3339_weak(&text).map_err(serde::de::Error::custom)
    }
}
