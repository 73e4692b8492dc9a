//! Prometheus text exposition (format 0.0.4) of a sample. The encoder itself lives in
//! [`ops_core::exposition`] (re-exported here), shared by every ops-rs crate;
//! [`SystemMetrics`] implements [`Exposition`].
//!
//! Names are `node_exporter`'s wherever they pass `promtool check metrics` (so existing dashboards
//! keep working): `node_cpu_seconds_total{cpu,mode}`,
//! `node_filesystem_{size,free,avail}_bytes{device,fstype,mountpoint}`,
//! `node_network_{receive,transmit}_{bytes,packets,errs,drop}_total{device}`, `node_load1`…
//! `node_exporter`'s memory names (`node_memory_MemTotal_bytes`) fail promtool's camel-case
//! check, so memory is `ops_memory_*_bytes`. psutil's percent figures are exposed as 0–1
//! ratios (`ops_cpu_usage_ratio`, `ops_memory_usage_ratio`, `ops_filesystem_usage_ratio`).

use std::time::UNIX_EPOCH;

pub use ops_core::exposition::{
    CONTENT_TYPE, Encoder, Exposition, ExpositionValue, MetricType, escape_help, escape_label_value,
};

use crate::metrics::{CpuTimes, NetworkIo, SystemMetrics};

/// The sample as a Prometheus text page.
///
/// ```
/// let sample = ops_metrics::SystemMetrics::empty(std::time::SystemTime::now());
/// let page = ops_metrics::exposition::render(&sample);
/// assert!(page.contains("# TYPE ops_memory_usage_ratio gauge\nops_memory_usage_ratio 0\n"));
/// ```
pub fn render(metrics: &SystemMetrics) -> String {
    let mut out = String::with_capacity(8 * 1024);
    encode(metrics, &mut out);
    out
}

fn cpu_label(cpu: &str) -> &str {
    cpu.strip_prefix("cpu").unwrap_or(cpu)
}

impl Exposition for SystemMetrics {
    fn encode_prometheus(&self, out: &mut String) {
        encode(self, out);
    }
}

/// Appends the sample's families to `out` (the same as [`Exposition::encode_prometheus`]).
pub fn encode(m: &SystemMetrics, out: &mut String) {
    let mut e = Encoder::new(out);
    encode_cpu(&mut e, m);
    encode_memory(&mut e, m);
    encode_filesystems(&mut e, m);
    encode_network(&mut e, m);
    encode_system(&mut e, m);
}

type CpuGet = fn(&CpuTimes) -> f64;
type DiskGet = fn(&crate::metrics::Disk) -> f64;
type NetGet = fn(&NetworkIo) -> Option<u64>;

fn encode_cpu(e: &mut Encoder<'_>, m: &SystemMetrics) {
    if !m.per_cpu_times.is_empty() {
        e.family(
            "node_cpu_seconds_total",
            "Seconds the CPUs spent in each mode.",
            MetricType::Counter,
        );
        let modes: [(&str, CpuGet); 8] = [
            ("idle", |c| c.idle),
            ("iowait", |c| c.iowait),
            ("irq", |c| c.irq),
            ("nice", |c| c.nice),
            ("softirq", |c| c.softirq),
            ("steal", |c| c.steal),
            ("system", |c| c.system),
            ("user", |c| c.user),
        ];
        for c in &m.per_cpu_times {
            for (mode, get) in modes {
                e.sample(
                    "node_cpu_seconds_total",
                    &[("cpu", cpu_label(&c.cpu)), ("mode", mode)],
                    get(c),
                );
            }
        }
        e.family(
            "node_cpu_guest_seconds_total",
            "Seconds the CPUs spent running guests (also counted in user and nice).",
            MetricType::Counter,
        );
        for c in &m.per_cpu_times {
            let cpu = cpu_label(&c.cpu);
            e.sample(
                "node_cpu_guest_seconds_total",
                &[("cpu", cpu), ("mode", "nice")],
                c.guest_nice,
            );
            e.sample(
                "node_cpu_guest_seconds_total",
                &[("cpu", cpu), ("mode", "user")],
                c.guest,
            );
        }
    }
    if let Some(p) = m.cpu_percent {
        e.single(
            "ops_cpu_usage_ratio",
            "Busy share of CPU time over all CPUs since the previous sample (psutil cpu_percent / 100).",
            MetricType::Gauge,
            p / 100.0,
        );
    }
}

