//! The metrics source: see [`ScrapeSource`].

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ops_promql::{Expr, Store, Value};

use super::{SignalSource, SourceError, Target, Wanted, http};
use crate::analysis::config::AnalysisConfig;
use crate::analysis::measure::Figures;
use crate::analysis::quantile::bucket_quantile;

/// Series one release's store keeps at most.
const MAX_SERIES: usize = 20_000;

/// The metrics source: each release's own `/metrics` page, scraped by the deployer at the start
/// and the end of every measurement, one `ops_promql::Store` per release.
///
/// Requests, errors and latency come from the request histogram's counters (ops-http's
/// `http_server_request_duration_seconds{method,route,status}`): the increase of every series
/// between the two pages, a series absent from the first page counting from 0 (it appears
/// with its first request) and one that went down counting from 0 again (a restart). That is
/// exact where `increase()` over two samples would miss every series born in the window.
/// Queries are evaluated by ops-promql over the release's own store.
#[derive(Debug)]
pub struct ScrapeSource {
    path: String,
    family: String,
    ignore: Vec<String>,
    timeout: Duration,
    /// Per release: its store, and when its last page was taken.
    releases: HashMap<String, (Store, SystemTime)>,
    queries: HashMap<String, Expr>,
}

impl ScrapeSource {
    /// A source reading `config.metrics_path` on each release, the `config.family` histogram,
    /// without `config.ignore_routes`.
    #[must_use]
    pub fn new(config: &AnalysisConfig) -> ScrapeSource {
        ScrapeSource {
            path: config.metrics_path.clone(),
            family: config.family.clone(),
            ignore: config.ignore_routes.clone(),
            timeout: config.timeout,
            releases: HashMap::new(),
            queries: HashMap::new(),
        }
    }

    fn scrape(&self, target: &Target) -> Result<String, SourceError> {
        let (status, body) = http::get(
            target.addr,
            &target.addr.to_string(),
            &self.path,
            self.timeout,
        )
        .map_err(|e| SourceError::new("metrics", format!("{}: {e}", target.release)))?;
        if status != 200 {
            return Err(SourceError::new(
                "metrics",
                format!(
                    "{}: GET http://{}{} answered HTTP {status}",
                    target.release, target.addr, self.path
                ),
            ));
        }
        String::from_utf8(body).map_err(|_| {
            SourceError::new(
                "metrics",
                format!("{}: the page is not UTF-8", target.release),
            )
        })
    }

    fn new_store() -> Store {
        Store::builder(Duration::from_hours(1))
            .max_points_per_series(720)
            .max_series(MAX_SERIES)
            .build()
    }

    fn ingest(&mut self, target: &Target, page: &str, at: SystemTime) -> Vec<String> {
        let (store, last) = self
            .releases
            .entry(target.release.clone())
            .or_insert_with(|| (Self::new_store(), at));
        let stats = store.ingest_from(&target.release, page, at);
        *last = at;
        let mut notes = Vec::new();
        if stats.malformed_lines > 0 {
            notes.push(format!(
                "{} malformed lines skipped in the page of {}",
                stats.malformed_lines, target.release
            ));
        }
        if stats.series_refused > 0 {
            notes.push(format!(
                "{} series of {} refused: more than {MAX_SERIES}",
                stats.series_refused, target.release
            ));
        }
        notes
    }

