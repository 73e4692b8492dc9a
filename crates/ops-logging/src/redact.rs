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
    /// Lower case, `-` and `.` as `_`; never empty strings; none containing another.
    patterns: Vec<Vec<u8>>,
    /// The patterns as Shift-And automata, when they fit in 128 positions.
    automata: Option<Box<Automata>>,
    /// The length of the shortest pattern (`usize::MAX` with none).
    shortest: usize,
    id: usize,
    /// Whether text values are scanned (the list must be non-empty too).
    values: bool,
}

/// Several patterns matched at once (Shift-And, Baeza-Yates–Gonnet): the patterns laid end to
/// end over the bits of a word; bit `k` of the state is set when the input just read ends with
/// the first `k - start` bytes of the pattern that holds bit `k`. One table lookup, a shift, an
/// or and an and per byte of input, whatever the number of patterns.
#[derive(Debug, Clone)]
struct ShiftAnd<W> {
    /// For each input byte (raw: the table folds case, `-` and `.`), the positions it can fill.
    table: [W; 256],
    /// The first position of each pattern.
    starts: W,
    /// The last position of each pattern.
    ends: W,
}

/// `u64` or `u128`.
trait Word:
    Copy
    + Default
    + PartialEq
    + std::ops::Shl<u32, Output = Self>
    + std::ops::BitOr<Output = Self>
    + std::ops::BitAnd<Output = Self>
    + std::ops::BitOrAssign
    + From<u8>
{
    const BITS: u32;
}

impl Word for u64 {
    const BITS: u32 = 64;
}

impl Word for u128 {
    const BITS: u32 = 128;
}

impl<W: Word> ShiftAnd<W> {
    /// Over `patterns` as given; `None` when they do not fit in the word.
    fn new<'a>(patterns: impl IntoIterator<Item = &'a [u8]>) -> Option<Self> {
        let mut a = ShiftAnd {
            table: [W::default(); 256],
            starts: W::default(),
            ends: W::default(),
        };
        let one = W::from(1u8);
        let mut bit = 0u32;
        for p in patterns {
            if p.is_empty() {
                continue;
            }
            if bit + u32::try_from(p.len()).ok()? > W::BITS {
                return None;
            }
            a.starts |= one << bit;
            for &c in p {
                for raw in 0..=255u8 {
                    if norm(raw) == c {
                        a.table[raw as usize] |= one << bit;
                    }
                }
                bit += 1;
            }
            a.ends |= one << (bit - 1);
        }
        Some(a)
    }

    fn step(&self, state: W, c: u8) -> W {
        // A bit shifted out of one pattern's end lands on the next one's start, which is set
        // anyway: no carry between patterns matters.
        ((state << 1) | self.starts) & self.table[c as usize]
    }

    /// Whether a pattern occurs in `bytes`.
    fn matches(&self, bytes: impl Iterator<Item = u8>) -> bool {
        let mut state = W::default();
        let mut hits = W::default();
        for c in bytes {
            state = self.step(state, c);
            hits |= state & self.ends;
        }
        hits != W::default()
    }
}

/// The patterns as automata, when they fit.
#[derive(Debug, Clone)]
struct Automata {
    /// Forwards, for names.
    forward: ShiftAnd<u128>,
    /// Over the reversed patterns, for a key read backwards from its separator.
    backward: ShiftAnd<u128>,
    /// Over the last four bytes of each pattern, reversed: a key read backwards that never
    /// completes one of these holds no pattern, which is what almost every key is found to be,
    /// at a `u64`'s cost per byte.
    backward_filter: Option<ShiftAnd<u64>>,
}

impl Automata {
    fn new(patterns: &[Vec<u8>]) -> Option<Self> {
        let reversed: Vec<Vec<u8>> = patterns
            .iter()
            .map(|p| p.iter().rev().copied().collect())
            .collect();
        Some(Automata {
            forward: ShiftAnd::new(patterns.iter().map(Vec::as_slice))?,
            backward: ShiftAnd::new(reversed.iter().map(Vec::as_slice))?,
            backward_filter: ShiftAnd::new(reversed.iter().map(|p| &p[..p.len().min(4)])),
        })
    }

