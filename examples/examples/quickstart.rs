//! The front-page demo: a small real HTTP service — an axum router — with every ops-rs crate
//! doing its job on the embedded defaults, no outside server needed.
//!
//! - **ops-logging**, installed in three lines: JSON lines in `./logs` (`quickstart.log`,
//!   `access.log`, `error.log`, `audit.log`, each rotated at 10 MiB), human lines on stderr.
//!   Failures go through `log_error`, the admin action is an audit event.
//! - **ops-http**: one layer on the router records every request — duration by method, route
//!   template and status, requests in flight, requests the client abandoned — and writes its
//!   access-log line.
//! - **ops-registry**: the shop's business counters, `shop_checkout_visits_total` and
//!   `shop_orders_total`, on the same page.
//! - **ops-profiler**: handlers and inner functions carry `#[perf_monitor]` (async handlers,
//!   a sync inner function called hundreds of times per request, and one that returns `Err` on
//!   every third call); `GET /report` is the report as JSON.
//! - **ops-slo**: the playbook's two SLOs — 99.5 % of requests without a 5xx, 99 % within 2 s,
//!   over 30 days — with their error budgets, burn-rate alerts and a state file in the log
//!   directory (`ops slo status --state logs/slo-state.json`).
//! - **ops-thresholds**: a `Monitor` samples this machine every second (ops-metrics) and
//!   evaluates the playbook's rules (CPU > 80 %, memory > 85 %, each disk > 90 %), one on
//!   `/work/fail`'s error ratio over a window, and one in `PromQL` on the shop's checkout
//!   conversion — both fire during the demo; alerts go to the log and stdout, and to
//!   Alertmanager or a webhook when asked. `GET /metrics` is all of it as one promtool-clean
//!   page.
//!
//! Endpoints: `GET /health` (200 `{"status":"ok","version":..,"uptime_seconds":..}`, or 500
//! with `--fail-health`), `GET /metrics`, `GET /report`, `GET /work/slow` (20–45 ms of hashing),
//! `GET /work/fail` (500 on every third call), `GET /shop/checkout` (a checkout visit),
//! `POST /shop/orders` (an order placed), `POST /admin/flush` (flushes the log writer; an audit
//! event with the `X-Actor` header as actor). Anything else is a 404 (one `unmatched` route
//! label, whatever the path). `--fail-ratio F` answers 500 to the fraction F of all requests
//! but `/health` and `/metrics`: a release that passes its health check and fails real
//! traffic.
//!
//! ```text
//! cargo run --release -p ops-examples --example quickstart      # the demo, about 10 s
//! cargo run --release -p ops-examples --example quickstart -- --serve --bind 127.0.0.1:8080
//! quickstart --probe http://127.0.0.1:8080/health               # exit 0 on 2xx, else 1
//! ```
//!
//! The demo binds a free port on 127.0.0.1, sends its own traffic for 2–3 s, keeps sampling for
//! `--seconds` (10), then prints the profiler table, the requests per route, the alerts and
//! rule states, the log files with their line counts, the log writer's counters and a summary
//! of `/metrics`. `--serve` skips the traffic and serves until SIGINT/SIGTERM, then prints the
//! same report.
//!
//! Deploying it: `examples/docker/quickstart/Dockerfile` packs a static build into a
//! FROM-scratch image (`--serve --log-dir /logs`, binding `0.0.0.0:$PORT`; `--probe` is its
//! HEALTHCHECK, as the image has no curl), and `examples/ops-deploy.toml` deploys it with
//! `ops deploy --config examples/ops-deploy.toml --image quickstart:v1`. A `--fail-health`
//! build is the broken release the deploy rolls back.

#![allow(clippy::print_stdout, clippy::print_stderr, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::future::IntoFuture as _;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpStream, ToSocketAddrs as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ops_core::shutdown::Shutdown;
use ops_http::{HttpMetricsLayer, RequestUser};
use ops_logging::{LogGuard, Stream};
use ops_metrics::SystemMetrics;
use ops_profiler::perf_monitor;
use ops_registry::{Counter, Exposition as _, Registry};
use ops_thresholds::{
    AlertmanagerSink, Comparison, Metric, Monitor, MonitorReport, Rule, RuleSet, WebhookSink,
};
use serde_json::{Value, json};

