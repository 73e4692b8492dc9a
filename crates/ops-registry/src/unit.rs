//! Units a family may declare. The text format has no unit line: Prometheus reads the unit from
//! the name, so a declared unit is checked against the name's suffix.

use std::fmt;

/// The unit of a family, declared with [`FamilyBuilder::unit`](crate::FamilyBuilder::unit).
///
/// Prometheus names carry their unit as a suffix in base units (`_seconds`, `_bytes`; counters
/// before `_total`: `_seconds_total`), so declaring one is a check that the name says it: a
/// mismatch is [`Error::UnitMismatch`](crate::Error::UnitMismatch).
///
/// ```
/// use ops_registry::{Registry, Unit, Buckets};
/// let reg = Registry::new();
/// assert!(reg.family("rpc_duration_seconds", "RPC latency.").unit(Unit::Seconds).histogram(Buckets::HTTP).is_ok());
/// assert!(reg.family("rpc_duration_ms", "RPC latency.").unit(Unit::Seconds).histogram(Buckets::HTTP).is_err());
/// assert_eq!(Unit::Custom("requests").suffix(), "requests");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Unit {
    /// `_seconds`.
    Seconds,
    /// `_bytes`.
    Bytes,
    /// `_ratio` (0 to 1).
    Ratio,
    /// `_celsius`.
    Celsius,
    /// `_volts`.
    Volts,
    /// `_amperes`.
    Amperes,
    /// `_joules`.
    Joules,
    /// `_grams`.
    Grams,
    /// `_meters`.
    Meters,
    /// `_hertz`.
    Hertz,
    /// Another unit: its word, as the name ends (`"requests"` for `_requests`). It must be
    /// `[a-z][a-z0-9_]*`, or the name can never match and registration fails.
    Custom(&'static str),
}

impl Unit {
    /// The word the name ends in (before `_total` for counters): `"seconds"`, `"bytes"`.
    pub fn suffix(self) -> &'static str {
        match self {
            Unit::Seconds => "seconds",
            Unit::Bytes => "bytes",
            Unit::Ratio => "ratio",
            Unit::Celsius => "celsius",
            Unit::Volts => "volts",
            Unit::Amperes => "amperes",
            Unit::Joules => "joules",
            Unit::Grams => "grams",
            Unit::Meters => "meters",
            Unit::Hertz => "hertz",
            Unit::Custom(word) => word,
        }
    }

    /// Whether `name` (a counter's with its `_total` removed) ends in `_<unit>`.
    pub(crate) fn matches(self, base: &str) -> bool {
        let word = self.suffix();
        let valid_word = word.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && word
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        valid_word
            && base
                .strip_suffix(word)
                .is_some_and(|rest| rest.ends_with('_'))
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.suffix())
    }
}

#[cfg(test)]
mod test {
    use super::Unit;

    #[test]
    fn the_unit_is_the_last_word() {
        assert!(Unit::Seconds.matches("rpc_duration_seconds"));
        assert!(!Unit::Seconds.matches("rpc_durationseconds"));
        assert!(!Unit::Seconds.matches("seconds"));
        assert!(!Unit::Bytes.matches("rpc_duration_seconds"));
        assert!(Unit::Custom("requests").matches("queue_requests"));
        assert!(!Unit::Custom("Requests").matches("queue_Requests"));
        assert!(!Unit::Custom("").matches("queue_"));
    }
}
