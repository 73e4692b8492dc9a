//! The front-page demo: a small real HTTP service with every ops-rs crate doing its job on the
//! embedded defaults, no outside server needed.
//!
//! - **ops-logging**, installed in three lines: JSON lines in `./logs` (`quickstart.log`,
//!   `access.log`, `error.log`, `audit.log`, each rotated at 10 MiB), human lines on stderr.
//!   Every request goes through `log_request`, failures through `log_error`, the admin action
//!   is an audit event.
//! - **ops-profiler**: handlers and inner functions carry `#[perf_monitor]` (sync, `async`, and
//!   one that returns `Err` on every third call); `GET /report` is the report as JSON.
//! - **ops-metrics**: a `Sampler` takes a sample of this machine every second.
//! - **ops-thresholds**: each sample (with the profiler's report) goes through the default rules
//!   (CPU > 80 %, memory > 85 %, each disk > 90 %) plus one on `/work/fail`'s error ratio, which
//!   does fire; alerts go to the log and stdout, and to Alertmanager or a webhook when asked.
//! - `GET /metrics` is all of it as one promtool-clean Prometheus page.
//!
//! Endpoints: `GET /health` (200 `{"status":"ok","version":..,"uptime_seconds":..}`, or 500
//! with `--fail-health`), `GET /metrics`, `GET /report`, `GET /work/slow` (20–45 ms of hashing),
//! `GET /work/fail` (500 on every third call), `POST /admin/flush` (flushes the log writer; an
//! audit event with the `X-Actor` header as actor). Anything else is a logged 404.
//!
//! ```text
//! cargo run --release -p ops-examples --example quickstart      # the demo, about 10 s
//! cargo run --release -p ops-examples --example quickstart -- --serve --bind 127.0.0.1:8080
//! quickstart --probe http://127.0.0.1:8080/health               # exit 0 on 2xx, else 1
//! ```
//!
//! The demo binds a free port on 127.0.0.1, sends its own traffic for 2–3 s, keeps sampling for
//! `--seconds` (10), then prints the profiler table, the alerts and rule states, the log files
//! with their line counts, the log writer's counters and a summary of `/metrics`. `--serve`
//! skips the traffic and serves until SIGINT/SIGTERM, then prints the same report.
//!
//! Deploying it: `examples/docker/quickstart/Dockerfile` packs a static build into a
//! FROM-scratch image (`--serve --log-dir /logs`, binding `0.0.0.0:$PORT`; `--probe` is its
//! HEALTHCHECK, as the image has no curl), and `examples/ops-deploy.toml` deploys it with
//! `ops deploy --config examples/ops-deploy.toml --image quickstart:v1`. A `--fail-health`
//! build is the broken release the deploy rolls back.

#![allow(clippy::print_stdout, clippy::print_stderr, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpStream, ToSocketAddrs as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use ops_core::exposition::CONTENT_TYPE;
use ops_core::shutdown::Shutdown;
use ops_logging::{LogGuard, Stream};
use ops_metrics::SystemMetrics;
use ops_profiler::perf_monitor;
use ops_thresholds::{
    AlertmanagerSink, Comparison, Metric, Monitor, MonitorReport, Rule, RuleSet, WebhookSink,
};
use serde_json::json;

