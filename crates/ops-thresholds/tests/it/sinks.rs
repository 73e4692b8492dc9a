//! Sinks against real servers on 127.0.0.1: a scripted HTTP server for retries, a real
//! Alertmanager for the API v2 payload.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use ops_testkit::net::{self, ScriptedServer, http};
use ops_testkit::tools;
use ops_thresholds::{
    AlertSink, AlertmanagerSink, Dispatcher, Notification, RetryPolicy, SinkError, WebhookSink,
};

fn alert(name: &str, resolved: bool) -> Notification {
    let now = SystemTime::now();
    Notification {
        alertname: name.into(),
        labels: vec![
            ("alertname".into(), name.into()),
            ("severity".into(), "warning".into()),
            ("instance".into(), "host1".into()),
        ],
        annotations: vec![("summary".into(), "High CPU usage: 93.2%".into())],
        resolved,
        starts_at: now - Duration::from_secs(60),
        ends_at: if resolved {
            now
        } else {
            now + Duration::from_secs(240)
        },
        value: 93.2,
    }
}

/// The Slack-like URL of a scripted server: the token must never leak.
fn hook_url(server: &ScriptedServer) -> String {
    server.url("/services/T000/B000/SECRETTOKEN")
}

#[test]
fn webhook_retries_5xx_and_429_with_retry_after_then_succeeds() {
    let server = ScriptedServer::start(vec![(500, ""), (429, "Retry-After: 1\r\n"), (200, "")]);
    let sink = WebhookSink::with_timeout(hook_url(&server), Duration::from_secs(5));
    let policy = RetryPolicy {
        max_attempts: 5,
        base: Duration::from_millis(100),
        cap: Duration::from_secs(5),
    };
    let mut dispatcher = Dispatcher::with_policy(vec![Box::new(sink)], policy, 16).unwrap();
    dispatcher.dispatch(vec![alert("HighCpu", false)]);
    assert!(dispatcher.shutdown(Duration::from_secs(20)).is_empty());
    let stats = &dispatcher.stats()[0];
    assert_eq!((stats.delivered, stats.retries, stats.failed), (1, 2, 0));
    let hits = server.requests();
    assert_eq!(hits.len(), 3, "exactly three attempts");
    let first_gap = hits[1].at - hits[0].at;
    let second_gap = hits[2].at - hits[1].at;
    // Full jitter over [0, 200 ms) after the 500; the 429's Retry-After: 1 s is honoured.
    assert!(first_gap < Duration::from_millis(1000), "{first_gap:?}");
    assert!(
        second_gap >= Duration::from_secs(1) && second_gap < Duration::from_secs(3),
        "{second_gap:?}"
    );
    assert!(
        hits[0]
            .header("content-type")
            .is_some_and(|v| v.eq_ignore_ascii_case("application/json")),
        "{:?}",
        hits[0].headers
    );
    let body: serde_json::Value = serde_json::from_str(&hits[0].body).unwrap();
    assert_eq!(
        body["text"],
        "[FIRING] HighCpu (warning): High CPU usage: 93.2%"
    );
    assert_eq!(body["blocks"][0]["type"], "section");
}

#[test]
fn client_errors_are_not_retried_and_the_url_never_leaks() {
    let server = ScriptedServer::start(vec![(400, ""), (200, "")]);
    let sink = WebhookSink::with_timeout(hook_url(&server), Duration::from_secs(5));
    let err = sink.send(&[alert("HighCpu", false)]).unwrap_err();
    assert!(matches!(err, SinkError::Permanent { .. }), "{err:?}");
    assert_eq!(server.requests().len(), 1);
    assert!(!err.to_string().contains("SECRETTOKEN"), "{err}");
    assert!(!format!("{sink:?}").contains("SECRETTOKEN"));
    // A dead port: a connection error, retryable, without the URL in the text.
    let url = format!("http://{}/hooks/SECRETTOKEN", net::local(net::free_port()));
    let err = WebhookSink::with_timeout(&url, Duration::from_secs(2))
        .send(&[alert("X", false)])
        .unwrap_err();
    assert!(matches!(err, SinkError::Retryable { .. }), "{err:?}");
    assert!(!err.to_string().contains("SECRETTOKEN"), "{err}");
}

