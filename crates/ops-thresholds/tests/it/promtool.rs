//! promtool differential (next)
