use ops_profiler::perf_monitor;

// The predicate's parameter type is `&` the return type, which `impl Trait` cannot name.
#[perf_monitor(error_if = |_| false)]
fn evens(limit: u32) -> Result<impl Iterator<Item = u32>, String> {
    Ok((0..limit).filter(|n| n % 2 == 0))
}

fn main() {
    let _ = evens(4);
}