#[test]
fn a_dead_sink_never_blocks_the_others() {
    struct Stuck;
    impl AlertSink for Stuck {
        fn name(&self) -> &str {
            "stuck"
        }
        fn send(&self, _: &[Notification]) -> Result<(), SinkError> {
            std::thread::sleep(Duration::from_secs(3));
            Ok(())
        }
    }
    let server = ScriptedServer::start(vec![(200, ""), (200, "")]);
    let mut dispatcher = Dispatcher::new(vec![
        Box::new(Stuck),
        Box::new(WebhookSink::new(hook_url(&server))),
    ])
    .unwrap();
    let started = Instant::now();
    dispatcher.dispatch(vec![alert("A", false)]);
    dispatcher.dispatch(vec![alert("B", false)]);
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "dispatch must not wait for sinks"
    );
    net::wait_until(
        Duration::from_secs(2),
        "the webhook's two posts (held up by the stuck sink?)",
        || (server.requests().len() >= 2).then_some(()),
    );
    let late = dispatcher.shutdown(Duration::from_millis(100));
    assert_eq!(late, ["stuck"]);
}

struct Alertmanager {
    child: Child,
    addr: SocketAddr,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_alertmanager(binary: &Path) -> Alertmanager {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("am.yml");
    std::fs::write(&config, "route: {receiver: 'null', group_by: ['alertname'], group_wait: 1s, group_interval: 5s, repeat_interval: 1h}\nreceivers: [{name: 'null'}]\n").unwrap();
    let addr = net::local(net::free_port());
    let child = Command::new(binary)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let am = Alertmanager {
        child,
        addr,
        url: format!("http://{addr}"),
        _dir: dir,
    };
    net::wait_until(
        Duration::from_secs(30),
        "alertmanager to become ready",
        || http(am.addr, "GET", "/-/ready", "").filter(|(status, _)| *status == 200),
    );
    am
}

#[test]
fn real_alertmanager_receives_and_resolves() {
    let Some(binary) = tools::find(
        "real_alertmanager_receives_and_resolves",
        "prometheus-alertmanager",
    ) else {
        return;
    };
    let am = start_alertmanager(&binary);
    let sink = AlertmanagerSink::new(&am.url).generator_url("http://host1/ops");
    sink.send(&[alert("OpsHighCpu", false)]).unwrap();
    let (status, body) = http(am.addr, "GET", "/api/v2/alerts", "").unwrap();
    assert_eq!(status, 200);
    let alerts: serde_json::Value = serde_json::from_str(&body).unwrap();
    let a = alerts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["labels"]["alertname"] == "OpsHighCpu")
        .expect("the alert is stored");
    assert_eq!(a["labels"]["severity"], "warning");
    assert_eq!(a["labels"]["instance"], "host1");
    assert_eq!(a["annotations"]["summary"], "High CPU usage: 93.2%");
    assert_eq!(a["generatorURL"], "http://host1/ops");
    assert_eq!(a["status"]["state"], "active");
    // Resolving: the same labels with endsAt = now.
    sink.send(&[alert("OpsHighCpu", true)]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, body) = http(am.addr, "GET", "/api/v2/alerts", "").unwrap();
        let alerts: serde_json::Value = serde_json::from_str(&body).unwrap();
        if !alerts
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["labels"]["alertname"] == "OpsHighCpu")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the alert was not resolved: {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // An invalid alert is a permanent error (400), not retried.
    let mut bad = alert("bad", false);
    bad.labels.push(("bad-name".into(), "x".into()));
    assert!(matches!(
        sink.send(&[bad]),
        Err(SinkError::Permanent { .. })
    ));
}
