//! [`FakeTrafficSwitch`]: a traffic switch that only records.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::health::ProbeError;
use crate::proxy::TrafficSwitch;

/// One `switch` call a [`FakeTrafficSwitch`] received.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SwitchCall {
    /// The release the traffic was to go to.
    pub release: String,
    /// Where it serves.
    pub target: SocketAddr,
    /// Whether the switch accepted it (the routing changed).
    pub accepted: bool,
    /// The share of the traffic `release` was to get, in percent: 100 for a switch, the
    /// canary's weight for a split.
    pub weight: u8,
    /// For a split: the release keeping the rest, and where it serves.
    pub stable: Option<(String, SocketAddr)>,
}

#[derive(Debug, Default)]
struct Inner {
    target: Option<SocketAddr>,
    /// While split: each address and its weight.
    split: Vec<(SocketAddr, u32)>,
    calls: Vec<SwitchCall>,
    /// Switches accepted before refusing (`None`: never refuse).
    accept: Option<usize>,
    refusal: String,
    recheck: Option<Result<u16, ProbeError>>,
    recheck_of: std::collections::HashMap<String, Result<u16, ProbeError>>,
    /// The release the last accepted switch routed to.
    routed: Option<String>,
}

/// A [`TrafficSwitch`] that routes nothing: it remembers where the traffic goes, records every
/// switch, and can be scripted to refuse (all switches, or all after the first `n`) or to fail
/// the re-check made through the proxy after a switch. Clones share their state.
///
/// ```
/// use std::time::Duration;
/// use ops_deploy::{
///     DeployConfig, DeployOutcome, Deployer, FakeRuntime, FakeTrafficSwitch, Strategy,
///     TrafficSwitch as _,
/// };
///
/// let dir = tempfile::tempdir()?;
/// let mut config = DeployConfig::from_toml(
///     "service = \"web\"\nport = 9001\nalt_port = 9002\n[health]\ninterval = \"1ms\"\n",
///     "web.toml".as_ref(),
/// )?;
/// config.state_dir = dir.path().to_path_buf();
/// config.strategy = Strategy::BlueGreen;
/// config.drain = Duration::ZERO;
/// let switch = FakeTrafficSwitch::new().refusing_after(1, "nginx -t: bad upstream");
/// let deployer = Deployer::new(config, FakeRuntime::new()).with_switch(Box::new(switch.clone()));
///
/// assert!(matches!(deployer.deploy("web:1", "test", None, |_| {})?, DeployOutcome::Healthy { .. }));
/// // The second switch is refused: web-1 keeps the traffic, web-2 never got any.
/// let outcome = deployer.deploy("web:2", "test", None, |_| {})?;
/// assert!(matches!(&outcome, DeployOutcome::RolledBack { restored, .. } if restored == "web-1"));
/// assert_eq!(switch.target(), Some("127.0.0.1:9001".parse()?));
/// assert_eq!(switch.calls().iter().filter(|c| c.accepted).count(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct FakeTrafficSwitch {
    inner: Arc<Mutex<Inner>>,
}

