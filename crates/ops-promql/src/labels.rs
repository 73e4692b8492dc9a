/*!
Label sets: the identity of a series and of a sample.

A [`Labels`] is sorted by label name (`__name__`, the metric name, is a label like the others),
holds no empty value and no name twice, and is cheap to clone (shared). It orders, hashes and
compares as Prometheus's `labels.Labels` does, so results come out in Prometheus's order.
*/

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// The label that holds the metric name.
pub const METRIC_NAME: &str = "__name__";

/// One label: name and value, shared.
pub(crate) type Label = (Arc<str>, Arc<str>);

/// A set of labels, sorted by name.
///
/// ```
/// use ops_promql::Labels;
/// let l = Labels::new([("route", "/a"), ("__name__", "http_requests_total"), ("empty", "")]);
/// assert_eq!(l.metric_name(), Some("http_requests_total"));
/// assert_eq!(l.get("route"), Some("/a"));
/// assert_eq!(l.get("empty"), None); // empty values are no label, as in Prometheus
/// assert_eq!(l.to_string(), "http_requests_total{route=\"/a\"}");
/// assert_eq!("http_requests_total{route=\"/a\"}".parse::<Labels>(), Ok(l));
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Labels(Arc<[Label]>);

impl Labels {
    /// A label set from `(name, value)` pairs, in any order. Empty values are dropped; when a
    /// name comes twice, the last value wins. Names are not checked here (the store checks
    /// what it is given).
    pub fn new<I, N, V>(pairs: I) -> Labels
    where
        I: IntoIterator<Item = (N, V)>,
        N: AsRef<str>,
        V: AsRef<str>,
    {
        let mut v: Vec<Label> = Vec::new();
        for (n, val) in pairs {
            let (n, val) = (n.as_ref(), val.as_ref());
            v.retain(|(name, _)| &**name != n);
            if !val.is_empty() {
                v.push((Arc::from(n), Arc::from(val)));
            }
        }
        Labels::from_vec(v)
    }

    /// The empty label set.
    pub fn empty() -> Labels {
        Labels::default()
    }

    /// From pairs with distinct names and no empty value, in any order.
    pub(crate) fn from_vec(mut v: Vec<Label>) -> Labels {
        v.sort_by(|a, b| a.0.cmp(&b.0));
        Labels(v.into())
    }

    /// The value of a label, if the set has it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| &**n == name).map(|(_, v)| &**v)
    }

    /// The metric name (`__name__`).
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// The labels as `(name, value)`, sorted by name.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.0.iter().map(|(n, v)| (&**n, &**v))
    }

    /// How many labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No label at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The same set without the metric name.
    #[must_use]
    pub fn without_metric_name(&self) -> Labels {
        if self.metric_name().is_none() {
            return self.clone();
        }
        self.filter(|n| n != METRIC_NAME)
    }

    /// The labels whose name `keep` accepts.
    pub(crate) fn filter(&self, mut keep: impl FnMut(&str) -> bool) -> Labels {
        if self.0.iter().all(|(n, _)| keep(n)) {
            return self.clone();
        }
        Labels(self.0.iter().filter(|(n, _)| keep(n)).cloned().collect())
    }

    /// The set with `name` set to `value` (removed when `value` is empty).
    pub(crate) fn with(&self, name: &str, value: &str) -> Labels {
        let mut v: Vec<Label> = self
            .0
            .iter()
            .filter(|(n, _)| &**n != name)
            .cloned()
            .collect();
        if !value.is_empty() {
            v.push((Arc::from(name), Arc::from(value)));
        }
        Labels::from_vec(v)
    }

    /// Bytes of names and values: what the store's label-size limit counts.
    pub fn text_bytes(&self) -> usize {
        self.0.iter().map(|(n, v)| n.len() + v.len()).sum()
    }

    /// An estimate of the heap bytes this set holds on its own.
    pub(crate) fn heap_bytes(&self) -> usize {
        // The shared slice (two counters + pairs of fat pointers) and each string's allocation
        // (two counters + bytes).
        16 + self.0.len() * 32
            + self
                .0
                .iter()
                .map(|(n, v)| 32 + n.len() + v.len())
                .sum::<usize>()
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The exposition form: `name{a="b",c="d"}` (label values escaped), `{a="b"}` without a
/// metric name, `{}` for the empty set.
impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.metric_name();
        if let Some(name) = name {
            f.write_str(name)?;
        }
        let mut rest = self
            .0
            .iter()
            .filter(|(n, _)| &**n != METRIC_NAME)
            .peekable();
        if name.is_some() && rest.peek().is_none() {
            return Ok(());
        }
        f.write_str("{")?;
        let mut escaped = String::new();
        for (i, (n, v)) in rest.enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            escaped.clear();
            ops_core::exposition::escape_label_value(v, &mut escaped);
            write!(f, "{n}=\"{escaped}\"")?;
        }
        f.write_str("}")
    }
}

