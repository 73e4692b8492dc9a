/*!
A real nginx on 127.0.0.1 in front of the releases, with its own prefix, configuration, pid
file, error log, temporary paths and upstream file (what ops-deploy rewrites to switch the
traffic), stopped when dropped.

```
# fn docs() {
use ops_testkit::nginx::Nginx;

if !Nginx::available("my_test") {
    return;
}
let nginx = Nginx::builder("web").backend_port(8080).start();
// `[proxy]` for an ops-deploy config: this nginx, tested and reloaded with its own flags.
let proxy = nginx.proxy_config();
# let _ = proxy;
# }
```
*/

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{net, tools};

/// Where an nginx of the kit keeps its files: a temporary directory of its own, or a directory
/// the caller owns.
#[derive(Debug)]
enum Dir {
    Own(tempfile::TempDir),
    Given(PathBuf),
}

impl Dir {
    fn path(&self) -> &Path {
        match self {
            Dir::Own(dir) => dir.path(),
            Dir::Given(path) => path,
        }
    }
}

/// How to start an [`Nginx`] ([`Nginx::builder`]).
#[derive(Debug, Clone)]
#[must_use]
pub struct NginxBuilder {
    upstream: String,
    upstream_body: String,
    port: Option<u16>,
    dir: Option<PathBuf>,
    worker_processes: u32,
    server_config: String,
}

impl NginxBuilder {
    /// The upstream's servers are `127.0.0.1:port` (default: port 9, which nothing serves,
    /// until a deploy writes the upstream file).
    pub fn backend_port(self, port: u16) -> NginxBuilder {
        self.upstream_body(format!("server 127.0.0.1:{port};"))
    }

    /// The upstream block's body as written, e.g. `server 127.0.0.1:8080; keepalive 8;`.
    pub fn upstream_body(mut self, body: impl Into<String>) -> NginxBuilder {
        self.upstream_body = body.into();
        self
    }

    /// The port nginx listens on (default: a free one).
    pub fn port(mut self, port: u16) -> NginxBuilder {
        self.port = Some(port);
        self
    }

    /// Keeps nginx's files (`nginx.conf`, `upstream.conf`, `nginx.pid`, `error.log`, the
    /// temporary paths) in `dir`, which the caller owns and removes (default: a temporary
    /// directory removed on drop).
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> NginxBuilder {
        self.dir = Some(dir.into());
        self
    }

    /// `worker_processes` (default 2).
    pub fn worker_processes(mut self, n: u32) -> NginxBuilder {
        self.worker_processes = n;
        self
    }

    /// More directives inside the `server` block, e.g. an access log:
    /// `access_log /tmp/x/access.log;`.
    pub fn server_config(mut self, directives: impl Into<String>) -> NginxBuilder {
        self.server_config = directives.into();
        self
    }

    /// Writes the files and starts nginx; it runs (daemonized) until the [`Nginx`] is dropped.
    ///
    /// # Panics
    ///
    /// As [`NginxBuilder::try_start`] fails, with its message.
    pub fn start(self) -> Nginx {
        self.try_start().unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`NginxBuilder::start`], with the failure as an error: a file that cannot be written,
    /// nginx that cannot be run or exits non-zero (the message points at its error log).
    pub fn try_start(self) -> std::io::Result<Nginx> {
        let dir = match self.dir {
            Some(path) => Dir::Given(path),
            None => Dir::Own(tempfile::tempdir()?),
        };
        let mut nginx = Nginx {
            dir,
            port: self.port.unwrap_or_else(net::free_port),
            started: false,
        };
        let d = nginx.dir().display().to_string();
        let write = |path: PathBuf, text: String| {
            std::fs::write(&path, text).map_err(|e| {
                std::io::Error::new(e.kind(), format!("writing {}: {e}", path.display()))
            })
        };
        write(
            nginx.upstream_file(),
            format!(
                "upstream {} {{\n    {}\n}}\n",
                self.upstream, self.upstream_body
            ),
        )?;
        let mut server = format!(
            "    listen 127.0.0.1:{};\n    location / {{ proxy_pass http://{}; }}\n",
            nginx.port, self.upstream
        );
        if !self.server_config.is_empty() {
            let _ = writeln!(server, "    {}", self.server_config.trim_end());
        }
        write(
            nginx.conf(),
            format!(
                "worker_processes {workers};\npid {pid};\nevents {{ worker_connections 512; }}\nhttp {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  include {upstream};\n  server {{\n{server}  }}\n}}\n",
                workers = self.worker_processes,
                pid = nginx.pid_file().display(),
                upstream = nginx.upstream_file().display(),
            ),
        )?;
        // nginx daemonizes: the command returns once the master runs and listens.
        let status = Command::new("nginx")
            .args(nginx.args())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot run nginx: {e}")))?;
        if !status.success() {
            return Err(std::io::Error::other(format!(
                "nginx did not start ({status}); see {}",
                nginx.error_log().display()
            )));
        }
        nginx.started = true;
        Ok(nginx)
    }
}

