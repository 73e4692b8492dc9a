//! Every shape the attribute accepts compiles and records the right calls and errors.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use ops_profiler::{FunctionReport, perf_monitor};

use super::capture::{Capture, block_on};

fn figures(name: &str) -> FunctionReport {
    let report = ops_profiler::global().report();
    let mut found: Vec<&FunctionReport> = report.iter_named(name).collect();
    assert_eq!(
        found.len(),
        1,
        "{name}: {:?}",
        report
            .functions
            .iter()
            .map(|f| &f.function)
            .collect::<Vec<_>>()
    );
    found.remove(0).clone()
}

#[perf_monitor]
fn plain_sum(a: u64, b: u64) -> u64 {
    a + b
}

#[test]
fn plain_function_counts_calls() {
    for i in 0..10 {
        assert_eq!(plain_sum(i, 1), i + 1);
    }
    let f = figures("plain_sum");
    assert_eq!((f.call_count, f.error_count), (10, 0));
    assert!(
        f.function.starts_with("tests::it::shapes::"),
        "{}",
        f.function
    );
    assert!(f.min_time_ms >= 0.0 && f.min_time_ms <= f.p50_ms && f.p50_ms <= f.max_time_ms);
}

#[perf_monitor]
fn sleepy(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

#[test]
fn durations_are_sane() {
    sleepy(20);
    let f = figures("sleepy");
    assert_eq!(f.call_count, 1);
    assert!(f.total_time_ms >= 20.0, "{}", f.total_time_ms);
    assert!(f.total_time_ms < 2_000.0, "{}", f.total_time_ms);
    assert!((f.p99_ms - f.total_time_ms).abs() / f.total_time_ms < 0.01);
}

#[derive(Debug, PartialEq)]
struct MyError(&'static str);

impl fmt::Display for MyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "my error: {}", self.0)
    }
}

type MyResult<T> = Result<T, MyError>;

#[perf_monitor]
fn with_question_mark(input: &str) -> MyResult<u32> {
    let n: u32 = input.parse().map_err(|_| MyError("not a number"))?;
    if n == 0 {
        return Err(MyError("zero"));
    }
    if n > 100 {
        return Ok(100);
    }
    Ok(n)
}

#[test]
fn result_alias_with_question_mark_and_early_return() {
    assert_eq!(with_question_mark("5"), Ok(5));
    assert_eq!(with_question_mark("500"), Ok(100));
    assert_eq!(with_question_mark("x"), Err(MyError("not a number")));
    assert_eq!(with_question_mark("0"), Err(MyError("zero")));
    let f = figures("with_question_mark");
    assert_eq!((f.call_count, f.error_count), (4, 2));
}

#[perf_monitor]
fn io_alias(path: &str) -> std::io::Result<usize> {
    Ok(std::fs::read(path)?.len())
}

#[perf_monitor]
fn boxed_error(fail: bool) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
    if fail {
        Err("boom".into())
    } else {
        Ok((0..3).collect())
    }
}

#[test]
fn std_aliases_and_boxed_errors() {
    assert!(io_alias("/definitely/not/here").is_err());
    assert!(io_alias("/proc/self/stat").is_ok());
    assert_eq!(boxed_error(false).unwrap(), vec![0, 1, 2]);
    assert!(boxed_error(true).is_err());
    assert_eq!(
        (
            figures("io_alias").call_count,
            figures("io_alias").error_count
        ),
        (2, 1)
    );
    assert_eq!(figures("boxed_error").error_count, 1);
}

/// An error type that is not `Display`: still counted as an error.
#[derive(Debug)]
struct Opaque;

#[perf_monitor]
fn opaque_error(fail: bool) -> Result<(), Opaque> {
    if fail { Err(Opaque) } else { Ok(()) }
}

#[test]
fn errors_without_display_are_counted() {
    opaque_error(true).unwrap_err();
    opaque_error(false).unwrap();
    let f = figures("opaque_error");
    assert_eq!((f.call_count, f.error_count), (2, 1));
}

