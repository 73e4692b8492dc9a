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
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f | 0x7f => {
                out.extend_from_slice(&bytes[start..i]);
                let hex = b"0123456789abcdef";
                out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    hex[(b >> 4) as usize],
                    hex[(b & 15) as usize],
                ]);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
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
