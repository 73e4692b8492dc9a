/*!
A real Prometheus server and a real Alertmanager on 127.0.0.1 (Debian's `prometheus` and
`prometheus-alertmanager`), each with its own temporary storage, killed on drop; their HTTP
APIs as text; a page server for a scrape target that serves fixed text.

```
# fn docs() {
use ops_testkit::prometheus::{Alertmanager, Prometheus};

let Some(binary) = Prometheus::find("my_test") else { return };
let dir = tempfile::tempdir().unwrap();
std::fs::write(dir.path().join("prometheus.yml"), "global: {scrape_interval: 1s}\n").unwrap();
let prometheus = Prometheus::start(&binary, &dir.path().join("prometheus.yml"));
let body = prometheus.query("up"); // the API's JSON, as text
# let _ = body;
# }
```

Both are started with `--web.listen-address=127.0.0.1:PORT` on a free port; Alertmanager with
`--cluster.listen-address=` (no gossip listener). [`Prometheus::start`] waits for `/-/ready`;
its log (stderr) is kept in a file and shown by [`Prometheus::log`] for failure messages.
*/

use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::net::{self, http};
use crate::tools;

/// How the messages name the Prometheus server.
pub const PROMETHEUS_WHAT: &str = "prometheus (Debian package prometheus)";

/// How the messages name Alertmanager.
pub const ALERTMANAGER_WHAT: &str =
    "prometheus-alertmanager (Debian package prometheus-alertmanager)";

/// How long a server may take to answer `/-/ready`.
const READY: Duration = Duration::from_secs(30);