#[perf_monitor]
fn generic_longest<'a, T>(items: &'a [T], key: impl Fn(&T) -> usize) -> Option<&'a T>
where
    T: fmt::Debug,
{
    items.iter().max_by_key(|i| key(i))
}

#[perf_monitor]
fn generic_result<T: std::str::FromStr>(s: &str) -> Result<T, T::Err> {
    s.parse::<T>()
}

#[perf_monitor]
fn evens(limit: u32) -> impl Iterator<Item = u32> {
    (0..limit).filter(|n| n % 2 == 0)
}

#[perf_monitor]
unsafe fn read_raw(p: *const u32) -> u32 {
    // SAFETY: the caller passes a valid pointer.
    unsafe { *p }
}

#[test]
fn generics_impl_trait_and_unsafe() {
    assert_eq!(
        generic_longest(&["a", "abc", "ab"], |s| s.len()),
        Some(&"abc")
    );
    assert_eq!(generic_result::<u8>("7"), Ok(7));
    assert!(generic_result::<u8>("700").is_err());
    assert_eq!(evens(7).collect::<Vec<_>>(), vec![0, 2, 4, 6]);
    let v = 9u32;
    // SAFETY: `v` is a live u32.
    assert_eq!(unsafe { read_raw(&raw const v) }, 9);
    assert_eq!(figures("generic_longest").call_count, 1);
    assert_eq!(figures("generic_result").error_count, 1);
    assert_eq!(figures("evens").call_count, 1);
    assert_eq!(figures("read_raw").call_count, 1);
}

struct Counter {
    value: u64,
    name: String,
}

impl Counter {
    #[perf_monitor]
    fn bump(&mut self) -> u64 {
        self.value += 1;
        self.value
    }

    #[perf_monitor]
    fn label(&self) -> &str {
        &self.name
    }

    #[perf_monitor]
    fn slot(&mut self, fail: bool) -> Result<&mut u64, MyError> {
        if fail {
            return Err(MyError("no slot"));
        }
        Ok(&mut self.value)
    }

    #[perf_monitor]
    fn into_value(self) -> u64 {
        self.value
    }
}

trait Store {
    fn fetch(&self, key: u32) -> Result<u32, MyError>;
}

impl Store for Counter {
    #[perf_monitor]
    fn fetch(&self, key: u32) -> Result<u32, MyError> {
        if key == 0 {
            Err(MyError("no key"))
        } else {
            Ok(key + 1)
        }
    }
}

#[test]
fn methods_and_trait_impls() {
    let mut c = Counter {
        value: 0,
        name: "c".into(),
    };
    c.bump();
    c.bump();
    assert_eq!(c.label(), "c");
    *c.slot(false).unwrap() += 10;
    assert!(c.slot(true).is_err());
    assert_eq!(c.fetch(1), Ok(2));
    assert!(c.fetch(0).is_err());
    assert_eq!(c.into_value(), 12);
    let bump = figures("Counter::bump");
    assert_eq!(bump.call_count, 2);
    assert!(
        bump.function.ends_with("Counter::bump"),
        "{}",
        bump.function
    );
    assert_eq!(
        (figures("slot").call_count, figures("slot").error_count),
        (2, 1)
    );
    let fetch = ops_profiler::global().report();
    let fetch = fetch
        .functions
        .iter()
        .find(|f| f.function.ends_with("as tests::it::shapes::Store>::fetch"))
        .unwrap();
    assert_eq!((fetch.call_count, fetch.error_count), (2, 1));
    assert_eq!(figures("into_value").call_count, 1);
    assert_eq!(figures("label").call_count, 1);
}

#[perf_monitor]
fn explodes(n: u32) -> u32 {
    assert!(n < 3, "too big: {n}");
    n
}

#[test]
fn panics_are_errors_and_propagate_unchanged() {
    assert_eq!(explodes(1), 1);
    let payload = std::panic::catch_unwind(|| explodes(7)).unwrap_err();
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("too big: 7")
    );
    let f = figures("explodes");
    assert_eq!((f.call_count, f.error_count), (2, 1));
}

#[perf_monitor]
#[track_caller]
#[inline]
fn where_called() -> u32 {
    std::panic::Location::caller().line()
}

