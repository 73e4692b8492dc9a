//! The Linux source: reads `/proc` (or a fixture tree) directly, with psutil's definitions.

mod filter;
pub(crate) mod parse;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::disks::{DiskProbe, Outcome};
use crate::error::{Error, Result};
use crate::fsstat::{FsStat, SystemFsStat};
use crate::metrics::{CpuTimes, Disk, MountError, NetworkIo, SystemMetrics};
use crate::round::usage_percent;
use crate::source::MetricsSource;

pub use self::filter::DiskFilter;
use self::filter::may_hang;
use self::parse::Mount;

/// Builds a [`ProcSource`].
///
/// ```
/// use std::time::Duration;
/// let source = ops_metrics::ProcSource::builder()
///     .proc_root("/proc")
///     .mount_timeout(Some(Duration::from_secs(5)))
///     .build();
/// ```
#[derive(Clone)]
#[must_use]
pub struct ProcSourceBuilder {
    root: PathBuf,
    fs: Arc<dyn FsStat>,
    mount_timeout: Option<Duration>,
    filter: DiskFilter,
}

impl std::fmt::Debug for ProcSourceBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcSourceBuilder")
            .field("root", &self.root)
            .field("mount_timeout", &self.mount_timeout)
            .field("filter", &self.filter)
            .finish_non_exhaustive()
    }
}

impl Default for ProcSourceBuilder {
    fn default() -> Self {
        ProcSourceBuilder {
            root: PathBuf::from("/proc"),
            fs: Arc::new(SystemFsStat),
            mount_timeout: Some(ProcSource::DEFAULT_MOUNT_TIMEOUT),
            filter: DiskFilter::default(),
        }
    }
}

impl ProcSourceBuilder {
    /// Where the proc tree is (default `/proc`): a host's proc mounted in a container, or a
    /// fixture tree in tests (psutil's `PROCFS_PATH`).
    pub fn proc_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.root = root.into();
        self
    }

    /// What answers `statvfs` (default: the kernel).
    pub fn fs_stat(mut self, fs: impl FsStat) -> Self {
        self.fs = Arc::new(fs);
        self
    }

    /// The longest wait for one mount's `statvfs` (default 5 s, as `node_exporter`), for mounts
    /// that can hang: network and FUSE filesystems, whose `statvfs` waits on a server or a
    /// daemon. They are asked on a worker thread; local filesystems, which answer from memory,
    /// are asked directly. `None` asks every mount directly with no timeout: a dead network
    /// mount then hangs the sample.
    pub fn mount_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.mount_timeout = timeout;
        self
    }

    /// Which mounts are measured.
    pub fn disk_filter(mut self, filter: DiskFilter) -> Self {
        self.filter = filter;
        self
    }

    /// Builds the source. Nothing is read until the first [`MetricsSource::collect`].
    pub fn build(self) -> ProcSource {
        let r = &self.root;
        let live = self.root == Path::new("/proc");
        ProcSource {
            paths: Paths {
                stat: r.join("stat"),
                meminfo: r.join("meminfo"),
                zoneinfo: r.join("zoneinfo"),
                net_dev: r.join("net/dev"),
                mounts: r.join("self/mounts"),
                filesystems: r.join("filesystems"),
                loadavg: r.join("loadavg"),
                uptime: r.join("uptime"),
            },
            root: self.root,
            live,
            probe: DiskProbe::new(self.fs, self.mount_timeout),
            filter: self.filter,
            clk_tck: clock_ticks(),
            page_size: page_size(),
            buf: Vec::with_capacity(16 * 1024),
            mounts_raw: Vec::new(),
            selected: Vec::new(),
            selected_paths: Vec::new(),
            outcomes: Vec::new(),
            last_cpu: None,
            nics: Vec::new(),
            wraps: HashMap::new(),
        }
    }
}

#[derive(Debug)]
struct Paths {
    stat: PathBuf,
    meminfo: PathBuf,
    zoneinfo: PathBuf,
    net_dev: PathBuf,
    mounts: PathBuf,
    filesystems: PathBuf,
    loadavg: PathBuf,
    uptime: PathBuf,
}

