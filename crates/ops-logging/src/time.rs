//! RFC 3339 UTC timestamps with microseconds, the date-time part cached per second.

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn two(out: &mut [u8], v: u32) {
    out[0] = b'0' + (v / 10) as u8;
    out[1] = b'0' + (v % 10) as u8;
}

/// `YYYY-MM-DDTHH:MM:SS` for a Unix second.
fn date_time(secs: i64) -> [u8; 19] {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400) as u32;
    let (y, m, d) = civil_from_days(days);
    let mut b = *b"0000-00-00T00:00:00";
    let y = y.clamp(0, 9999) as u32;
    two(&mut b[0..2], y / 100);
    two(&mut b[2..4], y % 100);
    two(&mut b[5..7], m);
    two(&mut b[8..10], d);
    two(&mut b[11..13], rem / 3600);
    two(&mut b[14..16], rem % 3600 / 60);
    two(&mut b[17..19], rem % 60);
    b
}

thread_local! {
    static CACHE: Cell<(i64, [u8; 19])> = const { Cell::new((i64::MIN, [0; 19])) };
}

/// Appends `now` as `2026-11-25T02:40:11.123456Z`.
pub(crate) fn write_rfc3339(now: SystemTime, out: &mut Vec<u8>) {
    let (secs, micros) = match now.duration_since(UNIX_EPOCH) {
        Ok(d) => (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_micros(),
        ),
        Err(e) => {
            let d = e.duration();
            let whole = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            if d.subsec_micros() == 0 {
                (-whole, 0)
            } else {
                (-whole - 1, 1_000_000 - d.subsec_micros())
            }
        }
    };
    let prefix = CACHE.with(|c| {
        let (cached_secs, text) = c.get();
        if cached_secs == secs {
            text
        } else {
            let text = date_time(secs);
            c.set((secs, text));
            text
        }
    });
    out.extend_from_slice(&prefix);
    let mut frac = *b".000000Z";
    let mut v = micros;
    for i in (1..7).rev() {
        frac[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.extend_from_slice(&frac);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod test {
    use std::time::Duration;

    use super::*;

    fn fmt(t: SystemTime) -> String {
        let mut v = Vec::new();
        write_rfc3339(t, &mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn known_instants() {
        assert_eq!(fmt(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            fmt(UNIX_EPOCH + Duration::new(951_782_400, 5_000)),
            "2000-02-29T00:00:00.000005Z"
        );
        assert_eq!(
            fmt(UNIX_EPOCH + Duration::new(1_795_574_411, 123_456_789)),
            "2026-11-25T02:40:11.123456Z"
        );
        assert_eq!(
            fmt(UNIX_EPOCH - Duration::new(1, 0)),
            "1969-12-31T23:59:59.000000Z"
        );
    }

    #[test]
    fn every_day_for_a_century_round_trips() {
        let mut prev = String::new();
        for day in 0..36_600i64 {
            let s = fmt(UNIX_EPOCH + Duration::from_secs((day * 86_400 + 3_661) as u64));
            assert!(s > prev, "{s} after {prev}");
            assert_eq!(&s[10..], "T01:01:01.000000Z");
            prev = s;
        }
    }
}
