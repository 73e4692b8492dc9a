//! How a call ended.

/// How a recorded call ended, for [`FunctionHandle::record_outcome`](crate::FunctionHandle::record_outcome)
/// and [`PerformanceProfiler::profile_outcome`](crate::PerformanceProfiler::profile_outcome).
///
/// Every outcome is a call (in `call_count`, the percentiles and the histogram); only
/// [`Error`](Outcome::Error) is in `error_count`, only [`Cancelled`](Outcome::Cancelled) in
/// `cancelled_count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// The call did its job.
    Ok,
    /// The call failed: an error returned, a panic, a server error.
    Error,
    /// The call was abandoned before it finished: an `async fn` whose future was dropped, a
    /// request whose client went away. Not an error.
    Cancelled,
}

impl Outcome {
    /// [`Ok`](Outcome::Ok) when `success`, else [`Error`](Outcome::Error).
    #[must_use]
    pub const fn from_success(success: bool) -> Self {
        if success { Outcome::Ok } else { Outcome::Error }
    }
}
