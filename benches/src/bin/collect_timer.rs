//! Times one full ops-metrics collection, paced like the psutil script's loop, and prints the
//! median in microseconds: the Rust half of `scripts/psutil_compare.py`.
//!
//! `cargo run --release -p ops-benches --bin collect-timer -- ITERATIONS`

#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs)]

use std::time::Instant;

use ops_metrics::{MetricsSource as _, ProcSource};

fn main() {
    let iterations: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let mut source = ProcSource::new();
    source.collect().unwrap();
    let mut times = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let t = Instant::now();
        std::hint::black_box(source.collect().unwrap());
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    println!("{:.2}", times[times.len() / 2]);
}