#[test]
fn track_caller_is_preserved() {
    let line = line!() + 1;
    let reported = where_called();
    assert_eq!(reported, line, "Location::caller must be the call site");
    assert_eq!(figures("where_called").call_count, 1);
}

#[perf_monitor]
async fn async_double(n: u32) -> u32 {
    YieldOnce(false).await;
    n * 2
}

#[perf_monitor]
async fn async_fallible(n: u32) -> Result<u32, MyError> {
    YieldOnce(false).await;
    if n == 0 {
        return Err(MyError("async zero"));
    }
    Ok(n)
}

/// Pending once, then ready.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

fn assert_send<T: Send>(t: T) -> T {
    t
}

#[test]
fn async_functions_are_timed_to_completion() {
    assert_eq!(block_on(assert_send(async_double(4))), 8);
    assert_eq!(block_on(assert_send(async_fallible(3))), Ok(3));
    assert!(block_on(async_fallible(0)).is_err());
    assert_eq!(figures("async_double").call_count, 1);
    let f = figures("async_fallible");
    assert_eq!((f.call_count, f.error_count), (2, 1));
}

#[perf_monitor]
async fn never_finishes() {
    std::future::pending::<()>().await;
}

#[test]
fn a_cancelled_future_is_a_cancelled_call_not_an_error() {
    let waker = std::task::Waker::noop();
    let mut cx = Context::from_waker(waker);
    let mut fut = Box::pin(never_finishes());
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    drop(fut);
    // A future dropped before its first poll never started: nothing is recorded.
    drop(never_finishes());
    let f = figures("never_finishes");
    assert_eq!((f.call_count, f.error_count, f.cancelled_count), (1, 0, 1));
}

#[perf_monitor]
async fn panics_after_a_yield(n: u32) -> u32 {
    YieldOnce(false).await;
    assert!(n < 3, "async too big: {n}");
    n
}

#[test]
fn an_async_panic_is_an_error_even_when_the_future_is_dropped_later() {
    // As an executor does: the poll that panics is caught, the future dropped afterwards.
    let waker = std::task::Waker::noop();
    let mut cx = Context::from_waker(waker);
    let mut fut = Box::pin(panics_after_a_yield(7));
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = fut.as_mut().poll(&mut cx);
    }));
    assert!(caught.is_err());
    drop(fut);
    let f = figures("panics_after_a_yield");
    assert_eq!((f.call_count, f.error_count, f.cancelled_count), (1, 1, 0));
}

#[perf_monitor(name = "custom.name", event = false)]
fn renamed() {}

#[test]
fn name_option() {
    renamed();
    renamed();
    assert_eq!(
        ops_profiler::global()
            .report()
            .get("custom.name")
            .unwrap()
            .call_count,
        2
    );
}

#[perf_monitor(level = "info")]
fn seed_like(fail: bool) -> Result<u32, MyError> {
    if fail {
        Err(MyError("seed failure"))
    } else {
        Ok(1)
    }
}

#[perf_monitor]
fn debug_default(fail: bool) -> Result<u32, MyError> {
    if fail {
        Err(MyError("debug failure"))
    } else {
        Ok(1)
    }
}

#[perf_monitor(event = false)]
fn silent(fail: bool) -> Result<u32, MyError> {
    if fail { Err(MyError("silent")) } else { Ok(1) }
}

#[perf_monitor]
fn panics_loudly() -> Result<u32, MyError> {
    panic!("loud")
}

#[perf_monitor(level = "info")]
async fn abandoned() {
    std::future::pending::<()>().await;
}

#[perf_monitor(error_if = |r| matches!(r, Err(MyError(m)) if *m != "not found"))]
fn judged(m: &'static str) -> Result<u32, MyError> {
    Err(MyError(m))
}

#[perf_monitor(error_if = Option::is_none)]
fn judged_option(v: Option<u32>) -> Option<u32> {
    v
}

