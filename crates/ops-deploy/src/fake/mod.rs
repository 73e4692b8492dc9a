//! Fakes of the [`Runtime`](crate::Runtime) and [`TrafficSwitch`](crate::TrafficSwitch)
//! traits for tests of code around deploys: scripted releases that start, pass or fail their
//! health checks, crash or hang — without a process, a socket or a proxy — and a switch that
//! records where it sent the traffic and can be told to refuse.

mod runtime;
mod switch;

pub use self::runtime::{FakeBehavior, FakeCall, FakeRuntime};
pub use self::switch::{FakeTrafficSwitch, SwitchCall};
