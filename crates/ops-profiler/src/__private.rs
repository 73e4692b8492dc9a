//! Support for the code `#[perf_monitor]` generates. Not a public API: names and shapes change
//! without notice.

use std::fmt::Display;
use std::sync::{Arc, OnceLock};

pub use tracing::Level;

use crate::clock;
use crate::outcome::Outcome;
use crate::stats::FunctionStats;

/// Where a call site's name comes from.
#[derive(Debug, Clone, Copy)]
pub enum Name {
    /// `#[perf_monitor(name = "...")]`.
    Fixed(&'static str),
    /// The path of a function item nested in the annotated function (its name is stripped).
    Path(fn() -> &'static str),
}

impl Name {
    fn resolve(self) -> String {
        match self {
            Name::Fixed(name) => name.to_owned(),
            Name::Path(f) => clean_path(f()),
        }
    }
}

/// `crate::module::Type::method::__ops_perf_monitor_name` → `crate::module::Type::method`;
/// closures and async blocks the compiler inserts are dropped.
fn clean_path(raw: &str) -> String {
    let mut path = raw
        .strip_suffix("::__ops_perf_monitor_name")
        .unwrap_or(raw)
        .to_owned();
    for noise in ["::{{closure}}", "::{{constant}}"] {
        path = path.replace(noise, "");
    }
    path
}

/// The static state of one annotated function.
#[derive(Debug)]
pub struct Site {
    name: Name,
    level: Level,
    event: bool,
    stats: OnceLock<Arc<FunctionStats>>,
}

impl Site {
    /// A call site; registered in the global profiler on its first call.
    pub const fn new(name: Name, level: Level, event: bool) -> Site {
        Site {
            name,
            level,
            event,
            stats: OnceLock::new(),
        }
    }

    #[inline]
    fn stats(&self) -> &FunctionStats {
        self.stats.get_or_init(|| {
            Arc::clone(
                crate::profiler::global()
                    .handle(self.name.resolve())
                    .stats(),
            )
        })
    }

    fn failure_level(&self) -> Level {
        if self.level == Level::TRACE || self.level == Level::DEBUG {
            Level::WARN
        } else {
            Level::ERROR
        }
    }
}

/// Times one call: created when the call starts, records when dropped (whatever the exit).
#[must_use]
pub struct Guard {
    site: &'static Site,
    start: clock::Start,
    /// How the call ends unless it panics: `Cancelled` until the returned value is observed
    /// (a future dropped before that was cancelled).
    outcome: Outcome,
    /// The failure event's text, when the call failed and the event will be written.
    error: Option<String>,
    /// Whether the thread was already unwinding when the call started (a call made from a
    /// `Drop` during another panic): then only a new panic would be this call's failure.
    unwinding_at_start: bool,
}

impl Guard {
    /// Starts timing a call whose outcome will be observed.
    #[inline]
    pub fn start(site: &'static Site) -> Guard {
        Guard {
            site,
            start: clock::start(),
            outcome: Outcome::Cancelled,
            error: None,
            unwinding_at_start: std::thread::panicking(),
        }
    }

    /// Starts timing a call that succeeds unless it panics.
    #[inline]
    pub fn start_settled(site: &'static Site) -> Guard {
        Guard {
            site,
            start: clock::start(),
            outcome: Outcome::Ok,
            error: None,
            unwinding_at_start: std::thread::panicking(),
        }
    }

    /// Takes the outcome of the returned value.
    #[inline]
    pub fn observe(&mut self, observed: Observed<'_>) {
        match observed {
            Observed::Ok => self.outcome = Outcome::Ok,
            Observed::Err(error) => self.fail(|| error.to_string()),
            Observed::ErrOpaque => self.outcome = Outcome::Error,
        }
    }

    /// Takes the outcome an `error_if` predicate gave the returned value; the value's `Err`, if
    /// displayable, is the error's text, else `"error_if"`.
    #[inline]
    pub fn observe_error_if(&mut self, is_error: bool, observed: Observed<'_>) {
        if !is_error {
            self.outcome = Outcome::Ok;
        } else if let Observed::Err(error) = observed {
            self.fail(|| error.to_string());
        } else {
            self.fail(|| "error_if".to_owned());
        }
    }

    /// A failure, with its text only when the failure event will be written.
    fn fail(&mut self, text: impl FnOnce() -> String) {
        self.outcome = Outcome::Error;
        if self.site.event && failure_enabled(self.site.failure_level()) {
            self.error = Some(text());
        }
    }
}

fn failure_enabled(level: Level) -> bool {
    if level == Level::WARN {
        tracing::enabled!(target: "perf_monitor", Level::WARN)
    } else {
        tracing::enabled!(target: "perf_monitor", Level::ERROR)
    }
}

impl Drop for Guard {
    #[inline]
    fn drop(&mut self) {
        let ns = clock::elapsed_ns(self.start);
        let site = self.site;
        let stats = site.stats();
        let panicked = std::thread::panicking() && !self.unwinding_at_start;
        let outcome = if panicked {
            Outcome::Error
        } else {
            self.outcome
        };
        stats.record(ns, outcome);
        if site.event {
            emit(site, &stats.name, ns, outcome, || match &self.error {
                _ if panicked => "panicked",
                Some(text) => text,
                None => "error",
            });
        }
    }
}

/// One `perf_monitor` event: the function and its time, then the outcome's fields and message.
/// (A macro, not a function: `tracing` needs the level and the field names at the call site.)
macro_rules! perf_event {
    ($level:expr, $name:expr, $ms:expr, $($outcome:tt)+) => {
        tracing::event!(
            target: "perf_monitor",
            $level,
            function = $name,
            execution_time_ms = $ms,
            $($outcome)+
        )
    };
}

macro_rules! success_event {
    ($level:expr, $name:expr, $ms:expr) => {
        perf_event!($level, $name, $ms, success = true, "Function execution")
    };
}

macro_rules! failure_event {
    ($level:expr, $name:expr, $ms:expr, $error:expr) => {
        perf_event!(
            $level,
            $name,
            $ms,
            error = $error,
            success = false,
            "Function execution failed"
        )
    };
}

macro_rules! cancelled_event {
    ($level:expr, $name:expr, $ms:expr) => {
        perf_event!(
            $level,
            $name,
            $ms,
            success = false,
            cancelled = true,
            "Function execution cancelled"
        )
    };
}

/// The playbook's event, at the site's level (failures one step louder: WARN, or ERROR when
/// successes are logged at INFO or above, as the playbook did; cancellations at the failure
/// level, as their own message).
#[inline]
fn emit<'a>(site: &Site, name: &str, ns: u64, outcome: Outcome, text: impl FnOnce() -> &'a str) {
    let ms = ns as f64 / 1e6;
    match outcome {
        Outcome::Ok => match site.level {
            Level::TRACE => success_event!(Level::TRACE, name, ms),
            Level::DEBUG => success_event!(Level::DEBUG, name, ms),
            Level::INFO => success_event!(Level::INFO, name, ms),
            Level::WARN => success_event!(Level::WARN, name, ms),
            _ => success_event!(Level::ERROR, name, ms),
        },
        Outcome::Error => {
            if site.failure_level() == Level::WARN {
                failure_event!(Level::WARN, name, ms, text());
            } else {
                failure_event!(Level::ERROR, name, ms, text());
            }
        }
        Outcome::Cancelled => {
            if site.failure_level() == Level::WARN {
                cancelled_event!(Level::WARN, name, ms);
            } else {
                cancelled_event!(Level::ERROR, name, ms);
            }
        }
    }
}

/// Runs the body closure of a function that may return a `Result`. Taking `FnOnce` makes the
/// closure own its captures, so the body may return borrows through them as the function could.
#[inline]
pub fn call_once<R>(body: impl FnOnce() -> R) -> R {
    body()
}

/// Applies `#[perf_monitor(error_if = predicate)]` to the returned value. The explicit `R` (the
/// declared return type) is what lets a closure's parameter type be inferred.
#[inline]
pub fn error_if<R, F: Fn(&R) -> bool>(value: &R, predicate: F) -> bool {
    predicate(value)
}

/// What a returned value says about the call.
#[derive(Clone, Copy)]
pub enum Observed<'a> {
    /// Not an error.
    Ok,
    /// `Err` whose error can be displayed.
    Err(&'a dyn Display),
    /// `Err` whose error cannot be displayed.
    ErrOpaque,
}

/// Wraps a returned value for autoref specialisation: `(&&&Probe(&v)).__ops_probe()` picks the
/// most specific of [`ProbeDisplay`], [`ProbeResult`] and [`ProbeOther`].
pub struct Probe<'a, T>(pub &'a T);

