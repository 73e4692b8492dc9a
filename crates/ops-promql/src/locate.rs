/*!
A light `PromQL` tokenizer over the expression text: promql-parser's AST carries no positions, so
an unsupported function, operator or modifier is located here by its token; and the text's
size, nesting and operator count are checked before parsing, so that no input can make the
parser or the evaluator recurse deeply.
*/

use crate::error::ParseError;

/// Longest expression text accepted.
pub(crate) const MAX_LEN: usize = 64 * 1024;
/// Deepest nesting of `()`, `[]`, `{}` accepted.
pub(crate) const MAX_DEPTH: usize = 64;
/// Most operator tokens accepted (each can add one level to the syntax tree).
pub(crate) const MAX_OPERATORS: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ident,
    Number,
    Str,
    Punct,
}

#[derive(Debug, Clone, Copy)]
struct Token {
    kind: Kind,
    start: usize,
    end: usize,
    /// Nesting of `{}` around the token.
    braces: usize,
}

/// The tokens of an expression text.
#[derive(Debug)]
pub(crate) struct Tokens<'t> {
    text: &'t str,
    tokens: Vec<Token>,
}

const OPERATORS: [&str; 16] = [
    "+", "-", "*", "/", "%", "^", "==", "!=", ">", "<", ">=", "<=", "and", "or", "unless", "atan2",
];

impl<'t> Tokens<'t> {
    pub(crate) fn new(text: &'t str) -> Tokens<'t> {
        let b = text.as_bytes();
        let mut tokens = Vec::new();
        let mut i = 0;
        let mut braces = 0usize;
        while i < b.len() {
            let c = b[i];
            let start = i;
            let kind = match c {
                b' ' | b'\t' | b'\n' | b'\r' => {
                    i += 1;
                    continue;
                }
                b'#' => {
                    while i < b.len() && b[i] != b'\n' {
                        i += 1;
                    }
                    continue;
                }
                b'"' | b'\'' | b'`' => {
                    i += 1;
                    while i < b.len() && b[i] != c {
                        if b[i] == b'\\' && c != b'`' {
                            i += 1;
                        }
                        i += 1;
                    }
                    i = (i + 1).min(b.len());
                    Kind::Str
                }
                c if c.is_ascii_alphabetic() || c == b'_' => {
                    while i < b.len()
                        && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':')
                    {
                        i += 1;
                    }
                    Kind::Ident
                }
                c if c.is_ascii_digit() || c == b'.' => {
                    while i < b.len() {
                        let d = b[i];
                        let exp_sign = (d == b'+' || d == b'-') && matches!(b[i - 1], b'e' | b'E');
                        if d.is_ascii_alphanumeric() || d == b'.' || d == b'_' || exp_sign {
                            i += 1;
                        } else {
                            break;
                        }
                    }
                    Kind::Number
                }
                _ => {
                    let two = text.get(i..i + 2).unwrap_or("");
                    i += if matches!(two, "==" | "!=" | ">=" | "<=" | "=~" | "!~") {
                        2
                    } else {
                        1
                    };
                    // Step over a whole multi-byte character.
                    while !text.is_char_boundary(i) {
                        i += 1;
                    }
                    match c {
                        b'{' => braces += 1,
                        b'}' => braces = braces.saturating_sub(1),
                        _ => {}
                    }
                    Kind::Punct
                }
            };
            tokens.push(Token {
                kind,
                start,
                end: i,
                braces,
            });
        }
        Tokens { text, tokens }
    }

