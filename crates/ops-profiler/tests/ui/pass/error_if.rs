//! `error_if` with a path and a closure, on sync and async functions, methods, generics and
//! borrowed return types.

use ops_profiler::perf_monitor;

#[derive(Debug, Clone, Copy)]
pub struct StatusCode(u16);

impl StatusCode {
    pub fn as_u16(self) -> u16 {
        self.0
    }
}

pub struct Json<T>(pub T);

fn server_error<T>(r: &Result<T, StatusCode>) -> bool {
    matches!(r, Err(s) if s.as_u16() >= 500)
}

#[perf_monitor(error_if = server_error)]
fn path_sync(id: u32) -> Result<Json<u32>, StatusCode> {
    if id == 0 { Err(StatusCode(404)) } else { Ok(Json(id)) }
}

#[perf_monitor(error_if = |r| matches!(r, Err(s) if s.as_u16() >= 500))]
fn closure_sync(id: u32) -> Result<Json<u32>, StatusCode> {
    let n = id.checked_sub(1).ok_or(StatusCode(400))?;
    Ok(Json(n))
}

#[perf_monitor(error_if = server_error, level = "info")]
async fn path_async(id: u32) -> Result<Json<u32>, StatusCode> {
    closure_sync(id)
}

#[perf_monitor(name = "closure_async", error_if = |r| r.is_none())]
async fn closure_async(v: Vec<u8>) -> Option<u8> {
    v.first().copied()
}

#[perf_monitor(error_if = |n| *n > 10)]
fn plain_value(n: u32) -> u32 {
    n
}

#[perf_monitor(error_if = |_| false)]
fn unit() {}

#[perf_monitor(error_if = |r| r.is_err())]
fn generic<T: std::str::FromStr>(s: &str) -> Result<T, T::Err> {
    s.parse()
}

#[perf_monitor(error_if = |r| r.is_empty())]
fn borrowed<'a>(items: &'a [String], i: usize) -> &'a str {
    items.get(i).map_or("", String::as_str)
}

struct Shop {
    stock: Vec<u32>,
}

impl Shop {
    #[perf_monitor(error_if = |r| r.is_err())]
    fn take(&mut self) -> Result<&mut u32, StatusCode> {
        self.stock.last_mut().ok_or(StatusCode(409))
    }

    #[perf_monitor(error_if = |r| r.stock.is_empty())]
    fn new_empty() -> Self {
        Shop { stock: vec![] }
    }

    #[perf_monitor(error_if = server_error)]
    async fn count(&self) -> Result<usize, StatusCode> {
        Ok(self.stock.len())
    }
}

trait Store {
    fn load(&self, id: u32) -> Result<u32, StatusCode>;
}

impl Store for Shop {
    #[perf_monitor(error_if = server_error)]
    fn load(&self, id: u32) -> Result<u32, StatusCode> {
        self.stock.get(id as usize).copied().ok_or(StatusCode(404))
    }
}

fn is_send<T: Send>(_: T) {}

fn main() {
    let _ = path_sync(1);
    let _ = closure_sync(0);
    is_send(path_async(1));
    is_send(closure_async(vec![1]));
    let _ = plain_value(3);
    unit();
    let _ = generic::<u8>("1");
    let _ = borrowed(&["a".to_owned()], 0);
    let mut shop = Shop::new_empty();
    let _ = shop.take();
    is_send(shop.count());
    let _ = shop.load(0);
}
