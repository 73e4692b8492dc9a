/*!
HTTP load from client threads while a test deploys, counting what every request got: the
proof that a blue-green switch loses no request.

```
# fn docs() {
use ops_testkit::load::Load;

let load = Load::start(ops_testkit::net::local(8080), 4);
// … deploy …
let report = load.finish();
assert_eq!(report.failed(), 0, "{report:?}");
# }
```
*/

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::net::{read_head, status_code};

/// What the load saw, summed over its clients.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LoadReport {
    /// Answers with a 2xx status.
    pub ok: u64,
    /// Answers with another status.
    pub non_2xx: u64,
    /// Requests without an answer: refused, reset, timed out, cut short.
    pub connection_errors: u64,
    /// Keep-alive requests retried once on a new connection because the server closed the
    /// idle connection before answering (what HTTP clients do for idempotent requests).
    pub retried: u64,
    /// The longest run of consecutive failures of one client, in time.
    pub longest_outage: Duration,
    /// Every distinct body of a 2xx answer (the release ids, from the kit's health server).
    pub releases: BTreeSet<String>,
}

impl LoadReport {
    /// Requests that failed: non-2xx answers and connection errors.
    pub fn failed(&self) -> u64 {
        self.non_2xx + self.connection_errors
    }

    fn add(&mut self, other: LoadReport) {
        self.ok += other.ok;
        self.non_2xx += other.non_2xx;
        self.connection_errors += other.connection_errors;
        self.retried += other.retried;
        self.longest_outage = self.longest_outage.max(other.longest_outage);
        self.releases.extend(other.releases);
    }
}

/// How the clients use connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connections {
    /// Half the clients (the odd ones) keep connections alive, half open one per request.
    Mixed,
    /// Every client keeps its connection alive.
    KeepAlive,
    /// Every client opens a connection per request (`Connection: close`).
    PerRequest,
}

/// How to start a [`Load`] ([`Load::builder`]).
#[derive(Debug, Clone)]
#[must_use]
pub struct LoadBuilder {
    addr: SocketAddr,
    clients: usize,
    path: String,
    connections: Connections,
    pause: Duration,
}

impl LoadBuilder {
    /// Client threads (default 4).
    pub fn clients(mut self, n: usize) -> LoadBuilder {
        self.clients = n;
        self
    }

    /// The path every request gets (default `/`).
    pub fn path(mut self, path: impl Into<String>) -> LoadBuilder {
        self.path = path.into();
        self
    }

    /// Connection reuse (default [`Connections::Mixed`]).
    pub fn connections(mut self, connections: Connections) -> LoadBuilder {
        self.connections = connections;
        self
    }

    /// The pause after each answered request (default 0.5 ms: four clients then leave a 2-core
    /// machine to the server under test). After a failure the pause is 2 ms, or this if longer.
    pub fn pause(mut self, pause: Duration) -> LoadBuilder {
        self.pause = pause;
        self
    }

    /// Starts the clients; they run until [`Load::finish`] (or drop).
    pub fn start(self) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let request = format!("GET {} HTTP/1.1\r\nHost: t\r\n", self.path);
        let handles = (0..self.clients)
            .map(|i| {
                let keep_alive = match self.connections {
                    Connections::Mixed => i % 2 == 1,
                    Connections::KeepAlive => true,
                    Connections::PerRequest => false,
                };
                let client = Client {
                    addr: self.addr,
                    request: request.clone(),
                    keep_alive,
                    pause: self.pause,
                };
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || client.run(&stop))
            })
            .collect();
        Load { stop, handles }
    }
}

/// Client threads sending requests to one address until [`Load::finish`].
#[derive(Debug)]
#[must_use = "the load runs until finish() says what it saw"]
pub struct Load {
    stop: Arc<AtomicBool>,
    handles: Vec<JoinHandle<LoadReport>>,
}

impl Load {
    /// `clients` threads getting `/` on `addr`, half with keep-alive connections, half with a
    /// connection per request, pausing 0.5 ms between requests.
    pub fn start(addr: SocketAddr, clients: usize) -> Load {
        Load::builder(addr).clients(clients).start()
    }

    /// A load on `addr`, to configure before [`LoadBuilder::start`].
    pub fn builder(addr: SocketAddr) -> LoadBuilder {
        LoadBuilder {
            addr,
            clients: 4,
            path: "/".to_owned(),
            connections: Connections::Mixed,
            pause: Duration::from_micros(500),
        }
    }