const USAGE: &str = "\
usage: quickstart [--serve] [--bind ADDR] [--seconds N] [--log-dir DIR] [--fail-health]
                  [--alertmanager URL] [--webhook URL]
       quickstart --probe URL

  (no flag)           demo: serve on a free 127.0.0.1 port, send ~300 requests to it, keep
                      sampling until --seconds have passed, print the report, exit
  --serve             serve until SIGINT/SIGTERM (or --seconds N if given), then report
  --bind ADDR         listen address (default 127.0.0.1:8080 with --serve; 0.0.0.0:$PORT when
                      PORT is set and --bind is not)
  --seconds N         how long the demo runs (default 10)
  --log-dir DIR       where the JSON log files go (default logs)
  --fail-health       /health answers 500: the broken release of the deploy walk-through
  --alertmanager URL  also send alerts to this Alertmanager (http://host:9093)
  --webhook URL       also post alerts to this JSON webhook (http only in this build)
  --probe URL         GET URL with a 2 s timeout; exit 0 on 2xx, else 1 (a HEALTHCHECK)
";

/// `/work/slow` hashes for `SLOW_MS.0 + (call × 7) % SLOW_MS.1` ms: 20 to 45.
const SLOW_MS: (u64, u64) = (20, 26);
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
const JSON: &str = "application/json";
const STREAMS: [Stream; 4] = [Stream::Main, Stream::Access, Stream::Error, Stream::Audit];

// ---- Command line ----

enum Command {
    Help,
    Probe(String),
    Run(Args),
}

struct Args {
    bind: String,
    seconds: Option<u64>,
    serve: bool,
    fail_health: bool,
    log_dir: PathBuf,
    alertmanager: Option<String>,
    webhook: Option<String>,
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Command, String> {
    let mut bind = None;
    let mut a = Args {
        bind: String::new(),
        seconds: None,
        serve: false,
        fail_health: false,
        log_dir: PathBuf::from("logs"),
        alertmanager: None,
        webhook: None,
    };
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--probe" => return Ok(Command::Probe(value()?)),
            "--bind" => bind = Some(value()?),
            "--seconds" => {
                let v = value()?;
                a.seconds = Some(v.parse().map_err(|e| format!("--seconds {v}: {e}"))?);
            }
            "--serve" => a.serve = true,
            "--fail-health" => a.fail_health = true,
            "--log-dir" => a.log_dir = PathBuf::from(value()?),
            "--alertmanager" => a.alertmanager = Some(value()?),
            "--webhook" => a.webhook = Some(value()?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    // --bind wins; then PORT (a container: listen on every interface); then the defaults.
    let port = std::env::var("PORT").ok().filter(|p| !p.trim().is_empty());
    a.bind = match (bind, port) {
        (Some(bind), _) => bind,
        (None, Some(port)) => {
            let port: u16 = port
                .trim()
                .parse()
                .map_err(|e| format!("PORT={port}: {e}"))?;
            format!("0.0.0.0:{port}")
        }
        (None, None) if a.serve => "127.0.0.1:8080".to_owned(),
        (None, None) => "127.0.0.1:0".to_owned(), // the demo: any free port
    };
    Ok(Command::Run(a))
}

fn main() -> ExitCode {
    let command = match parse_args(std::env::args().skip(1)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("quickstart: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Help => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Command::Probe(url) => probe(&url),
        Command::Run(args) => match run(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("quickstart: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

// ---- The service ----

/// What the handlers share.
struct App {
    started: Instant,
    version: String,
    fail_health: bool,
    slow_calls: AtomicU64,
    fail_calls: AtomicU64,
    logs: LogGuard,
    /// System sampling, the rules, the sinks and the `/metrics` page (ops-thresholds).
    monitor: Monitor,
    /// SIGINT/SIGTERM, or the end of the demo: the workers stop.
    stop: Shutdown,
}

/// The playbook's rules (CPU > 80 %, memory > 85 %, each disk > 90 %) plus one on
/// `/work/fail`'s error ratio through the profiler, which does fire in the demo; alerts go to
/// the log and stdout, and to Alertmanager or a webhook when asked. The log writer's counters
/// are a section of the monitor's page.
fn monitor(args: &Args, logs: &LogGuard) -> anyhow::Result<Monitor> {
    let mut rules = RuleSet::defaults();
    rules.rules.push(
        Rule::new(
            "HighErrorRatio",
            Metric::FunctionErrorRatio,
            Comparison::Greater,
            0.1,
        )
        .select("work_fail")
        .summary(
            "{{ labels.function }} fails too often: error ratio {{ value }} > {{ threshold }}",
        ),
    );
    let mut builder = Monitor::builder()
        .rules(rules)
        .stdout(true)
        .section(logs.section());
    if let Some(url) = &args.alertmanager {
        builder = builder.sink(AlertmanagerSink::new(url));
    }
    if let Some(url) = &args.webhook {
        builder = builder.sink(WebhookSink::new(url.as_str()));
    }
    Ok(builder.start()?)
}

/// An answer before it is sent.
struct Reply {
    status: u16,
    content_type: &'static str,
    body: String,
}

impl Reply {
    fn json(status: u16, body: &serde_json::Value) -> Reply {
        Reply {
            status,
            content_type: JSON,
            body: format!("{body}\n"),
        }
    }

    fn into_response(self) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
        let response = tiny_http::Response::from_string(self.body).with_status_code(self.status);
        let header =
            tiny_http::Header::from_bytes(&b"Content-Type"[..], self.content_type.as_bytes());
        if let Ok(header) = header {
            response.with_header(header)
        } else {
            response
        }
    }
}

fn run(args: &Args) -> anyhow::Result<()> {
    // As PID 1 in a container a process without handlers ignores SIGTERM; with them
    // `docker stop` stops it cleanly.
    let stop = Shutdown::on_signals().context("installing the signal handlers")?;
    let version = std::env::var("OPS_RELEASE")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_owned());

    // ops-logging: three lines. The guard owns the writer thread; dropping it writes every line.
    // The files get every line; the terminal only errors in the demo (its report is the
    // point), everything from INFO up when serving.
    let console = if args.serve {
        tracing::Level::INFO
    } else {
        tracing::Level::ERROR
    };
    let logs = ops_logging::Logging::builder("quickstart")
        .dir(&args.log_dir)
        .static_field("version", version.as_str())
        .console_level(console)
        .install()?;

    ops_profiler::calibrate(); // the TSC calibration now, not in the first request
    let monitor = monitor(args, &logs)?;
    let server = tiny_http::Server::http(args.bind.as_str())
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.bind))?;
    let server = Arc::new(server);
    let addr = server
        .server_addr()
        .to_ip()
        .context("not listening on an IP address")?;
    let app = Arc::new(App {
        started: Instant::now(),
        version,
        fail_health: args.fail_health,
        slow_calls: AtomicU64::new(0),
        fail_calls: AtomicU64::new(0),
        logs,
        monitor,
        stop,
    });
    let fail_health = args.fail_health;
    tracing::info!(%addr, version = %app.version, fail_health, "quickstart listening");
    let workers = start_workers(&server, &app)?;

    // The demo stops after --seconds (default 10); --serve only when --seconds is given.
    let seconds = if args.serve {
        args.seconds
    } else {
        Some(args.seconds.unwrap_or(10))
    };
    let deadline = seconds.and_then(|s| app.started.checked_add(Duration::from_secs(s)));
    let logs_in = args.log_dir.display();
    if args.serve {
        println!(
            "quickstart {}: listening on {addr} until SIGINT/SIGTERM, logs in {logs_in}",
            app.version
        );
    } else {
        let client = loopback(addr);
        println!(
            "quickstart {}: serving http://{client}, logs in {logs_in}",
            app.version
        );
        println!("sending ~300 requests to it, then sampling until --seconds have passed…");
        drive_traffic(client, &app.stop);
    }
    match deadline {
        Some(d) => {
            app.stop
                .wait_timeout(d.saturating_duration_since(Instant::now()));
        }
        None => app.stop.wait(),
    }

    // Shut down in order: no new requests, then no new samples, then deliver the alerts
    // (the log sink writes lines), then flush the logs and report.
    app.stop.request();
    join(workers);
    drop(server);
    let stopped = app.monitor.stop(Duration::from_secs(5));
    tracing::info!(
        samples = stopped.sampler.samples,
        failures = stopped.sampler.failures,
        late_sinks = stopped.late_sinks.len() as u64,
        "quickstart stopped"
    );
    if let Err(left) = app.logs.flush() {
        eprintln!("quickstart: {left} log lines not written yet");
    }
    print_report(&app, &stopped)?;
    drop(app); // the last reference: the guard stops the writer after the last line
    Ok(())
}

/// Three workers share the server: each takes the next request, so a slow one blocks none.
fn start_workers(
    server: &Arc<tiny_http::Server>,
    app: &Arc<App>,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let mut workers = Vec::new();
    for i in 0..3 {
        let (server, worker_app) = (Arc::clone(server), Arc::clone(app));
        match std::thread::Builder::new()
            .name(format!("http-{i}"))
            .spawn(move || serve(&server, &worker_app))
        {
            Ok(worker) => workers.push(worker),
            Err(e) => {
                app.stop.request();
                join(workers);
                return Err(e).context("starting a worker thread");
            }
        }
    }
    Ok(workers)
}

fn join(workers: Vec<JoinHandle<()>>) {
    for worker in workers {
        if worker.join().is_err() {
            tracing::error!("a worker panicked");
        }
    }
}

/// Where a client reaches a server bound to `addr` (`0.0.0.0` → `127.0.0.1`).
fn loopback(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        return SocketAddr::from((Ipv4Addr::LOCALHOST, addr.port()));
    }
    addr
}

/// A worker: answers requests until told to stop (checking every 100 ms).
fn serve(server: &tiny_http::Server, app: &App) {
    while !app.stop.is_requested() {
        match server.recv_timeout(Duration::from_millis(100)) {
            Ok(Some(request)) => answer(app, request),
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, "the HTTP listener failed");
                return;
            }
        }
    }
}

fn answer(app: &App, request: tiny_http::Request) {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let url = request.url();
    let path = url.split_once('?').map_or(url, |(p, _)| p).to_owned();
    let actor = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("X-Actor"))
        .map(|h| h.value.as_str().chars().take(64).collect::<String>());
    let reply = route(app, &method, &path, actor.as_deref());
    let status = reply.status;
    if let Err(e) = request.respond(reply.into_response()) {
        tracing::debug!(error = %e, "the client left before the answer was sent");
    }
    let ms = started.elapsed().as_secs_f64() * 1e3;
    ops_logging::log_request(&method, &path, status, ms, actor.as_deref());
}

