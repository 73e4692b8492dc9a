//! The response future: records the request when its answer is ready, when it is dropped
//! unanswered (cancelled), or when the service panics.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::Response;
use pin_project_lite::pin_project;

#[cfg(feature = "access-log")]
use crate::access_log::AccessLine;
use crate::series::Series;

/// The status a request is recorded with when the service failed to answer it: its future
/// resolved to an `Err` (no response; hyper closes the connection) or it panicked.
pub(crate) const SERVER_ERROR: u16 = 500;

/// The status the access log gives a request abandoned by its client (nginx's "client closed
/// request"); metrics count it in `http_server_requests_cancelled_total`, never as a status.
#[cfg(feature = "access-log")]
pub const CANCELLED_LOG_STATUS: u16 = 499;

/// Where a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Inside the service's `call` or its future's `poll`: a drop now is a panic unwinding.
    InService,
    /// Between polls: a drop now is the request abandoned.
    Waiting,
    /// Recorded.
    Done,
}

/// One request being served: counted in flight from its start, recorded exactly once.
#[derive(Debug)]
pub(crate) struct Tracker {
    series: Arc<Series>,
    started: Instant,
    phase: Phase,
    #[cfg(feature = "access-log")]
    line: Option<Box<AccessLine>>,
}

impl Tracker {
    /// A request starts (it is in flight until recorded); the service is about to be called.
    #[inline]
    pub(crate) fn start(
        series: Arc<Series>,
        #[cfg(feature = "access-log")] line: Option<Box<AccessLine>>,
    ) -> Tracker {
        series.start();
        Tracker {
            series,
            started: Instant::now(),
            phase: Phase::InService,
            #[cfg(feature = "access-log")]
            line,
        }
    }

    /// The service returned its future.
    #[inline]
    pub(crate) fn called(&mut self) {
        self.phase = Phase::Waiting;
    }

    #[inline]
    fn answered(&mut self, status: u16, response: Option<&http::Extensions>) {
        self.phase = Phase::Done;
        let elapsed = self.started.elapsed();
        self.series.answered(status, elapsed);
        #[cfg(feature = "access-log")]
        if let Some(line) = self.line.take() {
            (*line).write(status, elapsed, response);
        }
        #[cfg(not(feature = "access-log"))]
        let _ = response;
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        match self.phase {
            Phase::Done => {}
            // Dropped while the service ran: its panic is unwinding through us.
            Phase::InService => self.answered(SERVER_ERROR, None),
            Phase::Waiting => {
                self.phase = Phase::Done;
                self.series.cancelled();
                #[cfg(feature = "access-log")]
                if let Some(line) = self.line.take() {
                    (*line).write(CANCELLED_LOG_STATUS, self.started.elapsed(), None);
                }
            }
        }
    }
}

pin_project! {
    /// The future of [`HttpMetrics`](crate::HttpMetrics): the service's, recording the
    /// request when it resolves or is dropped.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        tracker: Tracker,
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("tracker", &self.tracker)
            .finish_non_exhaustive()
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(inner: F, tracker: Tracker) -> Self {
        ResponseFuture { inner, tracker }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let tracker = this.tracker;
        if tracker.phase == Phase::Done {
            return this.inner.poll(cx);
        }
        tracker.phase = Phase::InService;
        match this.inner.poll(cx) {
            Poll::Pending => {
                tracker.phase = Phase::Waiting;
                Poll::Pending
            }
            Poll::Ready(result) => {
                match &result {
                    Ok(response) => {
                        tracker.answered(response.status().as_u16(), Some(response.extensions()));
                    }
                    Err(_) => tracker.answered(SERVER_ERROR, None),
                }
                Poll::Ready(result)
            }
        }
    }
}
