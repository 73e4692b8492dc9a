use ops_profiler::perf_monitor;

#[perf_monitor(name = "a", level = "info", name = "b")]
fn f() {}

fn main() {
    f();
}
