//! The three families the layer records into, registered in the user's registry.

use ops_registry::{Buckets, CounterVec, Error, GaugeVec, HistogramVec, Registry, Unit};

/// The duration histogram: `http_server_request_duration_seconds{method, route, status}`
/// (OpenTelemetry's `http.server.request.duration`), one observation per request answered.
pub const DURATION_FAMILY: &str = "http_server_request_duration_seconds";

/// The requests-in-flight gauge: `http_server_active_requests{method, route}`
/// (OpenTelemetry's `http.server.active_requests`, with the route instead of the scheme).
pub const ACTIVE_FAMILY: &str = "http_server_active_requests";

/// The counter of requests abandoned before their answer was ready:
/// `http_server_requests_cancelled_total{method, route}`.
pub const CANCELLED_FAMILY: &str = "http_server_requests_cancelled_total";

const DURATION_HELP: &str = "Duration of HTTP server requests answered, from the request to its response head, by method, route template and status code (OpenTelemetry http.server.request.duration). Requests the client abandoned are in http_server_requests_cancelled_total instead.";
const ACTIVE_HELP: &str = "HTTP server requests in flight: received and not yet answered or abandoned (OpenTelemetry http.server.active_requests), by method and route template.";
const CANCELLED_HELP: &str = "HTTP server requests abandoned before their response head was ready (the client went away and the server dropped the request), by method and route template. Not server errors; not in http_server_request_duration_seconds.";

/// The layer's families, registered (or found, when already registered the same way).
#[derive(Debug, Clone)]
pub(crate) struct Families {
    pub(crate) durations: HistogramVec,
    pub(crate) active: GaugeVec,
    pub(crate) cancelled: CounterVec,
}

impl Families {
    pub(crate) fn register(registry: &Registry) -> Result<Families, Error> {
        Ok(Families {
            durations: registry
                .family(DURATION_FAMILY, DURATION_HELP)
                .unit(Unit::Seconds)
                .histogram_vec(&["method", "route", "status"], Buckets::HTTP)?,
            active: registry.gauge_vec(ACTIVE_FAMILY, ACTIVE_HELP, &["method", "route"])?,
            cancelled: registry.counter_vec(
                CANCELLED_FAMILY,
                CANCELLED_HELP,
                &["method", "route"],
            )?,
        })
    }
}
