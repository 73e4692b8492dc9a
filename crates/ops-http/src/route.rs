//! The `route` label: how a request's route template is found.

use std::borrow::Cow;

use http::Request;

/// The `route` label value of requests no route matched (and of every request when nothing
/// names routes): one fixed value, never the request's path, so a flood of random URLs adds
/// one series, not one per URL. [`HttpMetricsLayer::unmatched_route`](crate::HttpMetricsLayer::unmatched_route)
/// sets another.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// How the layer names a request's route: a template shared by every request it matches
/// (`/orders/{id}`), or `None` when no route matched (the request gets the
/// [unmatched](UNMATCHED_ROUTE) label).
///
/// Implemented by [`DefaultRoute`] (axum's `MatchedPath`) and [`RouteFn`] (a function of the
/// request); [`HttpMetricsLayer::with_route`](crate::HttpMetricsLayer::with_route) takes any
/// other. A route must come from a bounded set: the registry keeps at most its cardinality
/// limit of label sets per family and sends the rest to the `overflow="true"` series.
pub trait RouteLabel<B>: Send + Sync + 'static {
    /// The route template of `request`, or `None` when no route matched.
    fn route<'r>(&self, request: &'r Request<B>) -> Option<Cow<'r, str>>;
}

/// The default [`RouteLabel`]: with the feature `axum`, axum's
/// [`MatchedPath`](axum::extract::MatchedPath) — the template of the route that matched
/// (`/orders/{id}`; nested routers give the whole path, `/api/orders/{id}`) — and `None`
/// for requests no route matched (the router's fallback). Without the feature, `None` for
/// every request.
///
/// axum inserts `MatchedPath` when it routes a request, so the layer sees it when it is added
/// with `Router::layer` or `Router::route_layer` (inside the router), not when it wraps the
/// whole router from outside.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefaultRoute;

impl<B> RouteLabel<B> for DefaultRoute {
    #[inline]
    fn route<'r>(&self, request: &'r Request<B>) -> Option<Cow<'r, str>> {
        #[cfg(feature = "axum")]
        {
            request
                .extensions()
                .get::<axum::extract::MatchedPath>()
                .map(|path| Cow::Borrowed(path.as_str()))
        }
        #[cfg(not(feature = "axum"))]
        {
            let _ = request;
            None
        }
    }
}

/// A [`RouteLabel`] made of a function: [`HttpMetricsLayer::route_fn`](crate::HttpMetricsLayer::route_fn).
#[derive(Clone, Copy)]
pub struct RouteFn<F>(pub F);

impl<F> std::fmt::Debug for RouteFn<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RouteFn(..)")
    }
}

impl<B, F> RouteLabel<B> for RouteFn<F>
where
    F: for<'r> Fn(&'r Request<B>) -> Option<Cow<'r, str>> + Send + Sync + 'static,
{
    #[inline]
    fn route<'r>(&self, request: &'r Request<B>) -> Option<Cow<'r, str>> {
        (self.0)(request)
    }
}
