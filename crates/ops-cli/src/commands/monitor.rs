//! `ops monitor`: the playbook's `start_monitoring`, done right.

use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use ops_metrics::exposition::{CONTENT_TYPE, Encoder, MetricType};
use ops_metrics::{ProcSource, Sampler, SystemMetrics};
use ops_thresholds::{
    AlertSink, AlertStatus, AlertmanagerSink, Dispatcher, Evaluator, LogSink, Observation, RuleSet,
    SinkStats, StdoutSink, WebhookSink,
};

use crate::ExitStatus;
use crate::cli::MonitorArgs;

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn install_signal_handlers() {
    let handler: extern "C" fn(libc::c_int) = on_signal;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, handler as libc::sighandler_t);
        libc::signal(libc::SIGTERM, handler as libc::sighandler_t);
    }
}

/// What the HTTP endpoint shows.
#[derive(Default)]
struct State {
    last: Option<SystemMetrics>,
    alerts: Vec<AlertStatus>,
    sinks: Vec<SinkStats>,
    samples: u64,
    notifications: u64,
    replay_errors: u64,
}

type Shared = Arc<Mutex<State>>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, State> {
    s.lock().unwrap_or_else(PoisonError::into_inner)
}

fn metrics_page(state: &State) -> String {
    let mut out = match &state.last {
        Some(m) => ops_metrics::exposition::render(m),
        None => String::new(),
    };
    ops_thresholds::encode_alerts(&state.alerts, &state.sinks, &mut out);
    let mut e = Encoder::new(&mut out);
    e.single(
        "ops_monitor_samples_total",
        "Samples evaluated.",
        MetricType::Counter,
        state.samples,
    );
    e.single(
        "ops_monitor_notifications_total",
        "Alert notifications produced (firing and resolved).",
        MetricType::Counter,
        state.notifications,
    );
    e.single(
        "ops_monitor_replay_errors_total",
        "Replayed lines that could not be read.",
        MetricType::Counter,
        state.replay_errors,
    );
    out
}

fn respond(mut stream: TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut line = String::new();
    // At most 16 KiB of request head: a client that never ends its line cannot grow memory.
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => std::io::Read::take(s, 16 * 1024),
        Err(_) => return,
    });
    if reader.read_line(&mut line).is_err() {
        return;
    }
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            Ok(0) | Err(_) => break,
            Ok(_) if header == "\r\n" || header == "\n" => break,
            Ok(_) => {}
        }
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/");
    let (status, content_type, body) = match (line.split_whitespace().next(), path) {
        (Some("GET"), "/metrics") => ("200 OK", CONTENT_TYPE, metrics_page(&lock(shared))),
        (Some("GET"), "/health") => {
            let s = lock(shared);
            let firing = s
                .alerts
                .iter()
                .filter(|a| a.state == ops_thresholds::AlertState::Firing)
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
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn serve(addr: &str, shared: Shared) -> anyhow::Result<std::net::SocketAddr> {
    let listener = TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    std::thread::Builder::new()
        .name("ops-monitor-http".into())
        .spawn(move || {
            // One thread per connection (at most 32 at once), so a slow client cannot hold
            // up /metrics for the others.
            let busy = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            for stream in listener.incoming().flatten() {
                if busy.load(Ordering::SeqCst) >= 32 {
                    continue;
                }
                busy.fetch_add(1, Ordering::SeqCst);
                let (shared, busy) = (Arc::clone(&shared), Arc::clone(&busy));
                let spawned = std::thread::Builder::new()
                    .name("ops-monitor-conn".into())
                    .spawn(move || {
                        respond(stream, &shared);
                        busy.fetch_sub(1, Ordering::SeqCst);
                    });
                if spawned.is_err() {
                    tracing::warn!("cannot start a thread for an HTTP connection");
                }
            }
        })?;
    Ok(local)
}

/// Webhook URLs from `--webhook` and `--webhook-file`.
fn webhook_urls(args: &MonitorArgs) -> anyhow::Result<Vec<String>> {
    let mut urls = args.webhook.clone();
    if let Some(path) = &args.webhook_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        urls.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned),
        );
    }
    Ok(urls)
}

