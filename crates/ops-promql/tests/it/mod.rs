mod differential;
mod eval;
mod proptests;
mod store;

use std::time::{Duration, SystemTime};

/// `UNIX_EPOCH + secs` (negative: before it).
pub(crate) fn at(secs: f64) -> SystemTime {
    if secs < 0.0 {
        SystemTime::UNIX_EPOCH - Duration::from_secs_f64(-secs)
    } else {
        SystemTime::UNIX_EPOCH + Duration::from_secs_f64(secs)
    }
}