fn route(app: &App, method: &str, path: &str, actor: Option<&str>) -> Reply {
    match (method, path) {
        ("GET", "/health") => handle_health(app),
        ("GET", "/metrics") => handle_metrics(app),
        ("GET", "/report") => handle_report(),
        ("GET", "/work/slow") => handle_slow(app),
        ("GET", "/work/fail") => handle_fail(app),
        ("POST", "/admin/flush") => handle_flush(app, actor.unwrap_or("anonymous")),
        (_, "/health" | "/metrics" | "/report" | "/work/slow" | "/work/fail" | "/admin/flush") => {
            Reply::json(
                405,
                &json!({"error": "method not allowed", "method": method}),
            )
        }
        _ => Reply::json(404, &json!({"error": "not found", "path": path})),
    }
}

// ---- Handlers: each one `#[perf_monitor]`ed, so the report has a line per endpoint ----

#[perf_monitor]
fn handle_health(app: &App) -> Reply {
    let (status, code) = if app.fail_health {
        ("failing", 500)
    } else {
        ("ok", 200)
    };
    let uptime = app.started.elapsed().as_secs();
    let body = block_on(health_body(status, app.version.clone(), uptime));
    Reply::json(code, &body)
}

/// An `async fn` under `#[perf_monitor]`: timed from its first poll to its completion.
#[perf_monitor]
async fn health_body(
    status: &'static str,
    version: String,
    uptime_seconds: u64,
) -> serde_json::Value {
    json!({"status": status, "version": version, "uptime_seconds": uptime_seconds})
}

