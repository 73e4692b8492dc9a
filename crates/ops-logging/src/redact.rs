//! Redaction: field names that hold secrets, and secrets inside text values.
//!
//! Names are matched against a list of fragments, case-insensitively, with `-` and `.` read as
//! `_` (`X-Api-Key` matches `api_key`). Text values (messages, string fields, `Display` and
//! `Debug` output, string members of [`RawJson`](crate::RawJson)) are scanned once, byte by
//! byte, while they are escaped into the line; a table lookup per byte finds the four bytes that
//! can start a secret (`=`, `:`, `b`, `B`) and only there is anything more looked at:
//!
//! - `key=value`, `key: value`, `"key":"value"`, `key: "value"` (`Debug` output) and query
//!   parameters (`?token=…&`) whose key matches a fragment: the value is replaced;
//!   `Authorization: Bearer xyz` keeps the scheme word and hides the credential;
//! - `Bearer xyz` anywhere: the token is replaced;
//! - URL credentials, `scheme://user:password@host`: the password (or, with no `:`, the whole
//!   user part, which is often a token) is replaced.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::json;

/// The default list: a field (or a `key=value` key inside a text) whose name contains one of
/// these, in any case and with `-` or `.` read as `_`, has its value written as `"[REDACTED]"`.
pub const DEFAULT_REDACTED: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "pass",
    "secret",
    "token",
    "jwt",
    "auth",
    "api_key",
    "apikey",
    "access_key",
    "private_key",
    "credential",
    "signature",
    "cookie",
    "session",
];

/// The text written in place of a secret.
pub const REDACTED: &str = "[REDACTED]";

/// The longest key looked at before a `=` or `:` (its last bytes, if longer).
const MAX_KEY: usize = 64;

/// Words of `Authorization` schemes: after a secret key, the credential is the word after them.
const SCHEMES: &[&[u8]] = &[
    b"bearer",
    b"basic",
    b"digest",
    b"negotiate",
    b"ntlm",
    b"token",
    b"mac",
    b"hoba",
];

/// Matching against a list of name fragments, cached per field name (field names of `tracing`
/// callsites are `&'static str`, so their address identifies them), and the value scanner.
#[derive(Debug, Clone)]
pub(crate) struct Redactor {
    /// Lower case, `-` and `.` as `_`; never empty strings.
    patterns: Vec<Vec<u8>>,
    id: usize,
    /// Whether text values are scanned (the list must be non-empty too).
    values: bool,
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

/// A name byte as patterns are stored.
fn norm(b: u8) -> u8 {
    match b {
        b'A'..=b'Z' => b | 0x20,
        b'-' | b'.' => b'_',
        _ => b,
    }
}

/// Whether `needle` (normalised) occurs in `hay` (normalised on the fly).
fn contains_norm(hay: &[u8], needle: &[u8]) -> bool {
    needle.len() <= hay.len()
        && hay
            .windows(needle.len())
            .any(|w| w.iter().zip(needle).all(|(&a, &b)| norm(a) == b))
}

const PLAIN: u8 = 0;
const ESCAPE: u8 = 1;
const TRIGGER: u8 = 2;

/// What each byte means to the scanner: copied, escaped, or possibly the start of a secret.
static CLASS: [u8; 256] = {
    let mut t = [PLAIN; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = ESCAPE;
        i += 1;
    }
    t[b'"' as usize] = ESCAPE;
    t[b'\\' as usize] = ESCAPE;
    t[0x7f] = ESCAPE;
    t[b'=' as usize] = TRIGGER;
    t[b':' as usize] = TRIGGER;
    t[b'b' as usize] = TRIGGER;
    t[b'B' as usize] = TRIGGER;
    t
};

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'[' | b']')
}

/// Bytes that end an unquoted value or token.
fn is_delimiter(b: u8) -> bool {
    b <= b' '
        || matches!(
            b,
            b'&' | b',' | b';' | b'"' | b'\'' | b')' | b']' | b'}' | b'>' | b'<' | b'|' | b'\\'
        )
        || b == 0x7f
}

fn token_end(b: &[u8], mut j: usize) -> usize {
    while j < b.len() && !is_delimiter(b[j]) {
        j += 1;
    }
    j
}

fn skip_blanks(b: &[u8], mut j: usize) -> usize {
    while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
        j += 1;
    }
    j
}

/// The key just before the separator at `sep`: `password=`, `"password":`, `'password'=`,
/// `\"password\":` (a `Debug`-escaped quote).
fn key_before(b: &[u8], sep: usize) -> Option<&[u8]> {
    let mut end = sep;
    if end > 0 && (b[end - 1] == b'"' || b[end - 1] == b'\'') {
        end -= 1;
        if end > 0 && b[end - 1] == b'\\' {
            end -= 1;
        }
    }
    let mut start = end;
    while start > 0 && end - start < MAX_KEY && is_key_byte(b[start - 1]) {
        start -= 1;
    }
    (start < end).then(|| &b[start..end])
}

