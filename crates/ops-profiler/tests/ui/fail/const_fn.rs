use ops_profiler::perf_monitor;

#[perf_monitor]
const fn answer() -> u32 {
    42
}

fn main() {
    let _ = answer();
}
