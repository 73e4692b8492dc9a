//! What `ops monitor` costs: runs it for a while at a 1 s interval with the default rules and
//! reports its CPU time (share of one core) and peak resident memory.
//!
//! `cargo build --release -p ops-cli && cargo run --release -p ops-benches --bin monitor-cost -- [SECONDS]`

#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs)]

use std::path::Path;
use std::time::{Duration, Instant};

fn main() {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let ops = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/ops");
    assert!(
        ops.exists(),
        "build it first: cargo build --release -p ops-cli ({})",
        ops.display()
    );
    let started = Instant::now();
    // Reaped below with wait4, which also returns the child's resource usage.
    #[allow(clippy::zombie_processes)]
    let child = std::process::Command::new(&ops)
        .args([
            "monitor",
            "--interval",
            "1s",
            "--quiet",
            "--duration",
            &format!("{seconds}s"),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = i32::try_from(child.id()).unwrap();
    let mut status = 0;
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: waiting for our own child; `status` and `usage` are valid for writes.
    let rc = unsafe { libc::wait4(pid, &raw mut status, 0, usage.as_mut_ptr()) };
    assert_eq!(rc, pid, "wait4 failed");
    // SAFETY: wait4 returned the child, so it filled `usage`.
    let usage = unsafe { usage.assume_init() };
    let wall = started.elapsed();
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    let cpu = tv(usage.ru_utime) + tv(usage.ru_stime);
    println!(
        "ops monitor, 1 s interval, default rules, {:.1} s: CPU {:.1} ms ({:.3} % of one core), peak RSS {:.1} MiB",
        wall.as_secs_f64(),
        cpu.as_secs_f64() * 1e3,
        cpu.as_secs_f64() / wall.as_secs_f64() * 100.0,
        usage.ru_maxrss as f64 / 1024.0
    );
}
