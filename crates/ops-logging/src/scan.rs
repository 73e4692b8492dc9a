//! Finding the next byte that matters in a string: a table lookup per byte, eight lookups
//! OR-ed together per branch, so plain runs cost no branch per byte. Value redaction scans with
//! a table that has four more bytes marked than plain JSON escaping, at the same cost per byte.

/// 1 for the bytes a JSON string cannot hold as they are: control characters, `"`, `\`, DEL.
static ESCAPES: [u8; 256] = table(false);

/// [`ESCAPES`], and the bytes that can start a secret: `=`, `:`, `b`, `B`.
static ESCAPES_OR_TRIGGERS: [u8; 256] = table(true);

const fn table(triggers: bool) -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = 1;
        i += 1;
    }
    t[b'"' as usize] = 1;
    t[b'\\' as usize] = 1;
    t[0x7f] = 1;
    if triggers {
        t[b'=' as usize] = 1;
        t[b':' as usize] = 1;
        t[b'b' as usize] = 1;
        t[b'B' as usize] = 1;
    }
    t
}

#[inline]
fn next(b: &[u8], mut i: usize, table: &[u8; 256]) -> usize {
    while let Some(chunk) = b.get(i..i + 8) {
        let any = chunk.iter().fold(0u8, |acc, &c| acc | table[c as usize]);
        if any != 0 {
            break;
        }
        i += 8;
    }
    while i < b.len() && table[b[i] as usize] == 0 {
        i += 1;
    }
    i
}

/// The index of the first byte at or after `i` that JSON needs escaped, or `b.len()`.
pub(crate) fn next_escape(b: &[u8], i: usize) -> usize {
    next(b, i, &ESCAPES)
}

/// The index of the first byte at or after `i` that needs escaping or can start a secret, or
/// `b.len()`.
pub(crate) fn next_special(b: &[u8], i: usize) -> usize {
    next(b, i, &ESCAPES_OR_TRIGGERS)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn finds_the_first_matching_byte_like_a_byte_loop() {
        let special = |c: u8| c < 0x20 || b"\"\\\x7f=:bB".contains(&c);
        let escape = |c: u8| c < 0x20 || b"\"\\\x7f".contains(&c);
        // Every byte value at every offset of strings of every length up to 20, alone and
        // after others (borrows from lower bytes must not hide or fake a match).
        for len in 0..18usize {
            for at in 0..len {
                for c in 0..=255u8 {
                    for fill in [b'a', 0xc3, 0x01] {
                        let mut s = vec![fill; len];
                        s[at] = c;
                        for start in 0..=len {
                            let want = (start..len).find(|&k| special(s[k])).unwrap_or(len);
                            assert_eq!(next_special(&s, start), want, "{s:?} from {start}");
                            let want = (start..len).find(|&k| escape(s[k])).unwrap_or(len);
                            assert_eq!(next_escape(&s, start), want, "{s:?} from {start}");
                        }
                    }
                }
            }
        }
    }
}