/// The value after the separator at `sep`, as the byte range to replace: quoted (`"x"`, `'x'`,
/// `\"x\"`) up to its closing quote, else one token; after an `Authorization` scheme word, the
/// credential that follows it.
fn value_after(b: &[u8], sep: usize) -> Option<(usize, usize)> {
    let j = skip_blanks(b, sep + 1);
    let quote = match (b.get(j), b.get(j + 1)) {
        (Some(b'"'), _) => Some((b'"', false)),
        (Some(b'\''), _) => Some((b'\'', false)),
        (Some(b'\\'), Some(b'"')) => Some((b'"', true)),
        _ => None,
    };
    if let Some((q, escaped)) = quote {
        let start = j + if escaped { 2 } else { 1 };
        let mut k = start;
        while k < b.len() {
            if escaped {
                if b[k] == b'\\' && b.get(k + 1) == Some(&q) {
                    break;
                }
                k += 1;
            } else if b[k] == b'\\' {
                k += 2;
            } else if b[k] == q {
                break;
            } else {
                k += 1;
            }
        }
        let end = k.min(b.len());
        return (end > start).then_some((start, end));
    }
    let end = token_end(b, j);
    if end == j {
        return None;
    }
    if SCHEMES.iter().any(|s| b[j..end].eq_ignore_ascii_case(s)) {
        let k = skip_blanks(b, end);
        let credential_end = token_end(b, k);
        if k > end && credential_end > k {
            return Some((k, credential_end));
        }
    }
    Some((j, end))
}

/// `Bearer <token>` starting at `i`: the token's range.
fn bearer_at(b: &[u8], i: usize) -> Option<(usize, usize)> {
    if i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') {
        return None;
    }
    let word = b.get(i..i + 6)?;
    if !word.eq_ignore_ascii_case(b"bearer") || !matches!(b.get(i + 6), Some(b' ' | b'\t')) {
        return None;
    }
    let start = skip_blanks(b, i + 6);
    let end = token_end(b, start);
    (end > start).then_some((start, end))
}

/// The secret part of the user information of a URL whose authority starts at `start` (just
/// after `://`): the password, or the whole user part when there is no password.
fn url_userinfo(b: &[u8], start: usize) -> Option<(usize, usize)> {
    let mut at = None;
    let mut k = start;
    while k < b.len() {
        match b[k] {
            b'/' | b'?' | b'#' | b'"' | b'\'' | b'<' | b'>' | b'\\' | 0..=b' ' | 0x7f => break,
            b'@' => at = Some(k),
            _ => {}
        }
        k += 1;
    }
    let at = at?;
    match b[start..at].iter().position(|&c| c == b':') {
        Some(p) if start + p + 1 < at => Some((start + p + 1, at)),
        Some(_) => None,
        None => (at > start).then_some((start, at)),
    }
}

impl Redactor {
    pub(crate) fn new(patterns: &[String], values: bool) -> Self {
        Redactor {
            patterns: patterns
                .iter()
                .filter(|p| !p.is_empty())
                .map(|p| p.bytes().map(norm).collect())
                .collect(),
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            values,
        }
    }

    /// The default list, values scanned.
    #[cfg(test)]
    pub(crate) fn default_list() -> Self {
        Redactor::new(
            &DEFAULT_REDACTED
                .iter()
                .map(|s| (*s).to_owned())
                .collect::<Vec<_>>(),
            true,
        )
    }

    fn matches(&self, name: &[u8]) -> bool {
        self.patterns.iter().any(|p| contains_norm(name, p))
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
            let hit = self.matches(name.as_bytes());
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
        self.matches(name.as_bytes())
    }

    /// Appends `s` as a JSON string, secrets inside it replaced.
    pub(crate) fn string(&self, out: &mut Vec<u8>, s: &str) {
        out.push(b'"');
        self.escape(out, s);
        out.push(b'"');
    }

