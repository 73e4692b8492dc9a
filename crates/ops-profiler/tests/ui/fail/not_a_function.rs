use ops_profiler::perf_monitor;

#[perf_monitor]
struct NotAFunction {
    field: u32,
}

fn main() {
    let _ = NotAFunction { field: 1 };
}
