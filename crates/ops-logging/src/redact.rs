//! Which field names hold secrets.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The default list: a field whose name contains one of these (any case) is written as
/// `"[REDACTED]"`.
pub const DEFAULT_REDACTED: &[&str] = &[
    "password",
    "passwd",
    "token",
    "secret",
    "authorization",
    "api_key",
    "apikey",
    "cookie",
    "session",
    "private_key",
    "credential",
];

/// The text written in place of a secret.
pub const REDACTED: &str = "[REDACTED]";

/// Case-insensitive substring match against a list of patterns, cached per field name (field
/// names of `tracing` callsites are `&'static str`, so their address identifies them).
#[derive(Debug, Clone)]
pub(crate) struct Redactor {
    patterns: Vec<String>,
    id: usize,
}

#[derive(Default)]
struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_usize(&mut self, v: usize) {
        self.0 = (self.0.rotate_left(5) ^ v as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type Cache = HashMap<(usize, usize, usize), bool, BuildHasherDefault<AddrHasher>>;

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

static NEXT_ID: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);

impl Redactor {
    pub(crate) fn new(patterns: &[String]) -> Self {
        Redactor {
            patterns: patterns.iter().map(|p| p.to_ascii_lowercase()).collect(),
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }

    fn matches(&self, name: &str) -> bool {
        let lower = name.to_ascii_lowercase();
        self.patterns
            .iter()
            .any(|p| !p.is_empty() && lower.contains(p.as_str()))
    }

    /// Whether a `&'static` field name is a secret (cached).
    pub(crate) fn is_secret_static(&self, name: &'static str) -> bool {
        if self.patterns.is_empty() {
            return false;
        }
        let key = (self.id, name.as_ptr() as usize, name.len());
        CACHE.with(|c| {
            if let Some(&hit) = c.borrow().get(&key) {
                return hit;
            }
            let hit = self.matches(name);
            let mut cache = c.borrow_mut();
            if cache.len() > 4096 {
                cache.clear();
            }
            cache.insert(key, hit);
            hit
        })
    }

    /// Whether any field name is a secret (not cached: for dynamic keys such as a context map).
    pub(crate) fn is_secret(&self, name: &str) -> bool {
        self.matches(name)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn default_list_matches_case_insensitively_inside_names() {
        let r = Redactor::new(
            &DEFAULT_REDACTED
                .iter()
                .map(|s| (*s).to_owned())
                .collect::<Vec<_>>(),
        );
        for name in [
            "password",
            "DB_PASSWORD",
            "access_token",
            "Authorization",
            "x_api_key",
            "set_cookie",
            "session_id",
            "client_secret",
        ] {
            assert!(r.is_secret(name), "{name}");
        }
        for name in ["user_id", "path", "status_code", "pass"] {
            assert!(!r.is_secret(name), "{name}");
        }
        assert!(r.is_secret_static("api_key"));
        assert!(r.is_secret_static("api_key"), "cached answer");
        assert!(!Redactor::new(&[]).is_secret_static("password"));
    }
}
