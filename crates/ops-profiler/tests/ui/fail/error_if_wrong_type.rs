use ops_profiler::perf_monitor;

fn is_missing(v: &Option<u32>) -> bool {
    v.is_none()
}

// A predicate for another type.
#[perf_monitor(error_if = is_missing)]
fn parse(s: &str) -> Result<u32, std::num::ParseIntError> {
    s.parse()
}

// A predicate that does not answer with a bool.
#[perf_monitor(error_if = |r| if r.is_err() { 1 } else { 0 })]
fn parse_again(s: &str) -> Result<u32, std::num::ParseIntError> {
    s.parse()
}

fn main() {
    let _ = parse("1");
    let _ = parse_again("1");
}
