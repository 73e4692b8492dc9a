//! Reading log files back: every line as an ordered list of keys, duplicates kept.

use std::fmt;
use std::path::Path;

use ops_logging::LogGuard;
use tracing::Dispatch;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

/// A JSON object with its keys in file order, duplicates kept (`serde_json`'s map would hide them).
#[derive(Debug)]
pub(crate) struct Ordered(pub(crate) Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    out.push((k, v));
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl Ordered {
    pub(crate) fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| k.as_str()).collect()
    }

    pub(crate) fn get(&self, key: &str) -> &Value {
        let found: Vec<&Value> = self
            .0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v)
            .collect();
        assert_eq!(
            found.len(),
            1,
            "key {key} appears {} times in {:?}",
            found.len(),
            self.keys()
        );
        found[0]
    }

    pub(crate) fn assert_no_duplicates(&self) {
        let mut keys = self.keys();
        keys.sort_unstable();
        let n = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), n, "duplicate keys in {:?}", self.keys());
    }
}

/// Every line of a file, parsed; panics on a line that is not one JSON object.
pub(crate) fn read_lines(path: &Path) -> Vec<Ordered> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "{} does not end with a newline",
        path.display()
    );
    text.lines()
        .map(|l| {
            serde_json::from_str::<Ordered>(l)
                .unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display()))
        })
        .collect()
}

/// A logger for one test: files in a temporary directory, no console, no `RUST_LOG`.
pub(crate) fn logger(dir: &Path) -> ops_logging::LoggingBuilder {
    ops_logging::Logging::builder("svc")
        .dir(dir)
        .console(false)
        .ignore_env()
        .level("trace")
}

/// A [`logger`] writing every stream to `svc.log`, rotated past `max_bytes` with `backups` kept.
pub(crate) fn one_file(dir: &Path, max_bytes: u64, backups: u32) -> (Dispatch, LogGuard) {
    logger(dir)
        .separate_streams(false)
        .max_bytes(max_bytes)
        .backups(backups)
        .build()
        .unwrap()
}

/// Logs `n` info events `{i, pad, message}` through `dispatch` (`i` from 0), so that lines have
/// the length the test needs.
pub(crate) fn log_padded(dispatch: &Dispatch, n: u64, pad: &str, message: &str) {
    tracing::dispatcher::with_default(dispatch, || {
        for i in 0..n {
            tracing::info!(i, pad, "{message}");
        }
    });
}
