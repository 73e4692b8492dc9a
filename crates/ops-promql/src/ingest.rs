/*!
Ingesting Prometheus text exposition pages (format 0.0.4) into the store, as a scrape does:
each sample is appended at the ingest time, and a series that the same source sent last time
but not this time gets a staleness marker.

The accepted format is documented on `Store::ingest_from`.
*/

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::SystemTime;

use crate::error::AppendError;
use crate::labels::{self, Label, Labels, METRIC_NAME};
use crate::series::{STALE_NAN, is_stale_nan};
use crate::store::{SeriesRef, Store, millis};

/// Bytes an entry of a source's last-page index costs besides its key.
const SOURCE_ENTRY_OVERHEAD: usize = 48;

/// What one ingest did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct IngestStats {
    /// Samples appended (a sample equal to the series' last one counts, and is not stored
    /// twice).
    pub samples: usize,
    /// Staleness markers written for series the source sent last time and not this time.
    pub stale_markers: usize,
    /// Lines skipped because they are not a comment, a blank line or a sample.
    pub malformed_lines: usize,
    /// The first malformed line: 1-based line number and what is wrong with it.
    pub first_malformed: Option<(usize, &'static str)>,
    /// Samples of new series refused because the store is full.
    pub series_refused: usize,
    /// Samples refused otherwise: a second sample of a series in the page, out of order,
    /// labels too large.
    pub samples_rejected: usize,
    /// The whole page was refused: the store remembers `max_sources` other sources.
    pub source_refused: bool,
}

/// A source's index of its last page: series text as written → series.
#[derive(Debug, Default)]
pub(crate) struct Source {
    last: HashMap<Box<str>, SeriesRef>,
}

impl Source {
    pub(crate) fn heap_bytes(&self) -> usize {
        self.last
            .keys()
            .map(|k| k.len() + SOURCE_ENTRY_OVERHEAD)
            .sum()
    }
}

impl Store {
    /// Ingests a page from the default source: [`ingest_from`](Store::ingest_from) with
    /// source `""`.
    pub fn ingest(&mut self, page: &str, at: SystemTime) -> IngestStats {
        self.ingest_from("", page, at)
    }

    /// Ingests a text exposition page from `source` (a scrape target, a registry: each source
    /// has its own "previous page"), appending every sample at `at`. Series `source` sent in
    /// its previous page and not in this one get a staleness marker at `at`. Then points
    /// older than the retention are dropped ([`expire`](Store::expire)).
    ///
    /// The parser reads what `ops_core::exposition::Encoder` writes and what Prometheus's text
    /// format allows: `# HELP`/`# TYPE`/comment lines (skipped), `name{label="value",...} value
    /// [timestamp]`, blanks and tabs between tokens, a trailing comma in the label list, label
    /// values escaped with `\\`, `\"` and `\n`, values `NaN`, `+Inf`, `-Inf` and decimal numbers. A
    /// timestamp is accepted and ignored (the sample is stored at the ingest time, as Prometheus
    /// does with `honor_timestamps: false`). Labels with empty values are no labels. A malformed
    /// line is skipped and counted, never a panic.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use ops_promql::{Labels, Store};
    /// let mut store = Store::new(Duration::from_secs(600));
    /// let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(60);
    /// let stats = store.ingest("# TYPE jobs gauge\njobs{q=\"a\"} 3\njobs{q=\"b\"} 4\nnot a sample\n", t0);
    /// assert_eq!((stats.samples, stats.malformed_lines), (2, 1));
    /// let stats = store.ingest("jobs{q=\"a\"} 5\n", t0 + Duration::from_secs(15));
    /// assert_eq!(stats.stale_markers, 1); // jobs{q="b"} left the page
    /// let b: Labels = "jobs{q=\"b\"}".parse().unwrap();
    /// assert!(ops_promql::is_stale_nan(store.points(&b).unwrap()[1].1));
    /// ```
    pub fn ingest_from(&mut self, source: &str, page: &str, at: SystemTime) -> IngestStats {
        let mut stats = IngestStats::default();
        let mut prev = match self.sources.remove(source) {
            Some(prev) => prev.last,
            None if self.sources.len() >= self.limits().max_sources => {
                self.counters.sources_refused += 1;
                stats.source_refused = true;
                return stats;
            }
            None => HashMap::new(),
        };
        let t = millis(at);
        let max_key = 2 * self.limits().max_label_bytes + 320;
        let mut now: HashMap<Box<str>, SeriesRef> = HashMap::with_capacity(prev.len());
        for (i, line) in page.split('\n').enumerate() {
            let line = line.trim_matches([' ', '\t', '\r']);
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let malformed = |stats: &mut IngestStats, reason| {
                stats.malformed_lines += 1;
                stats.first_malformed.get_or_insert((i + 1, reason));
            };
            let (key, value) = match split_sample(line) {
                Ok(kv) => kv,
                Err(reason) => {
                    malformed(&mut stats, reason);
                    continue;
                }
            };
            if key.len() > max_key || now.contains_key(key) {
                stats.samples_rejected += 1;
                continue;
            }
            // A series the source sent last time: its index entry moves over (no allocation,
            // no label parsing).
            let known = prev.remove_entry(key).filter(|(_, r)| self.is_live(*r));
            let (key, r) = if let Some(known) = known {
                known
            } else {
                let labels = match parse_series(key) {
                    Ok((labels, _)) => labels,
                    Err(reason) => {
                        malformed(&mut stats, reason);
                        continue;
                    }
                };
                match self.series_for(&labels) {
                    Ok(r) => (Box::from(key), r),
                    Err(AppendError::SeriesLimit { .. }) => {
                        stats.series_refused += 1;
                        continue;
                    }
                    Err(_) => {
                        stats.samples_rejected += 1;
                        continue;
                    }
                }
            };
            match self.push(r, t, value) {
                Ok(()) => stats.samples += 1,
                Err(_) => stats.samples_rejected += 1,
            }
            now.insert(key, r);
        }
        // What is left of the last page's index did not come this time (unless under another
        // spelling of the same labels).
        if !prev.is_empty() {
            let present: HashSet<SeriesRef> = now.values().copied().collect();
            for r in prev.into_values() {
                if present.contains(&r) {
                    continue;
                }
                let live = self
                    .last_point(r)
                    .is_some_and(|(last, v)| last < t && !is_stale_nan(v));
                if live && self.push(r, t, STALE_NAN).is_ok() {
                    stats.stale_markers += 1;
                }
            }
        }
        self.sources.insert(source.into(), Source { last: now });
        self.counters.malformed_lines += stats.malformed_lines as u64;
        self.counters.stale_markers += stats.stale_markers as u64;
        self.expire(at);
        stats
    }
}