#[test]
fn events_have_the_playbooks_shape_and_levels() {
    // `tracing` caches each callsite's interest globally, and the other tests of this binary hit
    // the same callsites concurrently with no subscriber; a scoped subscriber can then miss
    // events. So the assertions run in a child process of this binary, alone, with the capture
    // installed as the global subscriber before any callsite is hit.
    const CHILD: &str = "OPS_PROFILER_EVENTS_CHILD";
    if std::env::var(CHILD).is_err() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "it::shapes::events_have_the_playbooks_shape_and_levels",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .output()
            .unwrap();
        let text = ops_testkit::tools::output_text(&out);
        assert!(out.status.success() && text.contains("1 passed"), "{text}");
        return;
    }
    let capture = Capture::default();
    tracing::subscriber::set_global_default(capture.clone()).unwrap();
    seed_like(false).unwrap();
    seed_like(true).unwrap_err();
    debug_default(false).unwrap();
    debug_default(true).unwrap_err();
    silent(true).unwrap_err();
    let seed = capture.for_function("seed_like");
    assert_eq!(seed.len(), 2);
    assert_eq!(seed[0].level, tracing::Level::INFO);
    assert_eq!(seed[0].target, "perf_monitor");
    assert_eq!(seed[0].fields["message"], "Function execution");
    assert_eq!(seed[0].fields["success"], "true");
    assert!(seed[0].fields["execution_time_ms"].parse::<f64>().unwrap() >= 0.0);
    assert!(seed[0].fields["function"].ends_with("shapes::seed_like"));
    assert_eq!(seed[1].level, tracing::Level::ERROR);
    assert_eq!(seed[1].fields["message"], "Function execution failed");
    assert_eq!(seed[1].fields["error"], "my error: seed failure");
    assert_eq!(seed[1].fields["success"], "false");

    let debug = capture.for_function("debug_default");
    assert_eq!(
        debug.iter().map(|e| e.level).collect::<Vec<_>>(),
        [tracing::Level::DEBUG, tracing::Level::WARN]
    );
    assert_eq!(debug[1].fields["error"], "my error: debug failure");
    assert!(capture.for_function("silent").is_empty());
    assert_eq!(figures("silent").error_count, 1);

    // A panic is a failure whose text is "panicked".
    assert!(std::panic::catch_unwind(panics_loudly).is_err());
    let panicked = capture.for_function("panics_loudly");
    assert_eq!(panicked.len(), 1);
    assert_eq!(panicked[0].level, tracing::Level::WARN);
    assert_eq!(panicked[0].fields["message"], "Function execution failed");
    assert_eq!(panicked[0].fields["error"], "panicked");

    // A cancelled call: at the failure level, its own message, no error text.
    let mut fut = Box::pin(abandoned());
    assert!(
        fut.as_mut()
            .poll(&mut Context::from_waker(std::task::Waker::noop()))
            .is_pending()
    );
    drop(fut);
    let cancelled = capture.for_function("abandoned");
    assert_eq!(cancelled.len(), 1);
    assert_eq!(cancelled[0].level, tracing::Level::ERROR);
    assert_eq!(
        cancelled[0].fields["message"],
        "Function execution cancelled"
    );
    assert_eq!(cancelled[0].fields["cancelled"], "true");
    assert_eq!(cancelled[0].fields["success"], "false");
    assert!(!cancelled[0].fields.contains_key("error"));

    // error_if: an accepted Err is a success; an error's text is the Err's, else "error_if".
    judged("not found").unwrap_err();
    judged("server").unwrap_err();
    judged_option(Some(1));
    judged_option(None);
    let judged_events = capture.for_function("shapes::judged");
    assert_eq!(
        judged_events
            .iter()
            .map(|e| (e.level, e.fields["message"].as_str()))
            .collect::<Vec<_>>(),
        [
            (tracing::Level::DEBUG, "Function execution"),
            (tracing::Level::WARN, "Function execution failed")
        ]
    );
    assert_eq!(judged_events[1].fields["error"], "my error: server");
    let option_events = capture.for_function("judged_option");
    assert_eq!(option_events.len(), 2);
    assert_eq!(option_events[0].fields["success"], "true");
    assert_eq!(option_events[1].fields["error"], "error_if");
}