fn encode_memory(e: &mut Encoder<'_>, m: &SystemMetrics) {
    let mem = &m.memory;
    let rows: [(&str, &str, u64); 9] = [
        (
            "ops_memory_total_bytes",
            "Total memory (MemTotal).",
            mem.total,
        ),
        (
            "ops_memory_available_bytes",
            "Memory available to new work (MemAvailable or psutil's estimate).",
            mem.available,
        ),
        (
            "ops_memory_used_bytes",
            "Memory in use: total minus available.",
            mem.used,
        ),
        (
            "ops_memory_free_bytes",
            "Unused memory (MemFree).",
            mem.free,
        ),
        (
            "ops_memory_buffers_bytes",
            "Memory in block-device buffers (Buffers).",
            mem.buffers,
        ),
        (
            "ops_memory_cached_bytes",
            "Page cache plus reclaimable slab (Cached + SReclaimable).",
            mem.cached,
        ),
        (
            "ops_memory_shared_bytes",
            "Shared memory (Shmem).",
            mem.shared,
        ),
        (
            "ops_memory_swap_total_bytes",
            "Total swap (SwapTotal).",
            mem.swap_total,
        ),
        (
            "ops_memory_swap_free_bytes",
            "Unused swap (SwapFree).",
            mem.swap_free,
        ),
    ];
    for (name, help, value) in rows {
        e.single(name, help, MetricType::Gauge, value);
    }
    e.single(
        "ops_memory_usage_ratio",
        "Share of memory in use, (total - available) / total (psutil virtual_memory().percent / 100).",
        MetricType::Gauge,
        m.memory_percent / 100.0,
    );
}

fn encode_filesystems(e: &mut Encoder<'_>, m: &SystemMetrics) {
    if m.disks.is_empty() && m.mount_errors.is_empty() {
        return;
    }
    let rows: [(&str, &str, DiskGet); 7] = [
        (
            "node_filesystem_size_bytes",
            "Filesystem size in bytes.",
            |d| d.total_bytes as f64,
        ),
        (
            "node_filesystem_free_bytes",
            "Filesystem free space in bytes (root's view).",
            |d| d.free_bytes as f64,
        ),
        (
            "node_filesystem_avail_bytes",
            "Filesystem space available to non-root users in bytes.",
            |d| d.avail_bytes as f64,
        ),
        (
            "node_filesystem_files",
            "Filesystem total file nodes.",
            |d| d.files as f64,
        ),
        (
            "node_filesystem_files_free",
            "Filesystem total free file nodes.",
            |d| d.files_free as f64,
        ),
        (
            "node_filesystem_readonly",
            "Filesystem read-only status.",
            |d| if d.readonly { 1.0 } else { 0.0 },
        ),
        (
            "ops_filesystem_usage_ratio",
            "Share of the filesystem in use, used / (used + avail), as df and psutil (percent / 100).",
            |d| d.percent / 100.0,
        ),
    ];
    for (name, help, get) in rows {
        e.family(name, help, MetricType::Gauge);
        for d in &m.disks {
            let labels = [
                ("device", d.device.as_str()),
                ("fstype", d.fstype.as_str()),
                ("mountpoint", d.mountpoint.as_str()),
            ];
            e.sample(name, &labels, get(d));
        }
    }
    e.family(
        "node_filesystem_device_error",
        "Whether an error (or a hung statvfs) occurred while getting statistics for the mount.",
        MetricType::Gauge,
    );
    for d in &m.disks {
        let labels = [
            ("device", d.device.as_str()),
            ("fstype", d.fstype.as_str()),
            ("mountpoint", d.mountpoint.as_str()),
        ];
        e.sample("node_filesystem_device_error", &labels, 0u64);
    }
    for err in &m.mount_errors {
        let labels = [
            ("device", err.device.as_str()),
            ("fstype", err.fstype.as_str()),
            ("mountpoint", err.mountpoint.as_str()),
        ];
        e.sample("node_filesystem_device_error", &labels, 1u64);
    }
}

