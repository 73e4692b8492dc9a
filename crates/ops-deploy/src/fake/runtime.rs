//! [`FakeRuntime`]: releases that exist only in memory, doing what a script says.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::health::ProbeError;
use crate::runtime::{Instance, Runtime};

/// What a release does on a [`FakeRuntime`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FakeBehavior {
    /// Starts and answers every health check with 200.
    Healthy,
    /// Starts, answers this many health checks with 200, then 500 (`0`: never healthy).
    UnhealthyAfter(u32),
    /// `start` fails with this message (after a preflight that passed).
    FailStart(String),
    /// Starts, answers this many checks with 200, then exits with `status` (`checks: 0`: it
    /// exits at once, before the first check).
    CrashAfter {
        /// Health checks answered before it exits.
        checks: u32,
        /// Its exit status.
        status: i32,
    },
    /// Takes connections and never answers: every check times out (at once: the fake does not
    /// wait out the timeout).
    Hang,
    /// Not there at all: the preflight check refuses it, and so would `start`.
    Missing,
}

/// One call a [`FakeRuntime`] received, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FakeCall {
    /// `start(release, artifact, port)`.
    Start {
        /// The release.
        release: String,
        /// What it runs.
        artifact: String,
        /// Its port.
        port: u16,
    },
    /// `stop` of an instance.
    Stop {
        /// The release.
        release: String,
        /// Its port.
        port: u16,
    },
    /// One health probe.
    Probe {
        /// The release.
        release: String,
        /// Its port.
        port: u16,
    },
    /// `preflight(artifact)`.
    Preflight {
        /// The artifact checked.
        artifact: String,
    },
    /// `prune(release)`.
    Prune {
        /// The release.
        release: String,
    },
}

#[derive(Debug)]
struct FakeInstance {
    instance: Instance,
    artifact: String,
    behavior: FakeBehavior,
    checks: u32,
    running: bool,
    exit: Option<String>,
}

#[derive(Debug)]
struct Inner {
    by_artifact: HashMap<String, FakeBehavior>,
    by_release: HashMap<String, FakeBehavior>,
    default: FakeBehavior,
    taken_ports: HashSet<u16>,
    next: u64,
    instances: BTreeMap<u64, FakeInstance>,
    calls: Vec<FakeCall>,
}

/// A [`Runtime`] whose releases exist only in memory and behave as scripted, per release id or
/// per artifact ([`FakeBehavior`]; unscripted ones are healthy). Health checks go through
/// [`Runtime::probe`] and [`Runtime::exited`], so no socket is opened; every call is recorded
/// ([`calls`](FakeRuntime::calls)). Clones share their state: keep one to look at after
/// handing the other to a [`Deployer`](crate::Deployer).
///
/// ```
/// use std::time::Duration;
/// use ops_deploy::{DeployConfig, DeployOutcome, Deployer, FakeBehavior, FakeRuntime};
///
/// let dir = tempfile::tempdir()?;
/// let mut config = DeployConfig::from_toml(
///     "service = \"web\"\nport = 8080\n[health]\ninterval = \"1ms\"\nretries = 3\n",
///     "web.toml".as_ref(),
/// )?;
/// config.state_dir = dir.path().to_path_buf();
/// let runtime = FakeRuntime::new()
///     .artifact("web:1", FakeBehavior::Healthy)
///     .artifact("web:2", FakeBehavior::UnhealthyAfter(0));
/// let deployer = Deployer::new(config, runtime.clone());
///
/// let first = deployer.deploy("web:1", "test", None, |_| {})?;
/// assert_eq!(first, DeployOutcome::Healthy { release: "web-1".into() });
/// // web:2 never passes its check: rolled back to web-1, which runs again.
/// let second = deployer.deploy("web:2", "test", None, |_| {})?;
/// assert!(matches!(&second, DeployOutcome::RolledBack { restored, .. } if restored == "web-1"));
/// assert_eq!(second.exit_code(), 1);
/// assert_eq!(runtime.running(), ["web-1"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct FakeRuntime {
    inner: Arc<Mutex<Inner>>,
}

