//! A tiny static HTTP server for deploy tests and demos: `GET /health` answers 200 with the
//! release (`OPS_RELEASE`), or 500 with `--fail-health`, or never answers with
//! `--hang-health`; anything else answers 200. Listens on `0.0.0.0:$PORT` (default 8080).
//! `--probe URL` makes one request and exits 0 on a 2xx answer (an image's HEALTHCHECK).
//! `--corrupt FILE` overwrites the first 64 bytes of FILE when it starts (a release that
//! damages its data, for the backup tests).
//! Std only, so it links statically into a FROM-scratch image:
//!
//! `RUSTFLAGS="-C target-feature=+crt-static" cargo build --release -p ops-deploy --example health_server --target x86_64-unknown-linux-gnu`

#![allow(clippy::print_stderr, missing_docs)]

use std::io::{Read as _, Write as _};
use std::net::TcpListener;

/// `--probe URL`: one GET with a 2 s budget; exit 0 on 2xx. A Docker HEALTHCHECK in an image
/// without curl.
fn probe(url: &str) -> i32 {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let Ok(addr) = host.parse::<std::net::SocketAddr>() else {
        eprintln!("health_server --probe: {host:?} is not an address");
        return 2;
    };
    let timeout = std::time::Duration::from_secs(2);
    let answer = std::net::TcpStream::connect_timeout(&addr, timeout).and_then(|mut s| {
        s.set_read_timeout(Some(timeout))?;
        // One write: `write!` sends each piece of the format on its own.
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())?;
        let mut head = [0u8; 12];
        s.read_exact(&mut head)?;
        Ok(head)
    });
    match answer {
        Ok(head) if head[9] == b'2' => 0,
        Ok(head) => {
            eprintln!("unhealthy: {}", String::from_utf8_lossy(&head));
            1
        }
        Err(e) => {
            eprintln!("unhealthy: {e}");
            1
        }
    }
}

/// The request head, read until the blank line that ends it (a client may send it in several
/// pieces, and one `read` may return only the first: `GET ` without the path), at most 8 KiB
/// and 5 s.
fn read_head(stream: &mut std::net::TcpStream) -> String {
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
    let mut head = Vec::with_capacity(256);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--probe") {
        let url = args.get(i + 1).map_or("", String::as_str);
        std::process::exit(probe(url));
    }
    if let Some(i) = args.iter().position(|a| a == "--corrupt") {
        let path = args.get(i + 1).map_or("", String::as_str);
        let damaged = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|mut f| f.write_all(&[0x5a; 64]));
        if let Err(e) = damaged {
            eprintln!("health_server: cannot corrupt {path}: {e}");
            std::process::exit(1);
        }
    }
    let fail = args.iter().any(|a| a == "--fail-health");
    let hang = args.iter().any(|a| a == "--hang-health");
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    let release = std::env::var("OPS_RELEASE").unwrap_or_else(|_| "unknown".into());
    let listener = match TcpListener::bind(("0.0.0.0", port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("health_server: cannot listen on {port}: {e}");
            std::process::exit(1);
        }
    };
    // DATA_FILE: a line per start (the release), served at GET /data: shows what a volume kept.
    let data_file = std::env::var("DATA_FILE").ok();
    if let Some(path) = &data_file {
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| writeln!(f, "{release}"));
        if let Err(e) = written {
            eprintln!("health_server: cannot append to {path}: {e}");
            std::process::exit(1);
        }
    }
    let mut held = Vec::new();
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let request = read_head(&mut stream);
        let health = request.starts_with("GET /health");
        if health && hang {
            held.push(stream);
            continue;
        }
        if request.starts_with("GET /data")
            && let Some(path) = &data_file
        {
            let body = std::fs::read_to_string(path).unwrap_or_default();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            continue;
        }
        let status = if health && fail {
            "500 Internal Server Error"
        } else {
            "200 OK"
        };
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{release}",
            release.len()
        );
    }
}
