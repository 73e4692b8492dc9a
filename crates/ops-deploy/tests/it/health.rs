//! Health checks against a real server on 127.0.0.1: healthy, failing, hanging.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use ops_deploy::health::{self, HealthCheck, ProbeError};

/// A server answering every request with `status` (0: accept and never answer).
fn server(status: u16) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
            if status == 0 {
                held.push(stream);
                continue;
            }
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    addr
}

fn policy(retries: u32) -> HealthCheck {
    let mut p = HealthCheck::default();
    p.interval = Duration::from_millis(50);
    p.timeout = Duration::from_millis(300);
    p.retries = retries;
    p
}

#[test]
fn probe_outcomes() {
    assert_eq!(
        health::probe(server(200), "/health", Duration::from_secs(2)),
        Ok(200)
    );
    assert_eq!(
        health::probe(server(503), "/health", Duration::from_secs(2)),
        Err(ProbeError::Status(503))
    );
    let started = Instant::now();
    assert_eq!(
        health::probe(server(0), "/health", Duration::from_millis(300)),
        Err(ProbeError::Timeout(Duration::from_millis(300)))
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a hanging endpoint must cost one timeout"
    );
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    assert!(matches!(
        health::probe(closed, "/health", Duration::from_secs(1)),
        Err(ProbeError::Connect(_))
    ));
}

#[test]
fn wait_healthy_counts_attempts_and_stays_within_its_budget() {
    let mut seen = Vec::new();
    let attempts = health::wait_healthy(server(200), &policy(3), |a| seen.push(a.number)).unwrap();
    assert_eq!((attempts.len(), seen), (1, vec![1]));

    let p = policy(4);
    let started = Instant::now();
    let err = health::wait_healthy(server(0), &p, |_| {}).unwrap_err();
    assert_eq!(err.attempts, 4);
    assert_eq!(err.last, ProbeError::Timeout(Duration::from_millis(300)));
    assert!(
        started.elapsed() <= p.budget() + Duration::from_millis(500),
        "{:?} > {:?}",
        started.elapsed(),
        p.budget()
    );

    let err = health::wait_healthy(server(500), &policy(2), |_| {}).unwrap_err();
    assert_eq!((err.attempts, err.last), (2, ProbeError::Status(500)));
}

#[test]
fn failures_in_the_start_period_do_not_count() {
    let mut p = policy(2);
    p.start_period = Duration::from_millis(400);
    let mut counted = Vec::new();
    let err = health::wait_healthy(server(500), &p, |a| counted.push(a.counted)).unwrap_err();
    assert!(
        err.attempts > 2,
        "attempts inside the start period are free: {counted:?}"
    );
    assert_eq!(*counted.last().unwrap(), 2);
    assert_eq!(counted[0], 0);
}