/// Wrap state of one interface, psutil's `_WrapNumbers`: the last raw values and what has been
/// added to each counter because it went backwards.
#[derive(Debug, Clone, Copy, Default)]
struct Wrap {
    last: [u64; 8],
    remainder: [u64; 8],
}

fn to_array(io: &NetworkIo) -> [u64; 8] {
    [
        io.bytes_sent,
        io.bytes_recv,
        io.packets_sent,
        io.packets_recv,
        io.errin,
        io.errout,
        io.dropin.unwrap_or(0),
        io.dropout.unwrap_or(0),
    ]
}

fn from_array(v: [u64; 8]) -> NetworkIo {
    NetworkIo {
        bytes_sent: v[0],
        bytes_recv: v[1],
        packets_sent: v[2],
        packets_recv: v[3],
        errin: v[4],
        errout: v[5],
        dropin: Some(v[6]),
        dropout: Some(v[7]),
    }
}

/// The Linux source: one sample reads `/proc/stat`, `/proc/meminfo`, `/proc/net/dev`,
/// `/proc/loadavg`, the mount table (parsed again only when it changed), one `statvfs` per
/// selected mount, and counts the numeric entries of `/proc`. Nothing per process, per thread or
/// per interface is opened, so the cost does not grow with the number of threads.
///
/// Figures follow psutil 7 on Linux exactly (see the crate documentation); the golden tests feed
/// the same fixture trees to psutil and to this source.
///
/// ```no_run
/// use ops_metrics::{MetricsSource, ProcSource};
/// let mut source = ProcSource::new();
/// let first = source.collect()?;
/// assert!(first.cpu_percent.is_none()); // no interval yet
/// std::thread::sleep(std::time::Duration::from_millis(100));
/// let second = source.collect()?;
/// println!("cpu {:?}% mem {}%", second.cpu_percent, second.memory_percent);
/// # Ok::<(), ops_metrics::Error>(())
/// ```
pub struct ProcSource {
    root: PathBuf,
    live: bool,
    paths: Paths,
    probe: DiskProbe,
    filter: DiskFilter,
    clk_tck: f64,
    page_size: u64,
    buf: Vec<u8>,
    mounts_raw: Vec<u8>,
    selected: Vec<Mount>,
    selected_paths: Vec<(PathBuf, bool)>,
    outcomes: Vec<Outcome>,
    last_cpu: Option<CpuTimes>,
    nics: Vec<(String, NetworkIo)>,
    wraps: HashMap<String, Wrap>,
}

impl std::fmt::Debug for ProcSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcSource")
            .field("root", &self.root)
            .field("filter", &self.filter)
            .field("probe", &self.probe)
            .finish_non_exhaustive()
    }
}

impl Default for ProcSource {
    fn default() -> Self {
        Self::new()
    }
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let v = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if v > 0 { v as f64 } else { 100.0 }
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let v = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(v).ok().filter(|&v| v > 0).unwrap_or(4096)
}

fn boot_clock_seconds() -> Option<f64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &raw mut ts) };
    (rc == 0).then(|| ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9)
}

/// Reads a whole file into `buf` (cleared first), naming the file on failure.
fn read_into(path: &Path, buf: &mut Vec<u8>) -> Result<()> {
    buf.clear();
    File::open(path)
        .and_then(|mut f| f.read_to_end(buf))
        .map(drop)
        .map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })
}

impl ProcSource {
    /// How long one mount's `statvfs` may take before it is reported and skipped.
    pub const DEFAULT_MOUNT_TIMEOUT: Duration = Duration::from_secs(5);

    /// A source over `/proc` with the defaults.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder with the defaults: `/proc`, the kernel's `statvfs`, 5 s per-mount timeout,
    /// psutil's mount selection deduplicated by device.
    pub fn builder() -> ProcSourceBuilder {
        ProcSourceBuilder::default()
    }

    /// The proc tree this source reads.
    pub fn proc_root(&self) -> &Path {
        &self.root
    }

    /// How many `statvfs` worker threads were abandoned because a call hung.
    pub fn abandoned_statvfs_workers(&self) -> u64 {
        self.probe.abandoned_workers()
    }