const USAGE: &str = "\
usage: quickstart [--serve] [--bind ADDR] [--seconds N] [--log-dir DIR] [--fail-health]
                  [--fail-ratio F] [--alertmanager URL] [--webhook URL]
       quickstart --probe URL

  (no flag)           demo: serve on a free 127.0.0.1 port, send ~300 requests to it, keep
                      sampling until --seconds have passed, print the report, exit
  --serve             serve until SIGINT/SIGTERM (or --seconds N if given), then report
  --bind ADDR         listen address (default 127.0.0.1:8080 with --serve; 0.0.0.0:$PORT when
                      PORT is set and --bind is not)
  --seconds N         how long the demo runs (default 10)
  --log-dir DIR       where the JSON log files go (default logs)
  --fail-health       /health answers 500: the broken release of the deploy walk-through
  --fail-ratio F      answer 500 to the fraction F (0 to 1) of requests but /health and
                      /metrics: a release that passes its health check and fails real traffic
  --alertmanager URL  also send alerts to this Alertmanager (http://host:9093)
  --webhook URL       also post alerts to this JSON webhook (http only in this build)
  --probe URL         GET URL with a 2 s timeout; exit 0 on 2xx, else 1 (a HEALTHCHECK)
";

/// `/work/slow` hashes for `SLOW_MS.0 + (call × 7) % SLOW_MS.1` ms: 20 to 45.
const SLOW_MS: (u64, u64) = (20, 26);
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
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
    fail_ratio: f64,
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
        fail_ratio: 0.0,
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
            "--fail-ratio" => {
                let v = value()?;
                a.fail_ratio = v
                    .parse::<f64>()
                    .ok()
                    .filter(|r| (0.0..=1.0).contains(r))
                    .ok_or_else(|| format!("--fail-ratio {v}: a number from 0 to 1"))?;
            }
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

/// The shop's business counters (ops-registry), on the same page as everything else.
struct Shop {
    visits: Counter,
    orders: Counter,
}

impl Shop {
    fn register(registry: &Registry) -> Result<Shop, ops_registry::Error> {
        Ok(Shop {
            visits: registry.counter("shop_checkout_visits_total", "Checkout page views.")?,
            orders: registry.counter("shop_orders_total", "Orders placed.")?,
        })
    }
}

/// What the handlers share.
struct App {
    started: Instant,
    version: String,
    fail_health: bool,
    fail_ratio: f64,
    requests: AtomicU64,
    slow_calls: AtomicU64,
    fail_calls: AtomicU64,
    logs: LogGuard,
    shop: Shop,
    registry: Registry,
    /// System sampling, the rules, the sinks and the `/metrics` page (ops-thresholds).
    monitor: Monitor,
    /// SIGINT/SIGTERM, or the end of the demo: the server stops.
    stop: Shutdown,
}

type Shared = Arc<App>;

/// The playbook's rules (CPU > 80 %, memory > 85 %, each disk > 90 %), `/work/fail`'s error
/// ratio over the last 5 minutes (the profiler's counters), and the shop's checkout
/// conversion in `PromQL` over the registry's counters; both of the last two fire in the demo.
/// Alerts go to the log and stdout, and to Alertmanager or a webhook when asked. The page
/// gets the log writer's counters and the registry (the HTTP layer's series and the shop's).
fn monitor(args: &Args, logs: &LogGuard, registry: &Registry) -> anyhow::Result<Monitor> {
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
    rules.rules.push(
        Rule::promql(
            "LowCheckoutConversion",
            "sum(rate(shop_orders_total[5m])) / sum(rate(shop_checkout_visits_total[5m])) * 100 < 2",
        )?
        .summary("checkout conversion {{ value }}% is below 2%"),
    );
    // The playbook's two SLOs over the HTTP layer: 99.5 % of requests answered without a 5xx,
    // and 99 % within 2 s, over 30 days, with the SRE Workbook's burn-rate alerts. The budgets
    // survive restarts in <log dir>/slo-state.json: `ops slo status --state` shows them.
    let slos = ops_slo::SloEngine::builder(ops_slo::SloSet::playbook(
        "quickstart",
        ops_slo::DEFAULT_LATENCY_BOUND,
    ))
    .state_file(args.log_dir.join("slo-state.json"))
    .build()?;
    let mut builder = Monitor::builder()
        .rules(rules)
        .stdout(true)
        .section(logs.section())
        .section(registry.clone())
        .recording(slos);
    if let Some(url) = &args.alertmanager {
        builder = builder.sink(AlertmanagerSink::new(url));
    }
    if let Some(url) = &args.webhook {
        builder = builder.sink(WebhookSink::new(url.as_str()));
    }
    Ok(builder.start()?)
}

/// The routes, the failure injection of `--fail-ratio`, the HTTP layer (outermost but one:
/// it sees every request) and the actor for the access log.
fn router(app: &Shared) -> anyhow::Result<Router> {
    let routes = Router::new()
        .route("/health", get(handle_health))
        .route("/metrics", get(handle_metrics))
        .route("/report", get(handle_report))
        .route("/work/slow", get(handle_slow))
        .route("/work/fail", get(handle_fail))
        .route("/shop/checkout", get(handle_checkout))
        .route("/shop/orders", post(handle_order))
        .route("/admin/flush", post(handle_flush))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(Arc::clone(app), fail_some))
        .layer(HttpMetricsLayer::new(&app.registry)?)
        .layer(middleware::from_fn(actor))
        .with_state(Arc::clone(app));
    Ok(routes)
}

