//! One probe: the URL it requests ([`ProbeTarget`]), the statuses it accepts
//! ([`ExpectedStatus`]), and the plain HTTP/1.1 client bounded by the probe's deadline
//! ([`probe`]).

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs as _};
use std::time::{Duration, Instant};

use super::{ProbeFailure, ProbeResult};
use crate::error::{Error, Result};

/// The most of an answer's body a probe reads.
const MAX_BODY: usize = 1024 * 1024;
/// The most of an answer's head a probe reads.
const MAX_HEAD: usize = 64 * 1024;

/// A URL the prober can request: `http://host[:port][/path][?query]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeTarget {
    url: String,
    host: String,
    port: u16,
    request_target: String,
    host_header: String,
}

impl ProbeTarget {
    /// Parses a URL.
    ///
    /// # Errors
    /// [`Error::ProbeTarget`] for anything but `http://` with a host, a port that is not a
    /// number, user information, spaces or control characters.
    pub fn parse(url: &str) -> Result<ProbeTarget> {
        let refuse = |reason: &str| Error::ProbeTarget {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        if url.len() > 2048 || url.chars().any(|c| c.is_control() || c == ' ') {
            return Err(refuse(
                "at most 2,048 characters, no spaces or control characters",
            ));
        }
        let Some(rest) = url.strip_prefix("http://") else {
            if url.starts_with("https://") {
                return Err(refuse(
                    "https:// needs TLS, which the prober does not have: probe the service's plain-HTTP address (the port the proxy forwards to)",
                ));
            }
            return Err(refuse("only http:// URLs can be probed"));
        };
        let rest = rest.split('#').next().unwrap_or("");
        let (authority, target) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.contains('@') {
            return Err(refuse("user information in the URL is not supported"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let Some((h, after)) = v6.split_once(']') else {
                return Err(refuse("an IPv6 address needs its closing ]"));
            };
            (h, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(refuse("no host"));
        }
        let port: u16 = match port {
            None => 80,
            Some(p) => p
                .parse()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| refuse("the port is not a number from 1 to 65535"))?,
        };
        let request_target = if target.starts_with('?') {
            format!("/{target}")
        } else {
            target.to_owned()
        };
        Ok(ProbeTarget {
            url: url.to_owned(),
            host: host.to_owned(),
            port,
            request_target,
            host_header: authority.to_owned(),
        })
    }

    /// The URL as given (the `instance` label).
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// Which statuses count as success.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ExpectedStatus {
    /// Any 2xx (`blackbox_exporter`'s default).
    #[default]
    Success,
    /// One of these.
    Codes(Vec<u16>),
}

impl ExpectedStatus {
    fn accepts(&self, code: u16) -> bool {
        match self {
            ExpectedStatus::Success => (200..300).contains(&code),
            ExpectedStatus::Codes(c) => c.contains(&code),
        }
    }
}

/// One probe of `target`, on this thread, bounded by `timeout` (name resolution aside: see
/// the module docs).
pub fn probe(target: &ProbeTarget, timeout: Duration, expected: &ExpectedStatus) -> ProbeResult {
    let start = Instant::now();
    let deadline = start.checked_add(timeout).unwrap_or(start);
    let left = || deadline.saturating_duration_since(Instant::now());
    let addrs: Vec<SocketAddr> = match (target.host.as_str(), target.port).to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(e) => {
            return ProbeResult::failed(
                ProbeFailure::Connect,
                None,
                start,
                format!("cannot resolve {}: {e}", target.host),
            );
        }
    };
    let mut last_error = format!("{} resolves to no address", target.host);
    let mut stream = None;
    for addr in addrs {
        let l = left();
        if l.is_zero() {
            return ProbeResult::failed(
                ProbeFailure::Timeout,
                None,
                start,
                "connect timed out".into(),
            );
        }
        match TcpStream::connect_timeout(&addr, l) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                return ProbeResult::failed(
                    ProbeFailure::Timeout,
                    None,
                    start,
                    format!("connect to {addr} timed out"),
                );
            }
            Err(e) => last_error = format!("connect to {addr}: {e}"),
        }
    }
    let Some(mut stream) = stream else {
        return ProbeResult::failed(ProbeFailure::Connect, None, start, last_error);
    };
    let timed_out = |e: &std::io::Error| {
        matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        )
    };
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: ops-slo-prober\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        target.request_target, target.host_header
    );
    let sent = stream
        .set_write_timeout(Some(left().max(Duration::from_millis(1))))
        .and_then(|()| stream.write_all(request.as_bytes()));
    if let Err(e) = sent {
        let f = if timed_out(&e) || left().is_zero() {
            ProbeFailure::Timeout
        } else {
            ProbeFailure::Connect
        };
        return ProbeResult::failed(f, None, start, format!("sending the request: {e}"));
    }
    // Reads into `buf` until `done(buf)`, the end, the limit or the deadline.
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut chunk = [0u8; 8192];
    let mut read_until = |buf: &mut Vec<u8>,
                          limit: usize,
                          done: &dyn Fn(&[u8]) -> bool|
     -> std::result::Result<bool, (ProbeFailure, String)> {
        while !done(buf) {
            if buf.len() >= limit {
                return Ok(false);
            }
            let l = left();
            if l.is_zero() {
                return Err((
                    ProbeFailure::Timeout,
                    "no complete answer within the timeout".into(),
                ));
            }
            stream
                .set_read_timeout(Some(l))
                .map_err(|e| (ProbeFailure::Connect, e.to_string()))?;
            match stream.read(&mut chunk) {
                Ok(0) => return Ok(false),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if timed_out(&e) => {
                    return Err((
                        ProbeFailure::Timeout,
                        "no complete answer within the timeout".into(),
                    ));
                }
                Err(e) => return Err((ProbeFailure::Connect, format!("reading the answer: {e}"))),
            }
        }
        Ok(true)
    };
    let head_end = |b: &[u8]| b.windows(4).position(|w| w == b"\r\n\r\n");
    match read_until(&mut buf, MAX_HEAD, &|b| head_end(b).is_some()) {
        Ok(_) => {}
        Err((f, d)) => return ProbeResult::failed(f, None, start, d),
    }
    let Some(end) = head_end(&buf) else {
        let first = String::from_utf8_lossy(&buf)
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(80)
            .collect::<String>();
        return ProbeResult::failed(
            ProbeFailure::Protocol,
            None,
            start,
            format!("no complete HTTP head (got {first:?})"),
        );
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.split_whitespace();
    let code = match (parts.next(), parts.next()) {
        (Some(v), Some(c)) if v.starts_with("HTTP/") => c.parse::<u16>().ok(),
        _ => None,
    };
    let Some(code) = code.filter(|c| (100..600).contains(c)) else {
        return ProbeResult::failed(
            ProbeFailure::Protocol,
            None,
            start,
            format!(
                "not an HTTP status line: {:?}",
                status_line.chars().take(80).collect::<String>()
            ),
        );
    };
    let mut length: Option<usize> = None;
    let mut chunked = false;
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().ok();
            } else if k.eq_ignore_ascii_case("transfer-encoding") {
                chunked = v.to_ascii_lowercase().contains("chunked");
            }
        }
    }
    let body_start = end + 4;
    let no_body = code < 200 || code == 204 || code == 304;
    let body = if no_body {
        Ok(true)
    } else if let Some(n) = length {
        let want = body_start.saturating_add(n.min(MAX_BODY));
        read_until(&mut buf, want, &|b| b.len() >= want)
    } else if chunked {
        read_until(&mut buf, body_start + MAX_BODY, &|b| {
            b.len() >= body_start + 5 && b[body_start..].windows(5).any(|w| w == b"0\r\n\r\n")
        })
    } else {
        read_until(&mut buf, body_start + MAX_BODY, &|_| false)
    };
    if let Err((f, d)) = body {
        return ProbeResult::failed(f, Some(code), start, d);
    }
    if expected.accepts(code) {
        ProbeResult {
            failure: None,
            status: Some(code),
            duration: start.elapsed(),
            detail: String::new(),
        }
    } else {
        ProbeResult::failed(
            ProbeFailure::Status,
            Some(code),
            start,
            format!("HTTP {code}"),
        )
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn urls() {
        let t = ProbeTarget::parse("http://127.0.0.1:8080/health?x=1#frag").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 8080));
        assert_eq!(t.request_target, "/health?x=1");
        assert_eq!(t.host_header, "127.0.0.1:8080");
        let t = ProbeTarget::parse("http://[::1]/").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 80));
        let t = ProbeTarget::parse("http://example.com?q").unwrap();
        assert_eq!(t.request_target, "/?q");
        for bad in [
            "https://example.com/",
            "ftp://x",
            "http://",
            "http://a:0/",
            "http://a:99999/",
            "http://u:p@a/",
            "http://a/ b",
        ] {
            assert!(ProbeTarget::parse(bad).is_err(), "{bad}");
        }
        let err = ProbeTarget::parse("https://example.com/")
            .unwrap_err()
            .to_string();
        assert!(err.contains("https:// needs TLS"), "{err}");
    }
}
