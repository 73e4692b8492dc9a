/*!
Ports, a one-request HTTP client, waiting for a server, and a scripted HTTP server that records
what it is sent.
*/

use std::io::{BufRead, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The longest request or response head the kit reads (a larger one is cut off there).
pub(crate) const MAX_HEAD: usize = 64 * 1024;

/// A port on 127.0.0.1 that was free a moment ago (bound, then released).
///
/// # Panics
///
/// When no port can be bound on 127.0.0.1.
pub fn free_port() -> u16 {
    let [port] = free_ports::<1>();
    port
}

/// `N` distinct ports on 127.0.0.1 that were free a moment ago (all bound at once, then
/// released).
///
/// # Panics
///
/// When no port can be bound on 127.0.0.1.
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| {
            TcpListener::bind("127.0.0.1:0")
                .unwrap_or_else(|e| panic!("binding a free port on 127.0.0.1: {e}"))
        })
        .collect();
    let mut ports = [0u16; N];
    for (port, listener) in ports.iter_mut().zip(&listeners) {
        *port = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("the address of a bound port: {e}"))
            .port();
    }
    ports
}

/// `127.0.0.1:port`.
pub fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// `(status, body)` of one HTTP/1.0 request: `method path` with `headers` (each line ending in
/// `\r\n`, or empty), read until the server closes. `None` when nothing answers within 2 s,
/// the answer takes more than 10 s, or it is not HTTP.
pub fn http(addr: SocketAddr, method: &str, path: &str, headers: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    // One write: a server that reads the head with a single read(2) sees all of it.
    let head = format!("{method} {path} HTTP/1.0\r\n{headers}\r\n");
    s.write_all(head.as_bytes()).ok()?;
    let mut bytes = Vec::new();
    s.read_to_end(&mut bytes).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = status_code(head.lines().next()?)?;
    Some((status, body.to_owned()))
}

/// The status code of a status line (`HTTP/1.1 200 OK`).
pub(crate) fn status_code(line: &str) -> Option<u16> {
    let mut words = line.split_whitespace();
    if !words.next()?.starts_with("HTTP/") {
        return None;
    }
    words.next()?.parse().ok()
}

