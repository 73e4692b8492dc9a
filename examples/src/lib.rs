//! The ops-rs example programs (`examples/`), and the README's Rust snippets compiled as
//! doctests: this package sees every crate the snippets use, so they cannot rot.

/// The README's Rust snippets.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
