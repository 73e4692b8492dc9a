//! `serde` helpers: `SystemTime` fields as RFC 3339 timestamps (UTC, milliseconds), as the
//! deploy history, the backup records and the SLO state files write them.
//!
//! ```
//! use std::time::{Duration, SystemTime, UNIX_EPOCH};
//!
//! #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
//! struct Record {
//!     #[serde(with = "ops_core::time::rfc3339")]
//!     at: SystemTime,
//!     #[serde(with = "ops_core::time::rfc3339_opt", default)]
//!     finished: Option<SystemTime>,
//! }
//!
//! let r = Record { at: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123), finished: None };
//! let json = serde_json::to_string(&r).unwrap();
//! assert_eq!(json, r#"{"at":"2023-11-14T22:13:20.123Z","finished":null}"#);
//! assert_eq!(serde_json::from_str::<Record>(&json).unwrap(), r);
//! ```

/// A `SystemTime` as an RFC 3339 string: `#[serde(with = "ops_core::time::rfc3339")]`.
pub mod rfc3339 {
    use std::time::SystemTime;

    use serde::{Deserialize as _, Deserializer, Serializer};

    /// Writes `t` as `2026-11-29T19:40:00.123Z`.
    ///
    /// # Errors
    /// The serializer fails.
    pub fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_rfc3339_millis(*t))
    }

    /// Reads an RFC 3339 timestamp (`T` or a space between date and time, `Z` only).
    ///
    /// # Errors
    /// The value is not a string or not a timestamp.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(d)?;
        humantime::parse_rfc3339_weak(&text).map_err(serde::de::Error::custom)
    }
}

/// An `Option<SystemTime>` as an RFC 3339 string or `null`:
/// `#[serde(with = "ops_core::time::rfc3339_opt", default)]`.
pub mod rfc3339_opt {
    use std::time::SystemTime;

    use serde::{Deserialize as _, Deserializer, Serializer};

    /// Writes `Some(t)` as a timestamp, `None` as `null`.
    ///
    /// # Errors
    /// The serializer fails.
    #[allow(clippy::ref_option)]
    pub fn serialize<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.collect_str(&humantime::format_rfc3339_millis(*t)),
            None => s.serialize_none(),
        }
    }

    /// Reads a timestamp or `null`.
    ///
    /// # Errors
    /// The value is neither `null` nor a timestamp.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SystemTime>, D::Error> {
        let text = Option::<std::borrow::Cow<str>>::deserialize(d)?;
        text.map(|t| humantime::parse_rfc3339_weak(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}
