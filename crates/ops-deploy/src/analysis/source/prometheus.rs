//! The Prometheus source: see [`PrometheusSource`].

use std::fmt::Write as _;
use std::net::{SocketAddr, ToSocketAddrs as _};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{
    SignalSource, SourceError, Target, Wanted, http, ignore_matcher, promql_duration, substitute,
};
use crate::analysis::config::AnalysisConfig;
use crate::analysis::measure::Figures;

/// `http://host[:port][/prefix]` → (host, port, prefix without a trailing `/`).
pub(crate) fn parse_url(url: &str) -> Result<(String, u16, String), String> {
    let Some(rest) = url.strip_prefix("http://") else {
        return Err("only http:// URLs (Prometheus on the host or a private network)".into());
    };
    let (authority, prefix) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    if authority.is_empty()
        || authority.contains('@')
        || !prefix
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'?' && b != b'#')
    {
        return Err("expected http://host:port[/path]".into());
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (
            h,
            p.parse::<u16>()
                .map_err(|_| format!("port {p:?}: a number from 1 to 65535"))?,
        ),
        _ => (authority, 80),
    };
    if host.is_empty() || port == 0 {
        return Err("expected http://host:port[/path]".into());
    }
    Ok((host.to_owned(), port, prefix.to_owned()))
}

/// Percent-encodes a query parameter's value.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The Prometheus source: instant queries to a Prometheus server's HTTP API
/// (`GET /api/v1/query`), over a plain HTTP/1.0 client on `std::net::TcpStream` (no TLS: a
/// server on the host or the private network).
///
/// Prometheus must scrape both releases (both ports, e.g. a static scrape config of
/// `127.0.0.1:<port>` and `127.0.0.1:<alt_port>`). One release's series are selected by
/// `prometheus_selector` (default `instance="$instance"`); the built-in queries, with the
/// measurement's window `W`:
///
/// ```text
/// requests  sum(increase(<family>_count{<selector>,route!~"<ignored>"}[W]))
/// errors    sum(increase(<family>_count{<selector>,route!~"<ignored>",status=~"5.."}[W]))
/// latency   histogram_quantile(q, sum by (le) (rate(<family>_bucket{<selector>,route!~"<ignored>"}[W])))
/// ```
///
/// A query condition is sent as written, `$instance`, `$release` and `$window` substituted.
/// An empty result is no data (requests and errors: none); an unreachable server, an HTTP
/// error or a query Prometheus refuses is a provider error.
#[derive(Debug)]
pub struct PrometheusSource {
    url: String,
    host: String,
    port: u16,
    prefix: String,
    selector: String,
    family: String,
    ignore: String,
    timeout: Duration,
}

impl PrometheusSource {
    /// A source querying `config.prometheus_url` (an unusable URL makes every measurement a
    /// provider error; the config check refuses it first).
    #[must_use]
    pub fn new(config: &AnalysisConfig) -> PrometheusSource {
        let url = config.prometheus_url.clone().unwrap_or_default();
        let (host, port, prefix) = parse_url(&url).unwrap_or_default();
        PrometheusSource {
            url,
            host,
            port,
            prefix,
            selector: config.prometheus_selector.clone(),
            family: config.family.clone(),
            ignore: ignore_matcher(&config.ignore_routes),
            timeout: config.timeout,
        }
    }

    fn addr(&self) -> Result<SocketAddr, SourceError> {
        (self.host.as_str(), self.port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| {
                SourceError::new(
                    "prometheus",
                    format!("{}: cannot resolve {}", self.url, self.host),
                )
            })
    }

    /// One instant query at `at`: the first sample's value, `None` for an empty result.
    ///
    /// # Errors
    /// The server cannot be reached, answers an error, or an answer that is not the API's.
    pub fn query(&self, query: &str, at: SystemTime) -> Result<Option<f64>, SourceError> {
        let err = |reason: String| SourceError::new("prometheus", reason);
        let t = at.duration_since(UNIX_EPOCH).unwrap_or_default();
        let path = format!(
            "{}/api/v1/query?query={}&time={}.{:03}",
            self.prefix,
            encode(query),
            t.as_secs(),
            t.subsec_millis()
        );
        let host = if self.port == 80 {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        };
        let (status, body) = http::get(self.addr()?, &host, &path, self.timeout).map_err(err)?;
        let v: serde_json::Value = serde_json::from_slice(&body).map_err(|_| {
            err(format!(
                "{}: HTTP {status}, not the query API's JSON: {:?}",
                self.url,
                String::from_utf8_lossy(&body[..body.len().min(120)])
            ))
        })?;
        if v["status"] != "success" {
            return Err(err(format!(
                "{}: HTTP {status}: {} ({}) for {query:?}",
                self.url,
                v["error"].as_str().unwrap_or("an error"),
                v["errorType"].as_str().unwrap_or("?")
            )));
        }
        let data = &v["data"];
        let sample = match data["resultType"].as_str() {
            Some("vector") => data["result"].get(0).map(|s| &s["value"]),
            Some("scalar") => Some(&data["result"]),
            other => {
                return Err(err(format!(
                    "{}: result type {other:?} for {query:?}: expected a vector or a scalar",
                    self.url
                )));
            }
        };
        let Some(sample) = sample else {
            return Ok(None);
        };
        let value = sample
            .get(1)
            .and_then(|v| v.as_str())
            .and_then(|v| match v {
                "+Inf" => Some(f64::INFINITY),
                "-Inf" => Some(f64::NEG_INFINITY),
                v => v.parse::<f64>().ok(),
            })
            .ok_or_else(|| {
                err(format!(
                    "{}: a sample without a value for {query:?}",
                    self.url
                ))
            })?;
        Ok((!value.is_nan()).then_some(value))
    }

