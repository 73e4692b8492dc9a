//! Writing JSON text straight into a byte buffer.

use std::fmt::{self, Write as _};

/// Appends `s` as a JSON string (quoted, escaped). Control characters become `\u00XX`, so a
/// line never contains a raw newline.
pub(crate) fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    escape(out, s);
    out.push(b'"');
}

/// Appends the escaped body of a JSON string.
pub(crate) fn escape(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    loop {
        i = crate::scan::next_escape(bytes, i);
        let Some(&b) = bytes.get(i) else { break };
        out.extend_from_slice(&bytes[start..i]);
        escape_byte(out, b);
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Appends the escape of one byte that [`escape`] escapes: `\"`, `\\`, `\n`, `\r`, `\t`, or
/// `\u00XX` for the other control characters (so a line never contains a raw newline).
pub(crate) fn escape_byte(out: &mut Vec<u8>, b: u8) {
    match b {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        b'\n' => out.extend_from_slice(b"\\n"),
        b'\r' => out.extend_from_slice(b"\\r"),
        b'\t' => out.extend_from_slice(b"\\t"),
        _ => {
            let hex = b"0123456789abcdef";
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                hex[(b >> 4) as usize],
                hex[(b & 15) as usize],
            ]);
        }
    }
}

/// Appends an integer.
pub(crate) fn int(out: &mut Vec<u8>, v: impl fmt::Display) {
    let mut w = VecWriter(out);
    let _ = write!(w, "{v}");
}

/// Appends a float; JSON has no NaN or infinity, so those become strings.
pub(crate) fn float(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        let mut w = VecWriter(out);
        let _ = write!(w, "{v}");
        // Keep floats recognisable as floats ("3.0", not "3").
        if v.fract() == 0.0 && v.abs() < 1e16 {
            out.extend_from_slice(b".0");
        }
    } else if v.is_nan() {
        out.extend_from_slice(b"\"NaN\"");
    } else if v > 0.0 {
        out.extend_from_slice(b"\"inf\"");
    } else {
        out.extend_from_slice(b"\"-inf\"");
    }
}

/// `fmt::Write` into a byte vector.
pub(crate) struct VecWriter<'a>(pub(crate) &'a mut Vec<u8>);

impl fmt::Write for VecWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// How deep arrays and objects may nest in a [`reencode`]d value (hostile input must not
/// exhaust the stack).
const MAX_DEPTH: usize = 128;