/// The `X-Actor` header as the request's user, for the access log's `user_id`.
async fn actor(mut request: Request, next: Next) -> Response {
    let user = request
        .headers()
        .get("x-actor")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(64).collect::<String>());
    if let Some(user) = user {
        request.extensions_mut().insert(RequestUser::new(user));
    }
    next.run(request).await
}

/// `--fail-ratio`: exactly the fraction F of requests (but `/health` and `/metrics`) answered
/// 500, spread evenly (request n fails when ⌊n·F⌋ steps up).
async fn fail_some(State(app): State<Shared>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if app.fail_ratio > 0.0 && path != "/health" && path != "/metrics" {
        let n = app.requests.fetch_add(1, Ordering::Relaxed);
        let steps = |k: u64| (k as f64 * app.fail_ratio).floor();
        if steps(n + 1) > steps(n) {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({"error": "injected failure (--fail-ratio)"})),
            )
                .into_response();
        }
    }
    next.run(request).await
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
    let registry = Registry::global().clone();
    let shop = Shop::register(&registry)?;
    let monitor = monitor(args, &logs, &registry)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(args.bind.as_str()))
        .with_context(|| format!("cannot listen on {}", args.bind))?;
    let addr = listener.local_addr()?;
    let app = Arc::new(App {
        started: Instant::now(),
        version,
        fail_health: args.fail_health,
        fail_ratio: args.fail_ratio,
        requests: AtomicU64::new(0),
        slow_calls: AtomicU64::new(0),
        fail_calls: AtomicU64::new(0),
        logs,
        shop,
        registry,
        monitor,
        stop,
    });
    let fail_health = args.fail_health;
    tracing::info!(%addr, version = %app.version, fail_health, fail_ratio = args.fail_ratio, "quickstart listening");
    let stopped = app.stop.clone();
    let server = runtime.spawn(
        axum::serve(listener, router(&app)?)
            .with_graceful_shutdown(async move {
                // The stop request is a blocking wait: wait for it on a blocking thread.
                let _ = tokio::task::spawn_blocking(move || stopped.wait()).await;
            })
            .into_future(),
    );

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

    // Shut down in order: no new requests (in-flight ones finish), then no new samples, then
    // deliver the alerts (the log sink writes lines), then flush the logs and report.
    app.stop.request();
    match runtime.block_on(server) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "the HTTP server failed"),
        Err(e) => tracing::error!(error = %e, "the HTTP server task failed"),
    }
    runtime.shutdown_timeout(Duration::from_secs(5));
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

/// Where a client reaches a server bound to `addr` (`0.0.0.0` → `127.0.0.1`).
fn loopback(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        return SocketAddr::from((Ipv4Addr::LOCALHOST, addr.port()));
    }
    addr
}

fn json_reply(status: StatusCode, body: &Value) -> Response {
    (status, Json(body.clone())).into_response()
}

// ---- Handlers: each one `#[perf_monitor]`ed, so the report has a line per endpoint ----

#[perf_monitor]
async fn handle_health(State(app): State<Shared>) -> Response {
    let (status, code) = if app.fail_health {
        ("failing", StatusCode::INTERNAL_SERVER_ERROR)
    } else {
        ("ok", StatusCode::OK)
    };
    let uptime = app.started.elapsed().as_secs();
    json_reply(
        code,
        &health_body(status, app.version.clone(), uptime).await,
    )
}

/// An `async fn` under `#[perf_monitor]`: timed from its first poll to its completion.
#[perf_monitor]
async fn health_body(status: &'static str, version: String, uptime_seconds: u64) -> Value {
    json!({"status": status, "version": version, "uptime_seconds": uptime_seconds})
}

#[perf_monitor]
async fn handle_metrics(State(app): State<Shared>) -> Response {
    let page = app.monitor.page();
    let mut response = page.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(ops_core::exposition::CONTENT_TYPE),
    );
    response
}

