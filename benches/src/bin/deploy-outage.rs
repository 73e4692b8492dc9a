//! What clients see while releases are deployed: wrk sends load through nginx on 127.0.0.1 while
//! `ops-deploy` deploys the `health_server` example a few times back to back, for each strategy
//! (blue-green, stop-start) and each kind of client (keep-alive, a connection per request).
//! wrk's own counts are printed as they are, nothing subtracted.
//!
//! Needs `nginx` and `wrk` on `PATH` (Debian: `apt-get install nginx wrk`).
//!
//! `cargo build --release -p ops-deploy --example health_server && cargo run --release -p ops-benches --bin deploy-outage -- [--seconds 20] [--deploys 4] [--server PATH] [--json]`

#![allow(clippy::print_stdout, clippy::print_stderr, missing_docs)]

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use ops_deploy::{DeployConfig, DeployOutcome, Deployer, Runtime as _};
use ops_testkit::net::free_ports;
use ops_testkit::nginx::{Nginx, toml_string};

type BoxResult<T> = Result<T, Box<dyn Error>>;

/// The release server, built by `cargo build --release -p ops-deploy --example health_server`.
const DEFAULT_SERVER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../target/release/examples/health_server"
);

const USAGE: &str = "usage: deploy-outage [--seconds 20] [--deploys 4] [--server PATH] [--json]";

/// The service name: the upstream in nginx, the release ids (`web-1`, `web-2`, …).
const SERVICE: &str = "web";

/// The command line recorded with each deploy (the deploy lock's holder).
const COMMAND_LINE: &str = "deploy-outage";

const STRATEGIES: [&str; 2] = ["blue-green", "stop-start"];

struct Options {
    seconds: u64,
    deploys: u32,
    /// `--server` as given; `None`: [`DEFAULT_SERVER`].
    server: Option<String>,
    json: bool,
}

fn number<T: std::str::FromStr>(flag: &str, value: Option<&str>) -> Result<T, String> {
    value
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("{flag} needs a number\n{USAGE}"))
}

/// `Ok(None)`: `--help`.
fn parse_args() -> Result<Option<Options>, String> {
    let mut options = Options {
        seconds: 20,
        deploys: 4,
        server: None,
        json: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => options.seconds = number(&arg, args.next().as_deref())?,
            "--deploys" => options.deploys = number(&arg, args.next().as_deref())?,
            "--server" => {
                options.server = Some(
                    args.next()
                        .ok_or_else(|| format!("--server needs a path\n{USAGE}"))?,
                );
            }
            "--json" => options.json = true,
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if options.seconds == 0 || options.deploys == 0 {
        return Err(format!(
            "--seconds and --deploys must be at least 1\n{USAGE}"
        ));
    }
    Ok(Some(options))
}

/// How wrk's connections behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    /// wrk's default: HTTP/1.1 keep-alive, a connection reused for request after request.
    KeepAlive,
    /// `Connection: close`: a new connection per request.
    ConnectionClose,
}

impl Client {
    fn name(self) -> &'static str {
        match self {
            Client::KeepAlive => "keep-alive",
            Client::ConnectionClose => "connection-close",
        }
    }

    fn wrk_args(self, port: u16, seconds: u64) -> Vec<String> {
        let mut args = vec![
            "-t2".to_owned(),
            "-c8".to_owned(),
            format!("-d{seconds}s"),
            "--latency".to_owned(),
        ];
        if self == Client::ConnectionClose {
            args.push("-H".to_owned());
            args.push("Connection: close".to_owned());
        }
        args.push(format!("http://127.0.0.1:{port}/"));
        args
    }
}

/// `'text'` for `sh`.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// A command line for display, arguments with spaces quoted.
fn display_command(program: &str, args: &[String]) -> String {
    let mut line = program.to_owned();
    for arg in args {
        line.push(' ');
        if arg.contains(' ') || arg.contains('\'') {
            line.push_str(&shell_quote(arg));
        } else {
            line.push_str(arg);
        }
    }
    line
}

