//! Windows as Prometheus writes durations (`5m`, `1h`, `3d`, `30d`): the `sloth_window` label
//! values and the suffixes of the recorded series' names.

use std::time::Duration;

/// `d` in Prometheus's duration syntax, with the largest unit (days, hours, minutes, seconds)
/// that divides it: `5m`, `90m`, `1h`, `36h`, `1d`, `30d`; milliseconds below a second. The
/// `sloth_window` label values and the recorded series' names (`slo:sli_error:ratio_rate5m`)
/// write windows so.
///
/// ```
/// use std::time::Duration;
///
/// assert_eq!(ops_slo::window_label(Duration::from_secs(300)), "5m");
/// assert_eq!(ops_slo::window_label(Duration::from_secs(3 * 86_400)), "3d");
/// ```
pub fn prom(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".to_owned();
    }
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let s = ms / 1000;
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if s.is_multiple_of(size) {
            return format!("{}{unit}", s / size);
        }
    }
    format!("{s}s")
}

/// Whole `unit`s since the Unix epoch of `t` (floor, also before the epoch).
pub(crate) fn index(t: std::time::SystemTime, unit: Duration) -> i64 {
    let unit_ms = i128::try_from(unit.as_millis().max(1)).unwrap_or(i128::MAX);
    let ms: i128 = match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i128::try_from(d.as_millis()).unwrap_or(i128::MAX),
        Err(e) => -i128::try_from(e.duration().as_millis()).unwrap_or(i128::MAX),
    };
    i64::try_from(ms.div_euclid(unit_ms)).unwrap_or(if ms < 0 { i64::MIN } else { i64::MAX })
}

/// The start of unit `i` (the inverse of [`index`]), saturating at the representable range.
#[cfg_attr(not(feature = "engine"), allow(dead_code))]
pub(crate) fn start_of(i: i64, unit: Duration) -> std::time::SystemTime {
    let unit_ms = u64::try_from(unit.as_millis()).unwrap_or(u64::MAX);
    let abs = i.unsigned_abs().saturating_mul(unit_ms);
    let d = Duration::from_millis(abs);
    if i >= 0 {
        std::time::UNIX_EPOCH
            .checked_add(d)
            .unwrap_or(std::time::UNIX_EPOCH)
    } else {
        std::time::UNIX_EPOCH
            .checked_sub(d)
            .unwrap_or(std::time::UNIX_EPOCH)
    }
}

/// One minute: the resolution of the burn-rate windows.
#[cfg_attr(not(feature = "engine"), allow(dead_code))]
pub(crate) const MINUTE: Duration = Duration::from_mins(1);
/// One hour: the resolution of the budget window.
pub(crate) const HOUR: Duration = Duration::from_hours(1);

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn prometheus_durations() {
        assert_eq!(prom(Duration::from_mins(5)), "5m");
        assert_eq!(prom(Duration::from_mins(90)), "90m");
        assert_eq!(prom(Duration::from_hours(1)), "1h");
        assert_eq!(prom(Duration::from_hours(36)), "36h");
        assert_eq!(prom(Duration::from_hours(72)), "3d");
        assert_eq!(prom(Duration::from_hours(720)), "30d");
        assert_eq!(prom(Duration::from_secs(45)), "45s");
        assert_eq!(prom(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn indexes_floor_and_invert() {
        let t = std::time::UNIX_EPOCH + Duration::from_secs(3_725);
        assert_eq!(index(t, HOUR), 1);
        assert_eq!(index(t, MINUTE), 62);
        assert_eq!(
            start_of(62, MINUTE),
            std::time::UNIX_EPOCH + Duration::from_mins(62)
        );
        let before = std::time::UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(index(before, MINUTE), -1);
        assert_eq!(
            start_of(-1, MINUTE),
            std::time::UNIX_EPOCH - Duration::from_mins(1)
        );
    }
}
