//! A tiny static HTTP server for deploy tests and demos: `GET /health` answers 200 with the
//! release (`OPS_RELEASE`), or 500 with `--fail-health`, or never answers with
//! `--hang-health`; anything else answers 200. Listens on `0.0.0.0:$PORT` (default 8080).
//! Std only, so it links statically into a FROM-scratch image:
//!
//! `RUSTFLAGS="-C target-feature=+crt-static" cargo build --release -p ops-deploy --example health_server --target x86_64-unknown-linux-gnu`

#![allow(clippy::print_stderr, missing_docs)]

use std::io::{Read as _, Write as _};
use std::net::TcpListener;

fn main() {
    let args: Vec<String> = std::env::args().collect();
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
    let mut held = Vec::new();
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let mut buf = [0u8; 2048];
        let n = stream.read(&mut buf).unwrap_or(0);
        let request = String::from_utf8_lossy(&buf[..n]);
        let health = request.starts_with("GET /health");
        if health && hang {
            held.push(stream);
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
