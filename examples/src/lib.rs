//! Shared helpers for the ops-rs example programs.
