/*!
Durations as people write them in rule files, deploy configs and flags — `30s`, `1m30s`,
`500ms`, `2h` (humantime's syntax) — with one rule set everywhere:

- no sign: `-5s` is refused;
- at most [`MAX`] (366 days), so no deadline computed from a duration can overflow;
- where zero means nothing (an interval, a timeout) the caller asks for [`Bounds::NONZERO`] or a
  floor such as [`MIN_INTERVAL`] for sampling and evaluation intervals.

```
use std::time::Duration;
use ops_core::duration::{self, Bounds, DurationError};

assert_eq!(duration::parse("1m30s"), Ok(Duration::from_secs(90)));
assert_eq!(duration::parse("-1s"), Err(DurationError::Negative));
assert!(matches!(duration::parse("500000000000years"), Err(DurationError::Syntax { .. } | DurationError::TooLong { .. })));
assert_eq!(duration::parse_within("0s", Bounds::NONZERO), Err(DurationError::Zero));
assert!(duration::parse_within("1ns", Bounds::INTERVAL).is_err());
```
*/

use std::time::Duration;

/// The longest duration any setting may have: 366 days.
pub const MAX: Duration = Duration::from_hours(366 * 24);

/// The shortest sampling or evaluation interval: 10 ms. Shorter ones would spend the machine
/// on measuring itself.
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// The range a setting accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// The shortest accepted (zero allowed when this is zero).
    pub min: Duration,
    /// The longest accepted (at most [`MAX`]).
    pub max: Duration,
}

impl Bounds {
    /// Zero to [`MAX`].
    pub const ANY: Bounds = Bounds {
        min: Duration::ZERO,
        max: MAX,
    };
    /// Anything above zero, up to [`MAX`]: timeouts, waits.
    pub const NONZERO: Bounds = Bounds {
        min: Duration::from_nanos(1),
        max: MAX,
    };
    /// Sampling and evaluation intervals: [`MIN_INTERVAL`] to [`MAX`].
    pub const INTERVAL: Bounds = Bounds {
        min: MIN_INTERVAL,
        max: MAX,
    };

    /// `min` to [`MAX`].
    pub const fn at_least(min: Duration) -> Bounds {
        Bounds { min, max: MAX }
    }

    /// Checks a duration given as a value rather than text (a builder argument).
    ///
    /// # Errors
    /// [`DurationError::Zero`], [`DurationError::TooShort`] or [`DurationError::TooLong`].
    pub fn check(self, d: Duration) -> Result<Duration, DurationError> {
        if d > self.max.min(MAX) {
            return Err(DurationError::TooLong {
                max: format(self.max.min(MAX)),
            });
        }
        if d < self.min {
            if d.is_zero() {
                return Err(DurationError::Zero);
            }
            return Err(DurationError::TooShort {
                min: format(self.min),
            });
        }
        Ok(d)
    }
}

/// Why a duration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DurationError {
    /// Not humantime's syntax.
    #[error("not a duration ({reason}); examples: 30s, 2m, 1h30m")]
    Syntax {
        /// What humantime said.
        reason: String,
    },
    /// A leading `-`.
    #[error("durations cannot be negative")]
    Negative,
    /// Zero where it means nothing.
    #[error("must be greater than zero")]
    Zero,
    /// Under the setting's floor.
    #[error("must be at least {min}")]
    TooShort {
        /// The floor, as written back.
        min: String,
    },
    /// Over the setting's ceiling.
    #[error("must be at most {max}")]
    TooLong {
        /// The ceiling, as written back.
        max: String,
    },
}

/// Parses a duration between zero and [`MAX`].
///
/// # Errors
/// See [`DurationError`].
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    parse_within(text, Bounds::ANY)
}

