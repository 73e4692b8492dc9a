//! `GET /metrics` and `GET /health` over HTTP/1.1, for `ops monitor --listen` and services
//! without an HTTP server of their own.
//!
//! One thread multiplexes every connection with `poll(2)`, so a client that trickles its
//! request a byte at a time holds a buffer, not a thread: it never delays the others.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ops_core::exposition::CONTENT_TYPE;

use super::{Monitor, Shared};
use crate::error::{Error, Result};

/// Connections served at once; more are closed as they arrive.
pub(crate) const MAX_CONNECTIONS: usize = 64;
/// The longest a client may take to send its request head.
pub(crate) const HEAD_DEADLINE: Duration = Duration::from_secs(5);
/// The longest a client may take to read the answer.
pub(crate) const WRITE_DEADLINE: Duration = Duration::from_secs(10);
const MAX_HEAD: usize = 16 * 1024;

/// Counters of the HTTP endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerStats {
    /// Requests answered.
    pub answered: u64,
    /// Connections closed because too many were open (the oldest still sending its head, or
    /// the new one when every connection was being answered).
    pub refused: u64,
    /// Connections closed because the client was too slow (or sent too large a head).
    pub timed_out: u64,
}

#[derive(Default)]
struct Counters {
    answered: AtomicU64,
    refused: AtomicU64,
    timed_out: AtomicU64,
}

