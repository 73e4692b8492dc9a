//! ops-profiler at work: a few `#[perf_monitor]` functions (sync, fallible, async, a method)
//! called in a loop, then the report as a table, the playbook's JSON and a Prometheus page.
//!
//! `cargo run --release -p ops-examples --example profiled`

#![allow(clippy::print_stdout, missing_docs)]

use std::time::Duration;

use ops_profiler::Exposition as _;
use ops_profiler::perf_monitor;

#[derive(Debug)]
struct NotFound(u32);

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "user {} not found", self.0)
    }
}

#[perf_monitor]
fn hash_password(rounds: u32) -> u64 {
    (0..rounds * 1000).fold(0xcbf2_9ce4_8422_2325_u64, |h, i| {
        (h ^ u64::from(i)).wrapping_mul(0x100_0000_01b3)
    })
}

#[perf_monitor]
fn load_user(id: u32) -> Result<String, NotFound> {
    if id.is_multiple_of(7) {
        return Err(NotFound(id));
    }
    std::thread::sleep(Duration::from_micros(u64::from(id % 5) * 100));
    Ok(format!("user-{id}"))
}

struct Cache {
    hits: u64,
}

impl Cache {
    #[perf_monitor]
    fn lookup(&mut self, key: u32) -> Option<u32> {
        self.hits += 1;
        key.is_multiple_of(3).then_some(key)
    }
}

#[perf_monitor(name = "render_page")]
async fn render(user: String) -> usize {
    user.len() * 100
}

/// Polls a future that never waits (enough for this example without an async runtime).
fn run<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn main() {
    let mut cache = Cache { hits: 0 };
    for id in 1..=200 {
        std::hint::black_box(hash_password(id % 10 + 1));
        std::hint::black_box(cache.lookup(id));
        if let Ok(user) = load_user(id) {
            std::hint::black_box(run(render(user)));
        }
    }
    let report = ops_profiler::global().report();
    println!("{report}");
    println!(
        "{}",
        serde_json::to_string_pretty(&report).unwrap_or_default()
    );
    print!("{}", report.to_prometheus());
    println!(
        "\nclock: {}, cache hits: {}",
        ops_profiler::clock_name(),
        cache.hits
    );
}
