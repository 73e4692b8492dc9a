use ops_profiler::perf_monitor;

#[perf_monitor(level = "verbose")]
fn f() {}

fn main() {
    f();
}