/// Whether `tool` can be run at all (`-v` may exit non-zero: wrk's does).
fn runnable(tool: &str) -> bool {
    Command::new(tool)
        .arg("-v")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// The first non-empty line `tool -v` prints, on stdout or stderr (`nginx -v` uses stderr).
fn version(tool: &str) -> String {
    let Ok(out) = Command::new(tool).arg("-v").stdin(Stdio::null()).output() else {
        return "unknown".to_owned();
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    stdout
        .lines()
        .chain(stderr.lines())
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("unknown")
        .to_owned()
}

/// Stops the releases of one run when dropped: the current one, and any a failed or
/// interrupted deploy left running.
struct Releases {
    config: DeployConfig,
}

impl Drop for Releases {
    fn drop(&mut self) {
        let runtime = self.config.runtime();
        let deployer = Deployer::new(self.config.clone(), self.config.runtime());
        let grace = self.config.stop_grace;
        if let Some(current) = deployer.current() {
            let _ = runtime.stop(&current, grace);
        }
        if let Ok(history) = deployer.history() {
            for release in &history.releases {
                let port = release.port.unwrap_or(self.config.port);
                if let Some(left) = runtime.find(&release.id, port) {
                    let _ = runtime.stop(&left, grace);
                }
            }
        }
    }
}

/// wrk running as a child process; killed if dropped before [`Wrk::finish`].
struct Wrk {
    child: Option<Child>,
}

impl Wrk {
    fn start(args: &[String]) -> BoxResult<Wrk> {
        let child = Command::new("wrk")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        Ok(Wrk { child: Some(child) })
    }

    /// Waits for wrk to exit; its stdout.
    fn finish(&mut self) -> BoxResult<String> {
        let child = self.child.take().ok_or("wrk was already waited for")?;
        let out = child.wait_with_output()?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            return Err(format!(
                "wrk failed ({}): {}\n{stdout}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )
            .into());
        }
        Ok(stdout)
    }
}

impl Drop for Wrk {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// What wrk printed.
#[derive(Debug, Default)]
struct WrkStats {
    /// Completed responses (`N requests in …`), whatever their status.
    requests: u64,
    /// `Non-2xx or 3xx responses` (wrk counts statuses above 399), among `requests`.
    non_2xx: u64,
    connect: u64,
    read: u64,
    write: u64,
    /// Responses slower than wrk's timeout (2 s), among `requests`.
    timeout: u64,
    /// As wrk prints them (`1.23ms`).
    p50: String,
    p99: String,
    requests_per_sec: f64,
}

fn parse_wrk(out: &str) -> BoxResult<WrkStats> {
    let mut stats = WrkStats::default();
    let mut requests: Option<u64> = None;
    for line in out.lines().map(str::trim) {
        if let Some((n, _)) = line.split_once(" requests in ") {
            requests = Some(n.trim().parse()?);
        } else if let Some(n) = line.strip_prefix("Non-2xx or 3xx responses:") {
            stats.non_2xx = n.trim().parse()?;
        } else if let Some(rest) = line.strip_prefix("Socket errors:") {
            // `connect 0, read 12, write 0, timeout 0`
            for part in rest.split(',') {
                let mut words = part.split_whitespace();
                let (Some(kind), Some(n)) = (words.next(), words.next()) else {
                    continue;
                };
                let n: u64 = n.parse()?;
                match kind {
                    "connect" => stats.connect = n,
                    "read" => stats.read = n,
                    "write" => stats.write = n,
                    "timeout" => stats.timeout = n,
                    _ => {}
                }
            }
        } else if let Some(v) = line.strip_prefix("50%") {
            v.trim().clone_into(&mut stats.p50);
        } else if let Some(v) = line.strip_prefix("99%") {
            v.trim().clone_into(&mut stats.p99);
        } else if let Some(v) = line.strip_prefix("Requests/sec:") {
            stats.requests_per_sec = v.trim().parse()?;
        }
    }
    stats.requests =
        requests.ok_or_else(|| format!("no \"N requests in\" line in wrk's output:\n{out}"))?;
    Ok(stats)
}

/// wrk's latency text (`250.00us`, `1.23ms`, `2.01s`, `1.05m`) in milliseconds.
fn millis(text: &str) -> Option<f64> {
    let (number, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 1e-3)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1e3)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60e3)
    } else if let Some(n) = text.strip_suffix('h') {
        (n, 3600e3)
    } else {
        return None;
    };
    number.trim().parse::<f64>().ok().map(|v| v * scale)
}

/// One run: a strategy, a client, wrk's numbers.
struct Row {
    strategy: &'static str,
    client: Client,
    deploys: u32,
    healthy: u32,
    stats: WrkStats,
    wrk_command: String,
    /// Deploys that did not end healthy, deploys that outlasted the load.
    problems: Vec<String>,
}

impl Row {
    fn socket_errors(&self) -> u64 {
        let s = &self.stats;
        s.connect + s.read + s.write + s.timeout
    }

    /// Non-2xx answers and every socket error (timeouts included).
    fn failures(&self) -> u64 {
        self.stats.non_2xx + self.socket_errors()
    }

    /// Completed responses plus requests lost to connect, read and write errors (wrk counts
    /// timeouts among the completed responses).
    fn attempts(&self) -> u64 {
        let s = &self.stats;
        s.requests + s.connect + s.read + s.write
    }