    fn matchers(&self, target: &Target, extra: &str) -> String {
        let selector = substitute(&self.selector, target, Duration::ZERO);
        [selector.as_str(), self.ignore.as_str(), extra]
            .into_iter()
            .filter(|m| !m.trim().is_empty())
            .collect::<Vec<_>>()
            .join(",")
    }

    fn figures(
        &self,
        target: &Target,
        window: Duration,
        wanted: &Wanted,
        at: SystemTime,
    ) -> Result<Figures, SourceError> {
        let w = promql_duration(window);
        let f = &self.family;
        let requests = self
            .query(
                &format!(
                    "sum(increase({f}_count{{{}}}[{w}]))",
                    self.matchers(target, "")
                ),
                at,
            )?
            .unwrap_or(0.0);
        let errors = self
            .query(
                &format!(
                    "sum(increase({f}_count{{{}}}[{w}]))",
                    self.matchers(target, "status=~\"5..\"")
                ),
                at,
            )?
            .unwrap_or(0.0);
        let mut figures = Figures::requests(requests, errors);
        for q in &wanted.quantiles {
            figures.quantiles.push(self.query(
                &format!(
                    "histogram_quantile({q}, sum by (le) (rate({f}_bucket{{{}}}[{w}])))",
                    self.matchers(target, "")
                ),
                at,
            )?);
        }
        for q in &wanted.queries {
            figures
                .queries
                .push(self.query(&substitute(q, target, window), at)?);
        }
        Ok(figures)
    }
}

impl SignalSource for PrometheusSource {
    fn name(&self) -> &'static str {
        "prometheus"
    }

    fn describe(&self) -> String {
        format!(
            "prometheus: {}/api/v1/query, each release's series selected by {{{}}}",
            self.url.trim_end_matches('/'),
            self.selector
        )
    }

    fn begin(&mut self, _targets: &[Target], _wanted: &Wanted) {}

    fn measure(
        &mut self,
        targets: &[Target],
        window: Duration,
        wanted: &Wanted,
    ) -> Result<Vec<Figures>, SourceError> {
        let at = SystemTime::now();
        targets
            .iter()
            .map(|t| self.figures(t, window, wanted, at))
            .collect()
    }

    fn baseline(&mut self, stable: &Target, window: Duration, wanted: &Wanted) -> Option<Figures> {
        self.figures(stable, window, wanted, SystemTime::now()).ok()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod test {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("http://127.0.0.1:9090").unwrap(),
            ("127.0.0.1".into(), 9090, String::new())
        );
        assert_eq!(
            parse_url("http://prom/prefix/").unwrap(),
            ("prom".into(), 80, "/prefix".into())
        );
        assert!(parse_url("https://x").is_err());
        assert!(parse_url("http://user:pw@x:1").is_err());
        assert!(parse_url("http://x:99999").is_err());
        assert_eq!(encode("a b{c=\"d\"}"), "a%20b%7Bc%3D%22d%22%7D");
    }

    #[test]
    fn an_unreachable_server_is_a_provider_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = AnalysisConfig {
            prometheus_url: Some(format!("http://127.0.0.1:{port}")),
            ..AnalysisConfig::default()
        };
        let mut s = PrometheusSource::new(&config);
        let t = Target::new(
            "web-2",
            "127.0.0.1:1".parse().unwrap(),
            crate::analysis::Role::Canary,
        );
        let err = s
            .measure(&[t], Duration::from_secs(1), &Wanted::default())
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("prometheus: GET http://127.0.0.1:"),
            "{err}"
        );
        assert!(err.to_string().contains("cannot connect"), "{err}");
    }
}
