//! The layer and its settings.

use std::borrow::Cow;
use std::sync::Arc;

use http::Request;
use ops_registry::{CounterVec, Error, GaugeVec, HistogramVec, Registry};
use tower_layer::Layer;

use crate::families::Families;
use crate::route::{DefaultRoute, RouteFn, UNMATCHED_ROUTE};
use crate::routes::RouteTable;
use crate::service::{HttpMetrics, State};

/// A `tower::Layer` that records every request of the services it wraps into a
/// [`Registry`]: see the [crate documentation](crate) for the series and what each request
/// counts in.
///
/// | setting | default |
/// |---|---|
/// | route label | [`DefaultRoute`]: axum's `MatchedPath` (feature `axum`) |
/// | [`unmatched_route`](Self::unmatched_route) | [`UNMATCHED_ROUTE`] (`unmatched`) |
/// | [`access_log`](Self::access_log) | on (feature `access-log`) |
///
/// Cheap to clone; clones (and every service they make) share their series and their cache
/// of handles. Wrapping a service costs one reference count.
#[must_use = "a layer does nothing until it wraps a service (`Router::layer`)"]
#[derive(Debug)]
pub struct HttpMetricsLayer<R = DefaultRoute> {
    state: Arc<State<R>>,
}

impl<R> Clone for HttpMetricsLayer<R> {
    fn clone(&self) -> Self {
        HttpMetricsLayer {
            state: Arc::clone(&self.state),
        }
    }
}

impl HttpMetricsLayer {
    /// A layer recording into `registry`'s families
    /// [`http_server_request_duration_seconds`](crate::DURATION_FAMILY),
    /// [`http_server_active_requests`](crate::ACTIVE_FAMILY) and
    /// [`http_server_requests_cancelled_total`](crate::CANCELLED_FAMILY), registered here
    /// (or found: calling `new` again on the same registry shares them).
    ///
    /// # Errors
    /// One of those names already registered in `registry` as something else
    /// ([`Error::Conflict`]), or the registry full ([`Error::TooManyFamilies`]).
    pub fn new(registry: &Registry) -> Result<HttpMetricsLayer, Error> {
        Ok(HttpMetricsLayer {
            state: Arc::new(State {
                table: Arc::new(RouteTable::new(Families::register(registry)?)),
                route: Arc::new(DefaultRoute),
                unmatched: Arc::from(UNMATCHED_ROUTE),
                #[cfg(feature = "access-log")]
                access_log: true,
            }),
        })
    }
}

impl<R> HttpMetricsLayer<R> {
    /// The same settings, with `change` applied to a copy.
    fn with_state<R2>(
        &self,
        route: Arc<R2>,
        change: impl FnOnce(&mut State<R2>),
    ) -> HttpMetricsLayer<R2> {
        let mut state = State {
            table: Arc::clone(&self.state.table),
            route,
            unmatched: Arc::clone(&self.state.unmatched),
            #[cfg(feature = "access-log")]
            access_log: self.state.access_log,
        };
        change(&mut state);
        HttpMetricsLayer {
            state: Arc::new(state),
        }
    }

    /// Names routes with a function of the request instead of axum's `MatchedPath`: for tower
    /// services other than axum's router, or to group routes. It returns the route template,
    /// or `None` for the [unmatched](Self::unmatched_route) label. Return templates, never
    /// the path itself: each distinct value is a set of series (the registry caps them at its
    /// cardinality limit, the rest going to `overflow="true"`).
    ///
    /// ```
    /// use std::borrow::Cow;
    /// use http::Request;
    ///
    /// let registry = ops_registry::Registry::new();
    /// let layer = ops_http::HttpMetricsLayer::new(&registry)?.route_fn(|req: &Request<String>| {
    ///     let path = req.uri().path();
    ///     if path == "/health" {
    ///         Some(Cow::Borrowed(path))
    ///     } else if path.starts_with("/orders/") {
    ///         Some("/orders/{id}".into())
    ///     } else {
    ///         None
    ///     }
    /// });
    /// # let _ = layer;
    /// # Ok::<(), ops_registry::Error>(())
    /// ```
    pub fn route_fn<B, F>(self, route: F) -> HttpMetricsLayer<RouteFn<F>>
    where
        F: for<'r> Fn(&'r Request<B>) -> Option<Cow<'r, str>> + Send + Sync + 'static,
    {
        self.with_route(RouteFn(route))
    }

    /// Names routes with any [`RouteLabel`](crate::RouteLabel).
    pub fn with_route<R2>(self, route: R2) -> HttpMetricsLayer<R2> {
        self.with_state(Arc::new(route), |_| {})
    }

    /// The `route` label value of requests no route matched, instead of `unmatched`. One value
    /// for all of them, whatever their path. (An empty value is the same, for Prometheus, as
    /// no `route` label at all.)
    pub fn unmatched_route(self, label: impl Into<String>) -> Self {
        let label: Arc<str> = Arc::from(label.into());
        self.with_state(Arc::clone(&self.state.route), |s| s.unmatched = label)
    }

    /// Whether each request is logged with `ops_logging::log_request` (default: yes). Turn it
    /// off at build time with `default-features = false` (keeping `axum`).
    #[cfg(feature = "access-log")]
    pub fn access_log(self, on: bool) -> Self {
        self.with_state(Arc::clone(&self.state.route), |s| s.access_log = on)
    }

    /// The duration histogram family (`http_server_request_duration_seconds`).
    pub fn durations(&self) -> &HistogramVec {
        &self.state.table.families().durations
    }

    /// The in-flight gauge family (`http_server_active_requests`).
    pub fn active(&self) -> &GaugeVec {
        &self.state.table.families().active
    }

    /// The cancelled counter family (`http_server_requests_cancelled_total`).
    pub fn cancelled(&self) -> &CounterVec {
        &self.state.table.families().cancelled
    }
}

impl<S, R> Layer<S> for HttpMetricsLayer<R> {
    type Service = HttpMetrics<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpMetrics::new(inner, Arc::clone(&self.state))
    }
}