    fn figures(
        &mut self,
        target: &Target,
        from: SystemTime,
        to: SystemTime,
        wanted: &Wanted,
    ) -> Result<Figures, SourceError> {
        let Some((store, _)) = self.releases.get(&target.release) else {
            return Ok(Figures::default());
        };
        let (t0, t1) = (millis(from), millis(to));
        let count = format!("{}_count", self.family);
        let bucket = format!("{}_bucket", self.family);
        let mut figures = Figures {
            requests: Some(0.0),
            errors: Some(0.0),
            ..Figures::default()
        };
        let mut buckets: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
        let mut resets = 0u32;
        for labels in store.series_labels() {
            let name = labels.metric_name().unwrap_or("");
            if name != count && name != bucket {
                continue;
            }
            if labels
                .get("route")
                .is_some_and(|r| self.ignore.iter().any(|i| i == r))
            {
                continue;
            }
            let Some(points) = store.points(&labels) else {
                continue;
            };
            let Some(delta) = increase(&points, t0, t1, &mut resets) else {
                continue;
            };
            if name == count {
                figures.requests = figures.requests.map(|r| r + delta);
                if labels.get("status").is_some_and(|s| s.starts_with('5')) {
                    figures.errors = figures.errors.map(|e| e + delta);
                }
            } else if let Some(le) = labels.get("le").and_then(parse_le) {
                buckets.entry(le.to_bits()).or_insert((le, 0.0)).1 += delta;
            }
        }
        if resets > 0 {
            figures.notes.push(format!(
                "{resets} counters of {} went down (a restart): counted from 0",
                target.release
            ));
        }
        let buckets: Vec<(f64, f64)> = buckets.into_values().collect();
        figures.quantiles = wanted
            .quantiles
            .iter()
            .map(|q| bucket_quantile(*q, &buckets))
            .collect();
        for q in &wanted.queries {
            let expr = if let Some(e) = self.queries.get(q) {
                e.clone()
            } else {
                let e = Expr::parse(q)
                    .map_err(|e| SourceError::new("metrics", format!("query {q:?}: {e}")))?;
                self.queries.insert(q.clone(), e.clone());
                e
            };
            let Some((store, _)) = self.releases.get(&target.release) else {
                figures.queries.push(None);
                continue;
            };
            let value = expr.eval(store, to).map_err(|e| {
                SourceError::new(
                    "metrics",
                    format!("query {q:?} over the pages of {}: {e}", target.release),
                )
            })?;
            figures.queries.push(match value {
                Value::Scalar(v) => Some(v),
                Value::Vector(v) => v.first().map(|s| s.value),
            });
        }
        Ok(figures)
    }
}

fn millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn parse_le(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" | "inf" => Some(f64::INFINITY),
        t => t.parse().ok().filter(|v: &f64| !v.is_nan()),
    }
}

/// A counter's increase from its value at `t0` (0 when it did not exist yet) to its value at
/// `t1`; a value that went down counts from 0 (a reset). `None` without a value at `t1`.
fn increase(points: &[(i64, f64)], t0: i64, t1: i64, resets: &mut u32) -> Option<f64> {
    let at = |t: i64| {
        points
            .iter()
            .rev()
            .find(|(pt, _)| *pt <= t)
            .map(|(_, v)| *v)
            .filter(|v| !v.is_nan())
    };
    let end = at(t1)?;
    let start = at(t0).unwrap_or(0.0);
    if end < start {
        *resets += 1;
        Some(end)
    } else {
        Some(end - start)
    }
}

impl SignalSource for ScrapeSource {
    fn name(&self) -> &'static str {
        "metrics"
    }

    fn describe(&self) -> String {
        format!(
            "metrics: GET {} of each release ({} histogram{})",
            self.path,
            self.family,
            if self.ignore.is_empty() {
                String::new()
            } else {
                format!(", without {}", self.ignore.join(", "))
            }
        )
    }

    fn begin(&mut self, targets: &[Target], _wanted: &Wanted) {
        self.releases.clear();
        for t in targets {
            if let Ok(page) = self.scrape(t) {
                let _ = self.ingest(t, &page, SystemTime::now());
            }
        }
    }

    fn measure(
        &mut self,
        targets: &[Target],
        _window: Duration,
        wanted: &Wanted,
    ) -> Result<Vec<Figures>, SourceError> {
        // Every page first, then the figures: a failure leaves no release half-measured.
        let mut pages = Vec::with_capacity(targets.len());
        for t in targets {
            pages.push(self.scrape(t)?);
        }
        let now = SystemTime::now();
        let mut out = Vec::with_capacity(targets.len());
        let mut missing = Vec::new();
        for (t, page) in targets.iter().zip(&pages) {
            let from = self.releases.get(&t.release).map(|(_, last)| *last);
            let notes = self.ingest(t, page, now);
            let mut f = if let Some(from) = from {
                self.figures(t, from, now, wanted)?
            } else {
                missing.push(t.release.clone());
                Figures::default()
            };
            f.notes.extend(notes);
            out.push(f);
        }
        if !missing.is_empty() {
            return Err(SourceError::new(
                "metrics",
                format!(
                    "no earlier page of {}: its window starts now",
                    missing.join(", ")
                ),
            ));
        }
        Ok(out)
    }

    fn baseline(&mut self, stable: &Target, _window: Duration, wanted: &Wanted) -> Option<Figures> {
        // The stable release's counters since it started: its first page, from zero.
        let (_, at) = self.releases.get(&stable.release)?;
        let at = *at;
        self.figures(stable, UNIX_EPOCH, at, wanted).ok()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::float_cmp)]
