mod differential;

use std::time::{Duration, SystemTime};

/// `UNIX_EPOCH + secs`.
pub(crate) fn at(secs: f64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs_f64(secs)
}