/// Calls `poll` every 50 ms until it returns `Some`, and returns that.
///
/// # Panics
///
/// With `waited {timeout:?} for {what}` when `timeout` passes first.
pub fn wait_until<T>(timeout: Duration, what: &str, mut poll: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = poll() {
            return value;
        }
        assert!(Instant::now() < deadline, "waited {timeout:?} for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until something accepts connections on `addr`.
///
/// # Panics
///
/// When nothing does within `timeout`.
pub fn wait_for_port(addr: SocketAddr, timeout: Duration) {
    wait_until(timeout, &format!("a server listening on {addr}"), || {
        TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()
    });
}

/// One HTTP message head: the first line and the header fields.
#[derive(Debug, Clone, Default)]
pub(crate) struct Head {
    pub(crate) first_line: String,
    pub(crate) headers: Vec<(String, String)>,
}

impl Head {
    /// The value of the first field named `name` (any case).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The `Content-Length`, 0 when absent or not a number.
    pub(crate) fn content_length(&self) -> usize {
        self.header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Reads a message head up to and including its empty line. `Ok(None)`: the peer closed before
/// sending anything. A head cut off by the peer closing, or longer than [`MAX_HEAD`], is
/// returned as far as it got.
pub(crate) fn read_head(reader: &mut impl BufRead) -> std::io::Result<Option<Head>> {
    let mut head = Head::default();
    let mut total = 0;
    let mut first = true;
    loop {
        let mut line = Vec::new();
        let n = reader
            .by_ref()
            .take((MAX_HEAD - total) as u64)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            // Closed (or the cap reached) before the empty line.
            return Ok((!first).then_some(head));
        }
        total += n;
        let line = String::from_utf8_lossy(&line);
        let line = line.trim_end_matches(['\r', '\n']);
        if first {
            line.clone_into(&mut head.first_line);
            first = false;
        } else if line.is_empty() {
            return Ok(Some(head));
        } else if let Some((name, value)) = line.split_once(':') {
            head.headers
                .push((name.trim().to_owned(), value.trim().to_owned()));
        }
        if total >= MAX_HEAD {
            return Ok(Some(head));
        }
    }
}

/// The reason phrase the kit's servers put after a status code.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// A request a [`ScriptedServer`] received.
#[derive(Debug, Clone)]
pub struct Request {
    /// When its head had been read.
    pub at: Instant,
    /// `POST`, `GET`, …
    pub method: String,
    /// The request target (`/hook?x=1`).
    pub path: String,
    /// The header fields in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body (`Content-Length` bytes, lossy UTF-8).
    pub body: String,
}

impl Request {
    /// The value of the first header field named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

/// An HTTP server on 127.0.0.1 that answers the requests it gets, one at a time and in order,
/// with the next `(status, extra header lines)` of its script, then stops listening; it
/// records every request ([`ScriptedServer::requests`]).
///
/// Answers have a 2-byte body `ok`, `Content-Length` and `Connection: close`.
#[derive(Debug)]
pub struct ScriptedServer {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl ScriptedServer {
    /// Starts serving the script. Each extra header line ends in `\r\n`:
    /// `vec![(500, ""), (429, "Retry-After: 1\r\n"), (200, "")]`.
    ///
    /// # Panics
    ///
    /// When it cannot listen on 127.0.0.1; later, on its own thread, when a request cannot be
    /// read (the request then goes unrecorded, which the test sees).
    pub fn start(script: Vec<(u16, &'static str)>) -> ScriptedServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .unwrap_or_else(|e| panic!("the scripted server cannot listen on 127.0.0.1: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("the scripted server's address: {e}"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        std::thread::spawn(move || {
            for (status, headers) in script {
                let Ok((stream, _)) = listener.accept() else {
                    return;
                };
                let request = read_request(&stream)
                    .unwrap_or_else(|e| panic!("the scripted server reading a request: {e}"));
                recorded
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(request);
                let mut stream = stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} {}\r\n{headers}Content-Length: 2\r\nConnection: close\r\n\r\nok",
                    reason(status)
                );
            }
        });
        ScriptedServer { addr, requests }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://{addr}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The requests received so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

fn read_request(stream: &TcpStream) -> std::io::Result<Request> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream);
    let head = read_head(&mut reader)?.ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed before a request")
    })?;
    let at = Instant::now();
    let mut body = vec![0; head.content_length()];
    reader.read_exact(&mut body)?;
    let mut words = head.first_line.split_whitespace();
    Ok(Request {
        at,
        method: words.next().unwrap_or_default().to_owned(),
        path: words.next().unwrap_or_default().to_owned(),
        headers: head.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_distinct() {
        let [a, b, c] = free_ports::<3>();
        assert!(a != b && b != c && a != c);
        assert_ne!(free_port(), 0);
    }

    #[test]
    fn the_scripted_server_answers_in_order_and_records() {
        let server = ScriptedServer::start(vec![(503, "Retry-After: 1\r\n"), (200, "")]);
        let answer = http(
            server.addr(),
            "POST",
            "/hook",
            "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
        );
        assert_eq!(answer, Some((503, "ok".to_owned())));
        assert_eq!(
            http(server.addr(), "GET", "/", ""),
            Some((200, "ok".to_owned()))
        );
        let requests = server.requests();
        assert_eq!(requests.len(), 2);
        assert_eq!(
            (requests[0].method.as_str(), requests[0].path.as_str()),
            ("POST", "/hook")
        );
        assert_eq!(requests[0].header("content-type"), Some("application/json"));
        assert_eq!(requests[0].body, "{}");
        assert_eq!(requests[1].body, "");
        assert!(requests[0].at <= requests[1].at);
        assert_eq!(server.url("/x"), format!("http://{}/x", server.addr()));
        // The script is done: the port is closed.
        assert_eq!(http(server.addr(), "GET", "/", ""), None);
    }

    #[test]
    fn a_head_is_read_to_its_empty_line() {
        let mut input: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
        let head = read_head(&mut input).unwrap().unwrap();
        assert_eq!(head.first_line, "GET / HTTP/1.1");
        assert_eq!(head.header("host"), Some("x"));
        assert_eq!(head.content_length(), 3);
        assert_eq!(input, b"abc");
        let mut empty: &[u8] = b"";
        assert!(read_head(&mut empty).unwrap().is_none());
        let long = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "y".repeat(2 * MAX_HEAD));
        let head = read_head(&mut long.as_bytes()).unwrap().unwrap();
        assert!(head.headers[0].1.len() < MAX_HEAD);
    }

    #[test]
    fn status_lines() {
        assert_eq!(status_code("HTTP/1.1 200 OK"), Some(200));
        assert_eq!(status_code("HTTP/1.0 502"), Some(502));
        assert_eq!(status_code("SSH-2.0 200"), None);
    }

    #[test]
    fn waiting_returns_the_first_answer_or_panics_naming_what() {
        let mut calls = 0;
        let n = wait_until(Duration::from_secs(5), "three calls", || {
            calls += 1;
            (calls == 3).then_some(calls)
        });
        assert_eq!(n, 3);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        wait_for_port(listener.local_addr().unwrap(), Duration::from_secs(5));
        let late = std::panic::catch_unwind(|| {
            wait_until(Duration::from_millis(100), "nothing", || None::<()>);
        })
        .unwrap_err();
        assert_eq!(
            late.downcast_ref::<String>().unwrap(),
            "waited 100ms for nothing"
        );
    }
}
