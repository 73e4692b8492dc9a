//! A plain HTTP/1.0 GET over `std::net::TcpStream`: what the scrape and Prometheus sources
//! need, with a deadline for the whole exchange and a cap on the answer's size.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The largest answer read (a `/metrics` page, a query result).
pub(crate) const MAX_BODY: usize = 32 << 20;

/// `GET path` on `addr` (with `Host: host`), bounded by `timeout` as a whole; the status and
/// the body. Errors say what failed and where.
pub(crate) fn get(
    addr: SocketAddr,
    host: &str,
    path: &str,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), String> {
    let deadline = crate::health::deadline_after(timeout);
    let left = || {
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    };
    let url = format!("http://{host}{path}");
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| format!("GET {url}: cannot connect to {addr}: {e}"))?;
    let timed = |e: std::io::Error| {
        if matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ) {
            format!(
                "GET {url}: no answer within {}",
                ops_core::duration::format(timeout)
            )
        } else {
            format!("GET {url}: {e}")
        }
    };
    stream.set_write_timeout(Some(left())).map_err(timed)?;
    let request = format!(
        "GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: ops-deploy\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).map_err(timed)?;
    let mut answer = Vec::with_capacity(16 << 10);
    let mut buf = [0u8; 16 << 10];
    loop {
        if Instant::now() >= deadline {
            return Err(format!(
                "GET {url}: no complete answer within {}",
                ops_core::duration::format(timeout)
            ));
        }
        stream.set_read_timeout(Some(left())).map_err(timed)?;
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if answer.len() + n > MAX_BODY {
                    return Err(format!(
                        "GET {url}: the answer is larger than {} MiB",
                        MAX_BODY >> 20
                    ));
                }
                answer.extend_from_slice(&buf[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(timed(e)),
        }
    }
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Err(format!("GET {url}: not an HTTP answer"));
    };
    let head = String::from_utf8_lossy(&answer[..end]).into_owned();
    let first = head.lines().next().unwrap_or("");
    let mut parts = first.split_whitespace();
    let status = match (parts.next(), parts.next()) {
        (Some(v), Some(code)) if v.starts_with("HTTP/") => code.parse::<u16>().ok(),
        _ => None,
    }
    .ok_or_else(|| {
        format!(
            "GET {url}: not an HTTP answer: {:?}",
            first.chars().take(80).collect::<String>()
        )
    })?;
    let mut body = answer.split_off(end + 4);
    let chunked = head.lines().skip(1).any(|l| {
        l.split_once(':').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("transfer-encoding")
                && v.trim().eq_ignore_ascii_case("chunked")
        })
    });
    if chunked {
        body = dechunk(&body).ok_or_else(|| format!("GET {url}: a broken chunked answer"))?;
    }
    Ok((status, body))
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len());
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod test {
    use std::io::{BufRead as _, BufReader};
    use std::net::TcpListener;

    use super::*;

    fn serve(answer: &'static [u8]) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            if let Ok((s, _)) = l.accept() {
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut line = String::new();
                while r.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let mut s = s;
                let _ = s.write_all(answer);
            }
        });
        addr
    }

    #[test]
    fn plain_and_chunked_answers() {
        let addr = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        assert_eq!(
            get(addr, "h", "/", Duration::from_secs(2)).unwrap(),
            (200, b"ok".to_vec())
        );
        let addr =
            serve(b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n1\r\nd\r\n0\r\n\r\n");
        assert_eq!(
            get(addr, "h", "/", Duration::from_secs(2)).unwrap(),
            (404, b"abcd".to_vec())
        );
        let addr = serve(b"SSH-2.0-x\r\n\r\n");
        assert!(
            get(addr, "h", "/", Duration::from_secs(2))
                .unwrap_err()
                .contains("not an HTTP answer")
        );
    }

    #[test]
    fn a_silent_server_is_an_error_on_time() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let started = Instant::now();
        let err = get(addr, "h", "/metrics", Duration::from_millis(200)).unwrap_err();
        assert!(err.contains("within"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(2));
        drop(l);
    }
}
