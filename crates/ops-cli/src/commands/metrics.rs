//! `ops metrics`: one sample, or a stream of samples, of this machine.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use ops_metrics::{DiskFilter, MetricsSource, ProcSource, Sampler, SysinfoSource, SystemMetrics};

use crate::ExitStatus;
use crate::cli::{Format, MetricsArgs};
use crate::output::{self, emit};

fn source(args: &MetricsArgs) -> anyhow::Result<Box<dyn MetricsSource>> {
    if args.sysinfo {
        return Ok(Box::new(
            SysinfoSource::new().context("starting the sysinfo source")?,
        ));
    }
    let mut filter = DiskFilter::default();
    filter.include_fstypes.clone_from(&args.include_fstypes);
    Ok(Box::new(
        ProcSource::builder()
            .proc_root(&args.proc_root)
            .mount_timeout(Some(args.mount_timeout))
            .disk_filter(filter)
            .build(),
    ))
}

/// Takes a priming reading and waits `window`, so the next sample has a CPU figure.
fn primed(args: &MetricsArgs) -> anyhow::Result<Box<dyn MetricsSource>> {
    let mut source = source(args)?;
    source.collect().context("taking the first reading")?;
    std::thread::sleep(args.cpu_window);
    Ok(source)
}

pub(crate) fn run(args: &MetricsArgs) -> anyhow::Result<ExitStatus> {
    match args.watch {
        None => one(args),
        Some(interval) => watch(args, interval),
    }
}

fn one(args: &MetricsArgs) -> anyhow::Result<ExitStatus> {
    let mut source = primed(args)?;
    let sample = source.collect().context("sampling the machine")?;
    let text = match args.format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&sample)?;
            s.push('\n');
            s
        }
        Format::Prometheus => ops_metrics::exposition::render(&sample),
        Format::Table => table(&sample, source.name()),
    };
    emit(&text)?;
    Ok(ExitStatus::Success)
}

fn watch(args: &MetricsArgs, interval: Duration) -> anyhow::Result<ExitStatus> {
    if args.format == Format::Prometheus {
        bail!("--watch prints JSON lines or table rows; use --format json or --format table");
    }
    let source = primed(args)?;
    let (sampler, samples) = Sampler::with_channel(source, interval, 64)?;
    let mut previous: Option<SystemMetrics> = None;
    let started = Instant::now();
    if args.format == Format::Table && !emit(&row_header())? {
        return Ok(ExitStatus::Success);
    }
    let limit = args
        .count
        .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
    for sample in samples.iter().take(limit) {
        let line = if args.format == Format::Table {
            row(&sample, previous.as_ref())
        } else {
            let mut s = serde_json::to_string(&sample)?;
            s.push('\n');
            s
        };
        if !emit(&line)? {
            break;
        }
        previous = Some(sample);
    }
    let stats = sampler.stop();
    if stats.failures > 0 || stats.dropped > 0 {
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "ops: {} samples in {:.0?}; {} failed collections, {} dropped",
                stats.samples,
                started.elapsed(),
                stats.failures,
                stats.dropped
            );
        }
    }
    Ok(ExitStatus::Success)
}

fn percent(p: Option<f64>) -> String {
    p.map_or_else(|| "-".to_owned(), |v| format!("{v:.1} %"))
}

/// A readable one-sample report.
fn table(m: &SystemMetrics, source: &str) -> String {
    let mut out = String::new();
    let stamp = humantime::format_rfc3339_seconds(m.timestamp);
    let _ = writeln!(out, "ops metrics  {stamp}  (source: {source})\n");
    let _ = writeln!(out, "CPU        {}", percent(m.cpu_percent));
    let mem = &m.memory;
    let _ = writeln!(
        out,
        "Memory     {:.1} %   {} used of {}, {} available",
        m.memory_percent,
        output::bytes(mem.used),
        output::bytes(mem.total),
        output::bytes(mem.available)
    );
    if let Some(load) = m.load_average {
        let _ = writeln!(
            out,
            "Load       {:.2} {:.2} {:.2}",
            load.one, load.five, load.fifteen
        );
    }
    match m.kernel.filter(|k| k.threads > 0) {
        Some(kernel) => {
            let _ = writeln!(
                out,
                "Processes  {} ({} threads)",
                m.process_count, kernel.threads
            );
        }
        None => {
            let _ = writeln!(out, "Processes  {}", m.process_count);
        }
    }
    if let Some(up) = m.uptime_seconds {
        let _ = writeln!(out, "Uptime     {}", output::uptime(up));
    }
    disks_table(m, &mut out);
    network_table(m, &mut out);
    out
}

