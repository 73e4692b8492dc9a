use ops_profiler::perf_monitor;

#[perf_monitor(nmae = "typo")]
fn f() {}

fn main() {
    f();
}