/// Why a text is not a series (`name{label="value",...}`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a series `name{{label=\"value\",...}}`: {reason}")]
pub struct LabelsParseError {
    /// What is wrong.
    pub reason: &'static str,
}

/// Parses the exposition form, as [`Display`](fmt::Display) writes it.
impl FromStr for Labels {
    type Err = LabelsParseError;

    fn from_str(s: &str) -> Result<Labels, LabelsParseError> {
        let s = s.trim();
        let (labels, rest) =
            crate::ingest::parse_series(s).map_err(|reason| LabelsParseError { reason })?;
        if rest.trim().is_empty() {
            Ok(labels)
        } else {
            Err(LabelsParseError {
                reason: "text after the series",
            })
        }
    }
}

impl<N: AsRef<str>, V: AsRef<str>> FromIterator<(N, V)> for Labels {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Labels {
        Labels::new(iter)
    }
}

/// Whether `name` is a valid metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub(crate) fn is_metric_name(name: &str) -> bool {
    ops_core::exposition::is_metric_name(name)
}

/// Whether `name` is a valid label name as Prometheus stores it: `[a-zA-Z_][a-zA-Z0-9_]*`
/// (names starting with `__` are allowed here: `__name__` is one).
pub(crate) fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn sorted_deduplicated_and_without_empty_values() {
        let l = Labels::new([("b", "2"), ("a", "1"), ("b", "3"), ("c", "")]);
        assert_eq!(l.iter().collect::<Vec<_>>(), [("a", "1"), ("b", "3")]);
        assert_eq!(l.to_string(), "{a=\"1\",b=\"3\"}");
        assert_eq!(Labels::empty().to_string(), "{}");
        assert_eq!(Labels::new([("__name__", "up")]).to_string(), "up");
    }

    #[test]
    fn orders_as_prometheus_compares() {
        // Label by label, name then value; a prefix sorts first.
        let a = Labels::new([("a", "1")]);
        let ab = Labels::new([("a", "1"), ("b", "0")]);
        let a2 = Labels::new([("a", "2")]);
        let b = Labels::new([("b", "0")]);
        let mut v = vec![b.clone(), a2.clone(), ab.clone(), a.clone()];
        v.sort();
        assert_eq!(v, [a, ab, a2, b]);
    }

    #[test]
    fn display_escapes_and_parses_back() {
        let l = Labels::new([("__name__", "x"), ("p", "a\"b\\c\nd")]);
        let text = l.to_string();
        assert_eq!(text, r#"x{p="a\"b\\c\nd"}"#);
        assert_eq!(text.parse::<Labels>(), Ok(l));
        assert!("x{p=\"a\"} 1".parse::<Labels>().is_err());
    }

    #[test]
    fn transformations() {
        let l = Labels::new([("__name__", "x"), ("a", "1")]);
        assert_eq!(l.without_metric_name(), Labels::new([("a", "1")]));
        assert_eq!(l.with("b", "2").get("b"), Some("2"));
        assert_eq!(l.with("a", "").len(), 1);
        assert_eq!(l.text_bytes(), "__name__".len() + 1 + 2);
        assert!(is_label_name("__name__") && is_label_name("a_1") && !is_label_name("1a"));
    }
}