    /// Stops the clients and sums what they saw.
    ///
    /// # Panics
    ///
    /// When a client thread panicked.
    pub fn finish(mut self) -> LoadReport {
        self.stop.store(true, Ordering::Relaxed);
        let mut total = LoadReport::default();
        for handle in std::mem::take(&mut self.handles) {
            total.add(handle.join().expect("a load client thread panicked"));
        }
        total
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Why a request got no answer.
#[derive(Debug, PartialEq, Eq)]
enum Failure {
    /// A reused keep-alive connection was closed before any answer: retry on a new one.
    Stale,
    /// Anything else.
    Connection,
}

struct Client {
    addr: SocketAddr,
    /// The request line and Host, without the Connection field and the end of the head.
    request: String,
    keep_alive: bool,
    pause: Duration,
}

impl Client {
    fn run(&self, stop: &AtomicBool) -> LoadReport {
        let mut report = LoadReport::default();
        let mut conn = None;
        let mut failing_since: Option<Instant> = None;
        while !stop.load(Ordering::Relaxed) {
            let mut result = self.request(&mut conn);
            if result == Err(Failure::Stale) {
                report.retried += 1;
                result = self.request(&mut conn);
            }
            let ok = match result {
                Ok((code, body)) if (200..300).contains(&code) => {
                    report.ok += 1;
                    report.releases.insert(body);
                    true
                }
                Ok(_) => {
                    report.non_2xx += 1;
                    false
                }
                Err(_) => {
                    report.connection_errors += 1;
                    false
                }
            };
            match (ok, failing_since) {
                (false, None) => failing_since = Some(Instant::now()),
                (true, Some(since)) => {
                    report.longest_outage = report.longest_outage.max(since.elapsed());
                    failing_since = None;
                }
                _ => {}
            }
            std::thread::sleep(if ok {
                self.pause
            } else {
                self.pause.max(Duration::from_millis(2))
            });
        }
        if let Some(since) = failing_since {
            report.longest_outage = report.longest_outage.max(since.elapsed());
        }
        report
    }

    /// One request on the connection (opening one when there is none); the connection is
    /// kept only when both sides keep it alive.
    fn request(&self, conn: &mut Option<BufReader<TcpStream>>) -> Result<(u16, String), Failure> {
        let reused = conn.is_some();
        if conn.is_none() {
            let s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2))
                .map_err(|_| Failure::Connection)?;
            s.set_read_timeout(Some(Duration::from_secs(5)))
                .map_err(|_| Failure::Connection)?;
            *conn = Some(BufReader::new(s));
        }
        let Some(reader) = conn.as_mut() else {
            return Err(Failure::Connection);
        };
        let connection = if self.keep_alive {
            "keep-alive"
        } else {
            "close"
        };
        let sent = reader
            .get_mut()
            .write_all(format!("{}Connection: {connection}\r\n\r\n", self.request).as_bytes());
        let Ok(Some(head)) = sent.and_then(|()| read_head(reader)) else {
            *conn = None;
            return Err(if reused {
                Failure::Stale
            } else {
                Failure::Connection
            });
        };
        let answer = read_body(reader, &head).map(|body| {
            let code = status_code(&head.first_line).unwrap_or(0);
            (code, String::from_utf8_lossy(&body).into_owned())
        });
        let close = !self.keep_alive
            || head
                .header("connection")
                .is_some_and(|v| v.eq_ignore_ascii_case("close"))
            || head.first_line.starts_with("HTTP/1.0");
        if close || answer.is_err() {
            *conn = None;
        }
        answer
    }
}

/// The body after `head`: `Content-Length` bytes, chunks, or (neither) all until the server
/// closes.
fn read_body(
    reader: &mut BufReader<TcpStream>,
    head: &crate::net::Head,
) -> Result<Vec<u8>, Failure> {
    let chunked = head
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader
                .read_line(&mut size)
                .map_err(|_| Failure::Connection)?;
            let size = size.trim().split(';').next().unwrap_or("");
            let size = usize::from_str_radix(size, 16).map_err(|_| Failure::Connection)?;
            let mut chunk = vec![0; size + 2];
            reader
                .read_exact(&mut chunk)
                .map_err(|_| Failure::Connection)?;
            if size == 0 {
                // The last chunk; no trailer fields expected.
                return Ok(body);
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else if head.header("content-length").is_some() {
        body.resize(head.content_length(), 0);
        reader
            .read_exact(&mut body)
            .map_err(|_| Failure::Connection)?;
    } else {
        reader
            .read_to_end(&mut body)
            .map_err(|_| Failure::Connection)?;
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;
    use crate::health_server::{self, Health, Options};

    fn release(name: &str, health: Health) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let options = Options::new(name).health(health);
        std::thread::spawn(move || health_server::serve(&listener, &options));
        addr
    }

    #[test]
    fn every_request_is_counted() {
        let addr = release("web-1", Health::Healthy);
        let load = Load::start(addr, 4);
        std::thread::sleep(Duration::from_millis(200));
        let report = load.finish();
        assert!(report.ok > 10, "{report:?}");
        assert_eq!(report.failed(), 0, "{report:?}");
        assert_eq!(report.releases, BTreeSet::from(["web-1".to_owned()]));

        let bad = release("web-2", Health::Unhealthy);
        let load = Load::builder(bad)
            .clients(2)
            .path("/health")
            .connections(Connections::PerRequest)
            .pause(Duration::from_millis(5))
            .start();
        std::thread::sleep(Duration::from_millis(100));
        let report = load.finish();
        assert_eq!(report.ok, 0, "{report:?}");
        assert!(
            report.non_2xx > 2 && report.failed() == report.non_2xx,
            "{report:?}"
        );
    }

    #[test]
    fn nothing_listening_is_connection_errors_and_one_outage() {
        let addr = crate::net::local(crate::net::free_port());
        let load = Load::builder(addr)
            .clients(1)
            .connections(Connections::KeepAlive)
            .start();
        std::thread::sleep(Duration::from_millis(50));
        let report = load.finish();
        assert!(report.connection_errors > 0, "{report:?}");
        assert_eq!((report.ok, report.retried), (0, 0), "{report:?}");
        assert!(report.longest_outage > Duration::ZERO, "{report:?}");
    }

    #[test]
    fn chunked_and_closing_answers_are_read() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for (i, stream) in listener.incoming().enumerate() {
                let mut stream = stream.unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let _ = read_head(&mut reader);
                let answer = if i % 2 == 0 {
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
                } else {
                    "HTTP/1.0 200 OK\r\n\r\nabcde"
                };
                let _ = stream.write_all(answer.as_bytes());
            }
        });
        let load = Load::builder(addr)
            .clients(1)
            .connections(Connections::KeepAlive)
            .start();
        std::thread::sleep(Duration::from_millis(100));
        let report = load.finish();
        assert!(report.ok > 2, "{report:?}");
        assert_eq!(report.failed(), 0, "{report:?}");
        assert_eq!(report.releases, BTreeSet::from(["abcde".to_owned()]));
    }
}