    fn collect_cpu(&mut self, m: &mut SystemMetrics) -> Result<parse::Stat> {
        read_into(&self.paths.stat, &mut self.buf)?;
        let mut stat = parse::stat(&self.paths.stat, &self.buf, self.clk_tck)?;
        let total = stat.total.take().ok_or_else(|| Error::Missing {
            path: self.paths.stat.clone(),
            field: "cpu",
        })?;
        m.cpu_percent = self
            .last_cpu
            .as_ref()
            .map(|before| parse::cpu_percent(before, &total));
        self.last_cpu = Some(total.clone());
        m.cpu_times = Some(total);
        m.per_cpu_times = std::mem::take(&mut stat.per_cpu);
        Ok(stat)
    }

    fn collect_memory(&mut self, m: &mut SystemMetrics) -> Result<()> {
        read_into(&self.paths.meminfo, &mut self.buf)?;
        let info = parse::meminfo(&self.paths.meminfo, &self.buf)?;
        let path = &self.paths.meminfo;
        let total = info.total.ok_or_else(|| Error::Missing {
            path: path.clone(),
            field: "MemTotal",
        })?;
        let free = info.free.ok_or_else(|| Error::Missing {
            path: path.clone(),
            field: "MemFree",
        })?;
        let mut available = match info.available {
            Some(a) if a != 0 => a,
            _ => {
                let zone = match read_into(&self.paths.zoneinfo, &mut self.buf) {
                    Ok(()) => Some(parse::zoneinfo_low_pages(&self.paths.zoneinfo, &self.buf)?),
                    Err(_) => None,
                };
                parse::estimate_available(&info, zone, self.page_size)
            }
        };
        if available > total {
            // Inside some containers the figures are distorted; psutil and procps use MemFree
            // (bounded by the total here, so `used` never underflows).
            available = free.min(total);
        }
        m.memory = crate::metrics::Memory {
            total,
            available,
            used: total - available,
            free,
            buffers: info.buffers.unwrap_or(0),
            cached: info
                .cached
                .unwrap_or(0)
                .saturating_add(info.sreclaimable.unwrap_or(0)),
            shared: info.shmem.or(info.mem_shared).unwrap_or(0),
            swap_total: info.swap_total.unwrap_or(0),
            swap_free: info.swap_free.unwrap_or(0),
        };
        m.memory_percent = usage_percent((total - available) as f64, total as f64);
        Ok(())
    }

    fn refresh_mounts(&mut self) -> Result<()> {
        read_into(&self.paths.mounts, &mut self.buf)?;
        if self.buf == self.mounts_raw && !self.mounts_raw.is_empty() {
            return Ok(());
        }
        let mounts = parse::mounts(&self.paths.mounts, &self.buf)?;
        let mut fs_buf = Vec::new();
        read_into(&self.paths.filesystems, &mut fs_buf)?;
        let physical: HashSet<String> = parse::physical_fstypes(&fs_buf).into_iter().collect();
        self.selected = self.filter.select(mounts, &physical);
        self.selected_paths = self
            .selected
            .iter()
            .map(|m| (PathBuf::from(&m.mountpoint), may_hang(m)))
            .collect();
        std::mem::swap(&mut self.mounts_raw, &mut self.buf);
        Ok(())
    }

    fn collect_disks(&mut self, m: &mut SystemMetrics) -> Result<()> {
        self.refresh_mounts()?;
        self.probe.measure(&self.selected_paths, &mut self.outcomes);
        for (mount, outcome) in self.selected.iter().zip(self.outcomes.drain(..)) {
            match outcome {
                Outcome::Usage(u) => {
                    let total = u.blocks.saturating_mul(u.fragment_size);
                    let used = u
                        .blocks
                        .saturating_sub(u.blocks_free)
                        .saturating_mul(u.fragment_size);
                    let free = u.blocks_free.saturating_mul(u.fragment_size);
                    let avail = u.blocks_avail.saturating_mul(u.fragment_size);
                    let percent = usage_percent(used as f64, used.saturating_add(avail) as f64);
                    m.disk_usage.insert(mount.mountpoint.clone(), percent);
                    m.disks.push(Disk {
                        mountpoint: mount.mountpoint.clone(),
                        device: mount.device.clone(),
                        fstype: mount.fstype.clone(),
                        readonly: mount.readonly,
                        total_bytes: total,
                        used_bytes: used,
                        free_bytes: free,
                        avail_bytes: avail,
                        percent,
                        files: u.files,
                        files_free: u.files_free,
                    });
                }
                Outcome::Failed(kind, message) => m.mount_errors.push(MountError {
                    mountpoint: mount.mountpoint.clone(),
                    device: mount.device.clone(),
                    fstype: mount.fstype.clone(),
                    kind,
                    message,
                }),
            }
        }
        Ok(())
    }

