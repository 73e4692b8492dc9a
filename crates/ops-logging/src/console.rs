//! The human line on stderr, from the fields the JSON line already holds.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::SystemTime;

use tracing::Level;

use crate::layer::level_text;

/// A human line on stderr: `2026-11-25T02:40:11.123456Z  INFO target: message key=value`.
pub(crate) fn write_console(
    buf: &mut String,
    now: SystemTime,
    level: Level,
    target: &str,
    message: &[u8],
    fields: &[u8],
) {
    buf.clear();
    let mut stamp = Vec::with_capacity(32);
    crate::time::write_rfc3339(now, &mut stamp);
    buf.push_str(std::str::from_utf8(&stamp).unwrap_or(""));
    let _ = write!(buf, " {:>5} {target}: ", level_text(level, true));
    // The message as text (it was encoded as a JSON string).
    let msg = std::str::from_utf8(message).unwrap_or("");
    buf.push_str(
        msg.strip_prefix('"')
            .and_then(|m| m.strip_suffix('"'))
            .unwrap_or(msg),
    );
    // Fields as `key=value`, from the JSON pairs (values stay JSON: strings quoted, arrays and
    // objects compact).
    for (key, value) in json_pairs(std::str::from_utf8(fields).unwrap_or("")) {
        let _ = write!(buf, " {key}={value}");
    }
    buf.push('\n');
    let _ = std::io::stderr().lock().write_all(buf.as_bytes());
}

/// Splits `,"key":value,"key2":value2` (JSON members as the encoder writes them) into
/// `(key, value)` pairs; the value is its JSON text. Stops at anything malformed.
fn json_pairs(text: &str) -> Vec<(&str, &str)> {
    /// The end (exclusive) of the JSON string starting at `start` (a `"`).
    fn string_end(b: &[u8], start: usize) -> Option<usize> {
        let mut i = start + 1;
        while i < b.len() {
            match b[i] {
                b'\\' => i += 2,
                b'"' => return Some(i + 1),
                _ => i += 1,
            }
        }
        None
    }
    let b = text.as_bytes();
    let mut pairs = Vec::new();
    let mut i = 0;
    while i < b.len() && b[i] == b',' && b.get(i + 1) == Some(&b'"') {
        let Some(key_end) = string_end(b, i + 1) else {
            break;
        };
        if b.get(key_end) != Some(&b':') {
            break;
        }
        let start = key_end + 1;
        let mut j = start;
        let mut depth = 0usize;
        while j < b.len() {
            match b[j] {
                b'"' => match string_end(b, j) {
                    Some(end) => {
                        j = end;
                        continue;
                    }
                    None => return pairs,
                },
                b'[' | b'{' => depth += 1,
                b']' | b'}' => depth = depth.saturating_sub(1),
                b',' if depth == 0 => break,
                _ => {}
            }
            j += 1;
        }
        pairs.push((&text[i + 2..key_end - 1], &text[start..j]));
        i = j;
    }
    pairs
}

#[cfg(test)]
mod test {
    use super::json_pairs;

    #[test]
    fn console_fields_keep_nested_json_whole() {
        let fields = r#","path":"/a,b\"c","n":3,"ctx":{"k":"v","l":[1,2]},"ok":true"#;
        assert_eq!(
            json_pairs(fields),
            [
                ("path", r#""/a,b\"c""#),
                ("n", "3"),
                ("ctx", r#"{"k":"v","l":[1,2]}"#),
                ("ok", "true")
            ]
        );
        assert!(json_pairs("").is_empty());
        assert_eq!(json_pairs(r#","a":1,garbage"#), [("a", "1")]);
    }
}
