//! The same bad release under the same load, once per strategy: what clients see before the
//! deploy recovers by itself. The release is the quickstart example with `--fail-ratio 0.2`:
//! it passes `/health` and fails a fifth of the real requests. Each run: a fresh nginx
//! (2 workers) on 127.0.0.1 in front of the quickstart (process runtime), a good release
//! deployed first, then 4 client threads on `GET /shop/checkout` through nginx for a fixed
//! observation period, during which the bad release is deployed with stop-start, blue-green,
//! blue-green + `verify`, and canary (10, 25, 50, 100 %). Failed requests are counted by the
//! clients over the whole observation period; the time to recover runs from the bad release's
//! first traffic (stop-start: its start; blue-green: the switch; canary: the first split) to
//! all traffic back on the good release (the switch back done), from the deploy's own
//! transitions.
//!
//! Stop-start and blue-green gate on `/health` only: a release that passes it is kept, so they
//! never recover by themselves — their failures are those of the whole observation period.
//!
//! Needs `nginx` on `PATH`; builds the static quickstart (`target/static`) on first use.
//!
//! `cargo run --release -p ops-benches --bin canary-compare -- [--seconds 20] [--interval 2s] [--json]`

#![allow(clippy::print_stdout, clippy::print_stderr, missing_docs)]

use std::error::Error;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use ops_deploy::{DeployConfig, DeployOutcome, Deployer, Event, Runtime as _, State};
use ops_testkit::load::{Load, LoadReport};
use ops_testkit::net::free_ports;
use ops_testkit::nginx::{Nginx, toml_string};

type BoxResult<T> = Result<T, Box<dyn Error>>;

const USAGE: &str = "usage: canary-compare [--seconds 20] [--interval 2s] [--json]";

const SERVICE: &str = "shop";

/// The path the clients get: 200, or 500 for a fifth of them from the bad release.
const PATH: &str = "/shop/checkout";

struct Options {
    seconds: u64,
    interval: Duration,
    json: bool,
}

fn parse_args() -> Result<Option<Options>, String> {
    let mut options = Options {
        seconds: 20,
        interval: Duration::from_secs(2),
        json: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                options.seconds = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|s| *s >= 5)
                    .ok_or_else(|| format!("--seconds needs a number of at least 5\n{USAGE}"))?;
            }
            "--interval" => {
                options.interval = args
                    .next()
                    .and_then(|v| ops_core::duration::parse(&v).ok())
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| format!("--interval needs a duration (2s)\n{USAGE}"))?;
            }
            "--json" => options.json = true,
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(Some(options))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    StopStart,
    BlueGreen,
    Verify,
    Canary,
}

impl Run {
    const ALL: [Run; 4] = [Run::StopStart, Run::BlueGreen, Run::Verify, Run::Canary];

    fn name(self) -> &'static str {
        match self {
            Run::StopStart => "stop-start",
            Run::BlueGreen => "blue-green",
            Run::Verify => "blue-green + verify",
            Run::Canary => "canary",
        }
    }

    /// The config lines of the strategy.
    fn config(self, options: &Options, seconds: u64) -> String {
        let analysis = format!(
            "[analysis]\ninterval = \"{}\"\nmin_requests = 20\ninconclusive_limit = 10\n",
            ops_core::duration::format(options.interval)
        );
        match self {
            Run::StopStart => "strategy = \"stop-start\"\n".into(),
            Run::BlueGreen => "strategy = \"blue-green\"\n".into(),
            // Verified for the whole observation period.
            Run::Verify => {
                format!("strategy = \"blue-green\"\nverify = \"{seconds}s\"\n{analysis}")
            }
            Run::Canary => {
                format!("strategy = \"canary\"\n[canary]\nsteps = [10, 25, 50, 100]\n{analysis}")
            }
        }
    }
}

struct Row {
    run: Run,
    report: LoadReport,
    outcome: String,
    /// From the bad release's first traffic to all traffic back on the good one.
    recovered: Option<Duration>,
    /// The first traffic change's reload (the switch or the first split), for the claim.
    reload: Option<Duration>,
    detail: String,
}

/// Stops the releases of one run when dropped.
struct Releases(DeployConfig);

