//! Every shape `#[perf_monitor]` supports, in one crate.

use ops_profiler::perf_monitor;

#[perf_monitor]
fn unit() {}

#[perf_monitor]
pub(crate) fn with_args(a: u32, (b, c): (u32, u32)) -> u32 {
    a + b + c
}

#[perf_monitor]
fn early_return(n: i32) -> i32 {
    if n < 0 {
        return 0;
    }
    n
}

type Alias<T> = Result<T, std::num::ParseIntError>;

#[perf_monitor]
fn alias(s: &str) -> Alias<i64> {
    let v: i64 = s.parse()?;
    Ok(v)
}

#[perf_monitor]
fn infers_from_return_type() -> Result<Vec<u8>, String> {
    Ok((0..4).collect())
}

#[perf_monitor]
fn infers_into() -> Result<String, Box<dyn std::error::Error>> {
    Ok("x".into())
}

#[perf_monitor]
fn generic<'a, T: Clone + 'a, const N: usize>(items: &'a [T; N]) -> Vec<T>
where
    T: std::fmt::Debug,
{
    items.to_vec()
}

#[perf_monitor]
fn returns_impl(n: u32) -> impl Iterator<Item = u32> + Clone {
    (0..n).map(|x| x * 2)
}

#[perf_monitor]
fn returns_result_of_impl(n: u32) -> Result<impl std::fmt::Display, std::fmt::Error> {
    Ok(n)
}

#[perf_monitor]
unsafe fn unsafe_fn(p: *const u8) -> u8 {
    unsafe { *p }
}

#[perf_monitor]
#[track_caller]
#[inline]
#[must_use]
/// Documented.
fn attributes_kept() -> u32 {
    std::panic::Location::caller().line()
}

#[perf_monitor(name = "named", level = "info", event = true)]
fn options() {}

#[perf_monitor(crate = ::ops_profiler)]
fn crate_path() {}

#[perf_monitor]
fn never() -> ! {
    panic!("never returns")
}

#[cfg(any())]
#[perf_monitor]
fn configured_out() {}

struct S {
    v: Vec<u32>,
}

impl S {
    #[perf_monitor]
    fn by_ref(&self) -> &[u32] {
        &self.v
    }

    #[perf_monitor]
    fn by_mut(&mut self) -> Result<&mut Vec<u32>, ()> {
        Ok(&mut self.v)
    }

    #[perf_monitor]
    fn by_value(self) -> Vec<u32> {
        self.v
    }

    #[perf_monitor]
    fn associated() -> Self {
        S { v: vec![] }
    }

    #[perf_monitor]
    async fn async_method(&self, extra: u32) -> Result<u32, String> {
        Ok(self.v.len() as u32 + extra)
    }
}

trait Greeter {
    fn greet(&self, name: &str) -> String;
    async fn greet_later(&self) -> u8;
}

impl Greeter for S {
    #[perf_monitor]
    fn greet(&self, name: &str) -> String {
        format!("hi {name}")
    }

    #[perf_monitor]
    async fn greet_later(&self) -> u8 {
        1
    }
}

struct Wrapper<T>(T);

impl<T: Clone + Send> Wrapper<T> {
    #[perf_monitor]
    fn get(&self) -> T {
        self.0.clone()
    }

    #[perf_monitor]
    async fn get_async(&self) -> T {
        self.0.clone()
    }
}

#[perf_monitor]
async fn async_result(fail: bool) -> std::io::Result<u8> {
    if fail {
        return Err(std::io::Error::other("x"));
    }
    Ok(1)
}

fn is_send<T: Send>(_: T) {}

fn main() {
    unit();
    let _ = with_args(1, (2, 3));
    let _ = early_return(-1);
    let _ = alias("1");
    let _ = infers_from_return_type();
    let _ = infers_into();
    let _ = generic(&[1, 2, 3]);
    let _ = returns_impl(3).clone().count();
    let _ = returns_result_of_impl(3);
    let x = 1u8;
    let _ = unsafe { unsafe_fn(&x) };
    let _ = attributes_kept();
    options();
    crate_path();
    let _: fn() -> ! = never;
    let mut s = S::associated();
    let _ = s.by_ref();
    let _ = s.by_mut();
    let _ = s.greet("x");
    is_send(s.async_method(1));
    is_send(s.greet_later());
    is_send(async_result(false));
    let w = Wrapper(5u8);
    let _ = w.get();
    is_send(w.get_async());
    let _ = s.by_value();
}