    /// Appends the escaped body of a JSON string, secrets inside it replaced: one pass that
    /// copies plain runs, escapes what JSON needs escaped, and looks closer only at bytes that
    /// can start a secret.
    pub(crate) fn escape(&self, out: &mut Vec<u8>, s: &str) {
        if !self.values || self.patterns.is_empty() {
            json::escape(out, s);
            return;
        }
        let b = s.as_bytes();
        let mut copied = 0;
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            match CLASS[c as usize] {
                PLAIN => i += 1,
                ESCAPE => {
                    out.extend_from_slice(&b[copied..i]);
                    json::escape_byte(out, c);
                    i += 1;
                    copied = i;
                }
                _ => match self.secret_at(b, i) {
                    Some((from, to)) => {
                        out.extend_from_slice(&b[copied..i]);
                        // The separator, blanks, an opening quote or a scheme word: all ASCII
                        // bytes, so `i..from` is on character boundaries.
                        json::escape(out, s.get(i..from).unwrap_or_default());
                        out.extend_from_slice(REDACTED.as_bytes());
                        i = to;
                        copied = to;
                    }
                    None => i += 1,
                },
            }
        }
        out.extend_from_slice(&b[copied..]);
    }

    /// The range of a secret that the trigger byte at `i` starts, if any. Every range starts
    /// after `i` and ends on an ASCII byte or at the end.
    fn secret_at(&self, b: &[u8], i: usize) -> Option<(usize, usize)> {
        match b[i] {
            b'b' | b'B' => bearer_at(b, i),
            b':' if b.get(i + 1..i + 3) == Some(&b"//"[..]) => url_userinfo(b, i + 3),
            _ => {
                let key = key_before(b, i)?;
                if self.matches(key) {
                    value_after(b, i)
                } else {
                    None
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod test {
    use super::*;

    fn scan(s: &str) -> String {
        let mut out = Vec::new();
        Redactor::default_list().escape(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn default_list_matches_case_insensitively_inside_names() {
        let r = Redactor::default_list();
        for name in [
            "password",
            "DB_PASSWORD",
            "access_token",
            "Authorization",
            "x_api_key",
            "X-Api-Key",
            "set_cookie",
            "session_id",
            "client_secret",
            "pwd",
            "pass",
            "auth",
            "jwt",
            "access_key",
            "aws.access-key",
        ] {
            assert!(r.is_secret(name), "{name}");
        }
        for name in ["user_id", "path", "status_code", "method", "key"] {
            assert!(!r.is_secret(name), "{name}");
        }
        assert!(r.is_secret_static("api_key"));
        assert!(r.is_secret_static("api_key"), "cached answer");
        assert!(!Redactor::new(&[], true).is_secret_static("password"));
    }

    #[test]
    fn values_are_redacted_where_they_hide() {
        let cases = [
            (
                "Authorization: Bearer abc.def-ghi",
                "Authorization: Bearer [REDACTED]",
            ),
            (
                "sent bearer xyz to upstream",
                "sent bearer [REDACTED] to upstream",
            ),
            ("login password=hunter2 ok", "login password=[REDACTED] ok"),
            ("pwd: hunter2, retrying", "pwd: [REDACTED], retrying"),
            ("/cb?token=abc123&page=2", "/cb?token=[REDACTED]&page=2"),
            (
                "/x?a=1&access_key=AKIA9&b=2",
                "/x?a=1&access_key=[REDACTED]&b=2",
            ),
            (
                "connect postgres://app:s3cret@db:5432/x",
                "connect postgres://app:[REDACTED]@db:5432/x",
            ),
            (
                "https://ghp_tok@github.com/o/r",
                "https://[REDACTED]@github.com/o/r",
            ),
            (
                "Config { user: \"bob\", password: \"hunter2\" }",
                "Config { user: \\\"bob\\\", password: \\\"[REDACTED]\\\" }",
            ),
            (
                "{\"jwt\":\"e.y.J\",\"n\":1}",
                "{\\\"jwt\\\":\\\"[REDACTED]\\\",\\\"n\\\":1}",
            ),
            (
                "\"{\\\"secret\\\":\\\"v\\\"}\"",
                "\\\"{\\\\\\\"secret\\\\\\\":\\\\\\\"[REDACTED]\\\\\\\"}\\\"",
            ),
            (
                "Authorization: Basic dXNlcjpw",
                "Authorization: Basic [REDACTED]",
            ),
            ("user[password]=x&u=1", "user[password]=[REDACTED]&u=1"),
            ("x-api-key: k1", "x-api-key: [REDACTED]"),
            ("é password=ü€ é", "é password=[REDACTED] é"),
        ];
        for (input, want) in cases {
            assert_eq!(scan(input), want, "{input}");
        }
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        for s in [
            "HTTP Request",
            "/api/users",
            "GET",
            "12:30:45 a=b c: d",
            "https://example.com/a?b=c",
            "bearers of news",
            "abearer x",
            "password=",
            "password: ",
            "",
        ] {
            let mut plain = Vec::new();
            json::escape(&mut plain, s);
            assert_eq!(scan(s).as_bytes(), plain.as_slice(), "{s}");
        }
    }

    #[test]
    fn off_switches() {
        let mut out = Vec::new();
        Redactor::new(&["password".into()], false).escape(&mut out, "password=x");
        assert_eq!(out, b"password=x");
        out.clear();
        Redactor::new(&[], true).escape(&mut out, "Bearer x");
        assert_eq!(out, b"Bearer x");
    }
}
