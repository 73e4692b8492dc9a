mod differential;
mod eval;
mod proptests;
mod store;

use std::time::{Duration, SystemTime};

/// The `*_over_time` functions the generated expressions use, `absent_over_time` aside.
pub(crate) const OVER_TIME: [&str; 6] = [
    "avg_over_time",
    "min_over_time",
    "max_over_time",
    "sum_over_time",
    "count_over_time",
    "last_over_time",
];

/// `UNIX_EPOCH + secs` (negative: before it).
pub(crate) fn at(secs: f64) -> SystemTime {
    if secs < 0.0 {
        SystemTime::UNIX_EPOCH - Duration::from_secs_f64(-secs)
    } else {
        SystemTime::UNIX_EPOCH + Duration::from_secs_f64(secs)
    }
}
