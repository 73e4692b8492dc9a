use ops_profiler::perf_monitor;

// The returned value cannot be inspected: a closure would hide the caller, and `!` has none.

#[perf_monitor(error_if = |r| r.is_err())]
#[track_caller]
fn located() -> Result<u32, String> {
    Ok(std::panic::Location::caller().line())
}

#[perf_monitor(error_if = |_| true)]
fn never() -> ! {
    panic!("never returns")
}

fn main() {
    let _ = located();
    let _: fn() -> ! = never;
}