mod test {
    use super::*;

    #[test]
    fn increases_count_new_series_from_zero_and_resets_from_zero() {
        let mut resets = 0;
        assert_eq!(
            increase(&[(10, 5.0), (20, 9.0)], 10, 20, &mut resets),
            Some(4.0)
        );
        assert_eq!(increase(&[(20, 9.0)], 10, 20, &mut resets), Some(9.0));
        assert_eq!(
            increase(&[(10, 50.0), (20, 3.0)], 10, 20, &mut resets),
            Some(3.0)
        );
        assert_eq!(resets, 1);
        assert_eq!(increase(&[(10, 5.0)], 10, 20, &mut resets), Some(0.0));
        assert_eq!(increase(&[(30, 5.0)], 10, 20, &mut resets), None);
    }

    #[test]
    fn figures_from_two_pages() {
        let config = AnalysisConfig::default();
        let mut s = ScrapeSource::new(&config);
        let t = Target::new(
            "web-2",
            "127.0.0.1:1".parse().unwrap(),
            crate::analysis::Role::Canary,
        );
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000);
        let t1 = t0 + Duration::from_secs(10);
        let f = "http_server_request_duration_seconds";
        let page0 = format!(
            "{f}_count{{method=\"GET\",route=\"/a\",status=\"200\"}} 10\n{f}_count{{method=\"GET\",route=\"/health\",status=\"200\"}} 7\n{f}_bucket{{route=\"/a\",status=\"200\",le=\"0.1\"}} 10\n{f}_bucket{{route=\"/a\",status=\"200\",le=\"+Inf\"}} 10\n"
        );
        let page1 = format!(
            "{f}_count{{method=\"GET\",route=\"/a\",status=\"200\"}} 90\n{f}_count{{method=\"GET\",route=\"/a\",status=\"500\"}} 20\n{f}_count{{method=\"GET\",route=\"/health\",status=\"200\"}} 70\n{f}_bucket{{route=\"/a\",status=\"200\",le=\"0.1\"}} 50\n{f}_bucket{{route=\"/a\",status=\"200\",le=\"+Inf\"}} 90\n{f}_bucket{{route=\"/a\",status=\"500\",le=\"0.1\"}} 20\n{f}_bucket{{route=\"/a\",status=\"500\",le=\"+Inf\"}} 20\nnot a line\n"
        );
        s.ingest(&t, &page0, t0);
        let notes = s.ingest(&t, &page1, t1);
        assert_eq!(notes, ["1 malformed lines skipped in the page of web-2"]);
        let wanted = Wanted {
            quantiles: vec![0.5],
            queries: vec![],
        };
        let fig = s.figures(&t, t0, t1, &wanted).unwrap();
        // /health is ignored: 80 + 20 requests, 20 of them errors.
        assert_eq!((fig.requests, fig.errors), (Some(100.0), Some(20.0)));
        assert_eq!(fig.error_ratio(), Some(0.2));
        // 60 of 100 under 0.1 s: the median is inside the first bucket.
        let median = fig.quantiles[0].unwrap();
        assert!((median - 0.1 * 50.0 / 60.0).abs() < 1e-9, "{median}");
        // The baseline is the counters since the start.
        let base = s.figures(&t, UNIX_EPOCH, t0, &wanted).unwrap();
        assert_eq!(base.requests, Some(10.0));
    }
}