    fn failed_percent(&self) -> Option<f64> {
        let attempts = self.attempts();
        (attempts > 0).then(|| self.failures() as f64 * 100.0 / attempts as f64)
    }

    /// Never rounds a non-zero share to zero.
    fn failed_text(&self) -> String {
        match self.failed_percent() {
            None => "n/a".to_owned(),
            Some(_) if self.failures() == 0 => "0".to_owned(),
            Some(p) if p >= 1.0 => format!("{p:.2}"),
            Some(p) => {
                let decimals = ((-p.log10()).ceil() as usize + 1).min(12);
                format!("{p:.decimals$}")
            }
        }
    }

    fn deploys_text(&self) -> String {
        if self.healthy == self.deploys {
            self.deploys.to_string()
        } else {
            format!("{} ({} healthy)", self.deploys, self.healthy)
        }
    }
}

/// The deploy config of one run.
fn deploy_config(dir: &Path, strategy: &str, port: u16, alt_port: u16, nginx: &Nginx) -> String {
    format!(
        "service = \"{SERVICE}\"\nstate_dir = {state}\nruntime = \"process\"\nport = {port}\nalt_port = {alt_port}\nstrategy = \"{strategy}\"\nstop_grace = \"2s\"\ndrain = \"1s\"\n\n[health]\ninterval = \"100ms\"\ntimeout = \"1s\"\nretries = 50\n\n{proxy}",
        state = toml_string(&dir.join("state").display().to_string()),
        proxy = nginx.proxy_config(),
    )
}

/// One run: fresh directory, ports and nginx; a first release before the load; then wrk and
/// `options.deploys` deploys under it.
fn measure(
    strategy: &'static str,
    client: Client,
    artifact: &str,
    options: &Options,
) -> BoxResult<Row> {
    // Declared first, dropped last: the guards below still use it.
    let dir = tempfile::tempdir()?;
    let [nginx_port, port, alt_port] = free_ports::<3>();
    // nginx (2 workers) on its port with its files in `dir`, proxying to the upstream
    // [`SERVICE`], first on `port`; stopped (and waited for) when dropped.
    let nginx = Nginx::builder(SERVICE)
        .port(nginx_port)
        .backend_port(port)
        .dir(dir.path())
        .try_start()?;
    let config_path = dir.path().join("deploy.toml");
    std::fs::write(
        &config_path,
        deploy_config(dir.path(), strategy, port, alt_port, &nginx),
    )?;
    let config = DeployConfig::load(&config_path)?;
    let deployer = Deployer::new(config.clone(), config.runtime());
    let _releases = Releases {
        config: config.clone(),
    };

    let first = deployer.deploy(artifact, COMMAND_LINE, None, |_| {})?;
    if !matches!(first, DeployOutcome::Healthy { .. }) {
        return Err(format!(
            "{strategy}, {}: the first release (before the load) did not deploy: {first:?}",
            client.name()
        )
        .into());
    }

    let wrk_args = client.wrk_args(nginx_port, options.seconds);
    let wrk_command = display_command("wrk", &wrk_args);
    let load_started = Instant::now();
    let mut wrk = Wrk::start(&wrk_args)?;
    std::thread::sleep(Duration::from_secs(1));
    let mut healthy = 0;
    let mut problems = Vec::new();
    for n in 1..=options.deploys {
        match deployer.deploy(artifact, COMMAND_LINE, None, |_| {}) {
            Ok(DeployOutcome::Healthy { .. }) => healthy += 1,
            Ok(other) => problems.push(format!("deploy {n} did not end healthy: {other:?}")),
            Err(e) => {
                problems.push(format!("deploy {n} failed: {e}"));
                break;
            }
        }
    }
    let deploys_took = load_started.elapsed();
    if deploys_took >= Duration::from_secs(options.seconds) {
        problems.push(format!(
            "the deploys ended {:.1} s after the load started, after wrk's {} s: some ran without load (raise --seconds)",
            deploys_took.as_secs_f64(),
            options.seconds
        ));
    }
    let out = wrk.finish()?;
    let stats = parse_wrk(&out)?;
    Ok(Row {
        strategy,
        client,
        deploys: options.deploys,
        healthy,
        stats,
        wrk_command,
        problems,
    })
}

