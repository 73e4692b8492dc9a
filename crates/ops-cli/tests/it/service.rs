//! What the deploy tests share: a service to deploy (a scratch directory holding its deploy
//! configuration and state directory, on a free port, whose running release is killed when
//! the test ends however it ends) and the release they deploy (this test binary re-executed
//! as the kit's health server).

use std::path::Path;
use std::process::Output;

use ops_testkit::health_server::{self, Health};
use ops_testkit::net;

use super::ops;

const RELEASE_ENV: &str = "OPS_CLI_TEST_RELEASE";

/// Not a test on its own: with the variable set, a release serving `/health` on `$PORT`.
#[test]
fn release_child() {
    health_server::run_child(RELEASE_ENV);
}

/// The command line of a release whose `/health` answers as `health` says.
pub(crate) fn release(health: Health) -> String {
    health_server::child_command(RELEASE_ENV, health, "it::service::release_child")
}

/// The settings most of these tests deploy with: `stop_grace = "2s"` and a health check every
/// 100 ms (timeout 500 ms), `retries` times. Top-level keys of the caller go before it, sections
/// after it.
pub(crate) fn checked(retries: u32) -> String {
    format!(
        "stop_grace = \"2s\"\n[health]\ninterval = \"100ms\"\ntimeout = \"500ms\"\nretries = {retries}\n"
    )
}

/// A service to deploy: `service`, `state_dir` (`state` in its scratch directory) and `port`
/// (a free one) of its deploy configuration, the rest given by [`Service::configure`].
pub(crate) struct Service {
    name: String,
    dir: tempfile::TempDir,
    port: u16,
    config: String,
}

impl Service {
    /// The service `name` on a free port, not configured yet.
    pub(crate) fn new(name: &str) -> Service {
        Service::on_port(name, net::free_port())
    }

    /// The service `name` on `port`, not configured yet.
    pub(crate) fn on_port(name: &str, port: u16) -> Service {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("deploy.toml").to_str().unwrap().to_owned();
        Service {
            name: name.to_owned(),
            dir,
            port,
            config,
        }
    }

    /// Writes its deploy configuration (`deploy.toml`) with `settings` after the service's
    /// own keys.
    pub(crate) fn configure(&self, settings: &str) {
        self.write_config("deploy.toml", settings);
    }

    /// Writes `file` in its directory: a deploy configuration of this service with `settings`
    /// after its own keys. Returns its path.
    pub(crate) fn write_config(&self, file: &str, settings: &str) -> String {
        let path = self.dir.path().join(file);
        std::fs::write(
            &path,
            format!(
                "service = \"{}\"\nstate_dir = \"{}\"\nport = {}\n{settings}",
                self.name,
                self.dir.path().join("state").display(),
                self.port
            ),
        )
        .unwrap();
        path.to_str().unwrap().to_owned()
    }

    /// Its scratch directory.
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The port its releases serve on.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// The path of its deploy configuration.
    pub(crate) fn config(&self) -> &str {
        &self.config
    }

    /// `ops deploy --config <its config> --command <command>` and `flags`.
    pub(crate) fn deploy(&self, command: &str, flags: &[&str]) -> Output {
        let mut args = vec!["deploy", "--config", self.config(), "--command", command];
        args.extend_from_slice(flags);
        ops(&args)
    }

    /// The process group of the running release, as `state/current.json` records it (none
    /// when nothing was deployed).
    pub(crate) fn running_pid(&self) -> Option<i32> {
        let current = std::fs::read_to_string(self.dir.path().join("state/current.json")).ok()?;
        let current: serde_json::Value = serde_json::from_str(&current).ok()?;
        current["id"].as_str()?.parse().ok()
    }

    /// Kills the running release the way a crash would.
    pub(crate) fn kill(&self) {
        let pid = self.running_pid().expect("a running release");
        // SAFETY: signalling the release's process group, which this test's deploy started.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
    }
}

impl Drop for Service {
    /// Stops the release left running.
    fn drop(&mut self) {
        if let Some(pid) = self.running_pid() {
            // SAFETY: the release's process group, started by this test's deploys.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
    }
}