/// A child process with its address, storage and log, killed (and reaped) on drop.
#[derive(Debug)]
struct Server {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts `binary` with the arguments `args` makes for a scratch directory (where its
    /// storage goes, removed on drop) and waits for `/-/ready`.
    fn start(what: &str, binary: &Path, args: impl FnOnce(&Path) -> Vec<String>) -> Server {
        let port = net::free_port();
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("a scratch directory: {e}"));
        let log = dir.path().join("server.log");
        let log_file = std::fs::File::create(&log)
            .unwrap_or_else(|e| panic!("creating {}: {e}", log.display()));
        let mut command = Command::new(binary);
        command.args(args(dir.path()));
        command
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what} ({}): {e}", binary.display()));
        let mut server = Server {
            child,
            addr: net::local(port),
            log,
            _dir: dir,
        };
        let addr = server.addr;
        let mut ready = false;
        let deadline = std::time::Instant::now() + READY;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "{what} exited ({status}) before it was ready:\n{}",
                    server.log()
                );
            }
            if http(addr, "GET", "/-/ready", "").is_some_and(|(s, _)| s == 200) {
                ready = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(
            ready,
            "{what} not ready on {addr} after {READY:?}:\n{}",
            server.log()
        );
        server
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET path` on `addr`: the body of a 200, or a panic naming the status and the body.
fn get_ok(what: &str, addr: SocketAddr, path: &str) -> String {
    match http(addr, "GET", path, "") {
        Some((200, body)) => body,
        Some((status, body)) => panic!("{what} GET {path}: HTTP {status}: {body}"),
        None => panic!("{what} GET {path}: no answer"),
    }
}

/// A Prometheus server on 127.0.0.1 with its own TSDB directory.
#[derive(Debug)]
pub struct Prometheus {
    server: Server,
}

impl Prometheus {
    /// The `prometheus` binary on `PATH`, or `None` after skipping (or failing, under
    /// `OPS_REQUIRE_TOOLS=1`) as [`tools::available`] does.
    pub fn find(test: &str) -> Option<PathBuf> {
        tools::require(test, PROMETHEUS_WHAT, tools::on_path("prometheus"))
    }

    /// Starts `binary --config.file=config` on a free port with a temporary
    /// `--storage.tsdb.path`, and waits until it is ready. Rule files and other relative
    /// paths in the configuration are read relative to the configuration's directory.
    ///
    /// # Panics
    ///
    /// When it cannot start, exits, or is not ready within 30 s (with its log).
    pub fn start(binary: &Path, config: &Path) -> Prometheus {
        let server = Server::start(PROMETHEUS_WHAT, binary, |dir| {
            vec![
                format!("--config.file={}", config.display()),
                format!("--storage.tsdb.path={}", dir.join("tsdb").display()),
            ]
        });
        Prometheus { server }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// Its log so far (for failure messages).
    pub fn log(&self) -> String {
        self.server.log()
    }

    /// `GET path` (with its query string): the body of a 200 answer, or the status and body
    /// of any other answer (or "no answer").
    ///
    /// # Errors
    /// Not a 200, as text.
    pub fn get(&self, path: &str) -> Result<String, String> {
        match http(self.server.addr, "GET", path, "") {
            Some((200, body)) => Ok(body),
            Some((status, body)) => Err(format!("HTTP {status}: {body}")),
            None => Err("no answer".to_owned()),
        }
    }

    /// `/api/v1/query?query=expr` (an instant query now): the JSON answer as text, or the
    /// status and body of an error (a query that does not parse is HTTP 400).
    ///
    /// # Errors
    /// Not a 200, as text.
    pub fn try_query(&self, expr: &str) -> Result<String, String> {
        self.get(&format!("/api/v1/query?query={}", url_encode(expr)))
    }

    /// [`try_query`](Self::try_query), panicking on an error.
    ///
    /// # Panics
    ///
    /// When the query fails (with the answer).
    pub fn query(&self, expr: &str) -> String {
        self.try_query(expr)
            .unwrap_or_else(|e| panic!("prometheus query {expr}: {e}"))
    }

    /// `/api/v1/alerts`: the alerts of its rules, pending and firing, as JSON text.
    ///
    /// # Panics
    ///
    /// When the API does not answer 200.
    pub fn alerts(&self) -> String {
        get_ok(PROMETHEUS_WHAT, self.server.addr, "/api/v1/alerts")
    }
}

/// Alertmanager on 127.0.0.1, clustering off, with its own storage.
#[derive(Debug)]
pub struct Alertmanager {
    server: Server,
}

impl Alertmanager {
    /// The `prometheus-alertmanager` binary on `PATH`, or `None` after skipping (or failing)
    /// as [`tools::available`] does.
    pub fn find(test: &str) -> Option<PathBuf> {
        tools::require(
            test,
            ALERTMANAGER_WHAT,
            tools::on_path("prometheus-alertmanager"),
        )
    }

    /// Starts `binary --config.file=config` on a free port with a temporary
    /// `--storage.path` and `--cluster.listen-address=` (no cluster), and waits until it is
    /// ready.
    ///
    /// # Panics
    ///
    /// When it cannot start, exits, or is not ready within 30 s (with its log).
    pub fn start(binary: &Path, config: &Path) -> Alertmanager {
        let server = Server::start(ALERTMANAGER_WHAT, binary, |dir| {
            vec![
                format!("--config.file={}", config.display()),
                format!("--storage.path={}", dir.join("storage").display()),
                "--cluster.listen-address=".to_owned(),
            ]
        });
        Alertmanager { server }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        self.server.log()
    }

    /// `GET /api/v2/alerts`: the alerts it holds (active ones), as JSON text.
    ///
    /// # Panics
    ///
    /// When the API does not answer 200.
    pub fn alerts(&self) -> String {
        get_ok(ALERTMANAGER_WHAT, self.server.addr, "/api/v2/alerts")
    }
}

/// A scrape target on 127.0.0.1 that answers every request with a text page
/// (`text/plain; version=0.0.4`) — the same one, or one made for each request — and counts
/// the requests.
#[derive(Debug)]
pub struct PageServer {
    addr: SocketAddr,
    served: Arc<Mutex<u64>>,
}

impl PageServer {
    /// Starts serving `page`.
    ///
    /// # Panics
    ///
    /// When it cannot listen on 127.0.0.1.
    pub fn start(page: impl Into<String>) -> PageServer {
        let page: String = page.into();
        PageServer::serving(move |_| page.clone())
    }

    /// Starts serving `page(n)` to the `n`th request (0 first): counters that grow with every
    /// scrape.
    ///
    /// # Panics
    ///
    /// When it cannot listen on 127.0.0.1.
    pub fn serving(page: impl Fn(u64) -> String + Send + 'static) -> PageServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .unwrap_or_else(|e| panic!("the page server cannot listen on 127.0.0.1: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("the page server's address: {e}"));
        let served = Arc::new(Mutex::new(0));
        let count = Arc::clone(&served);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                // Read the head (to its empty line), then answer and close.
                let mut reader = BufReader::new(&stream);
                let mut line = String::new();
                loop {
                    line.clear();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) if line == "\r\n" || line == "\n" => break,
                        Ok(_) => {}
                    }
                }
                let n = *count.lock().unwrap_or_else(PoisonError::into_inner);
                let page = page(n);
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                    page.len()
                );
                let _ = std::io::Write::write_all(&mut stream, response.as_bytes());
                *count.lock().unwrap_or_else(PoisonError::into_inner) += 1;
            }
        });
        PageServer { addr, served }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Requests answered so far.
    pub fn served(&self) -> u64 {
        *self.served.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Percent-encodes `text` for a URL query value (everything but `A-Z a-z 0-9 - _ . ~`).
pub fn url_encode(text: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            url_encode("rate(x{a=\"b c\"}[5m]) > 0.5"),
            "rate%28x%7Ba%3D%22b%20c%22%7D%5B5m%5D%29%20%3E%200.5"
        );
    }

    #[test]
    fn the_page_server_serves_its_page_every_time() {
        let server = PageServer::start("up 1\n");
        for _ in 0..3 {
            assert_eq!(
                http(server.addr(), "GET", "/metrics", ""),
                Some((200, "up 1\n".to_owned()))
            );
        }
        assert_eq!(server.served(), 3);
    }
}