fn json_rows(rows: &[Row]) -> serde_json::Value {
    serde_json::Value::Array(
        rows.iter()
            .map(|r| {
                let s = &r.stats;
                serde_json::json!({
                    "strategy": r.strategy,
                    "client": r.client.name(),
                    "deploys": r.deploys,
                    "deploys_healthy": r.healthy,
                    "requests": s.requests,
                    "non_2xx": s.non_2xx,
                    "socket_errors": {
                        "connect": s.connect,
                        "read": s.read,
                        "write": s.write,
                        "timeout": s.timeout,
                    },
                    "failed_percent": r.failed_percent(),
                    "latency_p50": s.p50,
                    "latency_p99": s.p99,
                    "latency_p50_ms": millis(&s.p50),
                    "latency_p99_ms": millis(&s.p99),
                    "requests_per_sec": s.requests_per_sec,
                    "wrk_command": r.wrk_command,
                    "problems": r.problems,
                })
            })
            .collect(),
    )
}

fn print_table(rows: &[Row], options: &Options, nginx_version: &str, wrk_version: &str) {
    println!(
        "| strategy | client | deploys | requests | non-2xx | socket errors (connect/read/write/timeout) | failed % | p99 latency |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        let s = &row.stats;
        println!(
            "| {} | {} | {} | {} | {} | {}/{}/{}/{} | {} | {} |",
            row.strategy,
            row.client.name(),
            row.deploys_text(),
            s.requests,
            s.non_2xx,
            s.connect,
            s.read,
            s.write,
            s.timeout,
            row.failed_text(),
            s.p99
        );
    }
    println!();
    println!(
        "failed % = (non-2xx + connect + read + write + timeout errors) / (requests + connect + read + write errors); \
         wrk counts as requests only the responses it completed (non-2xx and those slower than its 2 s timeout included)."
    );
    println!();
    let server = options
        .server
        .as_deref()
        .map_or_else(String::new, |s| format!(" --server {}", shell_quote(s)));
    println!(
        "Reproduce: `cargo build --release -p ops-deploy --example health_server && cargo run --release -p ops-benches --bin deploy-outage -- --seconds {} --deploys {}{server}`",
        options.seconds, options.deploys
    );
    let cpus = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    println!(
        "Each run: fresh nginx (2 workers) on 127.0.0.1 in front of the `health_server` example (process runtime); a first release deployed before the load; \
         `wrk -t2 -c8 -d{}s --latency [-H 'Connection: close'] http://127.0.0.1:<nginx port>/`; {} deploys back to back starting 1 s into the load; \
         blue-green drains 1 s. {nginx_version}; {wrk_version}; {cpus} CPUs shared by wrk, nginx and the releases.",
        options.seconds, options.deploys
    );
    println!();
    println!(
        "Note: a blue-green switch is an nginx graceful reload, which closes the idle keep-alive connections its old workers hold. \
         A client that does not retry an idempotent request on a connection closed before any response (wrk does not; browsers and \
         most HTTP libraries do) can see read errors at each switch; a client opening a connection per request is not exposed to this. \
         Stop-start keeps nginx pointed at one port (no reload under load): requests arriving while no release listens on it get 502 \
         from nginx (non-2xx). The numbers above are wrk's, unadjusted."
    );
    for row in rows {
        for problem in &row.problems {
            println!("\n**{} / {}**: {problem}", row.strategy, row.client.name());
        }
    }
}

fn run(options: &Options) -> BoxResult<ExitCode> {
    let missing: Vec<&str> = ["nginx", "wrk"]
        .into_iter()
        .filter(|tool| !runnable(tool))
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "deploy-outage: not found on PATH: {} (Debian: apt-get install {})",
            missing.join(", "),
            missing.join(" ")
        );
        return Ok(ExitCode::FAILURE);
    }
    let server = PathBuf::from(options.server.as_deref().unwrap_or(DEFAULT_SERVER));
    if !server.is_file() {
        eprintln!(
            "deploy-outage: no release server at {}: build it with `cargo build --release -p ops-deploy --example health_server`",
            server.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    let server = server.canonicalize()?;
    let artifact = shell_quote(&server.display().to_string());
    let nginx_version = version("nginx");
    let wrk_version = version("wrk");

    let mut rows = Vec::new();
    for strategy in STRATEGIES {
        for client in [Client::KeepAlive, Client::ConnectionClose] {
            eprintln!(
                "{strategy}, {}: {} deploys under {} s of load…",
                client.name(),
                options.deploys,
                options.seconds
            );
            rows.push(measure(strategy, client, &artifact, options)?);
        }
    }
    if options.json {
        println!("{}", serde_json::to_string_pretty(&json_rows(&rows))?);
    } else {
        print_table(&rows, options, &nginx_version, &wrk_version);
    }
    Ok(if rows.iter().all(|r| r.problems.is_empty()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("deploy-outage: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("deploy-outage: {e}");
            ExitCode::FAILURE
        }
    }
}
