//! ops-logging as one layer among others, and its counters as a Prometheus page section.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use ops_core::exposition::Exposition as _;
use ops_logging::Stream;
use tracing::dispatcher::with_default;
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};

use super::util::{log_padded, logger, read_lines};

/// A layer of the test's own: records each event's level and message.
#[derive(Clone, Default)]
struct Recording(Arc<Mutex<Vec<String>>>);

struct Message<'a>(&'a mut String);

impl tracing::field::Visit for Message<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            *self.0 = format!("{value:?}");
        }
    }
}

impl<S: Subscriber> Layer<S> for Recording {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut message = String::new();
        event.record(&mut Message(&mut message));
        let level = event.metadata().level();
        self.0.lock().unwrap().push(format!("{level} {message}"));
    }
}

impl Recording {
    fn seen(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

fn messages(path: &std::path::Path) -> Vec<String> {
    read_lines(path)
        .iter()
        .map(|l| l.get("message").as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_layer_and_another_both_see_the_events_each_with_its_own_filter() {
    let dir = tempfile::tempdir().unwrap();
    let (ops, guard) = logger(dir.path()).level("info").layer().unwrap();
    let recording = Recording::default();
    let subscriber = tracing_subscriber::registry()
        .with(ops)
        .with(recording.clone());
    with_default(&tracing::Dispatch::new(subscriber), || {
        tracing::info!("compose one");
        tracing::debug!("compose two, below the ops filter");
        tracing::warn!("compose three");
    });
    guard.flush().unwrap();
    assert_eq!(
        messages(&dir.path().join("svc.log")),
        ["compose one", "compose three"]
    );
    assert_eq!(
        recording.seen(),
        [
            "INFO compose one",
            "DEBUG compose two, below the ops filter",
            "WARN compose three"
        ],
        "the ops filter does not hide events from the other layer"
    );
}

#[test]
fn the_layer_works_on_a_layered_subscriber_with_spans_and_other_filters() {
    let dir = tempfile::tempdir().unwrap();
    let recording = Recording::default();
    let (ops, guard) = logger(dir.path()).level("debug").layer().unwrap();
    // The other layer first, with a per-layer filter of its own; ours on top of that stack.
    let subscriber = tracing_subscriber::registry()
        .with(recording.clone().with_filter(LevelFilter::WARN))
        .with(ops);
    with_default(&tracing::Dispatch::new(subscriber), || {
        let span = tracing::info_span!("request", request_id = "r-9");
        let _entered = span.enter();
        tracing::debug!(step = 1, "layered debug");
        tracing::error!("layered error");
        tracing::trace!("layered trace, below both filters");
    });
    guard.flush().unwrap();
    let lines = read_lines(&dir.path().join("svc.log"));
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].get("message"), "layered debug");
    assert_eq!(lines[0].get("step"), 1);
    assert_eq!(
        lines[0].get("request_id"),
        "r-9",
        "span fields from the registry"
    );
    assert_eq!(lines[1].get("message"), "layered error");
    assert_eq!(messages(&dir.path().join("error.log")), ["layered error"]);
    assert_eq!(recording.seen(), ["ERROR layered error"]);
}

#[test]
fn build_is_the_registry_with_the_layer() {
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = logger(dir.path()).build().unwrap();
    with_default(&dispatch, || tracing::info!(n = 1, "built"));
    guard.flush().unwrap();
    assert_eq!(messages(&dir.path().join("svc.log")), ["built"]);
    assert!(
        format!(
            "{:?}",
            logger(dir.path())
                .files(false)
                .layer::<tracing_subscriber::Registry>()
                .unwrap()
                .0
        )
        .starts_with("OpsLayer { service: \"svc\"")
    );
}

/// The page section, exactly as the quickstart wrote it by hand.
#[test]
fn log_stats_are_a_prometheus_section() {
    let dir = tempfile::tempdir().unwrap();
    let (dispatch, guard) = logger(dir.path())
        .max_bytes(400)
        .backups(2)
        .build()
        .unwrap();
    log_padded(&dispatch, 3, &".".repeat(64), "main");
    with_default(&dispatch, || {
        tracing::warn!("warned");
        ops_logging::log_request("GET", "/", 200, 1.0, None);
        tracing::info!(target: "audit", "audited");
    });
    guard.flush().unwrap();
    let stats = guard.stats();
    let main = stats.stream(Stream::Main);
    assert_eq!(main.written, 4);
    assert!(main.rotations >= 1, "{main:?}");
    // One counter family: HELP, TYPE, then its main, access, error and audit series.
    let family = |name: &str, help: &str, get: fn(&ops_logging::StreamStats) -> u64| {
        let mut text = format!("# HELP {name} {help}\n# TYPE {name} counter\n");
        for (stream, label) in [
            (Stream::Main, "main"),
            (Stream::Access, "access"),
            (Stream::Error, "error"),
            (Stream::Audit, "audit"),
        ] {
            let value = get(&stats.stream(stream));
            writeln!(text, "{name}{{stream=\"{label}\"}} {value}").unwrap();
        }
        text
    };
    let want = [
        family("ops_log_lines_written_total", "Log lines written.", |s| {
            s.written
        }),
        family(
            "ops_log_lines_dropped_total",
            "Log lines dropped: queue full.",
            |s| s.dropped,
        ),
        family(
            "ops_log_lines_lost_total",
            "Log lines lost to write errors.",
            |s| s.lost,
        ),
        family(
            "ops_log_write_errors_total",
            "Log write and rotation errors.",
            |s| s.write_errors,
        ),
        family("ops_log_rotations_total", "Log file rotations.", |s| {
            s.rotations
        }),
    ]
    .concat();
    assert_eq!(stats.to_prometheus(), want);
    assert!(want.contains(&format!(
        "ops_log_rotations_total{{stream=\"main\"}} {}\n",
        main.rotations
    )));
    assert!(want.contains("ops_log_lines_written_total{stream=\"access\"} 1\n"));
    assert_eq!(
        guard.to_prometheus(),
        want,
        "the guard's section is its stats'"
    );
    assert_eq!(
        guard.section().to_prometheus(),
        want,
        "a section apart from the guard"
    );
    assert_eq!(
        ops_core::exposition::families(&want),
        Ok(vec![
            "ops_log_lines_written_total",
            "ops_log_lines_dropped_total",
            "ops_log_lines_lost_total",
            "ops_log_write_errors_total",
            "ops_log_rotations_total"
        ])
    );
    let Some(promtool) = ops_testkit::promtool::find("log_stats_are_a_prometheus_section") else {
        return;
    };
    ops_testkit::promtool::assert_clean_metrics(&promtool, &want);
}
