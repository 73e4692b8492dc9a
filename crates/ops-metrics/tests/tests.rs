//! Integration tests of ops-metrics, in one binary (quicker to build).
//!
//! Tests that need an outside program (promtool, python3 with psutil) skip with a printed reason
//! when it is missing, unless `OPS_REQUIRE_TOOLS=1` (set by `.ci/run`) makes it required.

#![allow(
    clippy::unwrap_used,
    clippy::print_stderr,
    clippy::float_cmp,
    missing_docs
)]

mod it;
