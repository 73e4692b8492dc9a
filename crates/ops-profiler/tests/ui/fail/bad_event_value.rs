use ops_profiler::perf_monitor;

#[perf_monitor(event = "no")]
fn f() {}

fn main() {
    f();
}
