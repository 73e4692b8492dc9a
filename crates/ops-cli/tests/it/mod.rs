use std::net::SocketAddr;
use std::process::{Child, Command, Output, Stdio};

mod alerts;
mod backup;
mod canary;
mod cli;
mod deploy;
mod hostile;
mod probe_deploy;
mod service;
mod slo;
mod stack;
mod walkthrough;

/// Runs `ops args…` and returns what it did.
pub(crate) fn ops(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ops"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run ops {args:?}: {e}"))
}

/// Its standard output (UTF-8).
pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("ops writes UTF-8 on stdout")
}

/// Its standard error (UTF-8).
pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("ops writes UTF-8 on stderr")
}

/// Asserts that `ops` exited with `code`, showing its stderr otherwise.
#[track_caller]
pub(crate) fn assert_exit(o: &Output, code: i32) {
    assert_eq!(o.status.code(), Some(code), "{}", stderr(o));
}

/// Its standard output, parsed as JSON.
pub(crate) fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("ops wrote no JSON on stdout ({e}): {}", stdout(o)))
}

/// The `key` of each object in the JSON array `array`, each a string.
pub(crate) fn each<'a>(array: &'a serde_json::Value, key: &str) -> Vec<&'a str> {
    array
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {array}"))
        .iter()
        .map(|v| {
            v[key]
                .as_str()
                .unwrap_or_else(|| panic!("no string {key:?} in {v}"))
        })
        .collect()
}

/// Runs `ops args…`, asserts that it exits 0 (showing its stderr otherwise) and returns its
/// standard output.
pub(crate) fn ops_ok(args: &[&str]) -> String {
    let o = ops(args);
    assert_eq!(o.status.code(), Some(0), "ops {args:?}: {}", stderr(&o));
    stdout(&o)
}

/// Starts `ops monitor --listen addr --quiet --duration 60s` plus `extra` arguments, its stderr
/// as given; the caller stops it with SIGTERM.
pub(crate) fn spawn_monitor(addr: SocketAddr, extra: &[&str], stderr: Stdio) -> Child {
    let addr = addr.to_string();
    let mut args = vec!["monitor", "--listen", &addr, "--quiet", "--duration", "60s"];
    args.extend_from_slice(extra);
    Command::new(env!("CARGO_BIN_EXE_ops"))
        .args(&args)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start ops {args:?}: {e}"))
}