/// A running nginx on 127.0.0.1 proxying `/` to one upstream, stopped (`nginx … -s stop`, then
/// waiting up to 5 s for its pid file to go) when dropped.
#[derive(Debug)]
pub struct Nginx {
    dir: Dir,
    port: u16,
    /// Whether there is a master to stop on drop.
    started: bool,
}

impl Nginx {
    /// Whether `nginx` runs here, after skipping (or failing, under `OPS_REQUIRE_TOOLS=1`) as
    /// [`tools::available`] does when it does not.
    pub fn available(test: &str) -> bool {
        tools::available(test, "nginx", tools::runs("nginx", &["-v"]))
    }

    /// An nginx proxying to the upstream named `upstream` (the service: ops-deploy writes
    /// `upstream <service> { … }`). Defaults: a free port, a temporary directory, 2 workers,
    /// the upstream at 127.0.0.1:9.
    pub fn builder(upstream: impl Into<String>) -> NginxBuilder {
        NginxBuilder {
            upstream: upstream.into(),
            upstream_body: "server 127.0.0.1:9;".to_owned(),
            port: None,
            dir: None,
            worker_processes: 2,
            server_config: String::new(),
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:port`: where clients reach the releases.
    pub fn addr(&self) -> SocketAddr {
        net::local(self.port)
    }

    /// Its directory (prefix).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Its configuration file, `<dir>/nginx.conf`.
    pub fn conf(&self) -> PathBuf {
        self.dir().join("nginx.conf")
    }

    /// The upstream file its configuration includes, `<dir>/upstream.conf`.
    pub fn upstream_file(&self) -> PathBuf {
        self.dir().join("upstream.conf")
    }

    /// Its master's pid file, `<dir>/nginx.pid`.
    pub fn pid_file(&self) -> PathBuf {
        self.dir().join("nginx.pid")
    }

    /// Its error log, `<dir>/error.log`.
    pub fn error_log(&self) -> PathBuf {
        self.dir().join("error.log")
    }

    /// `-p <dir>/ -c <dir>/nginx.conf -e <dir>/error.log`: the flags of every nginx command for
    /// this one.
    pub fn args(&self) -> Vec<String> {
        vec![
            "-p".into(),
            format!("{}/", self.dir().display()),
            "-c".into(),
            self.conf().display().to_string(),
            "-e".into(),
            self.error_log().display().to_string(),
        ]
    }

    /// `nginx -t -q <args>`: checks its configuration.
    pub fn test_command(&self) -> Vec<String> {
        let mut command = vec!["nginx".to_owned(), "-t".to_owned(), "-q".to_owned()];
        command.extend(self.args());
        command
    }

    /// `nginx <args> -s reload`: a graceful reload.
    pub fn reload_command(&self) -> Vec<String> {
        let mut command = vec!["nginx".to_owned()];
        command.extend(self.args());
        command.extend(["-s".to_owned(), "reload".to_owned()]);
        command
    }

    /// The `[proxy]` section of an ops-deploy config for this nginx: `upstream_file`,
    /// `test_command`, `reload_command`, `public` and `pid_file`, one line each, as TOML.
    pub fn proxy_config(&self) -> String {
        format!(
            "[proxy]\nupstream_file = {}\ntest_command = {}\nreload_command = {}\npublic = \"{}\"\npid_file = {}\n",
            toml_string(&self.upstream_file().display().to_string()),
            toml_array(&self.test_command()),
            toml_array(&self.reload_command()),
            self.addr(),
            toml_string(&self.pid_file().display().to_string()),
        )
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if !self.started {
            return;
        }
        let _ = Command::new("nginx")
            .args(self.args())
            .args(["-s", "stop"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        // `-s stop` only signals the master: wait until it has exited (it removes its pid
        // file), so what follows does not share the machine with it.
        let pid_file = self.pid_file();
        let deadline = Instant::now() + Duration::from_secs(5);
        while pid_file.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// `text` as a TOML basic string: `"a \"b\" c"`.
pub fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `items` as a TOML array of strings: `["nginx", "-t"]`.
pub fn toml_array(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|i| toml_string(i)).collect();
    format!("[{}]", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health_server::{self, Options};
    use crate::net::http;

    #[test]
    fn toml_quoting() {
        assert_eq!(
            toml_string("a \"b\" \\ c\n"),
            "\"a \\\"b\\\" \\\\ c\\u000A\""
        );
        assert_eq!(
            toml_array(&["x".to_owned(), "y z".to_owned()]),
            "[\"x\", \"y z\"]"
        );
        assert_eq!(toml_array(&[]), "[]");
    }

    #[test]
    fn nginx_proxies_to_the_upstream_and_stops_on_drop() {
        if !Nginx::available("nginx_proxies_to_the_upstream_and_stops_on_drop") {
            return;
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let backend = listener.local_addr().unwrap().port();
        std::thread::spawn(move || health_server::serve(&listener, &Options::new("web-1")));
        let own = tempfile::tempdir().unwrap();
        let log = own.path().join("access.log");
        let nginx = Nginx::builder("web")
            .backend_port(backend)
            .dir(own.path())
            .worker_processes(1)
            .server_config(format!("access_log {};", log.display()))
            .start();
        assert_eq!(nginx.dir(), own.path());
        assert_eq!(
            http(nginx.addr(), "GET", "/", ""),
            Some((200, "web-1".into()))
        );
        let proxy = nginx.proxy_config();
        assert!(proxy.starts_with("[proxy]\nupstream_file = \""), "{proxy}");
        assert!(
            proxy.contains(&format!("public = \"127.0.0.1:{}\"\n", nginx.port())),
            "{proxy}"
        );
        assert!(tools::runs(
            "nginx",
            &nginx.test_command()[1..]
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
        ));
        // A reload picks up a rewritten upstream file.
        std::fs::write(
            nginx.upstream_file(),
            "upstream web { server 127.0.0.1:9; }\n",
        )
        .unwrap();
        let reload = nginx.reload_command();
        assert!(tools::runs(
            "nginx",
            &reload[1..].iter().map(String::as_str).collect::<Vec<_>>()
        ));
        net::wait_until(Duration::from_secs(10), "nginx to route to port 9", || {
            http(nginx.addr(), "GET", "/", "").filter(|(status, _)| *status == 502)
        });
        let access = std::fs::read_to_string(&log).unwrap();
        assert!(access.contains("\"GET / HTTP/1.0\" 200"), "{access}");
        let pid_file = nginx.pid_file();
        let addr = nginx.addr();
        drop(nginx);
        assert!(!pid_file.exists());
        assert_eq!(http(addr, "GET", "/", ""), None);
    }

    #[test]
    fn a_failed_start_says_where_to_look() {
        if !Nginx::available("a_failed_start_says_where_to_look") {
            return;
        }
        // The same port twice: the second cannot listen.
        let first = Nginx::builder("web").start();
        let err = Nginx::builder("web")
            .port(first.port())
            .try_start()
            .unwrap_err();
        assert!(
            err.to_string().starts_with("nginx did not start ("),
            "{err}"
        );
        assert!(err.to_string().ends_with("error.log"), "{err}");
    }
}
