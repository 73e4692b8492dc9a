//! Sinks against real servers on 127.0.0.1: a scripted HTTP server for retries, a real
//! Alertmanager for the API v2 payload.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use ops_thresholds::{
    AlertSink, AlertmanagerSink, Dispatcher, Notification, RetryPolicy, SinkError, WebhookSink,
};

/// Finds an outside program, or skips (printing why) unless `OPS_REQUIRE_TOOLS=1`.
pub(crate) fn tool(name: &str, test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("OPS_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "{test}: {name} is required (OPS_REQUIRE_TOOLS=1) but was not found"
        );
        eprintln!("skipped {test}: {name} not found (set OPS_REQUIRE_TOOLS=1 to require it)");
    }
    found
}

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

/// An HTTP server that answers each request with the next scripted (status, extra headers),
/// recording when each request arrived and its body.
struct Scripted {
    url: String,
    hits: Arc<Mutex<Vec<(Instant, String, String)>>>,
}

fn scripted(script: Vec<(u16, &'static str)>) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/services/T000/B000/SECRETTOKEN",
        listener.local_addr().unwrap()
    );
    let hits = Arc::new(Mutex::new(Vec::new()));
    let h = Arc::clone(&hits);
    std::thread::spawn(move || {
        for (status, headers) in script {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut length = 0usize;
            let mut content_type = String::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" || line.is_empty() {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                if lower.starts_with("content-type:") {
                    content_type = line.trim().to_owned();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            h.lock().unwrap().push((
                Instant::now(),
                content_type,
                String::from_utf8(body).unwrap(),
            ));
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\n{headers}Content-Length: 2\r\nConnection: close\r\n\r\nok"
            );
        }
    });
    Scripted { url, hits }
}

#[test]
fn webhook_retries_5xx_and_429_with_retry_after_then_succeeds() {
    let server = scripted(vec![(500, ""), (429, "Retry-After: 1\r\n"), (200, "")]);
    let sink = WebhookSink::with_timeout(&server.url, Duration::from_secs(5));
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
    let hits = server.hits.lock().unwrap();
    assert_eq!(hits.len(), 3, "exactly three attempts");
    let first_gap = hits[1].0 - hits[0].0;
    let second_gap = hits[2].0 - hits[1].0;
    // Full jitter over [0, 200 ms) after the 500; the 429's Retry-After: 1 s is honoured.
    assert!(first_gap < Duration::from_millis(1000), "{first_gap:?}");
    assert!(
        second_gap >= Duration::from_secs(1) && second_gap < Duration::from_secs(3),
        "{second_gap:?}"
    );
    assert!(
        hits[0]
            .1
            .eq_ignore_ascii_case("content-type: application/json"),
        "{}",
        hits[0].1
    );
    let body: serde_json::Value = serde_json::from_str(&hits[0].2).unwrap();
    assert_eq!(
        body["text"],
        "[FIRING] HighCpu (warning): High CPU usage: 93.2%"
    );
    assert_eq!(body["blocks"][0]["type"], "section");
}

#[test]
fn client_errors_are_not_retried_and_the_url_never_leaks() {
    let server = scripted(vec![(400, ""), (200, "")]);
    let sink = WebhookSink::with_timeout(&server.url, Duration::from_secs(5));
    let err = sink.send(&[alert("HighCpu", false)]).unwrap_err();
    assert!(matches!(err, SinkError::Permanent { .. }), "{err:?}");
    assert_eq!(server.hits.lock().unwrap().len(), 1);
    assert!(!err.to_string().contains("SECRETTOKEN"), "{err}");
    assert!(!format!("{sink:?}").contains("SECRETTOKEN"));
    // A dead port: a connection error, retryable, without the URL in the text.
    let dead = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks/SECRETTOKEN", dead.local_addr().unwrap());
    drop(dead);
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
    let server = scripted(vec![(200, ""), (200, "")]);
    let mut dispatcher = Dispatcher::new(vec![
        Box::new(Stuck),
        Box::new(WebhookSink::new(&server.url)),
    ])
    .unwrap();
    let started = Instant::now();
    dispatcher.dispatch(vec![alert("A", false)]);
    dispatcher.dispatch(vec![alert("B", false)]);
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "dispatch must not wait for sinks"
    );
    let deadline = Instant::now() + Duration::from_secs(2);
    while server.hits.lock().unwrap().len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the webhook was held up by the stuck sink"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let late = dispatcher.shutdown(Duration::from_millis(100));
    assert_eq!(late, ["stuck"]);
}

struct Alertmanager {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn get(url: &str) -> Option<(u16, String)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .into();
    let mut r = agent.get(url).call().ok()?;
    let status = r.status().as_u16();
    Some((status, r.body_mut().read_to_string().unwrap_or_default()))
}

fn start_alertmanager(binary: &PathBuf) -> Alertmanager {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("am.yml");
    std::fs::write(&config, "route: {receiver: 'null', group_by: ['alertname'], group_wait: 1s, group_interval: 5s, repeat_interval: 1h}\nreceivers: [{name: 'null'}]\n").unwrap();
    let port = free_port();
    let child = Command::new(binary)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let am = Alertmanager {
        child,
        url,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(&format!("{}/-/ready", am.url)).is_none_or(|(s, _)| s != 200) {
        assert!(
            Instant::now() < deadline,
            "alertmanager did not become ready"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    am
}

#[test]
fn real_alertmanager_receives_and_resolves() {
    let Some(binary) = tool(
        "prometheus-alertmanager",
        "real_alertmanager_receives_and_resolves",
    ) else {
        return;
    };
    let am = start_alertmanager(&binary);
    let sink = AlertmanagerSink::new(&am.url).generator_url("http://host1/ops");
    sink.send(&[alert("OpsHighCpu", false)]).unwrap();
    let (status, body) = get(&format!("{}/api/v2/alerts", am.url)).unwrap();
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
        let (_, body) = get(&format!("{}/api/v2/alerts", am.url)).unwrap();
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