fn sinks(args: &MonitorArgs, webhooks: Vec<String>) -> Vec<Box<dyn AlertSink>> {
    let mut sinks: Vec<Box<dyn AlertSink>> = vec![Box::new(LogSink)];
    if !args.quiet {
        sinks.push(Box::new(StdoutSink));
    }
    for url in &args.alertmanager {
        sinks.push(Box::new(AlertmanagerSink::new(url)));
    }
    for url in webhooks {
        sinks.push(Box::new(WebhookSink::new(url)));
    }
    sinks
}

struct Loop {
    eval: Evaluator,
    dispatcher: Dispatcher,
    shared: Shared,
    out: Vec<ops_thresholds::Notification>,
}

impl Loop {
    fn step(&mut self, sample: SystemMetrics) {
        self.out.clear();
        self.eval.evaluate(
            sample.timestamp,
            Observation {
                metrics: &sample,
                profile: None,
            },
            &mut self.out,
        );
        let n = self.out.len() as u64;
        self.dispatcher.dispatch(std::mem::take(&mut self.out));
        let mut s = lock(&self.shared);
        s.samples += 1;
        s.notifications += n;
        s.alerts = self.eval.statuses();
        s.sinks = self.dispatcher.stats();
        s.last = Some(sample);
    }
}

pub(crate) fn run(args: &MonitorArgs) -> anyhow::Result<ExitStatus> {
    let _logging = ops_logging::Logging::builder("ops-monitor")
        .files(false)
        .console(true)
        .level("info")
        .build()
        .ok()
        .map(|(dispatch, guard)| {
            let _ = tracing::dispatcher::set_global_default(dispatch);
            guard
        });
    let mut rules = match &args.rules {
        Some(path) => {
            RuleSet::load(path).with_context(|| format!("loading rules from {}", path.display()))?
        }
        None => RuleSet::defaults(),
    };
    if let Some(i) = args.interval {
        rules.interval = i;
    }
    let interval = rules.interval;
    let shared: Shared = Arc::new(Mutex::new(State::default()));
    if let Some(addr) = &args.listen {
        let local = serve(addr, Arc::clone(&shared))?;
        tracing::info!(%local, "serving /metrics and /health");
    }
    install_signal_handlers();
    let mut lp = Loop {
        eval: Evaluator::new(rules),
        dispatcher: Dispatcher::new(sinks(args, webhook_urls(args)?))?,
        shared: Arc::clone(&shared),
        out: Vec::new(),
    };
    let started = Instant::now();
    let expired = || args.duration.is_some_and(|d| started.elapsed() >= d);

    if let Some(path) = &args.replay {
        let file =
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        for (n, line) in BufReader::new(file).lines().enumerate() {
            if STOP.load(Ordering::SeqCst) || expired() {
                break;
            }
            let line = line.with_context(|| format!("reading {}", path.display()))?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<SystemMetrics>(&line) {
                Ok(sample) => lp.step(sample),
                Err(e) => {
                    lock(&shared).replay_errors += 1;
                    tracing::warn!(file = %path.display(), line = n + 1, error = %e, "skipping a line that is not a sample");
                }
            }
        }
    } else {
        let (sampler, samples) = Sampler::with_channel(ProcSource::new(), interval, 64)?;
        while !STOP.load(Ordering::SeqCst) && !expired() {
            if let Ok(sample) = samples.recv_timeout(Duration::from_millis(250)) {
                lp.step(sample);
            }
        }
        let stats = sampler.stop();
        if stats.failures > 0 {
            tracing::warn!(failures = stats.failures, "some samples failed");
        }
    }
    let late = lp.dispatcher.shutdown(Duration::from_secs(10));
    let s = lock(&shared);
    let mut summary = format!(
        "ops monitor: {} samples, {} notifications",
        s.samples, s.notifications
    );
    for sink in lp.dispatcher.stats() {
        let _ = write!(
            summary,
            "; {}: {} delivered, {} failed, {} dropped",
            sink.name, sink.delivered, sink.failed, sink.dropped
        );
    }
    if !late.is_empty() {
        let _ = write!(summary, "; not finished: {}", late.join(", "));
    }
    tracing::info!("{summary}");
    Ok(ExitStatus::Success)
}
