//! Integration tests of ops-deploy, in one binary.

#![allow(
    clippy::unwrap_used,
    clippy::print_stderr,
    clippy::print_stdout,
    missing_docs
)]

mod it;
