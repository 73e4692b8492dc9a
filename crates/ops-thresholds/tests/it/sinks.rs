//! sinks (next)
