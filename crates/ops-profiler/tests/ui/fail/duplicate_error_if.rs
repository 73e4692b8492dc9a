use ops_profiler::perf_monitor;

#[perf_monitor(error_if = |r| r.is_err(), name = "f", error_if = |_| true)]
fn f() -> Result<(), String> {
    Ok(())
}

fn main() {
    let _ = f();
}