/// Parses a duration within `bounds`.
///
/// # Errors
/// See [`DurationError`].
pub fn parse_within(text: &str, bounds: Bounds) -> Result<Duration, DurationError> {
    let t = text.trim();
    if t.starts_with('-') {
        return Err(DurationError::Negative);
    }
    // humantime overflows into an error for absurd values; a year-sized cap comes after.
    let d = humantime::parse_duration(t).map_err(|e| match e {
        humantime::DurationError::NumberOverflow => DurationError::TooLong {
            max: format(bounds.max.min(MAX)),
        },
        other => DurationError::Syntax {
            reason: other.to_string(),
        },
    })?;
    bounds.check(d)
}

/// Writes a duration back the way it is parsed (`1m 30s`, `500ms`).
pub fn format(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// `serde` helpers: durations as humantime strings (`"10s"`) in config and history files.
///
/// ```
/// # use std::time::Duration;
/// #[derive(serde::Deserialize, serde::Serialize)]
/// struct Config {
///     #[serde(with = "ops_core::duration::serde::nonzero")]
///     timeout: Duration,
/// }
/// let c: Config = serde_json::from_str(r#"{"timeout":"1m"}"#).unwrap();
/// assert_eq!(c.timeout, Duration::from_secs(60));
/// assert!(serde_json::from_str::<Config>(r#"{"timeout":"0s"}"#).is_err());
/// ```
#[cfg(feature = "serde")]
pub mod serde {
    macro_rules! bounded {
        ($(#[$doc:meta])* $name:ident, $bounds:expr) => {
            $(#[$doc])*
            pub mod $name {
                use std::time::Duration;

                use serde::{Deserialize as _, Deserializer, Serializer};

                /// Writes the duration as a humantime string.
                ///
                /// # Errors
                /// The serializer's.
                pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
                    s.collect_str(&humantime::format_duration(*d))
                }

                /// Reads a humantime string within the bounds.
                ///
                /// # Errors
                /// Not a string, or a [`DurationError`](crate::duration::DurationError).
                pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
                    let text = String::deserialize(d)?;
                    crate::duration::parse_within(&text, $bounds)
                        .map_err(|e| serde::de::Error::custom(format!("{text:?}: {e}")))
                }
            }
        };
    }

    bounded!(
        /// Zero to [`MAX`](crate::duration::MAX).
        any,
        crate::duration::Bounds::ANY
    );
    bounded!(
        /// Above zero, up to [`MAX`](crate::duration::MAX).
        nonzero,
        crate::duration::Bounds::NONZERO
    );
    bounded!(
        /// [`MIN_INTERVAL`](crate::duration::MIN_INTERVAL) to [`MAX`](crate::duration::MAX).
        interval,
        crate::duration::Bounds::INTERVAL
    );
}

#[cfg(test)]
mod test {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_rule_set() {
        assert_eq!(parse(" 2h "), Ok(Duration::from_hours(2)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
        assert_eq!(parse("-0s"), Err(DurationError::Negative));
        assert!(matches!(parse("soon"), Err(DurationError::Syntax { .. })));
        assert!(matches!(
            parse("367days"),
            Err(DurationError::TooLong { .. })
        ));
        assert!(matches!(
            parse("500000000000years"),
            Err(DurationError::TooLong { .. })
        ));
        assert_eq!(parse("366days"), Ok(MAX));
        assert_eq!(
            parse_within("5ms", Bounds::INTERVAL),
            Err(DurationError::TooShort { min: "10ms".into() })
        );
        assert_eq!(
            parse_within("0ms", Bounds::NONZERO),
            Err(DurationError::Zero)
        );
        assert_eq!(
            Bounds::INTERVAL.check(Duration::from_millis(10)),
            Ok(Duration::from_millis(10))
        );
    }

    proptest! {
        #[test]
        fn never_panics_and_stays_in_bounds(text in "\\PC{0,24}") {
            if let Ok(d) = parse_within(&text, Bounds::INTERVAL) {
                prop_assert!(d >= MIN_INTERVAL && d <= MAX);
            }
        }

        #[test]
        fn format_parses_back(ms in 0u64..MAX.as_millis() as u64) {
            let d = Duration::from_millis(ms);
            prop_assert_eq!(parse(&format(d)), Ok(d));
        }
    }
}
