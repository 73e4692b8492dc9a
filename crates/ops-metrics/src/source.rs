//! The `MetricsSource` trait and the default source for this platform.

use crate::error::Result;
use crate::metrics::SystemMetrics;

/// Something that takes samples of the machine's figures.
///
/// A source keeps state between samples (the previous CPU reading, counter-wrap remainders), so
/// [`collect`](MetricsSource::collect) takes `&mut self`. Implementations: [`ProcSource`]
/// (Linux, reads `/proc`), `SysinfoSource` (portable, feature `sysinfo`), and [`FakeSource`]
/// for tests.
///
/// [`ProcSource`]: crate::ProcSource
/// [`FakeSource`]: crate::FakeSource
pub trait MetricsSource: Send {
    /// Takes one sample.
    ///
    /// # Errors
    /// A required file cannot be read or parsed. Mounts that cannot be measured are not errors:
    /// they are listed in [`SystemMetrics::mount_errors`].
    fn collect(&mut self) -> Result<SystemMetrics>;

    /// A short name for logs (`procfs`, `sysinfo`, `fake`).
    fn name(&self) -> &'static str;
}

impl<T: MetricsSource + ?Sized> MetricsSource for Box<T> {
    fn collect(&mut self) -> Result<SystemMetrics> {
        (**self).collect()
    }

    fn name(&self) -> &'static str {
        (**self).name()
    }
}

/// The best source for this platform: [`ProcSource`](crate::ProcSource) on Linux, otherwise
/// `SysinfoSource` (which needs the `sysinfo` feature).
///
/// # Errors
/// Only on platforms other than Linux, when the `sysinfo` source cannot start.
pub fn default_source() -> Result<Box<dyn MetricsSource>> {
    #[cfg(target_os = "linux")]
    {
        Ok(Box::new(crate::procfs::ProcSource::new()))
    }
    #[cfg(all(not(target_os = "linux"), feature = "sysinfo"))]
    {
        Ok(Box::new(crate::sysinfo_source::SysinfoSource::new()?))
    }
    #[cfg(all(not(target_os = "linux"), not(feature = "sysinfo")))]
    {
        Err(crate::Error::Config {
            field: "source",
            reason: "no metrics source for this platform: enable the `sysinfo` feature".into(),
        })
    }
}
