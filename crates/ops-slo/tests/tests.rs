//! Integration tests of ops-slo, in one binary: the engine over 30-day windows with an
//! injected clock, the monitor's burn-rate alerts, the state file across restarts, `kill -9`
//! and corruption, the differential test of the exported rules against `promtool test rules`,
//! and probes of a real HTTP server.
//!
//! Tests that need an outside program (promtool) skip with a printed reason when it is missing,
//! unless `OPS_REQUIRE_TOOLS=1` makes it required.

#![allow(
    clippy::unwrap_used,
    clippy::print_stderr,
    clippy::print_stdout,
    clippy::too_many_lines,
    clippy::float_cmp,
    missing_docs
)]

mod it;
