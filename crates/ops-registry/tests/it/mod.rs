mod concurrency;
mod overflow;
mod page;
mod promtool;
#[cfg(feature = "metrics")]
mod recorder;
mod util;
mod validation;
