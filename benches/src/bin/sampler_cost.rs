//! How much CPU a `Sampler` at a 1 s interval costs: runs it for a while and reports the
//! process's CPU time (the main thread only sleeps) as a share of one core.
//!
//! `cargo run --release -p ops-benches --bin sampler-cost -- [SECONDS]`

#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs)]

use std::time::{Duration, Instant};

use ops_metrics::{ProcSource, Sampler};

fn cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: `usage` is writable and large enough; getrusage fills it when it returns 0.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    assert_eq!(rc, 0, "getrusage failed");
    // SAFETY: rc == 0.
    let u = unsafe { usage.assume_init() };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn main() {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let cpu_before = cpu_time();
    let started = Instant::now();
    let sampler = Sampler::spawn(ProcSource::new(), Duration::from_secs(1), |m| {
        std::hint::black_box(m);
    })
    .unwrap();
    std::thread::sleep(Duration::from_secs(seconds));
    let stats = sampler.stop();
    let wall = started.elapsed();
    let cpu = cpu_time().saturating_sub(cpu_before);
    let share = cpu.as_secs_f64() / wall.as_secs_f64() * 100.0;
    println!(
        "sampler at 1 s: {} samples in {:.1} s, CPU {:.2} ms in all, {:.3} ms per sample: {:.4} % of one core",
        stats.samples,
        wall.as_secs_f64(),
        cpu.as_secs_f64() * 1e3,
        cpu.as_secs_f64() * 1e3 / stats.samples.max(1) as f64,
        share
    );
}
