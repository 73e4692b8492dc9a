//! Integration tests of the `ops` binary, in one binary (quicker to build): the binary run as a
//! user would, `ops check` and `ops monitor`, and the README's walk-through.
//!
//! Tests that need an outside program (promtool, nginx, Docker) skip with a printed reason when
//! it is missing, unless `OPS_REQUIRE_TOOLS=1` makes it required.

#![allow(
    clippy::unwrap_used,
    clippy::print_stderr,
    clippy::too_many_lines,
    missing_docs
)]

mod it;