#[perf_monitor]
async fn handle_report() -> Response {
    match serde_json::to_value(ops_profiler::global().report()) {
        Ok(body) => json_reply(StatusCode::OK, &body),
        Err(e) => json_reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"error": e.to_string()}),
        ),
    }
}

/// CPU work on a blocking thread, so the async workers stay free.
#[perf_monitor]
async fn handle_slow(State(app): State<Shared>) -> Response {
    let call = app.slow_calls.fetch_add(1, Ordering::Relaxed);
    let budget_ms = SLOW_MS.0 + call * 7 % SLOW_MS.1; // 20–45 ms, so the percentiles spread
    let worked = tokio::task::spawn_blocking(move || burn_cpu(Duration::from_millis(budget_ms)));
    match worked.await {
        Ok((digest, blocks)) => json_reply(
            StatusCode::OK,
            &json!({"digest": format!("{digest:016x}"), "blocks": blocks, "budget_ms": budget_ms}),
        ),
        Err(e) => json_reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"error": e.to_string()}),
        ),
    }
}

/// A 500 is an error for the profiler, a 404 would not be (`error_if` on the whole response).
#[perf_monitor(error_if = |r| r.status().is_server_error())]
async fn handle_fail(State(app): State<Shared>) -> Response {
    let call = app.fail_calls.fetch_add(1, Ordering::Relaxed) + 1;
    match work_fail(call) {
        Ok(value) => json_reply(StatusCode::OK, &json!({"call": call, "value": value})),
        Err(e) => {
            // ERROR line in quickstart.log and error.log, with the error chain and the context.
            ops_logging::log_error(&e, &[("path", &"/work/fail"), ("call", &call)]);
            json_reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({"call": call, "error": e.to_string()}),
            )
        }
    }
}

/// A business event: a checkout page view.
#[perf_monitor]
async fn handle_checkout(State(app): State<Shared>) -> Response {
    app.shop.visits.inc();
    json_reply(StatusCode::OK, &json!({"step": "checkout"}))
}

/// A business event: an order placed.
#[perf_monitor]
async fn handle_order(State(app): State<Shared>) -> Response {
    app.shop.orders.inc();
    json_reply(
        StatusCode::CREATED,
        &json!({"order": app.shop.orders.get()}),
    )
}

/// The admin action: writes an audit event (target `audit`: `audit.log`, mode 0600, never
/// dropped), then waits (on a blocking thread) until every line logged so far is on disk.
#[perf_monitor]
async fn handle_flush(State(app): State<Shared>, request: Request) -> Response {
    let actor = request
        .extensions()
        .get::<RequestUser>()
        .map_or("anonymous", RequestUser::as_str)
        .to_owned();
    tracing::info!(target: "audit", actor, action = "flush_logs", "log writer flush requested");
    let flushed =
        tokio::task::spawn_blocking(move || app.logs.flush().map(|()| app.logs.stats().total()))
            .await;
    match flushed {
        Ok(Ok(t)) => json_reply(
            StatusCode::OK,
            &json!({"flushed": true, "lines_written": t.written, "lines_dropped": t.dropped}),
        ),
        Ok(Err(left)) => json_reply(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"flushed": false, "lines_left": left}),
        ),
        Err(e) => json_reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"error": e.to_string()}),
        ),
    }
}

async fn not_found(request: Request) -> Response {
    json_reply(
        StatusCode::NOT_FOUND,
        &json!({"error": "not found", "path": request.uri().path()}),
    )
}

