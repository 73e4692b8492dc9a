//! The portable source, built on the `sysinfo` crate.

use std::time::SystemTime;

use sysinfo::{
    CpuRefreshKind, DiskRefreshKind, Disks, MemoryRefreshKind, Networks, ProcessRefreshKind,
    ProcessesToUpdate, System,
};

use crate::error::{Error, Result};
use crate::metrics::{Disk, Kernel, LoadAverage, NetworkIo, SystemMetrics};
use crate::round::{round1, usage_percent};
use crate::source::MetricsSource;

/// A source for every platform `sysinfo` supports (feature `sysinfo`, on by default).
///
/// Prefer [`ProcSource`](crate::ProcSource) on Linux: it is several times cheaper and exact.
/// What differs here, because `sysinfo` does not expose it:
/// - disk percent is `(total − available) / total`: `sysinfo` gives no `f_bfree`, so the
///   `df`/psutil figure (which leaves out reserved blocks) cannot be computed;
/// - mounts are `sysinfo`'s selection (it keeps overlay and bind mounts);
/// - per-interface drop counters are `None`; CPU times per mode are absent;
/// - `sysinfo` ignores CPU refreshes less than 200 ms apart, so a faster sampler repeats the
///   previous CPU figure;
/// - `sysinfo` calls `statvfs` on every mount itself, with no timeout: a dead network mount
///   hangs the sample (the per-mount timeout of [`ProcSource`](crate::ProcSource) does not
///   apply).
///
/// Like [`ProcSource`](crate::ProcSource), the first sample's `cpu_percent` is `None` (sysinfo's
/// first figure is the since-boot average, which is not a current usage).
pub struct SysinfoSource {
    system: System,
    disks: Disks,
    networks: Networks,
    samples: u64,
}

impl std::fmt::Debug for SysinfoSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SysinfoSource")
            .field("samples", &self.samples)
            .finish_non_exhaustive()
    }
}

fn sysinfo_error(e: &sysinfo::Error) -> Error {
    Error::Sysinfo(e.to_string())
}

impl SysinfoSource {
    /// Starts the source.
    ///
    /// # Errors
    /// `sysinfo` cannot read the system's tables.
    pub fn new() -> Result<Self> {
        Ok(SysinfoSource {
            system: System::new().map_err(|e| sysinfo_error(&e))?,
            disks: Disks::new_with_refreshed_list_specifics(
                DiskRefreshKind::nothing().with_storage(),
            )
            .map_err(|e| sysinfo_error(&e))?,
            networks: Networks::new_with_refreshed_list().map_err(|e| sysinfo_error(&e))?,
            samples: 0,
        })
    }
}

impl MetricsSource for SysinfoSource {
    fn collect(&mut self) -> Result<SystemMetrics> {
        let mut m = SystemMetrics::empty(SystemTime::now());
        self.system
            .refresh_cpu_specifics(CpuRefreshKind::nothing().with_usage());
        if self.samples > 0 {
            m.cpu_percent = Some(round1(f64::from(self.system.global_cpu_usage())));
        }
        self.samples += 1;

        self.system
            .refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram().with_swap());
        let total = self.system.total_memory();
        let available = self.system.available_memory().min(total);
        m.memory = crate::metrics::Memory {
            total,
            available,
            used: total - available,
            free: self.system.free_memory(),
            swap_total: self.system.total_swap(),
            swap_free: self.system.free_swap(),
            ..crate::metrics::Memory::default()
        };
        m.memory_percent = usage_percent((total - available) as f64, total as f64);

        self.disks
            .refresh_specifics(true, DiskRefreshKind::nothing().with_storage());
        for d in &*self.disks {
            let total = d.total_space();
            let avail = d.available_space().min(total);
            let used = total - avail;
            let percent = usage_percent(used as f64, total as f64);
            let mountpoint = d.mount_point().to_string_lossy().into_owned();
            m.disk_usage.insert(mountpoint.clone(), percent);
            m.disks.push(Disk {
                mountpoint,
                device: d.name().to_string_lossy().into_owned(),
                fstype: d.file_system().to_string_lossy().into_owned(),
                readonly: d.is_read_only(),
                total_bytes: total,
                used_bytes: used,
                free_bytes: avail,
                avail_bytes: avail,
                percent,
                files: 0,
                files_free: 0,
            });
        }

        self.networks.refresh(true);
        let mut totals = NetworkIo {
            dropin: None,
            dropout: None,
            ..NetworkIo::default()
        };
        for (name, data) in &*self.networks {
            let io = NetworkIo {
                bytes_sent: data.total_transmitted(),
                bytes_recv: data.total_received(),
                packets_sent: data.total_packets_transmitted(),
                packets_recv: data.total_packets_received(),
                errin: data.total_errors_on_received(),
                errout: data.total_errors_on_transmitted(),
                dropin: None,
                dropout: None,
            };
            totals.bytes_sent = totals.bytes_sent.saturating_add(io.bytes_sent);
            totals.bytes_recv = totals.bytes_recv.saturating_add(io.bytes_recv);
            totals.packets_sent = totals.packets_sent.saturating_add(io.packets_sent);
            totals.packets_recv = totals.packets_recv.saturating_add(io.packets_recv);
            totals.errin = totals.errin.saturating_add(io.errin);
            totals.errout = totals.errout.saturating_add(io.errout);
            m.interfaces.insert(name.to_string_lossy().into_owned(), io);
        }
        m.network_io = totals;

        self.system.refresh_processes_specifics(
            ProcessesToUpdate::All,
            true,
            ProcessRefreshKind::nothing().without_tasks(),
        );
        m.process_count = self.system.processes().len() as u64;

        if let Ok(l) = System::load_average() {
            m.load_average = Some(LoadAverage {
                one: l.one,
                five: l.five,
                fifteen: l.fifteen,
            });
        }
        if let Ok(up) = System::uptime() {
            m.uptime_seconds = Some(up as f64);
        }
        if let Ok(boot_time) = System::boot_time() {
            m.kernel = Some(Kernel {
                boot_time,
                ..Kernel::default()
            });
        }
        Ok(m)
    }

    fn name(&self) -> &'static str {
        "sysinfo"
    }
}
