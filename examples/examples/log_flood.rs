//! T threads log N lines in total through ops-logging into a directory with the given rotation,
//! then print one JSON line: lines accepted, dropped, seconds until the guard finished writing,
//! and throughput.
//!
//! `cargo run --release -p ops-examples --example log_flood -- --threads 4 --lines 1000000 --dir /tmp/flood --max-bytes 10485760 --backups 20 [--drop]`

#![allow(clippy::print_stdout, clippy::print_stderr, missing_docs)]

use std::process::ExitCode;
use std::time::Instant;

struct Args {
    threads: u64,
    lines: u64,
    dir: String,
    max_bytes: u64,
    backups: u32,
    drop: bool,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        threads: 4,
        lines: 1_000_000,
        dir: "logs-flood".into(),
        max_bytes: 10 * 1024 * 1024,
        backups: 5,
        drop: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--threads" => a.threads = value()?.parse().map_err(|e| format!("--threads: {e}"))?,
            "--lines" => a.lines = value()?.parse().map_err(|e| format!("--lines: {e}"))?,
            "--dir" => a.dir = value()?,
            "--max-bytes" => {
                a.max_bytes = value()?.parse().map_err(|e| format!("--max-bytes: {e}"))?;
            }
            "--backups" => a.backups = value()?.parse().map_err(|e| format!("--backups: {e}"))?,
            "--drop" => a.drop = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.threads == 0 {
        return Err("--threads must be at least 1".into());
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("log_flood: {e}");
            return ExitCode::from(2);
        }
    };
    let overflow = if args.drop {
        ops_logging::Overflow::Drop
    } else {
        ops_logging::Overflow::Block
    };
    let built = ops_logging::Logging::builder("flood")
        .dir(&args.dir)
        .max_bytes(args.max_bytes)
        .backups(args.backups)
        .console(false)
        .ignore_env()
        .separate_streams(false)
        .overflow(overflow)
        .build();
    let (dispatch, guard) = match built {
        Ok(pair) => pair,
        Err(e) => {
            eprintln!("log_flood: {e}");
            return ExitCode::FAILURE;
        }
    };
    let per_thread = args.lines / args.threads;
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..args.threads {
            let dispatch = dispatch.clone();
            let n = per_thread + u64::from(t < args.lines % args.threads);
            s.spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    for seq in 0..n {
                        tracing::info!(
                            thread = t,
                            seq,
                            method = "GET",
                            path = "/api/users",
                            status_code = 200u16,
                            "HTTP Request"
                        );
                    }
                });
            });
        }
    });
    let stats = guard.stats().total();
    drop(guard);
    let seconds = started.elapsed().as_secs_f64();
    let dropped = stats.dropped;
    let accepted = args.lines - dropped;
    println!(
        "{{\"lines\": {accepted}, \"dropped\": {dropped}, \"seconds\": {seconds:.3}, \"lines_per_sec\": {:.0}}}",
        args.lines as f64 / seconds
    );
    ExitCode::SUCCESS
}
