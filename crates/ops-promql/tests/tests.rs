//! Integration tests of ops-promql, in one binary (quicker to build): the store's bounds and
//! ingestion, evaluation cases with exact values, property tests (no input panics), and the
//! differential test against `promtool test rules`.
//!
//! Tests that need promtool skip with a printed reason when it is missing, unless
//! `OPS_REQUIRE_TOOLS=1` makes it required.

#![allow(
    clippy::unwrap_used,
    clippy::print_stderr,
    clippy::too_many_lines,
    clippy::float_cmp,
    missing_docs
)]

mod it;
