//! Integration tests of ops-registry, in one binary.

#![allow(
    clippy::unwrap_used,
    clippy::print_stderr,
    clippy::float_cmp,
    missing_docs
)]

mod it;
