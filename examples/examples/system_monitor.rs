//! Samples this machine once a second for a few seconds with ops-metrics, prints each sample,
//! then the last one as a Prometheus page and the sampler's counters.
//!
//! `cargo run -p ops-examples --example system_monitor -- [--seconds N]`

#![allow(clippy::print_stdout, clippy::print_stderr, missing_docs)]

use std::process::ExitCode;
use std::time::Duration;

use ops_metrics::{ProcSource, Sampler, SystemMetrics};

fn seconds_from_args() -> Result<u64, String> {
    let mut args = std::env::args().skip(1);
    let mut seconds = 5;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                let value = args.next().ok_or("--seconds needs a value")?;
                seconds = value
                    .parse()
                    .map_err(|e| format!("--seconds {value}: {e}"))?;
            }
            other => return Err(format!("unknown argument {other} (try --seconds N)")),
        }
    }
    Ok(seconds)
}

fn line(m: &SystemMetrics, previous: Option<&SystemMetrics>) -> String {
    let cpu = m
        .cpu_percent
        .map_or_else(|| "  -  ".to_owned(), |c| format!("{c:5.1}"));
    let rx = previous.map_or(0, |p| {
        m.network_io
            .bytes_recv
            .saturating_sub(p.network_io.bytes_recv)
    });
    let disks: Vec<String> = m
        .disk_usage
        .iter()
        .map(|(mount, p)| format!("{mount} {p:.1}%"))
        .collect();
    format!(
        "cpu {cpu}%  memory {:5.1}%  processes {:4}  rx {:>8} B  disks [{}]",
        m.memory_percent,
        m.process_count,
        rx,
        disks.join(", ")
    )
}

fn main() -> ExitCode {
    let seconds = match seconds_from_args() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("system_monitor: {e}");
            return ExitCode::from(2);
        }
    };
    println!("Sampling this machine once a second for {seconds} s (ops-metrics ProcSource)…");
    let (sampler, samples) =
        match Sampler::with_channel(ProcSource::new(), Duration::from_secs(1), 16) {
            Ok(pair) => pair,
            Err(e) => {
                eprintln!("system_monitor: {e}");
                return ExitCode::FAILURE;
            }
        };
    let mut last: Option<SystemMetrics> = None;
    for sample in samples
        .iter()
        .take(usize::try_from(seconds).unwrap_or(usize::MAX))
    {
        println!("{}", line(&sample, last.as_ref()));
        last = Some(sample);
    }
    let stats = sampler.stop();
    if let Some(m) = &last {
        println!("\n--- Prometheus exposition of the last sample ---");
        print!("{}", ops_metrics::exposition::render(m));
    }
    println!(
        "\nsampler: {} samples, {} failed, {} missed ticks, {} dropped",
        stats.samples, stats.failures, stats.missed_ticks, stats.dropped
    );
    if stats.failures > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