    fn collect_network(&mut self, m: &mut SystemMetrics) -> Result<()> {
        read_into(&self.paths.net_dev, &mut self.buf)?;
        parse::net_dev(&self.paths.net_dev, &self.buf, &mut self.nics)?;
        // psutil's nowrap: a counter lower than last time wrapped (or the interface was reset);
        // the last raw value is added to a per-(interface, field) remainder so totals never
        // decrease. Interfaces that vanished are forgotten.
        let mut seen: HashSet<&str> = HashSet::with_capacity(self.nics.len());
        let mut totals = [0u64; 8];
        for (name, raw) in &self.nics {
            seen.insert(name.as_str());
            let raw = to_array(raw);
            let adjusted = if let Some(w) = self.wraps.get_mut(name.as_str()) {
                let mut out = [0u64; 8];
                for i in 0..8 {
                    if raw[i] < w.last[i] {
                        w.remainder[i] = w.remainder[i].saturating_add(w.last[i]);
                    }
                    out[i] = raw[i].saturating_add(w.remainder[i]);
                }
                w.last = raw;
                out
            } else {
                self.wraps.insert(
                    name.clone(),
                    Wrap {
                        last: raw,
                        remainder: [0; 8],
                    },
                );
                raw
            };
            for i in 0..8 {
                totals[i] = totals[i].saturating_add(adjusted[i]);
            }
            m.interfaces.insert(name.clone(), from_array(adjusted));
        }
        self.wraps.retain(|name, _| seen.contains(name.as_str()));
        m.network_io = from_array(totals);
        Ok(())
    }

    fn count_processes(&self) -> Result<u64> {
        let entries = std::fs::read_dir(&self.root).map_err(|source| Error::Read {
            path: self.root.clone(),
            source,
        })?;
        let mut count = 0;
        for entry in entries {
            let entry = entry.map_err(|source| Error::Read {
                path: self.root.clone(),
                source,
            })?;
            let name = entry.file_name();
            let bytes = std::os::unix::ffi::OsStrExt::as_bytes(name.as_os_str());
            if !bytes.is_empty() && bytes.iter().all(u8::is_ascii_digit) {
                count += 1;
            }
        }
        Ok(count)
    }

    fn collect_load(&mut self, m: &mut SystemMetrics, stat: &parse::Stat) -> Result<()> {
        read_into(&self.paths.loadavg, &mut self.buf)?;
        let (load, threads) = parse::loadavg(&self.paths.loadavg, &self.buf)?;
        m.load_average = Some(load);
        m.kernel = Some(parse::kernel(stat, threads));
        m.uptime_seconds = if self.live {
            boot_clock_seconds()
        } else {
            read_into(&self.paths.uptime, &mut self.buf)?;
            Some(parse::uptime(&self.paths.uptime, &self.buf)?)
        };
        Ok(())
    }
}

impl MetricsSource for ProcSource {
    fn collect(&mut self) -> Result<SystemMetrics> {
        let mut m = SystemMetrics::empty(SystemTime::now());
        let stat = self.collect_cpu(&mut m)?;
        self.collect_memory(&mut m)?;
        self.collect_disks(&mut m)?;
        self.collect_network(&mut m)?;
        m.process_count = self.count_processes()?;
        self.collect_load(&mut m, &stat)?;
        Ok(m)
    }

    fn name(&self) -> &'static str {
        "procfs"
    }
}
