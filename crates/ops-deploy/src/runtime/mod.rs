//! Where releases run: the `Runtime` trait and its backends.

mod docker;
mod process;

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use self::docker::DockerCli;
pub use self::process::LocalProcess;
use crate::error::Result;
use crate::health::ProbeError;

/// A release running somewhere, as recorded in the state directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Instance {
    /// The release it runs.
    pub release: String,
    /// The runtime's name for it (a pid for processes, a container id for Docker).
    pub id: String,
    /// The port it serves on, on 127.0.0.1.
    pub port: u16,
    /// For processes: the start time (clock ticks since boot, `/proc/<pid>/stat` field 22), to
    /// tell a reused pid from ours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ticks: Option<u64>,
}

/// Something that starts and stops releases.
///
/// Besides starting and stopping, a runtime answers the deploy engine's questions about an
/// instance: [`probe`](Runtime::probe) (its health endpoint; by default `GET` over HTTP on
/// `127.0.0.1:<port>`), [`exited`](Runtime::exited) (whether it is gone, and how), and before a
/// stop-start stops anything, [`preflight`](Runtime::preflight) (can this artifact start?).
/// [`FakeRuntime`](crate::FakeRuntime) answers all of them from a script, without a process or
/// a socket.
pub trait Runtime: Send + Sync {
    /// A short name (`process`, `docker`).
    fn name(&self) -> &'static str;

    /// Starts `artifact` (a command line, an image) as release `release`, serving on `port`.
    ///
    /// # Errors
    /// It could not be started.
    fn start(&self, release: &str, artifact: &str, port: u16) -> Result<Instance>;

    /// Stops an instance: a polite signal, then a forced stop after `grace`. Stopping something
    /// already gone is not an error.
    ///
    /// # Errors
    /// It could not be stopped.
    fn stop(&self, instance: &Instance, grace: Duration) -> Result<()>;

    /// Whether the instance is still running.
    fn is_running(&self, instance: &Instance) -> bool;

    /// An immutable reference to what the instance runs (an image ID), recorded so a rollback
    /// runs exactly it. `None` when the artifact is already exact (a command line).
    fn pin(&self, _instance: &Instance) -> Option<String> {
        None
    }

    /// Finds a running instance of `release` that was started but never recorded (its deploy
    /// was killed between starting it and writing the state), so it can be stopped.
    fn find(&self, release: &str, port: u16) -> Option<Instance>;

    /// The health the runtime itself reports for the instance (Docker's HEALTHCHECK status:
    /// `starting`, `healthy`, `unhealthy`), or `None` when it has none (no HEALTHCHECK in the
    /// image, or a runtime without health checks).
    fn native_health(&self, _instance: &Instance) -> Option<String> {
        None
    }

    /// Artifacts (image IDs) that running instances use, on this runtime as a whole; pruning
    /// never removes them.
    fn artifacts_in_use(&self) -> Vec<String> {
        Vec::new()
    }

    /// One health probe of `instance`: `GET path`, bounded by `timeout`. The default speaks
    /// HTTP to `127.0.0.1:<instance.port>` ([`health::probe`](crate::health::probe)).
    ///
    /// # Errors
    /// A [`ProbeError`] saying what failed.
    fn probe(&self, instance: &Instance, path: &str, timeout: Duration) -> Result<u16, ProbeError> {
        crate::health::probe(local(instance.port), path, timeout)
    }

    /// How the instance ended, if it has (`exited with status 3`, `was killed by signal 9`);
    /// `None` while it runs, or when the runtime cannot tell. The health wait asks this so a
    /// release that dies fails at once. The default: `None`.
    fn exited(&self, _instance: &Instance) -> Option<String> {
        None
    }

    /// Checks, before a stop-start deploy stops the running release, what can be checked
    /// cheaply about starting `artifact` (the command exists, the image is there or can be
    /// pulled, the log directory is writable). The default accepts everything.
    ///
    /// # Errors
    /// [`Error::Preflight`](crate::Error::Preflight) naming what is wrong, with the operating
    /// system's reason.
    fn preflight(&self, _artifact: &str) -> Result<()> {
        Ok(())
    }

    /// Whether something already accepts connections on `127.0.0.1:port` (a program nobody
    /// recorded): a release started there would have its health checks answered by it.
    fn port_in_use(&self, port: u16) -> bool {
        TcpStream::connect_timeout(&local(port), Duration::from_millis(300)).is_ok()
    }

    /// Removes what the runtime keeps for an old release (Docker: the `<service>:<release>`
    /// tag, never with force, so an image a container uses stays; processes: its log file).
    /// `Ok(false)` when there was nothing to remove.
    ///
    /// # Errors
    /// The runtime refused.
    fn prune(&self, _release: &str) -> Result<bool> {
        Ok(false)
    }
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

impl Runtime for Box<dyn Runtime> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn start(&self, release: &str, artifact: &str, port: u16) -> Result<Instance> {
        (**self).start(release, artifact, port)
    }
    fn stop(&self, instance: &Instance, grace: Duration) -> Result<()> {
        (**self).stop(instance, grace)
    }
    fn is_running(&self, instance: &Instance) -> bool {
        (**self).is_running(instance)
    }
    fn pin(&self, instance: &Instance) -> Option<String> {
        (**self).pin(instance)
    }
    fn find(&self, release: &str, port: u16) -> Option<Instance> {
        (**self).find(release, port)
    }
    fn native_health(&self, instance: &Instance) -> Option<String> {
        (**self).native_health(instance)
    }
    fn artifacts_in_use(&self) -> Vec<String> {
        (**self).artifacts_in_use()
    }
    fn prune(&self, release: &str) -> Result<bool> {
        (**self).prune(release)
    }
    fn probe(&self, instance: &Instance, path: &str, timeout: Duration) -> Result<u16, ProbeError> {
        (**self).probe(instance, path, timeout)
    }
    fn exited(&self, instance: &Instance) -> Option<String> {
        (**self).exited(instance)
    }
    fn preflight(&self, artifact: &str) -> Result<()> {
        (**self).preflight(artifact)
    }
    fn port_in_use(&self, port: u16) -> bool {
        (**self).port_in_use(port)
    }
}