/// `Result<T, E>` with `E: Display`.
pub trait ProbeDisplay {
    /// The outcome.
    fn __ops_probe(&self) -> Observed<'_>;
}

impl<T, E: Display> ProbeDisplay for &&Probe<'_, Result<T, E>> {
    #[inline]
    fn __ops_probe(&self) -> Observed<'_> {
        match self.0 {
            Ok(_) => Observed::Ok,
            Err(e) => Observed::Err(e),
        }
    }
}

/// Any other `Result<T, E>`.
pub trait ProbeResult {
    /// The outcome.
    fn __ops_probe(&self) -> Observed<'_>;
}

impl<T, E> ProbeResult for &Probe<'_, Result<T, E>> {
    #[inline]
    fn __ops_probe(&self) -> Observed<'_> {
        match self.0 {
            Ok(_) => Observed::Ok,
            Err(_) => Observed::ErrOpaque,
        }
    }
}

/// Everything that is not a `Result`: always a success.
pub trait ProbeOther {
    /// The outcome.
    fn __ops_probe(&self) -> Observed<'_>;
}

impl<T> ProbeOther for Probe<'_, T> {
    #[inline]
    fn __ops_probe(&self) -> Observed<'_> {
        Observed::Ok
    }
}

#[cfg(test)]
mod test {
    use super::clean_path;

    #[test]
    fn paths_are_cleaned() {
        assert_eq!(
            clean_path("app::db::load::__ops_perf_monitor_name"),
            "app::db::load"
        );
        assert_eq!(
            clean_path("app::Cache::get::{{closure}}::__ops_perf_monitor_name"),
            "app::Cache::get"
        );
    }
}