// ---- Inner functions ----

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
    // without burying the report under error lines. Checkout visits three in ten, and one
    // order in all: a conversion the PromQL rule calls too low.
    const PLAN: [(&str, &str); 10] = [
        ("GET", "/health"),
        ("GET", "/work/slow"),
        ("GET", "/shop/checkout"),
        ("GET", "/report"),
        ("GET", "/work/fail"),
        ("GET", "/shop/checkout"),
        ("GET", "/metrics"),
        ("GET", "/health"),
        ("GET", "/shop/checkout"),
        ("GET", "/work/slow"),
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
                        let (method, path, actor) = match (i % 40, client, i) {
                            (39, _, _) => ("POST", "/admin/flush", Some("demo-operator")),
                            (19, _, _) => ("GET", "/no/such/page", None),
                            // One order for ~90 checkout visits.
                            (_, 0, 72) => ("POST", "/shop/orders", None),
                            _ => {
                                let (method, path) = PLAN[(i + client) % PLAN.len()];
                                (method, path, None)
                            }
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

    print_requests(&app.registry)?;

    print_alerts(&app.monitor, stopped);

    print_slos(&app.logs.dir().join("slo-state.json"))?;

    let dir = app.logs.dir();
    println!(
        "\n== 5. Log files in {} (appended across runs) ==",
        dir.display()
    );
    for (name, bytes, lines) in
        log_files(dir).with_context(|| format!("reading {}", dir.display()))?
    {
        println!("  {name:<20} {lines:>7} lines {bytes:>10} bytes");
    }

    println!("\n== 6. Log writer counters (this run) ==");
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
    println!("\n== 7. /metrics ==");
    println!(
        "  {} families, {series} series, {} bytes; {check}",
        families.len(),
        page.len()
    );
    Ok(())
}

/// The HTTP layer's figures per route, read back from the registry's page with `PromQL` (the
/// same queries a Grafana panel runs against Prometheus, here over ops-promql's store).
fn print_requests(registry: &Registry) -> anyhow::Result<()> {
    let mut store = ops_promql::Store::new(Duration::from_mins(10));
    let now = SystemTime::now();
    store.ingest(&registry.to_prometheus(), now);
    let query = |q: &str| -> anyhow::Result<BTreeMap<(String, String), f64>> {
        let value = ops_promql::Expr::parse(q)
            .with_context(|| format!("parsing {q}"))?
            .eval(&store, now)
            .with_context(|| format!("evaluating {q}"))?;
        Ok(value
            .into_samples()
            .into_iter()
            .map(|s| {
                let label = |k: &str| s.labels.get(k).unwrap_or("").to_owned();
                ((label("method"), label("route")), s.value)
            })
            .collect())
    };
    let by = "by (method, route)";
    let total = query(&format!(
        "sum {by} (http_server_request_duration_seconds_count)"
    ))?;
    let errors = query(&format!(
        "sum {by} (http_server_request_duration_seconds_count{{status=~\"5..\"}})"
    ))?;
    let quantile = |q: f64| {
        query(&format!(
            "histogram_quantile({q}, sum by (method, route, le) (http_server_request_duration_seconds_bucket))"
        ))
    };
    let (p50, p99) = (quantile(0.5)?, quantile(0.99)?);
    println!("\n== 2. Requests per route (ops-http's layer; p50/p99 from its histogram) ==");
    println!(
        "  {:<7} {:<16} {:>8} {:>6} {:>9} {:>9}",
        "METHOD", "ROUTE", "REQUESTS", "5XX", "P50 ms", "P99 ms"
    );
    for ((method, route), n) in &total {
        let key = (method.clone(), route.clone());
        let ms = |m: &BTreeMap<(String, String), f64>| {
            m.get(&key)
                .filter(|v| v.is_finite())
                .map_or_else(|| "-".to_owned(), |v| format!("{:.1}", v * 1e3))
        };
        println!(
            "  {method:<7} {route:<16} {n:>8} {:>6} {:>9} {:>9}",
            errors.get(&key).copied().unwrap_or(0.0),
            ms(&p50),
            ms(&p99)
        );
    }
    Ok(())
}

/// The SLOs' budgets as the monitor saved them when it stopped (`ops slo status --state` shows
/// the same, with the burn rates once a minute has passed).
fn print_slos(state: &Path) -> anyhow::Result<()> {
    let saved =
        ops_slo::StateFile::load(state).with_context(|| format!("reading {}", state.display()))?;
    println!(
        "\n== 4. SLOs (ops slo status --state {}) ==",
        state.display()
    );
    let Some(saved) = saved else {
        println!("  no state saved yet");
        return Ok(());
    };
    println!(
        "  {:<24} {:>9} {:>7} {:>9} {:>12}",
        "SLO", "OBJECTIVE", "EVENTS", "SLI", "BUDGET LEFT"
    );
    for s in ops_slo::status_of(&saved) {
        let b = &s.budget;
        println!(
            "  {:<24} {:>8.1}% {:>7} {:>9} {:>11.0}%{}",
            s.id,
            s.objective * 100.0,
            b.events,
            b.sli
                .map_or_else(|| "no data".to_owned(), |v| format!("{:.2}%", v * 100.0)),
            b.remaining_ratio * 100.0,
            if b.exhausted { " (spent)" } else { "" }
        );
    }
    Ok(())
}

fn print_alerts(monitor: &Monitor, stopped: &MonitorReport) {
    let rules = monitor.rules();
    println!(
        "\n== 3. Alerts: {} rules evaluated on {} samples ({} failed) ==",
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
        println!("  {:<22} {state}\n      {condition}", rule.name);
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