/// Drives a future on this thread without a runtime: polls it with a waker that does nothing,
/// yielding between polls. Correct for any future (polling again without a wake-up is allowed)
/// and free for this one, which never waits; a service with real async I/O uses a runtime.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::yield_now();
    }
}

#[perf_monitor]
fn handle_metrics(app: &App) -> Reply {
    Reply {
        status: 200,
        content_type: CONTENT_TYPE,
        body: app.monitor.page(),
    }
}

#[perf_monitor]
fn handle_report() -> Reply {
    match serde_json::to_string_pretty(&ops_profiler::global().report()) {
        Ok(body) => Reply {
            status: 200,
            content_type: JSON,
            body,
        },
        Err(e) => Reply::json(500, &json!({"error": e.to_string()})),
    }
}

#[perf_monitor]
fn handle_slow(app: &App) -> Reply {
    let call = app.slow_calls.fetch_add(1, Ordering::Relaxed);
    let budget_ms = SLOW_MS.0 + call * 7 % SLOW_MS.1; // 20–45 ms, so the percentiles spread
    let (digest, blocks) = burn_cpu(Duration::from_millis(budget_ms));
    Reply::json(
        200,
        &json!({"digest": format!("{digest:016x}"), "blocks": blocks, "budget_ms": budget_ms}),
    )
}

