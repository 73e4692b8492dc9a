//! `#[perf_monitor(error_if = ...)]`: the predicate, not `Err`, says which calls are errors.

use std::fmt;

use ops_profiler::{FunctionReport, perf_monitor};

use super::capture::block_on;

fn figures(name: &str) -> FunctionReport {
    let report = ops_profiler::global().report();
    let found: Vec<&FunctionReport> = report.iter_named(name).collect();
    assert_eq!(found.len(), 1, "{name}");
    found[0].clone()
}

/// What a web framework's status code looks like.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct StatusCode(u16);

impl StatusCode {
    fn as_u16(self) -> u16 {
        self.0
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "status {}", self.0)
    }
}

#[derive(Debug, PartialEq)]
pub(crate) struct Json<T>(T);

#[perf_monitor(event = false, error_if = |r| matches!(r, Err(s) if s.as_u16() >= 500))]
fn get_order(id: u32) -> Result<Json<u32>, StatusCode> {
    match id {
        0 => Err(StatusCode(404)),
        1 => Err(StatusCode(500)),
        2 => Err(StatusCode(503)),
        _ => Ok(Json(id)),
    }
}

#[test]
fn a_404_is_not_an_error_a_500_is() {
    assert_eq!(get_order(0), Err(StatusCode(404)));
    assert_eq!(get_order(0), Err(StatusCode(404)));
    assert_eq!(get_order(1), Err(StatusCode(500)));
    assert_eq!(get_order(2), Err(StatusCode(503)));
    assert_eq!(get_order(7), Ok(Json(7)));
    let f = figures("get_order");
    assert_eq!((f.call_count, f.error_count, f.cancelled_count), (5, 2, 0));
}

fn server_error<T>(r: &Result<T, StatusCode>) -> bool {
    matches!(r, Err(s) if s.as_u16() >= 500)
}

#[perf_monitor(error_if = server_error)]
async fn async_get_order(id: u32) -> Result<Json<u32>, StatusCode> {
    get_order(id)
}

#[test]
fn a_path_predicate_on_an_async_fn() {
    for id in [0, 1, 3, 4] {
        let _ = block_on(async_get_order(id));
    }
    let f = figures("async_get_order");
    assert_eq!((f.call_count, f.error_count), (4, 1));
}

/// A value that is not a `Result` can be an error too: the predicate sees the whole value.
#[perf_monitor(error_if = Option::is_none)]
fn lookup(key: &str) -> Option<usize> {
    key.find('=')
}

#[test]
fn any_return_type_can_have_errors() {
    assert_eq!(lookup("a=b"), Some(1));
    assert_eq!(lookup("ab"), None);
    assert_eq!(lookup("ab"), None);
    let f = figures("lookup");
    assert_eq!((f.call_count, f.error_count), (3, 2));
}

/// `Err` values the predicate accepts are successes; panics stay errors.
#[perf_monitor(error_if = |_| false)]
fn never_an_error(fail: bool) -> Result<u32, String> {
    assert!(!fail, "boom");
    Err("but not an error".to_owned())
}

#[test]
fn panics_are_still_errors() {
    assert!(never_an_error(false).is_err());
    assert!(std::panic::catch_unwind(|| never_an_error(true)).is_err());
    let f = figures("never_an_error");
    assert_eq!((f.call_count, f.error_count), (2, 1));
}

#[perf_monitor(error_if = Result::is_err)]
async fn cancellable(id: u32) -> Result<u32, StatusCode> {
    std::future::pending::<()>().await;
    Ok(id)
}

#[test]
fn cancellation_is_still_cancelled() {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut fut = Box::pin(cancellable(1));
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    drop(fut);
    let f = figures("cancellable");
    assert_eq!((f.call_count, f.error_count, f.cancelled_count), (1, 0, 1));
}

struct Shop {
    limit: u32,
}

impl Shop {
    /// A method, with a borrowed return type and `Self` in scope.
    #[perf_monitor(error_if = |r: &Result<&u32, StatusCode>| r.is_err_and(|s| s.as_u16() != 409))]
    fn reserve(&self, n: u32) -> Result<&u32, StatusCode> {
        if n > self.limit {
            Err(StatusCode(if n > 100 { 500 } else { 409 }))
        } else {
            Ok(&self.limit)
        }
    }
}

#[test]
fn methods_and_borrowed_values() {
    let shop = Shop { limit: 10 };
    assert_eq!(shop.reserve(5), Ok(&10));
    assert_eq!(shop.reserve(50), Err(StatusCode(409)));
    assert_eq!(shop.reserve(500), Err(StatusCode(500)));
    let f = figures("Shop::reserve");
    assert_eq!((f.call_count, f.error_count), (3, 1));
}