impl Drop for Releases {
    fn drop(&mut self) {
        let runtime = self.0.runtime();
        let d = Deployer::new(self.0.clone(), self.0.runtime());
        if let Some(current) = d.current() {
            let _ = runtime.stop(&current, Duration::from_secs(2));
        }
        if let Ok(h) = d.history() {
            for r in &h.releases {
                for port in [Some(self.0.port), self.0.alt_port].into_iter().flatten() {
                    if let Some(i) = runtime.find(&r.id, port) {
                        let _ = runtime.stop(&i, Duration::from_secs(2));
                    }
                }
            }
        }
    }
}

fn artifact(bin: &Path, logs: &Path, fail_ratio: f64) -> String {
    format!(
        "exec '{}' --serve --fail-ratio {fail_ratio} --log-dir '{}'/\"$OPS_RELEASE\"",
        bin.display(),
        logs.display()
    )
}

fn measure(run: Run, bin: &Path, options: &Options) -> BoxResult<Row> {
    let dir = tempfile::tempdir()?;
    let [nginx_port, port, alt_port] = free_ports::<3>();
    let nginx = Nginx::builder(SERVICE)
        .port(nginx_port)
        .backend_port(port)
        .dir(dir.path())
        .try_start()?;
    let config_path = dir.path().join("deploy.toml");
    let strategy = run.config(options, options.seconds);
    // Top-level keys first, then the tables.
    std::fs::write(
        &config_path,
        format!(
            "service = \"{SERVICE}\"\nstate_dir = {}\nruntime = \"process\"\nport = {port}\nalt_port = {alt_port}\nstop_grace = \"2s\"\ndrain = \"1s\"\n{}\n[health]\ninterval = \"100ms\"\ntimeout = \"1s\"\nretries = 50\n\n{}{}",
            toml_string(&dir.path().join("state").display().to_string()),
            top_part(&strategy),
            nginx.proxy_config(),
            table_part(&strategy),
        ),
    )?;
    let config = DeployConfig::load(&config_path)?;
    let _releases = Releases(config.clone());
    let d = Deployer::new(config.clone(), config.runtime());
    let logs = dir.path().join("logs");
    let first = d.deploy(&artifact(bin, &logs, 0.0), "canary-compare", None, |_| {})?;
    if !matches!(first, DeployOutcome::Healthy { .. }) {
        return Err(format!("{}: the good release did not deploy: {first:?}", run.name()).into());
    }

    let load = Load::builder(nginx.addr())
        .clients(4)
        .path(PATH)
        .pause(Duration::from_millis(1))
        .start();
    std::thread::sleep(Duration::from_millis(500));
    let observed = Instant::now();
    let mut live: Option<Instant> = None;
    let mut switching: Option<Instant> = None;
    let mut reload: Option<Duration> = None;
    let mut back: Option<Instant> = None;
    let outcome = d.deploy(&artifact(bin, &logs, 0.2), "canary-compare", None, |e| {
        // The switch back is done: the deploy says so before it stops the bad release.
        if let Event::Note { message, .. } = e
            && (message.starts_with("all the traffic is back on")
                || message.starts_with("switched back: "))
        {
            back = back.or(Some(Instant::now()));
        }
        if let Event::Transition { transition, .. } = e {
            let now = Instant::now();
            match (run, transition.to) {
                // Stop-start: the bad release serves from its start.
                (Run::StopStart, State::Starting) => live = live.or(Some(now)),
                (_, State::Switching) if switching.is_none() => switching = Some(now),
                // The first switch (or split) is done when the analysis (or the drain) starts.
                (
                    Run::BlueGreen | Run::Verify | Run::Canary,
                    State::Analysing | State::Draining,
                ) if live.is_none() => {
                    live = Some(now);
                    reload = switching.map(|s| now - s);
                }
                (_, State::RollingBack) => back = back.or(Some(now)),
                _ => {}
            }
        }
    })?;
    let left = Duration::from_secs(options.seconds).saturating_sub(observed.elapsed());
    std::thread::sleep(left);
    let report = load.finish();
    let recovered = match (live, back) {
        (Some(l), Some(b)) => Some(b - l),
        _ => None,
    };
    let detail = match &outcome {
        DeployOutcome::Healthy { .. } => "kept: it passes /health".to_owned(),
        other => other.reason().map(ToString::to_string).unwrap_or_default(),
    };
    Ok(Row {
        run,
        report,
        outcome: serde_json::to_value(&outcome)?["outcome"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
        recovered,
        reload,
        detail,
    })
}

/// The `strategy = …` / `verify = …` lines of a strategy's config.
fn top_part(config: &str) -> String {
    config
        .split("\n[")
        .next()
        .unwrap_or("")
        .trim_end()
        .to_owned()
}

/// Its tables (`[analysis]`, `[canary]`).
fn table_part(config: &str) -> String {
    config
        .find("\n[")
        .map_or_else(String::new, |i| format!("\n{}", &config[i + 1..]))
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn print_table(rows: &[Row], options: &Options) {
    println!("| strategy | requests | failed | failed % | recovered by itself after | outcome |");
    println!("|---|---:|---:|---:|---:|---|");
    for r in rows {
        let total = r.report.ok + r.report.failed();
        println!(
            "| {} | {} | {} | {:.2} | {} | {} |",
            r.run.name(),
            total,
            r.report.failed(),
            if total == 0 {
                0.0
            } else {
                r.report.failed() as f64 * 100.0 / total as f64
            },
            r.recovered
                .map_or_else(|| format!("not within {} s", options.seconds), secs),
            r.outcome
        );
    }
    println!();
    let by = |run: Run| rows.iter().find(|r| r.run == run);
    if let (Some(bg), Some(canary)) = (by(Run::BlueGreen), by(Run::Canary)) {
        let ratio = canary.report.failed() as f64 / bg.report.failed().max(1) as f64;
        println!(
            "canary / blue-green failed requests: {} / {} = {:.4} (goal: under 0.1)",
            canary.report.failed(),
            bg.report.failed(),
            ratio
        );
        if let (Some(rec), Some(reload)) = (canary.recovered, canary.reload) {
            println!(
                "canary recovered in {} (goal: under one analysis period, {}, plus a reload, {} here)",
                secs(rec),
                secs(options.interval),
                secs(reload)
            );
        }
    }
    println!();
    for r in rows {
        println!("- {}: {}", r.run.name(), r.detail);
    }
    println!();
    let cpus = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    println!(
        "Each run: a fresh nginx (2 workers) on 127.0.0.1 in front of the quickstart example (process runtime, static build); a good release first; 4 client threads on GET {PATH} through nginx (half keep-alive, half a connection per request, 1 ms between requests) for {} s, starting 0.5 s before the bad release (`--fail-ratio 0.2`: passes /health, fails a fifth of the requests) is deployed. Analysis: {} measurements, error ratio at most 1 %, at least 20 requests. Failed = non-2xx answers and requests without an answer, over the whole observation period. Recovered after = from the bad release's first traffic to all traffic back on the good release. {cpus} CPUs shared by the clients, nginx, the releases and the deployer.",
        options.seconds,
        ops_core::duration::format(options.interval)
    );
    println!();
    println!(
        "Reproduce: `cargo run --release -p ops-benches --bin canary-compare -- --seconds {} --interval {}`",
        options.seconds,
        ops_core::duration::format(options.interval)
    );
}

fn run(options: &Options) -> BoxResult<ExitCode> {
    if Command::new("nginx")
        .arg("-v")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        eprintln!("canary-compare: nginx not found on PATH (Debian: apt-get install nginx)");
        return Ok(ExitCode::FAILURE);
    }
    eprintln!("canary-compare: building the static quickstart (once)…");
    let bin = ops_testkit::build::quickstart();
    let mut rows = Vec::new();
    for run in Run::ALL {
        eprintln!(
            "{}: the bad release under {} s of load…",
            run.name(),
            options.seconds
        );
        rows.push(measure(run, &bin, options)?);
    }
    if options.json {
        let json: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "strategy": r.run.name(),
                    "requests": r.report.ok + r.report.failed(),
                    "failed": r.report.failed(),
                    "non_2xx": r.report.non_2xx,
                    "connection_errors": r.report.connection_errors,
                    "recovered_seconds": r.recovered.map(|d| d.as_secs_f64()),
                    "first_reload_seconds": r.reload.map(|d| d.as_secs_f64()),
                    "outcome": r.outcome,
                    "detail": r.detail,
                    "observed_seconds": options.seconds,
                    "interval_seconds": options.interval.as_secs_f64(),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print_table(&rows, options);
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(Some(o)) => o,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("canary-compare: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("canary-compare: {e}");
            ExitCode::FAILURE
        }
    }
}