/// Real CPU work, no sleeping: FNV-1a over a 64 KiB block, chained, until the budget is spent
/// (a time budget, so a debug build is as slow per request as a release one, only hashes less).
fn burn_cpu(budget: Duration) -> (u64, u64) {
    let started = Instant::now();
    let block: Vec<u8> = (0..64 * 1024).map(|i: u32| (i % 251) as u8).collect();
    let (mut digest, mut blocks) = (0xcbf2_9ce4_8422_2325_u64, 0u64);
    while started.elapsed() < budget {
        digest = hash_block(digest, &block);
        blocks += 1;
    }
    (digest, blocks)
}

/// An inner function: hundreds of calls per `/work/slow` request, 26 ns of profiling each.
#[perf_monitor]
fn hash_block(seed: u64, block: &[u8]) -> u64 {
    block.iter().fold(seed, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

#[perf_monitor]
fn handle_fail(app: &App) -> Reply {
    let call = app.fail_calls.fetch_add(1, Ordering::Relaxed) + 1;
    match work_fail(call) {
        Ok(value) => Reply::json(200, &json!({"call": call, "value": value})),
        Err(e) => {
            // ERROR line in quickstart.log and error.log, with the error chain and the context.
            ops_logging::log_error(&e, &[("path", &"/work/fail"), ("call", &call)]);
            Reply::json(500, &json!({"call": call, "error": e.to_string()}))
        }
    }
}

/// Fails on every third call: an `Err` the profiler counts as an error (and logs at WARN).
#[perf_monitor]
fn work_fail(call: u64) -> Result<u64, WorkError> {
    if call.is_multiple_of(3) {
        return Err(WorkError {
            call,
            source: std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the inventory service did not answer (simulated)",
            ),
        });
    }
    Ok(call * 2)
}

#[derive(Debug)]
struct WorkError {
    call: u64,
    source: std::io::Error,
}

impl std::fmt::Display for WorkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "work call {} failed", self.call)
    }
}

impl std::error::Error for WorkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// The admin action: writes an audit event (target `audit`: `audit.log`, mode 0600, never
/// dropped), then waits until every line logged so far is on disk.
#[perf_monitor]
fn handle_flush(app: &App, actor: &str) -> Reply {
    tracing::info!(target: "audit", actor, action = "flush_logs", "log writer flush requested");
    match app.logs.flush() {
        Ok(()) => {
            let t = app.logs.stats().total();
            let body =
                json!({"flushed": true, "lines_written": t.written, "lines_dropped": t.dropped});
            Reply::json(200, &body)
        }
        Err(left) => Reply::json(503, &json!({"flushed": false, "lines_left": left})),
    }
}

// ---- The demo's own traffic, and `--probe`: HTTP/1.0 over a std TcpStream ----

/// One request; the answer's status and body. HTTP/1.0, so the server closes after answering.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    actor: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let deadline = Instant::now() + PROBE_TIMEOUT;
    let mut stream = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT)?;
    stream.set_write_timeout(Some(PROBE_TIMEOUT))?;
    let actor = actor.map_or_else(String::new, |a| format!("X-Actor: {a}\r\n"));
    let head =
        format!("{method} {path} HTTP/1.0\r\nHost: {addr}\r\n{actor}Content-Length: 0\r\n\r\n");
    stream.write_all(head.as_bytes())?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 8 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || raw.len() > 8 << 20 {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut buf)? {
            0 => break,
            n => raw.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&raw);
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or(std::io::ErrorKind::InvalidData)?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    Ok((status, body))
}