/// Splits a sample line into its series text and its value (the timestamp, if any, is
/// checked and dropped).
fn split_sample(line: &str) -> Result<(&str, f64), &'static str> {
    let end = scan_series(line, true, |_, _| {})?;
    let (key, rest) = line.split_at(end);
    let mut fields = rest.split([' ', '\t']).filter(|f| !f.is_empty());
    let value = fields.next().ok_or("no value")?;
    let value = parse_value(value).ok_or("the value is not a number")?;
    if let Some(ts) = fields.next()
        && ts.parse::<i64>().is_err()
    {
        return Err("the timestamp is not an integer");
    }
    if fields.next().is_some() {
        return Err("text after the timestamp");
    }
    if !rest.starts_with([' ', '\t']) && !key.ends_with('}') {
        return Err("no blank between the series and its value");
    }
    Ok((key.trim_end_matches([' ', '\t']), value))
}

/// A sample value as the text format writes it: `NaN`, `+Inf`, `-Inf`, `Inf` (any case) or a
/// decimal number.
pub(crate) fn parse_value(s: &str) -> Option<f64> {
    if s.eq_ignore_ascii_case("nan") {
        Some(f64::NAN)
    } else if s.eq_ignore_ascii_case("+inf") || s.eq_ignore_ascii_case("inf") {
        Some(f64::INFINITY)
    } else if s.eq_ignore_ascii_case("-inf") {
        Some(f64::NEG_INFINITY)
    } else if s
        .bytes()
        .any(|c| c.is_ascii_alphabetic() && c != b'e' && c != b'E')
    {
        // Rust reads `infinity` and `nan` spellings the text format does not have.
        None
    } else {
        s.parse().ok()
    }
}

/// Parses `name{label="value",...}` (or `{label="value",...}`) at the start of `s`: the label
/// set and the rest of `s`.
pub(crate) fn parse_series(s: &str) -> Result<(Labels, &str), &'static str> {
    let mut pairs: Vec<Label> = Vec::new();
    let mut duplicate = false;
    let end = scan_series(s, false, |name, value| {
        if pairs.iter().any(|(n, _)| &**n == name) {
            duplicate = true;
        }
        if !value.is_empty() {
            pairs.push((Arc::from(name), Arc::from(value.as_ref())));
        }
    })?;
    if duplicate {
        return Err("a label name appears twice");
    }
    Ok((Labels::from_vec(pairs), &s[end..]))
}

