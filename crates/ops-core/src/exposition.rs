/*!
Prometheus text exposition (format 0.0.4): an [`Encoder`] that writes families and series into
a `String`, and the [`Exposition`] trait every ops-rs type that has a page section implements.

The encoder escapes what the format requires (label values: `\`, `"`, newline; HELP text: `\`,
newline) and writes floats as Prometheus reads them (`NaN`, `+Inf`, `-Inf`). It does not check
names: callers use names that [`is_metric_name`] and [`is_label_name`] accept.
*/

use std::fmt::Write as _;
use std::sync::Arc;

/// The `Content-Type` of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The type of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MetricType {
    /// A value that only goes up (name ends in `_total`).
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// A summary (quantiles, `_sum`, `_count`).
    Summary,
    /// A histogram (`_bucket`, `_sum`, `_count`).
    Histogram,
    /// Anything else.
    Untyped,
}

impl MetricType {
    /// The word the `# TYPE` line uses: `counter`, `gauge`, `summary`, `histogram`, `untyped`.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Summary => "summary",
            MetricType::Histogram => "histogram",
            MetricType::Untyped => "untyped",
        }
    }
}

/// A value written in the text format.
pub trait ExpositionValue: Copy {
    /// Appends the value as the text format writes it.
    fn write_value(self, out: &mut String);
}

impl ExpositionValue for u64 {
    fn write_value(self, out: &mut String) {
        let _ = write!(out, "{self}");
    }
}

impl ExpositionValue for i64 {
    fn write_value(self, out: &mut String) {
        let _ = write!(out, "{self}");
    }
}

impl ExpositionValue for f64 {
    fn write_value(self, out: &mut String) {
        if self.is_nan() {
            out.push_str("NaN");
        } else if self.is_infinite() {
            out.push_str(if self > 0.0 { "+Inf" } else { "-Inf" });
        } else {
            let _ = write!(out, "{self}");
        }
    }
}

/// Writes metric families in the text format into a `String`.
///
/// Call [`family`](Encoder::family) once per metric name, then [`sample`](Encoder::sample) for
/// each of its series, before the next family: the format wants every family's lines together.
///
/// ```
/// use ops_core::exposition::{Encoder, MetricType};
/// let mut out = String::new();
/// let mut enc = Encoder::new(&mut out);
/// enc.family("app_requests_total", "Requests served.", MetricType::Counter);
/// enc.sample("app_requests_total", &[("path", "/a\"b")], 3u64);
/// assert_eq!(out, "# HELP app_requests_total Requests served.\n# TYPE app_requests_total counter\napp_requests_total{path=\"/a\\\"b\"} 3\n");
/// ```
#[derive(Debug)]
pub struct Encoder<'a> {
    out: &'a mut String,
}

impl<'a> Encoder<'a> {
    /// An encoder appending to `out`.
    pub fn new(out: &'a mut String) -> Self {
        Encoder { out }
    }

    /// Starts a family: its `# HELP` and `# TYPE` lines.
    pub fn family(&mut self, name: &str, help: &str, kind: MetricType) {
        self.out.push_str("# HELP ");
        self.out.push_str(name);
        self.out.push(' ');
        escape_help(help, self.out);
        self.out.push_str("\n# TYPE ");
        self.out.push_str(name);
        self.out.push(' ');
        self.out.push_str(kind.as_str());
        self.out.push('\n');
    }