/// Two clients, 150 requests each over ~2–3 s, across every endpoint (a 404 included).
fn drive_traffic(addr: SocketAddr, stop: &Shutdown) {
    // /work/fail one request in ten: a third of those fail, enough to fire the error-ratio rule
    // without burying the report under error lines.
    const PLAN: [&str; 10] = [
        "/health",
        "/work/slow",
        "/metrics",
        "/report",
        "/work/fail",
        "/health",
        "/work/slow",
        "/report",
        "/health",
        "/metrics",
    ];
    let started = Instant::now();
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let clients: Vec<_> = (0..2)
            .map(|client| {
                s.spawn(move || {
                    let mut seen = Vec::new();
                    for i in 0..150usize {
                        if stop.is_requested() {
                            break;
                        }
                        let (method, path, actor) = match i % 40 {
                            39 => ("POST", "/admin/flush", Some("demo-operator")),
                            19 => ("GET", "/no/such/page", None),
                            _ => ("GET", PLAN[(i + client) % PLAN.len()], None),
                        };
                        seen.push(http(addr, method, path, actor).map_or(0, |(status, _)| status));
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    seen
                })
            })
            .collect();
        clients
            .into_iter()
            .flat_map(|c| c.join().unwrap_or_default())
            .collect()
    });
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    for s in &statuses {
        *by_status.entry(*s).or_default() += 1;
    }
    println!(
        "sent {} requests in {:.1} s; answers by status (0: none): {by_status:?}",
        statuses.len(),
        started.elapsed().as_secs_f64()
    );
}

/// `--probe URL`: one GET, exit 0 on 2xx and 1 otherwise (Docker's HEALTHCHECK reserves 2).
/// Nothing else starts: no logging, no sampler, no server.
fn probe(url: &str) -> ExitCode {
    let result = parse_http_url(url).and_then(|(host, port, path)| {
        let addr = resolve(&host, port)?;
        http(addr, "GET", &path, None).map_err(|e| format!("{addr}: {e}"))
    });
    match result {
        Ok((status, _)) if (200..300).contains(&status) => {
            println!("healthy: HTTP {status}");
            ExitCode::SUCCESS
        }
        Ok((status, body)) => {
            println!("unhealthy: HTTP {status} {}", body.trim());
            ExitCode::from(1)
        }
        Err(e) => {
            println!("unhealthy: {e}");
            ExitCode::from(1)
        }
    }
}

/// `http://host[:port][/path]` → (host, port, path). IPv6 hosts in brackets.
fn parse_http_url(url: &str) -> Result<(String, u16, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// URLs can be probed"))?;
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !authority.ends_with(']') => {
            let port: u16 = port
                .parse()
                .map_err(|e| format!("{url}: port {port:?}: {e}"))?;
            (host, port)
        }
        _ => (authority, 80),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("{url}: no host"));
    }
    Ok((host.to_owned(), port, path.to_owned()))
}

/// An IP address is used as is (std parses it first: no resolver needed in a FROM-scratch
/// image); a name is resolved.
fn resolve(host: &str, port: u16) -> Result<SocketAddr, String> {
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} has no address"))
}

// ---- The report printed at the end ----