/// Scans the series text at the start of `s`, calling `label(name, value)` for the metric
/// name (as `__name__`) and each label (values unescaped); returns where the series text
/// ends (after the name, or after `}`). Without `require_name`, `{...}` alone is a series.
fn scan_series<'s>(
    s: &'s str,
    require_name: bool,
    mut label: impl FnMut(&'s str, Cow<'s, str>),
) -> Result<usize, &'static str> {
    let b = s.as_bytes();
    let name_end = b
        .iter()
        .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_' || *c == b':'))
        .unwrap_or(b.len());
    let name = &s[..name_end];
    if labels::is_metric_name(name) {
        label(METRIC_NAME, Cow::Borrowed(name));
    } else if require_name || !(name.is_empty() && s.starts_with('{')) {
        return Err("no valid metric name");
    }
    let mut i = skip_blanks(b, name_end);
    if b.get(i) != Some(&b'{') {
        return Ok(name_end);
    }
    i += 1;
    loop {
        i = skip_blanks(b, i);
        match b.get(i) {
            Some(b'}') => return Ok(i + 1),
            None => return Err("unclosed label list"),
            _ => {}
        }
        let start = i;
        while b
            .get(i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            i += 1;
        }
        let lname = &s[start..i];
        if !labels::is_label_name(lname) || lname == METRIC_NAME {
            return Err("invalid label name");
        }
        i = skip_blanks(b, i);
        if b.get(i) != Some(&b'=') {
            return Err("no `=` after a label name");
        }
        i = skip_blanks(b, i + 1);
        if b.get(i) != Some(&b'"') {
            return Err("a label value is not quoted");
        }
        i += 1;
        let vstart = i;
        let mut escaped = false;
        loop {
            match b.get(i) {
                None => return Err("unclosed label value"),
                Some(b'"') => break,
                Some(b'\\') => {
                    if !matches!(b.get(i + 1), Some(b'\\' | b'"' | b'n')) {
                        return Err("invalid escape in a label value");
                    }
                    escaped = true;
                    i += 2;
                }
                Some(_) => i += 1,
            }
        }
        let raw = &s[vstart..i];
        label(
            lname,
            if escaped {
                Cow::Owned(unescape(raw))
            } else {
                Cow::Borrowed(raw)
            },
        );
        i = skip_blanks(b, i + 1);
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => {}
            _ => return Err("no `,` or `}` after a label value"),
        }
    }
}

fn skip_blanks(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    i
}

fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn samples_as_the_encoder_writes_them() {
        let (key, v) = split_sample(r#"a_b{x="1",y="q\"\\\n"} 2.5"#).unwrap();
        assert_eq!(v, 2.5);
        let (labels, rest) = parse_series(key).unwrap();
        assert_eq!(rest, "");
        assert_eq!(labels.get("y"), Some("q\"\\\n"));
        assert_eq!(labels.metric_name(), Some("a_b"));
        for (text, want) in [
            ("NaN", f64::NAN),
            ("+Inf", f64::INFINITY),
            ("-Inf", f64::NEG_INFINITY),
            ("1e3", 1000.0),
        ] {
            let got = split_sample(&format!("x {text}")).unwrap().1;
            assert_eq!(got.to_bits(), want.to_bits(), "{text}");
        }
    }

    #[test]
    fn what_the_format_allows() {
        assert_eq!(split_sample("x 1 1700000000000").map(|s| s.0), Ok("x"));
        assert_eq!(split_sample("x\t1").map(|s| s.0), Ok("x"));
        assert_eq!(
            split_sample("x {a=\"1\",} 1").map(|s| s.0),
            Ok("x {a=\"1\",}")
        );
        assert_eq!(split_sample("x{ a = \"1\" }1").map(|s| s.1), Ok(1.0));
        let (l, _) = parse_series("x{a=\"\"}").unwrap();
        assert_eq!(l.len(), 1);
    }

    #[test]
    fn malformed_lines_say_why() {
        for (line, why) in [
            ("1x 1", "no valid metric name"),
            ("x{a=1} 1", "a label value is not quoted"),
            ("x{a=\"1\" 1", "no `,` or `}` after a label value"),
            ("x{a=\"1\\t\"} 1", "invalid escape in a label value"),
            ("x{a=\"1} 1", "unclosed label value"),
            ("x{__name__=\"y\"} 1", "invalid label name"),
            ("x", "no value"),
            ("x one", "the value is not a number"),
            ("x 1 t", "the timestamp is not an integer"),
            ("x 1 2 3", "text after the timestamp"),
            ("x{-a=\"1\"} 1", "invalid label name"),
            ("x infinity", "the value is not a number"),
        ] {
            assert_eq!(split_sample(line).err(), Some(why), "{line}");
        }
        assert_eq!(
            parse_series("x{a=\"1\",a=\"2\"}").err(),
            Some("a label name appears twice")
        );
    }
}
