/*!
The release the deploy tests deploy: a tiny HTTP server whose `/health` answers 200, 500 or
never, and whose every other path answers 200 with the release id.

Std only (besides this crate), so it links statically into a FROM-scratch image. A test binary
becomes the release by re-executing itself ([`child_command`] and [`run_child`]); an example
binary calls [`serve`] directly.

```
# fn docs() {
use ops_testkit::health_server::{self, Health, Options};

let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
let options = Options::new("web-1").health(Health::Hanging);
std::thread::spawn(move || health_server::serve(&listener, &options));
# }
```
*/

use std::io::{BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::net::{read_head, reason};

/// Connections served at once; a client that sends nothing holds one for [`READ_TIMEOUT`].
const WORKERS: usize = 8;

/// How long a connection may take to send its request head.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// What `GET /health` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Health {
    /// 200 with the release id.
    #[default]
    Healthy,
    /// 500 (`Internal Server Error`) with the release id.
    Unhealthy,
    /// Nothing: the connection is held open and never answered.
    Hanging,
}

impl Health {
    /// `healthy`, `unhealthy` or `hang`: the word [`child_command`] passes to the child.
    pub fn name(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
            Health::Hanging => "hang",
        }
    }

    /// The mode [`Health::name`] names.
    pub fn from_name(name: &str) -> Option<Health> {
        match name {
            "healthy" => Some(Health::Healthy),
            "unhealthy" => Some(Health::Unhealthy),
            "hang" => Some(Health::Hanging),
            _ => None,
        }
    }
}

/// What the server answers.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct Options {
    release: String,
    health: Health,
    data_file: Option<PathBuf>,
}

impl Options {
    /// A healthy server answering `release` (the body of every 200).
    pub fn new(release: impl Into<String>) -> Options {
        Options {
            release: release.into(),
            ..Options::default()
        }
    }

    /// What `/health` answers (default [`Health::Healthy`]).
    pub fn health(mut self, health: Health) -> Options {
        self.health = health;
        self
    }

    /// Serves this file's contents at `GET /data` (what a volume kept, in the Docker tests).
    pub fn data_file(mut self, path: impl Into<PathBuf>) -> Options {
        self.data_file = Some(path.into());
        self
    }
}

/// Serves on `listener` until the process ends: `GET /health` as [`Options::health`] says,
/// `GET /data` with the data file when there is one, anything else 200 with the release id.
///
/// Each answer has `Content-Length` and `Connection: close`, and is sent once the whole
/// request head has been read. Eight connections are served at once; a connection that
/// sends no complete head within 5 s is closed unanswered.
///
/// # Panics
///
/// When the listener cannot be shared between the worker threads.
pub fn serve(listener: &TcpListener, options: &Options) -> ! {
    let held = Arc::new(Mutex::new(Vec::new()));
    for _ in 1..WORKERS {
        let listener = listener
            .try_clone()
            .unwrap_or_else(|e| panic!("health server: sharing the listener: {e}"));
        let (options, held) = (options.clone(), Arc::clone(&held));
        std::thread::spawn(move || accept_loop(&listener, &options, &held));
    }
    accept_loop(listener, options, &held)
}

fn accept_loop(listener: &TcpListener, options: &Options, held: &Mutex<Vec<TcpStream>>) -> ! {
    loop {
        let Ok((stream, _)) = listener.accept() else {
            // Out of descriptors, or a connection reset before it was accepted: go on.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        if let Some(hold) = answer(stream, options) {
            held.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(hold);
        }
    }
}

/// Answers one connection; a `/health` request in [`Health::Hanging`] mode comes back to be
/// held open.
fn answer(stream: TcpStream, options: &Options) -> Option<TcpStream> {
    if stream.set_read_timeout(Some(READ_TIMEOUT)).is_err() {
        return None;
    }
    let mut reader = BufReader::new(&stream);
    let Ok(Some(head)) = read_head(&mut reader) else {
        return None;
    };
    drop(reader);
    let mut words = head.first_line.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let get = method == "GET";
    let health = get && path.starts_with("/health");
    if health && options.health == Health::Hanging {
        return Some(stream);
    }
    let (status, body) = match &options.data_file {
        Some(file) if get && path.starts_with("/data") => {
            (200, std::fs::read_to_string(file).unwrap_or_default())
        }
        _ if health && options.health == Health::Unhealthy => (500, options.release.clone()),
        _ => (200, options.release.clone()),
    };
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        reason(status),
        body.len()
    );
    let _ = stream.flush();
    None
}

