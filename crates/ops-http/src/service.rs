//! The service the layer wraps around each route (or around any tower HTTP service).

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

#[cfg(feature = "access-log")]
use crate::access_log::AccessLine;
use crate::future::{ResponseFuture, Tracker};
use crate::method;
use crate::route::RouteLabel;
use crate::routes::RouteTable;

/// What every service a layer made shares.
#[derive(Debug)]
pub(crate) struct State<R> {
    pub(crate) table: Arc<RouteTable>,
    pub(crate) route: Arc<R>,
    pub(crate) unmatched: Arc<str>,
    #[cfg(feature = "access-log")]
    pub(crate) access_log: bool,
}

/// A tower HTTP service that records each request it serves: made by
/// [`HttpMetricsLayer`](crate::HttpMetricsLayer), which says what is recorded.
///
/// Cheap to clone (axum clones a route's service for each request): one reference count.
#[derive(Debug)]
pub struct HttpMetrics<S, R> {
    inner: S,
    state: Arc<State<R>>,
}

impl<S: Clone, R> Clone for HttpMetrics<S, R> {
    fn clone(&self) -> Self {
        HttpMetrics {
            inner: self.inner.clone(),
            state: Arc::clone(&self.state),
        }
    }
}

impl<S, R> HttpMetrics<S, R> {
    pub(crate) fn new(inner: S, state: Arc<State<R>>) -> Self {
        HttpMetrics { inner, state }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The wrapped service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, R, B, ResBody> Service<Request<B>> for HttpMetrics<S, R>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    R: RouteLabel<B>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let state = &*self.state;
        let index = method::index(request.method());
        let series = match state.route.route(&request) {
            Some(route) => state.table.series(&route, index),
            None => state.table.series(&state.unmatched, index),
        };
        #[cfg(feature = "access-log")]
        let line = if state.access_log {
            AccessLine::capture(&request)
        } else {
            None
        };
        // Started before the call: a panicking `call` is recorded as a server error when the
        // tracker drops during the unwinding.
        let mut tracker = Tracker::start(
            series,
            #[cfg(feature = "access-log")]
            line,
        );
        let inner = self.inner.call(request);
        tracker.called();
        ResponseFuture::new(inner, tracker)
    }
}