    fn str(&self, t: &Token) -> &'t str {
        &self.text[t.start..t.end]
    }

    /// Refuses texts too long, too deeply nested or with too many operators.
    pub(crate) fn check_limits(&self) -> Result<(), ParseError> {
        if self.text.len() > MAX_LEN {
            return Err(ParseError::TooComplex {
                what: "length in bytes",
                found: self.text.len(),
                limit: MAX_LEN,
            });
        }
        let (mut depth, mut deepest, mut operators) = (0usize, 0usize, 0usize);
        for t in &self.tokens {
            let s = self.str(t);
            match s {
                "(" | "[" | "{" => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                ")" | "]" | "}" => depth = depth.saturating_sub(1),
                _ if t.braces == 0 && OPERATORS.contains(&s) && t.kind != Kind::Str => {
                    operators += 1;
                }
                _ => {}
            }
        }
        if deepest > MAX_DEPTH {
            return Err(ParseError::TooComplex {
                what: "nesting depth",
                found: deepest,
                limit: MAX_DEPTH,
            });
        }
        if operators > MAX_OPERATORS {
            return Err(ParseError::TooComplex {
                what: "operator count",
                found: operators,
                limit: MAX_OPERATORS,
            });
        }
        Ok(())
    }

    /// Where `name` is called: an identifier followed by `(` (or, for an aggregation, by
    /// `by`/`without`).
    pub(crate) fn call(&self, name: &str) -> usize {
        self.find(|i, t| {
            t.kind == Kind::Ident
                && self.str(t) == name
                && self
                    .tokens
                    .get(i + 1)
                    .is_some_and(|n| matches!(self.str(n), "(" | "by" | "without"))
        })
    }

    /// Where identifier `word` appears outside label braces.
    pub(crate) fn keyword(&self, word: &str) -> usize {
        self.find(|_, t| t.kind == Kind::Ident && t.braces == 0 && self.str(t) == word)
    }

    /// Where `or` appears inside label braces.
    pub(crate) fn or_in_braces(&self) -> usize {
        self.find(|_, t| t.kind == Kind::Ident && t.braces > 0 && self.str(t) == "or")
    }

    /// Where punctuation `p` appears.
    pub(crate) fn punct(&self, p: &str) -> usize {
        self.find(|_, t| t.kind == Kind::Punct && self.str(t) == p)
    }

    /// Where a subquery's `[` is: a `[` with a `:` before its `]`.
    pub(crate) fn subquery(&self) -> usize {
        self.find(|i, t| {
            self.str(t) == "["
                && self.tokens[i + 1..]
                    .iter()
                    .map(|n| self.str(n))
                    .take_while(|s| *s != "]")
                    .any(|s| s == ":" || s.starts_with(':'))
        })
    }

    fn find(&self, mut pred: impl FnMut(usize, &Token) -> bool) -> usize {
        self.tokens
            .iter()
            .enumerate()
            .find(|(i, t)| pred(*i, t))
            .map_or(0, |(_, t)| t.start)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn finds_calls_keywords_and_punctuation() {
        let text = "sum by (sort) (rate(x[5m])) + sort(x{a=\"sort(\" or b=\"c\"}) @ 10 # sort(";
        let t = Tokens::new(text);
        assert_eq!(t.call("sort"), text.find("sort(x").unwrap());
        assert_eq!(t.call("sum"), 0);
        assert_eq!(t.punct("@"), text.find('@').unwrap());
        assert_eq!(t.or_in_braces(), text.find(" or ").unwrap() + 1);
        assert_eq!(Tokens::new("x + rate(y[5m:1m])").subquery(), 10);
        assert_eq!(Tokens::new("1e-3 + x").keyword("x"), 7);
    }

    #[test]
    fn limits() {
        assert!(Tokens::new("((((x))))").check_limits().is_ok());
        let deep = format!("{}x{}", "(".repeat(65), ")".repeat(65));
        assert!(matches!(
            Tokens::new(&deep).check_limits(),
            Err(ParseError::TooComplex {
                what: "nesting depth",
                found: 65,
                ..
            })
        ));
        let long = vec!["1"; 258].join("+");
        assert!(matches!(
            Tokens::new(&long).check_limits(),
            Err(ParseError::TooComplex {
                what: "operator count",
                found: 257,
                ..
            })
        ));
        // Matchers and strings are not operators.
        assert!(
            Tokens::new(&format!("x{{a!=\"{}\"}}", "-".repeat(300)))
                .check_limits()
                .is_ok()
        );
    }
}
