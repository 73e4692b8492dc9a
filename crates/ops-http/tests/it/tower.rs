//! Any tower HTTP service: routes from a function (or none), errors and panics as 500.

use std::borrow::Cow;
use std::convert::Infallible;

use http::{Request, Response, StatusCode};
use ops_http::HttpMetricsLayer;
use ops_registry::Registry;
use tower::{Layer as _, Service, ServiceBuilder, ServiceExt as _, service_fn};

use super::{block_on, finished_lines, layer_lines};

fn layer(registry: &Registry) -> HttpMetricsLayer {
    let layer = HttpMetricsLayer::new(registry).unwrap();
    #[cfg(feature = "access-log")]
    let layer = layer.access_log(false);
    layer
}

/// Answers with the status written as the path's first segment (`/404/…`), or fails for
/// `/err`.
async fn echo_status(req: Request<String>) -> Result<Response<String>, &'static str> {
    let path = req.uri().path();
    if path == "/err" {
        return Err("the service failed");
    }
    let code: u16 = path
        .trim_start_matches('/')
        .split('/')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let mut response = Response::new(String::new());
    *response.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    Ok(response)
}

fn call<S>(service: &S, method: &str, uri: &str) -> Result<u16, &'static str>
where
    S: Service<Request<String>, Response = Response<String>, Error = &'static str> + Clone,
{
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .body(String::new())
        .unwrap();
    block_on(service.clone().oneshot(request)).map(|r| r.status().as_u16())
}

#[test]
fn a_route_function_names_routes_and_errors_are_500() {
    let registry = Registry::new();
    let service = ServiceBuilder::new()
        .layer(layer(&registry).route_fn(|req: &Request<String>| {
            let path = req.uri().path();
            match path.split('/').nth(1) {
                Some("err") => Some(Cow::Borrowed(path)),
                Some(code) if code.parse::<u16>().is_ok() => Some("/{code}/{rest}".into()),
                _ => None,
            }
        }))
        .service(service_fn(echo_status));
    assert_eq!(call(&service, "GET", "/201/a"), Ok(201));
    assert_eq!(call(&service, "GET", "/201/b?x=1"), Ok(201));
    assert_eq!(call(&service, "PUT", "/404/c"), Ok(404));
    assert_eq!(call(&service, "GET", "/hello"), Ok(200));
    assert_eq!(call(&service, "POST", "/err"), Err("the service failed"));
    assert_eq!(
        layer_lines(&registry),
        finished_lines(
            &[
                ("GET", "/{code}/{rest}", 201, 2),
                ("PUT", "/{code}/{rest}", 404, 1),
                ("GET", "unmatched", 200, 1),
                ("POST", "/err", 500, 1),
            ],
            0
        )
    );
}

#[test]
fn without_a_route_function_every_request_is_unmatched() {
    let registry = Registry::new();
    let service = layer(&registry).layer(service_fn(echo_status));
    for uri in ["/a", "/b/c", "/200", "/d?e=f"] {
        assert_eq!(call(&service, "GET", uri), Ok(200));
    }
    assert_eq!(
        layer(&registry)
            .durations()
            .with(&["GET", "unmatched", "200"])
            .count(),
        4
    );
    assert_eq!(layer(&registry).durations().len(), 1);
}

#[test]
fn more_statuses_than_a_route_keeps_are_still_counted() {
    let registry = Registry::new();
    let service = layer(&registry)
        .route_fn(|_: &Request<String>| Some(Cow::Borrowed("/one")))
        .layer(service_fn(echo_status));
    for round in 0..2 {
        for code in 200..240 {
            assert_eq!(
                call(&service, "GET", &format!("/{code}")),
                Ok(code),
                "{round}"
            );
        }
    }
    let durations = layer(&registry).durations().clone();
    assert_eq!(durations.len(), 40);
    for code in 200..240 {
        assert_eq!(
            durations.with(&["GET", "/one", &code.to_string()]).count(),
            2,
            "{code}"
        );
    }
}

#[test]
fn a_panic_in_call_is_a_server_error_and_leaves_nothing_in_flight() {
    #[derive(Clone)]
    struct PanicsInCall;
    impl Service<Request<String>> for PanicsInCall {
        type Response = Response<String>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Response<String>, Infallible>>;
        fn poll_ready(
            &mut self,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Infallible>> {
            std::task::Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: Request<String>) -> Self::Future {
            panic!("bug in call");
        }
    }
    let registry = Registry::new();
    let mut service = layer(&registry).layer(PanicsInCall);
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        drop(service.call(Request::new(String::new())));
    }));
    assert!(unwound.is_err());
    let l = layer(&registry);
    assert_eq!(l.durations().with(&["GET", "unmatched", "500"]).count(), 1);
    assert_eq!(l.active().with(&["GET", "unmatched"]).get(), 0.0);
    assert_eq!(l.cancelled().with(&["GET", "unmatched"]).get(), 0);
}

#[test]
fn a_future_never_polled_and_dropped_is_cancelled() {
    let registry = Registry::new();
    let mut service = layer(&registry).layer(service_fn(echo_status));
    let future = service.call(Request::new(String::new()));
    let l = layer(&registry);
    assert_eq!(l.active().with(&["GET", "unmatched"]).get(), 1.0);
    drop(future);
    assert_eq!(l.active().with(&["GET", "unmatched"]).get(), 0.0);
    assert_eq!(l.cancelled().with(&["GET", "unmatched"]).get(), 1);
    assert_eq!(l.durations().len(), 0);
}