fn encode_network(e: &mut Encoder<'_>, m: &SystemMetrics) {
    if m.interfaces.is_empty() {
        return;
    }
    let rows: [(&str, &str, NetGet); 8] = [
        (
            "node_network_receive_bytes_total",
            "Network device statistic receive_bytes.",
            |n| Some(n.bytes_recv),
        ),
        (
            "node_network_receive_packets_total",
            "Network device statistic receive_packets.",
            |n| Some(n.packets_recv),
        ),
        (
            "node_network_receive_errs_total",
            "Network device statistic receive_errs.",
            |n| Some(n.errin),
        ),
        (
            "node_network_receive_drop_total",
            "Network device statistic receive_drop.",
            |n| n.dropin,
        ),
        (
            "node_network_transmit_bytes_total",
            "Network device statistic transmit_bytes.",
            |n| Some(n.bytes_sent),
        ),
        (
            "node_network_transmit_packets_total",
            "Network device statistic transmit_packets.",
            |n| Some(n.packets_sent),
        ),
        (
            "node_network_transmit_errs_total",
            "Network device statistic transmit_errs.",
            |n| Some(n.errout),
        ),
        (
            "node_network_transmit_drop_total",
            "Network device statistic transmit_drop.",
            |n| n.dropout,
        ),
    ];
    for (name, help, get) in rows {
        if m.interfaces.values().all(|n| get(n).is_none()) {
            continue;
        }
        e.family(name, help, MetricType::Counter);
        for (device, n) in &m.interfaces {
            if let Some(v) = get(n) {
                e.sample(name, &[("device", device.as_str())], v);
            }
        }
    }
}

fn encode_system(e: &mut Encoder<'_>, m: &SystemMetrics) {
    if let Some(l) = m.load_average {
        e.single("node_load1", "1m load average.", MetricType::Gauge, l.one);
        e.single("node_load5", "5m load average.", MetricType::Gauge, l.five);
        e.single(
            "node_load15",
            "15m load average.",
            MetricType::Gauge,
            l.fifteen,
        );
    }
    e.single(
        "node_processes_pids",
        "Number of processes (PIDs, not threads).",
        MetricType::Gauge,
        m.process_count,
    );
    if let Some(k) = m.kernel {
        e.single(
            "node_boot_time_seconds",
            "Node boot time, in unixtime.",
            MetricType::Gauge,
            k.boot_time,
        );
        if k.threads > 0 {
            e.single(
                "node_processes_threads",
                "Number of threads (scheduling entities).",
                MetricType::Gauge,
                k.threads,
            );
        }
        if k.context_switches > 0 || k.forks > 0 {
            e.single(
                "node_context_switches_total",
                "Total number of context switches.",
                MetricType::Counter,
                k.context_switches,
            );
            e.single(
                "node_forks_total",
                "Total number of forks.",
                MetricType::Counter,
                k.forks,
            );
            e.single(
                "node_intr_total",
                "Total number of interrupts serviced.",
                MetricType::Counter,
                k.interrupts,
            );
            e.single(
                "node_procs_running",
                "Number of processes in runnable state.",
                MetricType::Gauge,
                k.procs_running,
            );
            e.single(
                "node_procs_blocked",
                "Number of processes blocked waiting for I/O to complete.",
                MetricType::Gauge,
                k.procs_blocked,
            );
        }
    }
    if let Ok(since) = m.timestamp.duration_since(UNIX_EPOCH) {
        e.single(
            "node_time_seconds",
            "System time when the sample was taken, in seconds since the epoch.",
            MetricType::Gauge,
            since.as_secs_f64(),
        );
    }
    if let Some(up) = m.uptime_seconds {
        e.single(
            "ops_uptime_seconds",
            "Seconds since boot.",
            MetricType::Gauge,
            up,
        );
    }
}