fn disks_table(m: &SystemMetrics, out: &mut String) {
    if !m.disks.is_empty() {
        let mw = output::column_width("MOUNT", m.disks.iter().map(|d| d.mountpoint.len()));
        let dw = output::column_width("DEVICE", m.disks.iter().map(|d| d.device.len()));
        let _ = writeln!(
            out,
            "\nDisks\n  {:<mw$}  {:<dw$}  {:<8}  {:>10}  {:>10}  {:>10}  {:>6}",
            "MOUNT", "DEVICE", "FSTYPE", "SIZE", "USED", "AVAIL", "USE%"
        );
        for disk in &m.disks {
            let _ = writeln!(
                out,
                "  {:<mw$}  {:<dw$}  {:<8}  {:>10}  {:>10}  {:>10}  {:>5.1}%",
                disk.mountpoint,
                disk.device,
                disk.fstype,
                output::bytes(disk.total_bytes),
                output::bytes(disk.used_bytes),
                output::bytes(disk.avail_bytes),
                disk.percent
            );
        }
    }
    if !m.mount_errors.is_empty() {
        let _ = writeln!(out, "\nMounts not measured");
        for e in &m.mount_errors {
            let _ = writeln!(
                out,
                "  {} ({} {}): {}",
                e.mountpoint, e.device, e.fstype, e.message
            );
        }
    }
}

fn network_table(m: &SystemMetrics, out: &mut String) {
    if m.interfaces.is_empty() {
        return;
    }
    let nw = output::column_width("IFACE", m.interfaces.keys().map(String::len));
    let _ = writeln!(
        out,
        "\nNetwork (since boot)\n  {:<nw$}  {:>10}  {:>10}  {:>10}  {:>10}  {:>6}  {:>6}",
        "IFACE", "RX", "RX PKTS", "TX", "TX PKTS", "ERRS", "DROPS"
    );
    let mut line = |name: &str, io: &ops_metrics::NetworkIo| {
        let drops = match (io.dropin, io.dropout) {
            (Some(dropin), Some(dropout)) => (dropin + dropout).to_string(),
            _ => "-".to_owned(),
        };
        let _ = writeln!(
            out,
            "  {:<nw$}  {:>10}  {:>10}  {:>10}  {:>10}  {:>6}  {:>6}",
            name,
            output::bytes(io.bytes_recv),
            io.packets_recv,
            output::bytes(io.bytes_sent),
            io.packets_sent,
            io.errin + io.errout,
            drops
        );
    };
    for (name, io) in &m.interfaces {
        line(name, io);
    }
    line("total", &m.network_io);
}

fn row_header() -> String {
    format!(
        "{:<20}  {:>6}  {:>6}  {:>6}  {:>6}  {:>12}  {:>12}  {}\n",
        "TIME", "CPU%", "MEM%", "LOAD1", "PROCS", "RX/s", "TX/s", "DISK% (max)"
    )
}

/// One row per sample; rates from the previous sample.
fn row(m: &SystemMetrics, previous: Option<&SystemMetrics>) -> String {
    let rate = |now: u64, before: u64| -> String {
        let Some(p) = previous else {
            return "-".to_owned();
        };
        let secs = m
            .timestamp
            .duration_since(p.timestamp)
            .unwrap_or_default()
            .as_secs_f64();
        if secs <= 0.0 {
            return "-".to_owned();
        }
        format!(
            "{}/s",
            output::bytes((now.saturating_sub(before) as f64 / secs) as u64)
        )
    };
    let (rx, tx) = match previous {
        Some(p) => (
            rate(m.network_io.bytes_recv, p.network_io.bytes_recv),
            rate(m.network_io.bytes_sent, p.network_io.bytes_sent),
        ),
        None => ("-".to_owned(), "-".to_owned()),
    };
    let worst = m
        .disk_usage
        .iter()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or_else(|| "-".to_owned(), |(mount, p)| format!("{p:.1} {mount}"));
    format!(
        "{:<20}  {:>6}  {:>6.1}  {:>6}  {:>6}  {:>12}  {:>12}  {}\n",
        humantime::format_rfc3339_seconds(m.timestamp).to_string(),
        m.cpu_percent
            .map_or_else(|| "-".to_owned(), |c| format!("{c:.1}")),
        m.memory_percent,
        m.load_average
            .map_or_else(|| "-".to_owned(), |l| format!("{:.2}", l.one)),
        m.process_count,
        rx,
        tx,
        worst
    )
}
