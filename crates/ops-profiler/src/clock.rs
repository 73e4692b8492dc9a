//! The clock calls are timed with.
//!
//! With the `tsc` feature (default), a [`quanta::Clock`]: it reads the CPU's time-stamp counter
//! when the CPU reports an invariant TSC (about 12–16 ns a read on the project's VM against
//! 30–45 ns for `Instant::now`), calibrated once against the monotonic clock (10–200 ms, on the
//! first timed call or at [`crate::calibrate`]), and falls back to the monotonic clock itself
//! when there is no reliable TSC. Caveats, from quanta: time spent suspended is not counted, and
//! on a machine whose TSC is constant but not invariant, readings taken on different cores may
//! drift slightly; durations are clamped at zero, never negative. Without the feature,
//! `std::time::Instant` is used.

#[cfg(feature = "tsc")]
mod imp {
    use std::sync::OnceLock;

    static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();

    #[inline]
    fn clock() -> &'static quanta::Clock {
        CLOCK.get_or_init(quanta::Clock::new)
    }

    /// A start reading.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct Start(u64);

    #[inline]
    pub(crate) fn start() -> Start {
        Start(clock().raw())
    }

    #[inline]
    pub(crate) fn elapsed_ns(start: Start) -> u64 {
        let c = clock();
        c.delta_as_nanos(start.0, c.raw())
    }

    pub(crate) fn calibrate() {
        let _ = clock();
    }

    pub(crate) const NAME: &str = "tsc (quanta)";
}

#[cfg(not(feature = "tsc"))]
mod imp {
    use std::time::Instant;

    /// A start reading.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct Start(Instant);

    #[inline]
    pub(crate) fn start() -> Start {
        Start(Instant::now())
    }

    #[inline]
    pub(crate) fn elapsed_ns(start: Start) -> u64 {
        u64::try_from(start.0.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    pub(crate) fn calibrate() {}

    pub(crate) const NAME: &str = "std::time::Instant";
}

pub(crate) use imp::{NAME, Start, calibrate, elapsed_ns, start};
