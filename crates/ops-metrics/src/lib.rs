//! System metrics with psutil's exact figures, a background sampler, and a Prometheus page.
//!
//! `ops-metrics` answers "how busy is this machine?" from inside a Rust service, for a fraction
//! of what psutil or sysinfo cost, with the same numbers `free`, `df` and `top` show:
//!
//! - [`SystemMetrics`]: the playbook's sample (`cpu_percent`, `memory_percent`, `disk_usage`,
//!   `network_io`, `process_count`) plus the raw figures behind it.
//! - [`MetricsSource`]: [`ProcSource`] reads `/proc` directly (Linux, the default);
//!   `SysinfoSource` is portable (feature `sysinfo`); [`FakeSource`] scripts samples for tests.
//! - [`Sampler`]: samples on a background thread at a fixed rate, into a callback or a channel.
//! - [`exposition`]: the sample as a Prometheus text page that `promtool check metrics` accepts,
//!   with `node_exporter`'s names.
//!
//! # Example
//! ```no_run
//! use std::time::Duration;
//! use ops_metrics::{MetricsSource, ProcSource, Sampler};
//!
//! // One sample now.
//! let mut source = ProcSource::new();
//! let sample = source.collect()?;
//! println!("memory {}%, disks {:?}", sample.memory_percent, sample.disk_usage);
//! println!("{}", ops_metrics::exposition::render(&sample));
//!
//! // One sample a second on a background thread; it stops when dropped.
//! let sampler = Sampler::spawn(ProcSource::new(), Duration::from_secs(1), |m| {
//!     if let Some(cpu) = m.cpu_percent {
//!         println!("cpu {cpu:.1}%");
//!     }
//! })?;
//! std::thread::sleep(Duration::from_secs(3));
//! let stats = sampler.stop();
//! assert_eq!(stats.failures, 0);
//! # Ok::<(), ops_metrics::Error>(())
//! ```
//!
//! # Definitions (Linux, as psutil 7)
//! - `memory_percent = round((total − available) / total × 100, 1)` with `available` =
//!   `MemAvailable`, or when it is missing or 0 the kernel's estimate from `MemFree`, the file LRU
//!   lists, `SReclaimable` and the `low` watermarks of `/proc/zoneinfo` (`MemFree + Cached` if
//!   those are missing too); clamped to `[0, total]` (`MemFree` when above total).
//! - Disk percent = `used / (used + avail)`, `used = (f_blocks − f_bfree) × f_frsize`,
//!   `avail = f_bavail × f_frsize`, as `df`. Mounts: filesystem types listed in
//!   `/proc/filesystems` without `nodev`, plus `zfs`, with a device; deduplicated by device
//!   (psutil lists bind mounts again). A mount whose `statvfs` fails or hangs past the timeout
//!   is listed in [`SystemMetrics::mount_errors`] and the sample goes on.
//! - `cpu_percent` = busy/total of the deltas of the `cpu` line between two samples, each delta
//!   clamped at 0; busy = user + nice + system + irq + softirq + steal (guest is already inside
//!   user); `None` on the first sample, never a blocking one-second wait.
//! - `process_count` = numeric entries of `/proc` (processes, not threads).
//! - `network_io` sums every interface including `lo`. A counter that goes backwards (a wrap
//!   or a reset) has its last value carried over, as psutil's `nowrap`, so it never decreases
//!   across a wrap; an interface that disappears leaves the totals, as in psutil.
//!
//! Every figure is rounded with Python's `round(x, 1)` semantics, so the golden tests compare
//! with psutil for exact equality.

#![warn(missing_docs)]

mod disks;
mod error;
pub mod exposition;
mod fake;
mod fsstat;
mod metrics;
mod procfs;
mod round;
mod sampler;
mod source;
#[cfg(feature = "sysinfo")]
mod sysinfo_source;

/// The trait of everything that writes a Prometheus page section; [`SystemMetrics`] implements
/// it.
pub use ops_core::Exposition;

pub use crate::error::{Error, Result};
pub use crate::fake::FakeSource;
pub use crate::fsstat::{FixedFsStat, FsStat, FsUsage, SystemFsStat};
pub use crate::metrics::{
    CpuTimes, Disk, Interface, Kernel, LoadAverage, Memory, MountError, MountErrorKind, NetworkIo,
    SystemMetrics,
};
pub use crate::procfs::{DiskFilter, ProcSource, ProcSourceBuilder};
pub use crate::sampler::{Sampler, SamplerStats};
pub use crate::source::{MetricsSource, default_source};
#[cfg(feature = "sysinfo")]
pub use crate::sysinfo_source::SysinfoSource;
