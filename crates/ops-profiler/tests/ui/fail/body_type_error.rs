use ops_profiler::perf_monitor;

// A type error in the body is reported on the user's line, not on generated code.
#[perf_monitor]
fn wrong() -> Result<u32, String> {
    let n: u32 = "not a number";
    Ok(n)
}

fn main() {
    let _ = wrong();
}
