//! The access-log line of a request, through `ops_logging::log_request`.

use std::sync::Arc;
use std::time::Duration;

use http::{Extensions, Method, Request, Uri};

/// The user a request was made by, for its access-log line's `user_id`: put it in the
/// request's extensions (an authentication layer outside this one) or the response's (a
/// handler or a layer inside it); the response's wins.
///
/// ```
/// use ops_http::RequestUser;
/// let mut response = http::Response::new(());
/// response.extensions_mut().insert(RequestUser::new("u-42"));
/// assert_eq!(response.extensions().get::<RequestUser>().map(RequestUser::as_str), Some("u-42"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestUser(Arc<str>);

impl RequestUser {
    /// The user's id, as the access log shows it.
    pub fn new(id: impl Into<Arc<str>>) -> RequestUser {
        RequestUser(id.into())
    }

    /// The user's id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What the line needs from the request, taken when it arrives (the request moves on into
/// the service).
#[derive(Debug)]
pub(crate) struct AccessLine {
    method: Method,
    uri: Uri,
    user: Option<RequestUser>,
}

impl AccessLine {
    /// The request's method, URI and user when INFO events of target `access` are enabled
    /// (so a service that logs nothing pays nothing), else `None`. Boxed: the response
    /// future carries it, and a small future is cheaper to move.
    #[inline]
    pub(crate) fn capture<B>(request: &Request<B>) -> Option<Box<AccessLine>> {
        if !tracing::enabled!(target: "access", tracing::Level::INFO) {
            return None;
        }
        Some(Box::new(AccessLine {
            method: request.method().clone(),
            uri: request.uri().clone(),
            user: request.extensions().get::<RequestUser>().cloned(),
        }))
    }

    /// Logs the line: the method as sent, the path without its query string, `status`, the
    /// time in milliseconds and the user (the response's, else the request's).
    pub(crate) fn write(self, status: u16, elapsed: Duration, response: Option<&Extensions>) {
        let user = response
            .and_then(|ext| ext.get::<RequestUser>())
            .or(self.user.as_ref());
        ops_logging::log_request(
            self.method.as_str(),
            self.uri.path(),
            status,
            elapsed.as_secs_f64() * 1e3,
            user.map(RequestUser::as_str),
        );
    }
}