    /// Whether the key ending at `end` (its last [`MAX_KEY`] key bytes) holds a pattern.
    fn key_before(&self, b: &[u8], end: usize) -> bool {
        let key = || {
            b[end.saturating_sub(MAX_KEY)..end]
                .iter()
                .rev()
                .copied()
                .take_while(|&c| is(c, KEY))
        };
        if let Some(filter) = &self.backward_filter
            && !filter.matches(key())
        {
            return false;
        }
        self.backward.matches(key())
    }
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

/// Each byte as names are compared: ASCII lower case, `-` and `.` as `_`.
static NORM: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = match b {
            b'A'..=b'Z' => b | 0x20,
            b'-' | b'.' => b'_',
            _ => b,
        };
        i += 1;
    }
    t
};

fn norm(b: u8) -> u8 {
    NORM[b as usize]
}

/// Byte classes for the look around a trigger.
const KEY: u8 = 1;
const DELIMITER: u8 = 2;
const URL_END: u8 = 4;
const AT: u8 = 8;

static BYTES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'[' | b']') {
            t[i] |= KEY;
        }
        if b <= b' '
            || b == 0x7f
            || matches!(
                b,
                b'&' | b',' | b';' | b'"' | b'\'' | b')' | b']' | b'}' | b'>' | b'<' | b'|' | b'\\'
            )
        {
            t[i] |= DELIMITER;
        }
        if b <= b' '
            || b == 0x7f
            || matches!(b, b'/' | b'?' | b'#' | b'"' | b'\'' | b'<' | b'>' | b'\\')
        {
            t[i] |= URL_END;
        }
        if b == b'@' {
            t[i] |= AT;
        }
        i += 1;
    }
    t
};