impl Default for FakeRuntime {
    fn default() -> Self {
        FakeRuntime::new()
    }
}

impl FakeRuntime {
    /// A runtime where every release is healthy until scripted otherwise.
    #[must_use]
    pub fn new() -> FakeRuntime {
        FakeRuntime {
            inner: Arc::new(Mutex::new(Inner {
                by_artifact: HashMap::new(),
                by_release: HashMap::new(),
                default: FakeBehavior::Healthy,
                taken_ports: HashSet::new(),
                next: 0,
                instances: BTreeMap::new(),
                calls: Vec::new(),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic in a test holding the lock must not hide the state from the next assertion.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Releases started from `artifact` behave like this.
    #[must_use]
    pub fn artifact(self, artifact: impl Into<String>, behavior: FakeBehavior) -> FakeRuntime {
        self.lock().by_artifact.insert(artifact.into(), behavior);
        self
    }

    /// Release `id` behaves like this, whatever its artifact (takes precedence over
    /// [`artifact`](FakeRuntime::artifact)).
    #[must_use]
    pub fn release(self, id: impl Into<String>, behavior: FakeBehavior) -> FakeRuntime {
        self.lock().by_release.insert(id.into(), behavior);
        self
    }

    /// Unscripted releases behave like this (default: [`FakeBehavior::Healthy`]).
    #[must_use]
    pub fn otherwise(self, behavior: FakeBehavior) -> FakeRuntime {
        self.lock().default = behavior;
        self
    }

    /// Something that is not a release listens on `port` (see [`Runtime::port_in_use`]).
    #[must_use]
    pub fn port_taken(self, port: u16) -> FakeRuntime {
        self.lock().taken_ports.insert(port);
        self
    }

    /// Every call so far, oldest first.
    pub fn calls(&self) -> Vec<FakeCall> {
        self.lock().calls.clone()
    }

    /// The releases running now, in start order.
    pub fn running(&self) -> Vec<String> {
        self.lock()
            .instances
            .values()
            .filter(|i| i.running)
            .map(|i| i.instance.release.clone())
            .collect()
    }

    /// The instances running now, in start order.
    pub fn running_instances(&self) -> Vec<Instance> {
        self.lock()
            .instances
            .values()
            .filter(|i| i.running)
            .map(|i| i.instance.clone())
            .collect()
    }

    /// Makes a running instance exit now with `status` (a crash while it serves).
    pub fn crash(&self, instance: &Instance, status: i32) {
        let mut inner = self.lock();
        if let Some(i) = find_mut(&mut inner, instance) {
            i.running = false;
            i.exit = Some(format!("exited with status {status}"));
        }
    }
}

fn key(instance: &Instance) -> Option<u64> {
    instance.id.strip_prefix("fake-")?.parse().ok()
}

fn find_mut<'a>(inner: &'a mut Inner, instance: &Instance) -> Option<&'a mut FakeInstance> {
    inner.instances.get_mut(&key(instance)?)
}

impl Runtime for FakeRuntime {
    fn name(&self) -> &'static str {
        "fake"
    }

    fn start(&self, release: &str, artifact: &str, port: u16) -> Result<Instance> {
        let mut inner = self.lock();
        inner.calls.push(FakeCall::Start {
            release: release.to_owned(),
            artifact: artifact.to_owned(),
            port,
        });
        let behavior = inner
            .by_release
            .get(release)
            .or_else(|| inner.by_artifact.get(artifact))
            .unwrap_or(&inner.default)
            .clone();
        match &behavior {
            FakeBehavior::FailStart(reason) => {
                return Err(Error::Runtime {
                    action: format!("start {artifact}"),
                    reason: reason.clone(),
                });
            }
            FakeBehavior::Missing => {
                return Err(Error::Runtime {
                    action: format!("start {artifact}"),
                    reason: "no such artifact".into(),
                });
            }
            _ => {}
        }
        inner.next += 1;
        let n = inner.next;
        let instance = Instance {
            release: release.to_owned(),
            id: format!("fake-{n}"),
            port,
            start_ticks: None,
        };
        let exit = match behavior {
            FakeBehavior::CrashAfter { checks: 0, status } => {
                Some(format!("exited with status {status}"))
            }
            _ => None,
        };
        inner.instances.insert(
            n,
            FakeInstance {
                instance: instance.clone(),
                artifact: artifact.to_owned(),
                behavior,
                checks: 0,
                running: exit.is_none(),
                exit,
            },
        );
        Ok(instance)
    }

    fn stop(&self, instance: &Instance, _grace: Duration) -> Result<()> {
        let mut inner = self.lock();
        inner.calls.push(FakeCall::Stop {
            release: instance.release.clone(),
            port: instance.port,
        });
        if let Some(i) = find_mut(&mut inner, instance)
            && i.running
        {
            i.running = false;
            i.exit = Some("was stopped".into());
        }
        Ok(())
    }

    fn is_running(&self, instance: &Instance) -> bool {
        let inner = self.lock();
        key(instance)
            .and_then(|k| inner.instances.get(&k))
            .is_some_and(|i| i.running)
    }

    fn find(&self, release: &str, port: u16) -> Option<Instance> {
        self.lock()
            .instances
            .values()
            .rev()
            .find(|i| i.running && i.instance.release == release && i.instance.port == port)
            .map(|i| i.instance.clone())
    }

    fn artifacts_in_use(&self) -> Vec<String> {
        self.lock()
            .instances
            .values()
            .filter(|i| i.running)
            .map(|i| i.artifact.clone())
            .collect()
    }

    fn prune(&self, release: &str) -> Result<bool> {
        self.lock().calls.push(FakeCall::Prune {
            release: release.to_owned(),
        });
        Ok(true)
    }

    fn probe(
        &self,
        instance: &Instance,
        _path: &str,
        timeout: Duration,
    ) -> Result<u16, ProbeError> {
        let mut inner = self.lock();
        inner.calls.push(FakeCall::Probe {
            release: instance.release.clone(),
            port: instance.port,
        });
        let Some(i) = find_mut(&mut inner, instance).filter(|i| i.running) else {
            return Err(ProbeError::Connect("connection refused (fake)".into()));
        };
        i.checks = i.checks.saturating_add(1);
        match i.behavior {
            FakeBehavior::Healthy => Ok(200),
            FakeBehavior::UnhealthyAfter(n) if i.checks <= n => Ok(200),
            FakeBehavior::UnhealthyAfter(_) => Err(ProbeError::Status(500)),
            FakeBehavior::CrashAfter { checks, .. } if i.checks <= checks => Ok(200),
            FakeBehavior::CrashAfter { status, .. } => {
                i.running = false;
                i.exit = Some(format!("exited with status {status}"));
                Err(ProbeError::Connect("connection refused (fake)".into()))
            }
            FakeBehavior::Hang => Err(ProbeError::Timeout(timeout)),
            FakeBehavior::FailStart(_) | FakeBehavior::Missing => {
                Err(ProbeError::Connect("connection refused (fake)".into()))
            }
        }
    }

    fn exited(&self, instance: &Instance) -> Option<String> {
        let inner = self.lock();
        let i = inner.instances.get(&key(instance)?)?;
        if i.running { None } else { i.exit.clone() }
    }

    fn preflight(&self, artifact: &str) -> Result<()> {
        let mut inner = self.lock();
        inner.calls.push(FakeCall::Preflight {
            artifact: artifact.to_owned(),
        });
        let missing =
            inner.by_artifact.get(artifact).unwrap_or(&inner.default) == &FakeBehavior::Missing;
        if missing {
            return Err(Error::Preflight {
                what: format!("the artifact {artifact} does not exist"),
                path: None,
                source: Some(std::io::Error::from(std::io::ErrorKind::NotFound)),
            });
        }
        Ok(())
    }

    fn port_in_use(&self, port: u16) -> bool {
        let inner = self.lock();
        inner.taken_ports.contains(&port)
            || inner
                .instances
                .values()
                .any(|i| i.running && i.instance.port == port)
    }
}