    /// Writes one series of the current family. Label values are escaped.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl ExpositionValue) {
        self.sample_with(name, labels, None, value);
    }

    /// Writes one series with one more label after `labels` (`le` for buckets, `quantile` for
    /// summaries), without building a new label slice.
    pub fn sample_with(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        extra: Option<(&str, &str)>,
        value: impl ExpositionValue,
    ) {
        self.out.push_str(name);
        if !labels.is_empty() || extra.is_some() {
            self.out.push('{');
            for (i, (key, val)) in labels.iter().chain(extra.as_ref()).enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(key);
                self.out.push_str("=\"");
                escape_label_value(val, self.out);
                self.out.push('"');
            }
            self.out.push('}');
        }
        self.out.push(' ');
        value.write_value(self.out);
        self.out.push('\n');
    }

    /// A family with a single unlabelled series.
    pub fn single(
        &mut self,
        name: &str,
        help: &str,
        kind: MetricType,
        value: impl ExpositionValue,
    ) {
        self.family(name, help, kind);
        self.sample(name, &[], value);
    }

    /// Writes one histogram series of the current family (started with
    /// [`MetricType::Histogram`]): `name_bucket{..,le="b"}` for each `(upper bound, cumulative
    /// count)` in `buckets` (ascending), `le="+Inf"` with `count`, then `name_sum` and
    /// `name_count`.
    ///
    /// ```
    /// use ops_core::exposition::{Encoder, MetricType};
    /// let mut out = String::new();
    /// let mut enc = Encoder::new(&mut out);
    /// enc.family("rpc_seconds", "RPC latency.", MetricType::Histogram);
    /// enc.histogram("rpc_seconds", &[("rpc", "get")], &[(0.1, 2), (1.0, 3)], 4, 2.75);
    /// assert_eq!(out.lines().skip(2).collect::<Vec<_>>(), [
    ///     "rpc_seconds_bucket{rpc=\"get\",le=\"0.1\"} 2",
    ///     "rpc_seconds_bucket{rpc=\"get\",le=\"1\"} 3",
    ///     "rpc_seconds_bucket{rpc=\"get\",le=\"+Inf\"} 4",
    ///     "rpc_seconds_sum{rpc=\"get\"} 2.75",
    ///     "rpc_seconds_count{rpc=\"get\"} 4",
    /// ]);
    /// ```
    pub fn histogram(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        buckets: &[(f64, u64)],
        count: u64,
        sum: f64,
    ) {
        let mut bucket = String::with_capacity(name.len() + 7);
        bucket.push_str(name);
        bucket.push_str("_bucket");
        let mut le = String::with_capacity(24);
        for &(bound, cumulative) in buckets {
            le.clear();
            bound.write_value(&mut le);
            self.sample_with(&bucket, labels, Some(("le", &le)), cumulative);
        }
        self.sample_with(&bucket, labels, Some(("le", "+Inf")), count);
        self.suffixed(name, "_sum", labels, sum);
        self.suffixed(name, "_count", labels, count);
    }

    /// Writes one summary series of the current family (started with [`MetricType::Summary`]):
    /// `name{..,quantile="q"}` for each `(quantile, value)`, then `name_sum` and `name_count`.
    pub fn summary(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        quantiles: &[(f64, f64)],
        count: u64,
        sum: f64,
    ) {
        let mut q = String::with_capacity(8);
        for &(quantile, value) in quantiles {
            q.clear();
            quantile.write_value(&mut q);
            self.sample_with(name, labels, Some(("quantile", &q)), value);
        }
        self.suffixed(name, "_sum", labels, sum);
        self.suffixed(name, "_count", labels, count);
    }

    fn suffixed(
        &mut self,
        name: &str,
        suffix: &str,
        labels: &[(&str, &str)],
        value: impl ExpositionValue,
    ) {
        let mut full = String::with_capacity(name.len() + suffix.len());
        full.push_str(name);
        full.push_str(suffix);
        self.sample(&full, labels, value);
    }
}

/// Escapes a label value: `\` → `\\`, `"` → `\"`, newline → `\n`.
pub fn escape_label_value(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Escapes HELP text: `\` → `\\`, newline → `\n`.
pub fn escape_help(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Whether `name` is a valid metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
///
/// ```
/// assert!(ops_core::exposition::is_metric_name("http_requests_total"));
/// assert!(!ops_core::exposition::is_metric_name("2xx"));
/// ```
pub fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Whether `name` is a valid label name: `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__`
/// (reserved for Prometheus's own use).
///
/// ```
/// assert!(ops_core::exposition::is_label_name("route"));
/// assert!(!ops_core::exposition::is_label_name("__name__"));
/// assert!(!ops_core::exposition::is_label_name("http.route"));
/// ```
pub fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    !name.starts_with("__")
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Something with a section of a Prometheus page: a system sample, a profiler report, alert
/// states, log-writer counters, a registry of application metrics.
///
/// Every ops-rs type that can be shown on `/metrics` implements it, so a page is the
/// concatenation of its sections; [`to_prometheus`](Exposition::to_prometheus) renders one
/// alone.
///
/// ```
/// use ops_core::exposition::{Encoder, Exposition, MetricType};
///
/// struct Orders(u64);
/// impl Exposition for Orders {
///     fn encode_prometheus(&self, out: &mut String) {
///         Encoder::new(out).single("shop_orders_total", "Orders placed.", MetricType::Counter, self.0);
///     }
/// }
/// assert!(Orders(3).to_prometheus().ends_with("shop_orders_total 3\n"));
/// ```
pub trait Exposition {
    /// Appends this section's families to `out`.
    fn encode_prometheus(&self, out: &mut String);

    /// This section alone, as a page.
    fn to_prometheus(&self) -> String {
        let mut out = String::new();
        self.encode_prometheus(&mut out);
        out
    }
}

impl<T: Exposition + ?Sized> Exposition for &T {
    fn encode_prometheus(&self, out: &mut String) {
        (**self).encode_prometheus(out);
    }
}

impl<T: Exposition + ?Sized> Exposition for Box<T> {
    fn encode_prometheus(&self, out: &mut String) {
        (**self).encode_prometheus(out);
    }
}

impl<T: Exposition + ?Sized> Exposition for Arc<T> {
    fn encode_prometheus(&self, out: &mut String) {
        (**self).encode_prometheus(out);
    }
}

/// A page section written by a closure: [`section`].
#[derive(Clone)]
pub struct Section<F>(F);

impl<F> std::fmt::Debug for Section<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Section")
    }
}