fn is(b: u8, class: u8) -> bool {
    BYTES[b as usize] & class != 0
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

/// The end of the unquoted value or token starting at `j`.
fn token_end(b: &[u8], mut j: usize) -> usize {
    while j < b.len() && !is(b[j], DELIMITER) {
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

/// Where the key just before the separator at `sep` ends: after `password` in `password=`,
/// `"password":`, `'password'=`, `\"password\":` (a `Debug`-escaped quote).
fn key_end(b: &[u8], sep: usize) -> usize {
    let mut end = sep;
    if end > 0 && (b[end - 1] == b'"' || b[end - 1] == b'\'') {
        end -= 1;
        if end > 0 && b[end - 1] == b'\\' {
            end -= 1;
        }
    }
    end
}

/// The key just before the separator at `sep` (its last [`MAX_KEY`] bytes).
fn key_before(b: &[u8], sep: usize) -> Option<&[u8]> {
    let end = key_end(b, sep);
    let mut start = end;
    while start > 0 && end - start < MAX_KEY && is(b[start - 1], KEY) {
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

/// What a trigger byte starts.
enum Found {
    /// A secret: the byte range to replace.
    Secret(usize, usize),
    /// Nothing secret up to this index, and nothing there to escape either: scanning resumes
    /// there.
    Skip(usize),
    /// Nothing: scanning resumes at the next byte.
    Nothing,
}

/// The secret part of the user information of a URL whose authority starts at `start` (just
/// after `://`): the password, or the whole user part when there is no password. Without user
/// information, the authority is skipped (it holds nothing to escape).
fn url_userinfo(b: &[u8], start: usize) -> Found {
    let mut at = None;
    let mut end = b.len();
    for (k, &c) in b.iter().enumerate().skip(start) {
        match BYTES[c as usize] & (URL_END | AT) {
            0 => {}
            AT => at = Some(k),
            _ => {
                end = k;
                break;
            }
        }
    }
    let Some(at) = at else {
        return Found::Skip(end);
    };
    match b[start..at].iter().position(|&c| c == b':') {
        // `user:password@`: the password; `token@`: all of it; `user:@` or `@`: nothing.
        Some(p) if start + p + 1 < at => Found::Secret(start + p + 1, at),
        None if at > start => Found::Secret(start, at),
        _ => Found::Nothing,
    }
}

impl Redactor {
    pub(crate) fn new(patterns: &[String], values: bool) -> Self {
        let mut normalised: Vec<Vec<u8>> = patterns
            .iter()
            .filter(|p| !p.is_empty())
            .map(|p| p.bytes().map(norm).collect())
            .collect();
        normalised.sort();
        normalised.dedup();
        // A pattern that contains another adds nothing: `password` is found as `pass`.
        let patterns: Vec<Vec<u8>> = normalised
            .iter()
            .filter(|p| {
                !normalised
                    .iter()
                    .any(|q| q.len() < p.len() && p.windows(q.len()).any(|w| w == &q[..]))
            })
            .cloned()
            .collect();
        Redactor {
            automata: Automata::new(&patterns).map(Box::new),
            shortest: patterns.iter().map(Vec::len).min().unwrap_or(usize::MAX),
            patterns,
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

    /// Whether a pattern occurs in `name`.
    fn matches(&self, name: &[u8]) -> bool {
        if name.len() < self.shortest {
            return false;
        }
        match &self.automata {
            Some(a) => a.forward.matches(name.iter().copied()),
            // More than 128 bytes of patterns: one by one.
            None => self.patterns.iter().any(|p| {
                name.windows(p.len())
                    .any(|w| w.iter().zip(p).all(|(&a, &b)| norm(a) == b))
            }),
        }
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
        loop {
            i = crate::scan::next_special(b, i);
            let Some(&c) = b.get(i) else { break };
            match CLASS[c as usize] {
                ESCAPE => {
                    out.extend_from_slice(&b[copied..i]);
                    json::escape_byte(out, c);
                    i += 1;
                    copied = i;
                }
                _ => match self.secret_at(b, i) {
                    Found::Secret(from, to) => {
                        out.extend_from_slice(&b[copied..i]);
                        // The separator, blanks, an opening quote or a scheme word: all ASCII
                        // bytes, so `i..from` is on character boundaries.
                        json::escape(out, s.get(i..from).unwrap_or_default());
                        out.extend_from_slice(REDACTED.as_bytes());
                        i = to;
                        copied = to;
                    }
                    Found::Skip(to) => i = to,
                    Found::Nothing => i += 1,
                },
            }
        }
        out.extend_from_slice(&b[copied..]);
    }

    /// What the trigger byte at `i` starts. Every range starts after `i` and ends on an ASCII
    /// byte or at the end.
    fn secret_at(&self, b: &[u8], i: usize) -> Found {
        let range = match b[i] {
            b'b' | b'B' => bearer_at(b, i),
            b':' if b.get(i + 1..i + 3) == Some(&b"//"[..]) => return url_userinfo(b, i + 3),
            _ => {
                let secret = match &self.automata {
                    Some(a) => a.key_before(b, key_end(b, i)),
                    None => key_before(b, i).is_some_and(|key| self.matches(key)),
                };
                if secret { value_after(b, i) } else { None }
            }
        };
        match range {
            Some((from, to)) => Found::Secret(from, to),
            None => Found::Nothing,
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

    /// The automata (forwards for names, backwards with its filter for keys in text) and the
    /// fallback for long lists answer as a plain substring search.
    #[test]
    fn automata_agree_with_a_plain_search() {
        let long: Vec<String> = (0..12).map(|i| format!("long_fragment_{i}")).collect();
        let lists: [Vec<String>; 4] = [
            DEFAULT_REDACTED.iter().map(|s| (*s).to_owned()).collect(),
            vec!["otp".into(), "pin-code".into(), "x".into()],
            long,
            vec!["abcab".into(), "bca".into(), "cabc".into()],
        ];
        let names = [
            "",
            "x",
            "p",
            "pas",
            "pass",
            "PASS",
            "bypass",
            "compass_heading",
            "Pin.Code",
            "pin_cod",
            "my_otp_value",
            "ot",
            "long_fragment_1",
            "LONG-FRAGMENT-11",
            "long_fragment_",
            "abcabc",
            "ababca",
            "cabca",
            "xcabcx",
            "bcab",
            "access-KEY",
            "aws.secret",
            "api_ke",
            "apikey2",
            "session",
            "sesion",
            "signatur",
            "jwt",
            "jw",
            "author",
            "credentia",
        ];
        for list in &lists {
            let r = Redactor::new(list, true);
            for name in names {
                let plain = r.patterns.iter().any(|p| {
                    let n: Vec<u8> = name.bytes().map(norm).collect();
                    n.windows(p.len()).any(|w| w == &p[..])
                });
                assert_eq!(r.is_secret(name), plain, "{name} in {list:?}");
                if name.bytes().all(|c| is(c, KEY)) && !name.is_empty() {
                    let mut out = Vec::new();
                    r.escape(&mut out, &format!("{name}=v1 "));
                    let redacted = out.ends_with(b"[REDACTED] ");
                    assert_eq!(redacted, plain, "{name}=v1 in {list:?}");
                }
            }
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