fn print_report(app: &App, stopped: &MonitorReport) -> anyhow::Result<()> {
    println!(
        "\n== 1. Profiler: #[perf_monitor] figures (clock: {}) ==",
        ops_profiler::clock_name()
    );
    print!("{}", ops_profiler::global().report());

    print_alerts(&app.monitor, stopped);

    let dir = app.logs.dir();
    println!(
        "\n== 3. Log files in {} (appended across runs) ==",
        dir.display()
    );
    for (name, bytes, lines) in
        log_files(dir).with_context(|| format!("reading {}", dir.display()))?
    {
        println!("  {name:<20} {lines:>7} lines {bytes:>10} bytes");
    }

    println!("\n== 4. Log writer counters (this run) ==");
    println!(
        "  {:<8} {:>9} {:>9} {:>8} {:>6} {:>13} {:>10}",
        "STREAM", "ACCEPTED", "WRITTEN", "DROPPED", "LOST", "WRITE ERRORS", "ROTATIONS"
    );
    let stats = app.logs.stats();
    let rows = STREAMS.into_iter().map(|s| (s.name(), stats.stream(s)));
    for (name, s) in rows.chain([("total", stats.total())]) {
        println!(
            "  {name:<8} {:>9} {:>9} {:>8} {:>6} {:>13} {:>10}",
            s.accepted, s.written, s.dropped, s.lost, s.write_errors, s.rotations
        );
    }

    let page = app.monitor.page();
    let mut families = BTreeSet::new();
    let mut repeated = Vec::new();
    for line in page.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
        let name = line.split_whitespace().next().unwrap_or(line);
        if !families.insert(name) {
            repeated.push(name);
        }
    }
    let series = page
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count();
    let check = if repeated.is_empty() {
        "no family twice".to_owned()
    } else {
        format!("REPEATED FAMILIES: {}", repeated.join(", "))
    };
    println!("\n== 5. /metrics ==");
    println!(
        "  {} families, {series} series, {} bytes; {check}",
        families.len(),
        page.len()
    );
    Ok(())
}

fn print_alerts(monitor: &Monitor, stopped: &MonitorReport) {
    let rules = monitor.rules();
    println!(
        "\n== 2. Alerts: {} rules evaluated on {} samples ({} failed) ==",
        rules.len(),
        stopped.sampler.samples,
        stopped.sampler.failures
    );
    let raised = monitor.recent();
    if raised.is_empty() {
        println!("no alert fired");
    }
    for n in &raised {
        let what = if n.resolved { "RESOLVED" } else { "FIRING" };
        println!("  {what} {}: {}", n.alertname, n.message());
    }
    println!("rule states at the end:");
    let statuses = monitor.statuses();
    let last = monitor.last_sample();
    for rule in &rules {
        let condition = rule.describe();
        let active: Vec<String> = statuses
            .iter()
            .filter(|status| status.alertname == rule.name)
            .map(|status| {
                let instance = status
                    .instance
                    .as_ref()
                    .map_or_else(String::new, |(key, value)| format!("{{{key}=\"{value}\"}}"));
                format!("{}{instance} at {:.3}", status.state.name(), status.value)
            })
            .collect();
        let state = if active.is_empty() {
            format!("inactive{}", current_value(rule, last.as_ref()))
        } else {
            active.join(", ")
        };
        println!("  {:<16} {condition:<28} {state}", rule.name);
    }
    for sink in &stopped.sinks {
        println!(
            "  sink {:<12} {} delivered, {} failed, {} retries, {} dropped",
            sink.name, sink.delivered, sink.failed, sink.retries, sink.dropped
        );
    }
}

/// The rule's metric now, for an inactive rule (the fullest mount for `disk`).
fn current_value(rule: &Rule, sample: Option<&SystemMetrics>) -> String {
    let value = sample.and_then(|m| match rule.metric()? {
        Metric::Cpu => m.cpu_percent,
        Metric::Memory => Some(m.memory_percent),
        Metric::Disk => m.disk_usage.values().copied().reduce(f64::max),
        _ => None,
    });
    value.map_or_else(String::new, |v| format!(" (now {v:.1})"))
}

/// Every file of the log directory: name, bytes, lines.
fn log_files(dir: &Path) -> std::io::Result<Vec<(String, u64, usize)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if !entry.file_type()?.is_file() {
            continue;
        }
        let bytes = entry.metadata()?.len();
        let lines = BufReader::new(File::open(entry.path())?)
            .split(b'\n')
            .count();
        files.push((
            entry.file_name().to_string_lossy().into_owned(),
            bytes,
            lines,
        ));
    }
    files.sort();
    Ok(files)
}