impl<F: Fn(&mut String)> Exposition for Section<F> {
    fn encode_prometheus(&self, out: &mut String) {
        (self.0)(out);
    }
}

/// A page section from a closure, for figures a service keeps itself.
///
/// ```
/// use ops_core::exposition::{Encoder, Exposition, MetricType, section};
/// let queue = section(|out: &mut String| {
///     Encoder::new(out).single("jobs_queued", "Jobs waiting.", MetricType::Gauge, 7u64);
/// });
/// assert!(queue.to_prometheus().contains("jobs_queued 7"));
/// ```
pub fn section<F: Fn(&mut String)>(write: F) -> Section<F> {
    Section(write)
}

/// The metric families of a page, in order, or the first family whose `# TYPE` line appears
/// twice (two sections writing the same family, which Prometheus refuses: "second TYPE line").
///
/// # Errors
/// The name of the repeated family.
///
/// ```
/// let page = "# TYPE a counter\na 1\n# TYPE b gauge\nb 2\n";
/// assert_eq!(ops_core::exposition::families(page), Ok(vec!["a", "b"]));
/// assert_eq!(ops_core::exposition::families("# TYPE a gauge\n# TYPE a gauge\n"), Err("a"));
/// ```
pub fn families(page: &str) -> Result<Vec<&str>, &str> {
    let mut seen: Vec<&str> = Vec::new();
    for line in page.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split(' ').next().unwrap_or(rest);
            if seen.contains(&name) {
                return Err(name);
            }
            seen.push(name);
        }
    }
    Ok(seen)
}

#[cfg(test)]
mod test {
    use proptest::prelude::*;

    use super::*;

    /// Reads an escaped label value back, as Prometheus's parser does.
    fn unescape(text: &str) -> Option<String> {
        let mut out = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next()? {
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    'n' => out.push('\n'),
                    _ => return None,
                },
                '"' | '\n' => return None,
                c => out.push(c),
            }
        }
        Some(out)
    }

    proptest! {
        /// Any label value (quotes, backslashes, newlines, any Unicode) is written on one line,
        /// inside its quotes, and reads back unchanged.
        #[test]
        fn label_values_round_trip(value in "\\PC*|[\\\\\"\n]{0,8}") {
            let mut out = String::new();
            Encoder::new(&mut out).sample("m", &[("l", &value)], 1u64);
            prop_assert_eq!(out.matches('\n').count(), 1);
            let inner = out
                .strip_prefix("m{l=\"")
                .and_then(|r| r.strip_suffix("\"} 1\n"))
                .expect("the series line's shape");
            prop_assert_eq!(unescape(inner), Some(value));
        }

        /// HELP text stays on its line whatever it holds.
        #[test]
        fn help_text_stays_on_one_line(help in "\\PC*|[\\\\\n]{0,8}") {
            let mut out = String::new();
            Encoder::new(&mut out).family("m", &help, MetricType::Gauge);
            prop_assert_eq!(out.lines().count(), 2);
        }
    }

    #[test]
    fn floats_are_written_as_prometheus_reads_them() {
        let mut out = String::new();
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.5, 1.0, -2.25] {
            v.write_value(&mut out);
            out.push(' ');
        }
        assert_eq!(out, "NaN +Inf -Inf 0.5 1 -2.25 ");
    }

    #[test]
    fn summary_series_have_quantile_labels() {
        let mut out = String::new();
        let mut e = Encoder::new(&mut out);
        e.summary("f_seconds", &[], &[(0.5, 0.25), (0.99, 1.5)], 10, 3.0);
        assert_eq!(
            out,
            "f_seconds{quantile=\"0.5\"} 0.25\nf_seconds{quantile=\"0.99\"} 1.5\nf_seconds_sum 3\nf_seconds_count 10\n"
        );
    }

    #[test]
    fn names() {
        assert!(is_metric_name("a:b_c1"));
        assert!(!is_metric_name(""));
        assert!(!is_metric_name("a-b"));
        assert!(is_label_name("_x"));
        assert!(!is_label_name("1x"));
        assert!(!is_label_name(""));
    }
}
