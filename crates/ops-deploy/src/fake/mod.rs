//! Fakes of the [`Runtime`](crate::Runtime) and [`TrafficSwitch`](crate::TrafficSwitch)
//! traits for tests of code around deploys: scripted releases that start, pass or fail their
//! health checks, crash or hang — without a process, a socket or a proxy — and a switch that
//! records where it sent the traffic (and with what weight) and can be told to refuse, and a
//! signal source that answers the analysis from a script.

mod runtime;
mod source;
mod switch;

pub use self::runtime::{FakeBehavior, FakeCall, FakeRuntime};
pub use self::source::FakeSource;
pub use self::switch::{FakeTrafficSwitch, SwitchCall};