/// The shell command that re-executes this test binary as a release: `{env_var}={health} exec
/// '<this binary>' --exact {test} --nocapture --test-threads=1`, where `test` is the full path
/// of a test that calls [`run_child`] with the same `env_var` (`it::process::server_child`).
/// The deploy under test sets `PORT` and `OPS_RELEASE`.
///
/// # Panics
///
/// When the path of the running binary is unknown.
pub fn child_command(env_var: &str, health: Health, test: &str) -> String {
    let exe =
        std::env::current_exe().unwrap_or_else(|e| panic!("the path of this test binary: {e}"));
    format!(
        "{env_var}={} exec '{}' --exact {test} --nocapture --test-threads=1",
        health.name(),
        exe.display()
    )
}

/// The body of the test [`child_command`] runs: returns at once unless `env_var` is set; with
/// it, serves on 127.0.0.1:`$PORT` as `$OPS_RELEASE` (empty when unset) in the mode the
/// variable names, until the process is killed.
///
/// # Panics
///
/// When the variable names no [`Health`], `PORT` is not a port, or it cannot listen there.
pub fn run_child(env_var: &str) {
    let Ok(mode) = std::env::var(env_var) else {
        return;
    };
    let health = Health::from_name(&mode)
        .unwrap_or_else(|| panic!("{env_var}={mode:?}: not healthy, unhealthy or hang"));
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("the health server child needs PORT set to a port"));
    let release = std::env::var("OPS_RELEASE").unwrap_or_default();
    let listener = TcpListener::bind(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("health server: cannot listen on 127.0.0.1:{port}: {e}"));
    serve(&listener, &Options::new(release).health(health));
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;
    use std::net::SocketAddr;

    use super::*;
    use crate::net::http;

    fn start(options: Options) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || serve(&listener, &options));
        addr
    }

    #[test]
    fn healthy_unhealthy_and_data() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("starts");
        std::fs::write(&data, "web-1\nweb-2\n").unwrap();
        let ok = start(Options::new("web-2").data_file(&data));
        assert_eq!(http(ok, "GET", "/health", ""), Some((200, "web-2".into())));
        assert_eq!(http(ok, "GET", "/", ""), Some((200, "web-2".into())));
        assert_eq!(
            http(ok, "GET", "/data", ""),
            Some((200, "web-1\nweb-2\n".into()))
        );
        let bad = start(Options::new("web-3").health(Health::Unhealthy));
        assert_eq!(http(bad, "GET", "/health", ""), Some((500, "web-3".into())));
        assert_eq!(http(bad, "GET", "/", ""), Some((200, "web-3".into())));
        assert_eq!(http(bad, "GET", "/data", ""), Some((200, "web-3".into())));
    }

    #[test]
    fn a_head_sent_in_pieces_is_answered_once_complete_with_its_length() {
        let addr = start(Options::new("r"));
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /hea").unwrap();
        std::thread::sleep(Duration::from_millis(100));
        s.write_all(b"lth HTTP/1.1\r\nHost: x\r\n").unwrap();
        std::thread::sleep(Duration::from_millis(100));
        s.write_all(b"\r\n").unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        assert_eq!(
            text,
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\nr"
        );
    }

    #[test]
    fn a_silent_client_does_not_hold_up_the_others_and_hang_holds() {
        let addr = start(Options::new("r").health(Health::Hanging));
        let _silent = TcpStream::connect(addr).unwrap();
        assert_eq!(http(addr, "GET", "/", ""), Some((200, "r".into())));
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        s.write_all(b"GET /health HTTP/1.0\r\n\r\n").unwrap();
        let mut buf = [0u8; 1];
        let err = s.read(&mut buf).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock, "{err}");
    }

    #[test]
    fn modes_round_trip_through_their_names() {
        for h in [Health::Healthy, Health::Unhealthy, Health::Hanging] {
            assert_eq!(Health::from_name(h.name()), Some(h));
        }
        assert_eq!(Health::from_name("sick"), None);
        let cmd = child_command("X_SERVER", Health::Unhealthy, "it::server_child");
        assert!(cmd.starts_with("X_SERVER=unhealthy exec '"), "{cmd}");
        assert!(
            cmd.ends_with("' --exact it::server_child --nocapture --test-threads=1"),
            "{cmd}"
        );
        // Without the variable the child test is a no-op.
        run_child("OPS_TESTKIT_NO_SUCH_VARIABLE");
    }
}
