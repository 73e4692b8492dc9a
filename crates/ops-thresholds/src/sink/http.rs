//! `POST`ing JSON with a timeout, classifying the answer for the retry loop, never leaking the URL.

use std::time::{Duration, SystemTime};

use crate::sink::SinkError;

/// A blocking HTTP client with a per-request timeout (ureq, HTTP/1.1; TLS with feature `tls`).
pub(crate) struct Client {
    agent: ureq::Agent,
}

impl Client {
    pub(crate) fn new(timeout: Duration) -> Client {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build();
        Client {
            agent: config.into(),
        }
    }

    /// POSTs `body` as JSON. `what` names the target in errors instead of the URL (a webhook URL
    /// holds a token).
    pub(crate) fn post_json(&self, url: &str, body: &str, what: &str) -> Result<(), SinkError> {
        let response = self
            .agent
            .post(url)
            .header("Content-Type", "application/json")
            .send(body)
            .map_err(|e| {
                let reason = format!("{what}: {}", redact(&e.to_string(), url));
                if is_permanent(&e) {
                    SinkError::Permanent { reason }
                } else {
                    SinkError::Retryable {
                        reason,
                        retry_after: None,
                    }
                }
            })?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let reason = format!("{what}: HTTP {status}");
        match status {
            408 | 429 | 500..=599 => Err(SinkError::Retryable {
                reason,
                retry_after,
            }),
            _ => Err(SinkError::Permanent { reason }),
        }
    }
}

/// Errors that the same request will meet again: a malformed URL, a TLS problem (including
/// `https://` in a build without TLS), a certificate the client refuses.
fn is_permanent(e: &ureq::Error) -> bool {
    matches!(
        e,
        ureq::Error::BadUri(_)
            | ureq::Error::Http(_)
            | ureq::Error::TlsRequired
            | ureq::Error::RequireHttpsOnly(_)
            | ureq::Error::InvalidProxyUrl
            | ureq::Error::Tls(_)
    ) || {
        #[cfg(feature = "tls")]
        {
            matches!(e, ureq::Error::Rustls(_) | ureq::Error::Pem(_))
        }
        #[cfg(not(feature = "tls"))]
        {
            false
        }
    }
}

/// Checks a sink's URL before the first delivery: `http://` or `https://` (the latter only
/// with the `tls` feature), a host, no whitespace or control characters. `what` names the
/// sink in the error, never the URL (it may hold a token).
pub(crate) fn check_url(url: &str, what: &str) -> Result<(), SinkError> {
    let permanent = |reason: String| SinkError::Permanent {
        reason: format!("{what}: {reason}"),
    };
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| permanent("not a URL: expected http://host[:port]/path".into()))?;
    match scheme {
        "http" => {}
        "https" if cfg!(feature = "tls") => {}
        "https" => {
            return Err(permanent(
                "https:// needs ops-thresholds' `tls` feature (the `ops` binary has it)".into(),
            ));
        }
        other => {
            return Err(permanent(format!(
                "scheme {other:?} is not supported: use http:// or https://"
            )));
        }
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(permanent(
            "the URL contains whitespace or control characters".into(),
        ));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.is_empty() || host.starts_with(':') {
        return Err(permanent("the URL has no host".into()));
    }
    Ok(())
}

/// Replaces the URL (and its path, which holds the secret) in an error text.
fn redact(text: &str, url: &str) -> String {
    let mut out = text.replace(url, "<url>");
    if let Some(path_start) = url
        .find("://")
        .and_then(|i| url[i + 3..].find('/').map(|j| i + 3 + j))
    {
        let path = &url[path_start..];
        if path.len() > 1 {
            out = out.replace(path, "/<redacted>");
        }
    }
    out
}

/// `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = humantime::parse_rfc3339_weak(v)
        .ok()
        .or_else(|| parse_http_date(v))?;
    Some(when.duration_since(now).unwrap_or_default())
}

/// IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
fn parse_http_date(v: &str) -> Option<SystemTime> {
    let parts: Vec<&str> = v.split_whitespace().collect();
    if parts.len() != 6 || parts[5] != "GMT" {
        return None;
    }
    let day: u32 = parts[1].parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == parts[2])?
        + 1;
    let year: u32 = parts[3].parse().ok()?;
    let text = format!("{year:04}-{month:02}-{day:02}T{}Z", parts[4]);
    humantime::parse_rfc3339(&text).ok()
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let now = humantime::parse_rfc3339("1994-11-06T08:49:30Z")
            .ok()
            .unwrap_or(SystemTime::UNIX_EPOCH);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn urls_are_checked_before_any_delivery() {
        assert_eq!(check_url("http://127.0.0.1:9093", "am"), Ok(()));
        let refused = |url: &str| match check_url(url, "webhook") {
            Err(SinkError::Permanent { reason }) => reason,
            other => panic!("{url}: {other:?}"),
        };
        assert_eq!(
            refused("ftp://example.com/x"),
            "webhook: scheme \"ftp\" is not supported: use http:// or https://"
        );
        assert_eq!(
            refused("hooks.slack.com/services/T1"),
            "webhook: not a URL: expected http://host[:port]/path"
        );
        assert_eq!(refused("http:///path"), "webhook: the URL has no host");
        assert!(refused("http://a b/").contains("whitespace"));
        if cfg!(feature = "tls") {
            assert_eq!(
                check_url("https://hooks.slack.com/services/T1", "w"),
                Ok(())
            );
        } else {
            assert!(refused("https://hooks.slack.com/x").contains("`tls` feature"));
        }
    }

    #[test]
    fn urls_are_redacted() {
        let url = "https://hooks.slack.com/services/T1/B2/SECRET";
        let text = redact(
            "connection failed to https://hooks.slack.com/services/T1/B2/SECRET and /services/T1/B2/SECRET",
            url,
        );
        assert!(!text.contains("SECRET"), "{text}");
    }
}