impl FakeTrafficSwitch {
    /// A switch that accepts every change and has no public address to re-check.
    #[must_use]
    pub fn new() -> FakeTrafficSwitch {
        FakeTrafficSwitch::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Routes to `target` before any switch.
    #[must_use]
    pub fn routing_to(self, target: SocketAddr) -> FakeTrafficSwitch {
        self.lock().target = Some(target);
        self
    }

    /// Refuses every switch with `reason`; the routing stays.
    #[must_use]
    pub fn refusing(self, reason: impl Into<String>) -> FakeTrafficSwitch {
        self.refusing_after(0, reason)
    }

    /// Accepts `n` switches, then refuses every further one with `reason`.
    #[must_use]
    pub fn refusing_after(self, n: usize, reason: impl Into<String>) -> FakeTrafficSwitch {
        {
            let mut inner = self.lock();
            inner.accept = Some(n);
            inner.refusal = reason.into();
        }
        self
    }

    /// After each switch, the probe through the proxy answers `result` (`Ok(200)`: healthy;
    /// `Err(ProbeError::Status(502))`: the proxy cannot reach the release). Without this there
    /// is no re-check.
    #[must_use]
    pub fn recheck(self, result: Result<u16, ProbeError>) -> FakeTrafficSwitch {
        self.lock().recheck = Some(result);
        self
    }

    /// After a switch to `release`, the probe through the proxy answers `result` (takes
    /// precedence over [`recheck`](FakeTrafficSwitch::recheck)): one release that the proxy
    /// cannot reach.
    #[must_use]
    pub fn recheck_of(
        self,
        release: impl Into<String>,
        result: Result<u16, ProbeError>,
    ) -> FakeTrafficSwitch {
        self.lock().recheck_of.insert(release.into(), result);
        self
    }

    /// Every switch and split asked for, oldest first.
    pub fn calls(&self) -> Vec<SwitchCall> {
        self.lock().calls.clone()
    }

    /// The new release's share of the traffic after each accepted change from the first
    /// split on, in percent: `[10, 25, 50, 100]` for a canary promoted through every step,
    /// `[10, 0]` for one aborted at its first step. Empty when nothing was split.
    pub fn weights(&self) -> Vec<u8> {
        let calls = self.calls();
        let Some(first) = calls.iter().position(|c| c.accepted && c.stable.is_some()) else {
            return Vec::new();
        };
        let canary = calls[first].release.clone();
        calls[first..]
            .iter()
            .filter(|c| c.accepted)
            .map(|c| match (&c.stable, c.release == canary) {
                (Some(_), true) => c.weight,
                (Some(_), false) => 100 - c.weight,
                (None, true) => 100,
                (None, false) => 0,
            })
            .collect()
    }

    fn record(&self, call: SwitchCall) -> Result<()> {
        let mut inner = self.lock();
        let accepted_so_far = inner.calls.iter().filter(|c| c.accepted).count();
        let accepted = inner.accept.is_none_or(|n| accepted_so_far < n);
        let mut call = call;
        call.accepted = accepted;
        inner.calls.push(call.clone());
        if !accepted {
            return Err(Error::Proxy {
                action: "fake switch".into(),
                reason: inner.refusal.clone(),
            });
        }
        if let Some((_, stable)) = &call.stable {
            inner.target = None;
            inner.split = vec![
                (*stable, u32::from(100 - call.weight)),
                (call.target, u32::from(call.weight)),
            ];
        } else {
            inner.target = Some(call.target);
            inner.split.clear();
        }
        inner.routed = Some(call.release);
        Ok(())
    }
}

impl TrafficSwitch for FakeTrafficSwitch {
    fn name(&self) -> &'static str {
        "fake"
    }

    fn switch(&self, release: &str, target: SocketAddr) -> Result<()> {
        self.record(SwitchCall {
            release: release.to_owned(),
            target,
            accepted: false,
            weight: 100,
            stable: None,
        })
    }

    fn split(
        &self,
        stable: (&str, SocketAddr),
        canary: (&str, SocketAddr),
        weight: u8,
    ) -> Result<()> {
        self.record(SwitchCall {
            release: canary.0.to_owned(),
            target: canary.1,
            accepted: false,
            weight,
            stable: Some((stable.0.to_owned(), stable.1)),
        })
    }

    fn target(&self) -> Option<SocketAddr> {
        self.lock().target
    }

    fn routes(&self) -> Vec<(SocketAddr, u32)> {
        let inner = self.lock();
        if inner.split.is_empty() {
            inner.target.map(|t| vec![(t, 1)]).unwrap_or_default()
        } else {
            inner.split.clone()
        }
    }

    fn public(&self) -> Option<SocketAddr> {
        None
    }

    fn probe_public(&self, _path: &str, _timeout: Duration) -> Option<Result<u16, ProbeError>> {
        let inner = self.lock();
        inner
            .routed
            .as_ref()
            .and_then(|r| inner.recheck_of.get(r))
            .or(inner.recheck.as_ref())
            .cloned()
    }

    fn describe(&self) -> String {
        "fake traffic switch".into()
    }
}