/// The running endpoint of [`Monitor::serve`]; dropping it stops the server thread.
///
/// One thread multiplexes every connection with `poll(2)`, so a client that trickles its
/// request a byte at a time holds a buffer, not a thread: it never delays the others. Limits:
/// 64 connections open at once (when full, the connection that has spent longest sending its
/// head is closed to make room, and counted), a request head of at most 16 KiB read within
/// 5 s, an answer written within 10 s; one request per connection (`Connection: close`).
#[must_use = "the server stops when dropped"]
pub struct MetricsServer {
    addr: SocketAddr,
    wake: std::os::fd::OwnedFd,
    counters: Arc<Counters>,
    handle: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsServer")
            .field("addr", &self.addr)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl MetricsServer {
    /// The address it listens on (with the port the system chose for `:0`).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The counters so far.
    pub fn stats(&self) -> ServerStats {
        ServerStats {
            answered: self.counters.answered.load(Ordering::Relaxed),
            refused: self.counters.refused.load(Ordering::Relaxed),
            timed_out: self.counters.timed_out.load(Ordering::Relaxed),
        }
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        let byte = 1u8;
        // SAFETY: writing one byte from a local to the pipe we own.
        unsafe {
            libc::write(self.wake.as_raw_fd(), (&raw const byte).cast(), 1);
        }
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

impl Monitor {
    /// Serves `GET /metrics` (this monitor's [`page`](Monitor::page)) and `GET /health`
    /// (`{"status":"ok","samples":N,"firing":K}`) on `addr` until the returned server is
    /// dropped.
    ///
    /// # Errors
    /// [`Error::Listen`] when the address cannot be bound; [`Error::Start`] when the thread
    /// cannot start.
    pub fn serve(&self, addr: &str) -> Result<MetricsServer> {
        let listen = |source| Error::Listen {
            addr: addr.to_owned(),
            source,
        };
        let listener = TcpListener::bind(addr).map_err(listen)?;
        listener.set_nonblocking(true).map_err(listen)?;
        let local = listener.local_addr().map_err(listen)?;
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
            return Err(listen(std::io::Error::last_os_error()));
        }
        // SAFETY: pipe2 succeeded, so both descriptors are open and ours alone.
        let (read_end, write_end) = unsafe {
            use std::os::fd::FromRawFd as _;
            (
                std::os::fd::OwnedFd::from_raw_fd(fds[0]),
                std::os::fd::OwnedFd::from_raw_fd(fds[1]),
            )
        };
        let counters = Arc::new(Counters::default());
        let shared = Arc::clone(&self.shared);
        let c = Arc::clone(&counters);
        let handle = std::thread::Builder::new()
            .name("ops-monitor-http".into())
            .spawn(move || run(&listener, &read_end, &shared, &c))
            .map_err(|source| Error::Start {
                what: "the HTTP server",
                source,
            })?;
        Ok(MetricsServer {
            addr: local,
            wake: write_end,
            counters,
            handle: Some(handle),
        })
    }
}

struct Conn {
    stream: TcpStream,
    head: Vec<u8>,
    out: Vec<u8>,
    written: usize,
    deadline: Instant,
}

fn answer(head: &[u8], shared: &Shared) -> Vec<u8> {
    let text = String::from_utf8_lossy(head);
    let mut words = text.split_whitespace();
    let (method, path) = (words.next(), words.next().unwrap_or("/"));
    let path = path.split('?').next().unwrap_or(path);
    let (status, content_type, body) = match (method, path) {
        (Some("GET"), "/metrics") => ("200 OK", CONTENT_TYPE, shared.page()),
        (Some("GET"), "/health") => {
            let s = shared.lock();
            let firing = s
                .statuses
                .iter()
                .filter(|a| a.state == crate::AlertState::Firing)
                .count();
            (
                "200 OK",
                "application/json",
                format!(
                    "{{\"status\":\"ok\",\"samples\":{},\"firing\":{firing}}}\n",
                    s.samples
                ),
            )
        }
        (Some("GET"), _) => (
            "404 Not Found",
            "text/plain",
            "not found: try /metrics or /health\n".to_owned(),
        ),
        _ => (
            "405 Method Not Allowed",
            "text/plain",
            "GET only\n".to_owned(),
        ),
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

/// Reads what the client sent; `Ok(true)` once the head is complete.
fn read_head(conn: &mut Conn) -> std::io::Result<bool> {
    let mut buf = [0u8; 4096];
    loop {
        match conn.stream.read(&mut buf) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                conn.head.extend_from_slice(&buf[..n]);
                if conn.head.windows(4).any(|w| w == b"\r\n\r\n")
                    || conn.head.windows(2).any(|w| w == b"\n\n")
                {
                    return Ok(true);
                }
                if conn.head.len() > MAX_HEAD {
                    return Err(std::io::ErrorKind::InvalidData.into());
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Writes what it can; `Ok(true)` once everything is written.
fn write_out(conn: &mut Conn) -> std::io::Result<bool> {
    while conn.written < conn.out.len() {
        match conn.stream.write(&conn.out[conn.written..]) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => conn.written += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Takes every waiting connection; when full, closes the one that has spent longest sending its
/// head to make room (or refuses the new one when every connection is being answered).
fn accept(listener: &TcpListener, conns: &mut Vec<Conn>, c: &Counters) {
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                if conns.len() >= MAX_CONNECTIONS {
                    let oldest = conns
                        .iter()
                        .enumerate()
                        .filter(|(_, conn)| conn.out.is_empty())
                        .min_by_key(|(_, conn)| conn.deadline)
                        .map(|(i, _)| i);
                    c.refused.fetch_add(1, Ordering::Relaxed);
                    match oldest {
                        Some(i) => drop(conns.swap_remove(i)),
                        None => continue,
                    }
                }
                if stream.set_nonblocking(true).is_err() {
                    c.refused.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                conns.push(Conn {
                    stream,
                    head: Vec::new(),
                    out: Vec::new(),
                    written: 0,
                    deadline: Instant::now() + HEAD_DEADLINE,
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

fn run(listener: &TcpListener, wake: &std::os::fd::OwnedFd, shared: &Shared, c: &Counters) {
    let mut conns: Vec<Conn> = Vec::new();
    let mut fds: Vec<libc::pollfd> = Vec::with_capacity(MAX_CONNECTIONS + 2);
    loop {
        let now = Instant::now();
        // Close what ran out of time.
        conns.retain(|conn| {
            let alive = conn.deadline > now;
            if !alive {
                c.timed_out.fetch_add(1, Ordering::Relaxed);
            }
            alive
        });
        fds.clear();
        let fd = |fd, events| libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        fds.push(fd(wake.as_raw_fd(), libc::POLLIN));
        fds.push(fd(listener.as_raw_fd(), libc::POLLIN));
        for conn in &conns {
            let events = if conn.out.is_empty() {
                libc::POLLIN
            } else {
                libc::POLLOUT
            };
            fds.push(fd(conn.stream.as_raw_fd(), events));
        }
        let timeout = conns
            .iter()
            .map(|conn| conn.deadline.saturating_duration_since(now))
            .min()
            .map_or(-1, |d| {
                i32::try_from(d.as_millis().saturating_add(1)).unwrap_or(i32::MAX)
            });
        // SAFETY: `fds` is a valid array of `fds.len()` pollfd structures.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        if fds[0].revents != 0 {
            return;
        }
        // Existing connections first (their indices match `fds[2..]`).
        let mut done = vec![false; conns.len()];
        for (i, conn) in conns.iter_mut().enumerate() {
            let revents = fds[i + 2].revents;
            if revents == 0 {
                continue;
            }
            let finished = if conn.out.is_empty() {
                match read_head(conn) {
                    Ok(true) => {
                        conn.out = answer(&conn.head, shared);
                        conn.deadline = Instant::now() + WRITE_DEADLINE;
                        c.answered.fetch_add(1, Ordering::Relaxed);
                        write_out(conn).unwrap_or(true)
                    }
                    Ok(false) => false,
                    Err(e) => {
                        if e.kind() == std::io::ErrorKind::InvalidData {
                            c.timed_out.fetch_add(1, Ordering::Relaxed);
                        }
                        true
                    }
                }
            } else {
                write_out(conn).unwrap_or(true)
            };
            done[i] = finished;
        }
        let mut i = 0;
        conns.retain(|_| {
            i += 1;
            !done[i - 1]
        });
        if fds[1].revents != 0 {
            accept(listener, &mut conns, c);
        }
    }
}

#[cfg(test)]
mod test {
    use std::io::{Read as _, Write as _};
    use std::net::TcpStream;
    use std::time::Duration;

    use crate::Monitor;

    fn get(addr: std::net::SocketAddr, path: &str) -> String {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        write!(s, "GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").expect("write");
        let mut text = String::new();
        s.read_to_string(&mut text).expect("read");
        text
    }

    /// 70 clients trickling their request a byte at a time hold no thread: a scrape in the
    /// middle of them is answered, and the server evicts the oldest trickler to make room.
    #[test]
    fn slow_clients_do_not_starve_the_page() {
        let monitor = Monitor::builder().log(false).build().expect("monitor");
        let server = monitor.serve("127.0.0.1:0").expect("serve");
        let addr = server.local_addr();
        let mut slow: Vec<TcpStream> = (0..70)
            .map(|_| {
                let mut s = TcpStream::connect(addr).expect("connect");
                s.write_all(b"G").expect("first byte");
                s
            })
            .collect();
        let page = get(addr, "/metrics");
        assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
        assert!(
            page.contains("# TYPE ops_monitor_samples_total counter"),
            "{page}"
        );
        let health = get(addr, "/health");
        assert!(
            health.ends_with("{\"status\":\"ok\",\"samples\":0,\"firing\":0}\n"),
            "{health}"
        );
        assert!(get(addr, "/nope").starts_with("HTTP/1.1 404"));
        for s in &mut slow {
            let _ = s.write_all(b"E");
        }
        let stats = server.stats();
        assert_eq!(stats.answered, 3);
        // 64 places: tricklers 65 to 70 each closed the oldest one (6), the first scrape one
        // more (7); each answered scrape gave its place back to the next.
        assert_eq!(stats.refused, 7, "{stats:?}");
    }

    #[test]
    fn methods_other_than_get_are_refused() {
        let monitor = Monitor::builder().log(false).build().expect("monitor");
        let server = monitor.serve("127.0.0.1:0").expect("serve");
        let mut s = TcpStream::connect(server.local_addr()).expect("connect");
        s.write_all(b"POST /metrics HTTP/1.1\r\n\r\n")
            .expect("write");
        let mut text = String::new();
        s.read_to_string(&mut text).expect("read");
        assert!(
            text.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
            "{text}"
        );
    }
}