/// Why text is not one JSON value: the byte offset and what is wrong there.
pub(crate) type Invalid = (usize, &'static str);

/// Parses `text` as exactly one JSON value (surrounding whitespace allowed) and appends it to
/// `out` compactly (no whitespace between tokens). With a redactor, the value of every object
/// member whose key is a secret becomes `"[REDACTED]"` at any depth, and secrets inside strings
/// are replaced. On error `out` may hold part of the value.
pub(crate) fn reencode(
    out: &mut Vec<u8>,
    text: &str,
    redactor: Option<&crate::redact::Redactor>,
) -> Result<(), Invalid> {
    let mut p = Parser {
        b: text.as_bytes(),
        i: 0,
        redactor,
    };
    p.ws();
    p.value(out, 0)?;
    p.ws();
    if p.i < p.b.len() {
        return Err((p.i, "text after the value"));
    }
    Ok(())
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
    redactor: Option<&'a crate::redact::Redactor>,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn expect(&mut self, c: u8, what: &'static str) -> Result<(), Invalid> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err((self.i, what))
        }
    }

    fn value(&mut self, out: &mut Vec<u8>, depth: usize) -> Result<(), Invalid> {
        if depth > MAX_DEPTH {
            return Err((self.i, "nested too deeply"));
        }
        match self.peek() {
            Some(b'{') => self.object(out, depth),
            Some(b'[') => self.array(out, depth),
            Some(b'"') => {
                let s = self.string()?;
                match self.redactor {
                    Some(r) => r.string(out, &s),
                    None => string(out, &s),
                }
                Ok(())
            }
            Some(b't') => self.literal(out, b"true"),
            Some(b'f') => self.literal(out, b"false"),
            Some(b'n') => self.literal(out, b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(out),
            Some(_) => Err((self.i, "expected a value")),
            None => Err((self.i, "expected a value, found the end")),
        }
    }

    fn object(&mut self, out: &mut Vec<u8>, depth: usize) -> Result<(), Invalid> {
        self.sequence(out, (b'{', b'}'), "expected ',' or '}'", |p, out| {
            p.member(out, depth)
        })
    }

    fn array(&mut self, out: &mut Vec<u8>, depth: usize) -> Result<(), Invalid> {
        self.sequence(out, (b'[', b']'), "expected ',' or ']'", |p, out| {
            p.value(out, depth + 1)
        })
    }

    /// An object's or array's items, each read by `item`, separated by commas, from the opening
    /// bracket (at the cursor) to the closing one; `unclosed` is the error after an item that is
    /// followed by neither.
    fn sequence(
        &mut self,
        out: &mut Vec<u8>,
        (open, close): (u8, u8),
        unclosed: &'static str,
        mut item: impl FnMut(&mut Self, &mut Vec<u8>) -> Result<(), Invalid>,
    ) -> Result<(), Invalid> {
        self.i += 1;
        out.push(open);
        self.ws();
        if self.peek() == Some(close) {
            self.i += 1;
            out.push(close);
            return Ok(());
        }
        loop {
            self.ws();
            item(self, out)?;
            self.ws();
            match self.peek() {
                Some(b',') => {
                    self.i += 1;
                    out.push(b',');
                }
                Some(c) if c == close => {
                    self.i += 1;
                    out.push(close);
                    return Ok(());
                }
                _ => return Err((self.i, unclosed)),
            }
        }
    }

    /// One object member, `"key":value`; a secret key's value is read and replaced.
    fn member(&mut self, out: &mut Vec<u8>, depth: usize) -> Result<(), Invalid> {
        if self.peek() != Some(b'"') {
            return Err((self.i, "expected a member name"));
        }
        let key = self.string()?;
        string(out, &key);
        self.ws();
        self.expect(b':', "expected ':'")?;
        out.push(b':');
        self.ws();
        if self.redactor.is_some_and(|r| r.is_secret(&key)) {
            self.value(&mut Vec::new(), depth + 1)?;
            string(out, crate::redact::REDACTED);
        } else {
            self.value(out, depth + 1)?;
        }
        Ok(())
    }

    fn literal(&mut self, out: &mut Vec<u8>, word: &'static [u8]) -> Result<(), Invalid> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            out.extend_from_slice(word);
            Ok(())
        } else {
            Err((self.i, "expected true, false or null"))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self, out: &mut Vec<u8>) -> Result<(), Invalid> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err((self.i, "expected a digit")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err((self.i, "expected a digit after '.'"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err((self.i, "expected a digit in the exponent"));
            }
        }
        out.extend_from_slice(&self.b[start..self.i]);
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, Invalid> {
        let digits = self
            .b
            .get(self.i..self.i + 4)
            .ok_or((self.i, "expected four hex digits"))?;
        let mut v = 0u32;
        for &d in digits {
            let n = (d as char)
                .to_digit(16)
                .ok_or((self.i, "expected four hex digits"))?;
            v = v * 16 + n;
        }
        self.i += 4;
        Ok(v)
    }

    /// A string token, decoded.
    fn string(&mut self) -> Result<String, Invalid> {
        self.i += 1;
        let mut s = String::new();
        loop {
            let start = self.i;
            while self
                .peek()
                .is_some_and(|c| c != b'"' && c != b'\\' && c >= 0x20)
            {
                self.i += 1;
            }
            // The input is a `str` and the run stops at ASCII bytes: a whole UTF-8 slice.
            s.push_str(std::str::from_utf8(&self.b[start..self.i]).unwrap_or_default());
            match self.peek() {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(s);
                }
                Some(b'\\') => {
                    self.i += 1;
                    let c = self.peek().ok_or((self.i, "unfinished escape"))?;
                    self.i += 1;
                    match c {
                        b'"' => s.push('"'),
                        b'\\' => s.push('\\'),
                        b'/' => s.push('/'),
                        b'b' => s.push('\u{8}'),
                        b'f' => s.push('\u{c}'),
                        b'n' => s.push('\n'),
                        b'r' => s.push('\r'),
                        b't' => s.push('\t'),
                        b'u' => {
                            let at = self.i - 2;
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                if self.b.get(self.i..self.i + 2) != Some(&b"\\u"[..]) {
                                    return Err((at, "unpaired surrogate"));
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err((at, "unpaired surrogate"));
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            s.push(char::from_u32(code).ok_or((at, "unpaired surrogate"))?);
                        }
                        _ => return Err((self.i - 1, "unknown escape")),
                    }
                }
                Some(_) => return Err((self.i, "control character in a string")),
                None => return Err((self.i, "unterminated string")),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod test {
    use super::*;

    #[test]
    fn escapes() {
        let mut v = Vec::new();
        string(&mut v, "a\"b\\c\nd\u{1}é\u{7f}");
        assert_eq!(
            String::from_utf8(v).unwrap(),
            "\"a\\\"b\\\\c\\nd\\u0001é\\u007f\""
        );
    }

    fn re(text: &str) -> Result<String, Invalid> {
        let mut out = Vec::new();
        reencode(&mut out, text, None)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn reencodes_one_value_compactly() {
        assert_eq!(
            re(" { \"a\" : [1, -2.5e3, true, null, \"x\\u00e9\\n\"] , \"b\":{}} ").unwrap(),
            "{\"a\":[1,-2.5e3,true,null,\"xé\\n\"],\"b\":{}}"
        );
        assert_eq!(re("\"\\ud83d\\ude00\"").unwrap(), "\"😀\"");
        for (bad, at) in [
            ("", 0),
            ("{} {}", 3),
            ("{\"a\" 1}", 5),
            ("[1,]", 3),
            ("01", 1),
            ("\"a\nb\"", 2),
            ("\"\\ud800\"", 1),
            ("nul", 0),
            ("{\"a\":1,\"b\":2}}", 13),
        ] {
            assert_eq!(re(bad).map_err(|e| e.0), Err(at), "{bad:?}");
        }
        for (bad, err) in [
            ("[1 2]", (3, "expected ',' or ']'")),
            ("{\"a\":1 \"b\"}", (7, "expected ',' or '}'")),
            ("{\"a\":1,2}", (7, "expected a member name")),
        ] {
            assert_eq!(re(bad), Err(err), "{bad:?}");
        }
        let deep = "[".repeat(10_000);
        assert_eq!(re(&deep).map_err(|e| e.1), Err("nested too deeply"));
    }

    #[test]
    fn floats() {
        let mut v = Vec::new();
        float(&mut v, 3.0);
        v.push(b' ');
        float(&mut v, 0.25);
        v.push(b' ');
        float(&mut v, f64::NAN);
        assert_eq!(String::from_utf8(v).unwrap(), "3.0 0.25 \"NaN\"");
    }
}
