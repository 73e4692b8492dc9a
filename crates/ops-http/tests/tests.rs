//! Integration tests of ops-http, in one binary: an axum router in-process and over a real
//! socket, other tower services, the access log, promtool.

#![allow(
    clippy::unwrap_used,
    clippy::print_stderr,
    clippy::float_cmp,
    missing_docs
)]

mod it;
