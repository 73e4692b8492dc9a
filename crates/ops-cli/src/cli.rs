//! Command-line arguments.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Operations for Rust services: system metrics, alert checks, monitoring and deployments.
#[derive(Debug, Parser)]
#[command(name = "ops", version, about, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Sample this machine: CPU, memory, disks, network, processes.
    ///
    /// Prints one sample (CPU usage measured over a short window) as the playbook's JSON object,
    /// a Prometheus text page, or a table. With --watch, one sample per interval until
    /// interrupted: JSON lines (a recording later tools can replay) or table rows.
    Metrics(MetricsArgs),
}

/// How a sample is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// The sample as JSON (one compact line per sample with --watch).
    Json,
    /// A Prometheus text exposition page (`node_exporter` names).
    Prometheus,
    /// A readable table (one row per sample with --watch).
    Table,
}

#[derive(Debug, Args)]
pub(crate) struct MetricsArgs {
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Format::Json)]
    pub(crate) format: Format,

    /// Keep sampling at this interval (e.g. 1s, 500ms, 1m) until interrupted.
    #[arg(long, short, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) watch: Option<Duration>,

    /// With --watch: stop after this many samples.
    #[arg(long, short = 'n', value_name = "N", requires = "watch")]
    pub(crate) count: Option<u64>,

    /// The window CPU usage is measured over for the first sample.
    #[arg(long, value_name = "DURATION", default_value = "250ms", value_parser = parse_duration)]
    pub(crate) cpu_window: Duration,

    /// Where the proc tree is (a host's /proc mounted into a container, for example).
    #[arg(long, value_name = "PATH", default_value = "/proc")]
    pub(crate) proc_root: PathBuf,

    /// Longest wait for one mount's statvfs before it is reported as hung.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub(crate) mount_timeout: Duration,

    /// Also measure these filesystem types (e.g. tmpfs, nfs4); repeatable.
    #[arg(long = "include-fstype", value_name = "FSTYPE")]
    pub(crate) include_fstypes: Vec<String>,

    /// Use the portable sysinfo source instead of reading /proc directly.
    #[arg(long)]
    pub(crate) sysinfo: bool,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let d =
        humantime::parse_duration(text).map_err(|e| format!("{e} (examples: 1s, 500ms, 2m)"))?;
    if d.is_zero() {
        return Err("must be greater than zero".to_owned());
    }
    Ok(d)
}

#[cfg(test)]
mod test {
    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
    }
}
